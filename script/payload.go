package script

import "github.com/rkv/rkv/internal/rdb"

// FUNCTION DUMP's payload is Redis's, as its createDumpPayload writes it:
// per library the opcode RDB_OPCODE_FUNCTION2 and the library's code as an
// RDB string, sealed with the RDB version and checksum (internal/rdb).
// Redis may compress a string with LZF; rkv writes them plain, which Redis
// reads too, and reads both.
const opcodeFunction2 = 245

var errBadPayload = ReplyError("ERR DUMP payload version or checksum are wrong")

func encodePayload(codes []string) []byte {
	var b []byte
	for _, code := range codes {
		b = append(b, opcodeFunction2)
		b = rdb.AppendString(b, []byte(code))
	}
	return rdb.Seal(b)
}

func decodePayload(p []byte) ([]string, error) {
	body, ok := rdb.Open(p)
	if !ok {
		return nil, errBadPayload
	}
	r := rdb.Reader{B: body}
	var codes []string
	for len(r.B) > 0 {
		if r.B[0] != opcodeFunction2 {
			return nil, ReplyError("ERR given type is not a function")
		}
		r.B = r.B[1:]
		code, ok := r.Str()
		if !ok {
			return nil, ReplyError("ERR failed loading the library")
		}
		codes = append(codes, string(code))
	}
	return codes, nil
}
