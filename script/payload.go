package script

import (
	"encoding/binary"
	"hash/crc64"
	"strconv"
)

// FUNCTION DUMP's payload is Redis's, as its createDumpPayload writes it:
// per library the opcode RDB_OPCODE_FUNCTION2 and the library's code as an
// RDB string, then the RDB version (2 bytes) and a CRC-64 (Jones, as Redis
// computes it: no inversion) of everything before it (8 bytes), both
// little-endian. Redis may compress a string with LZF; rkv writes them
// plain, which Redis reads too, and reads both.
const (
	opcodeFunction2 = 245
	// rdbVersion is Redis 7.0's; a payload of a later version is refused,
	// as Redis refuses it.
	rdbVersion = 10
)

var errBadPayload = ReplyError("ERR DUMP payload version or checksum are wrong")

// jonesTable is the reflected table of the Jones polynomial Redis's
// crc64.c uses.
var jonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// crc64Jones is Redis's crc64(0, p): Go's Update inverts before and after,
// which the two complements here undo.
func crc64Jones(p []byte) uint64 { return ^crc64.Update(^uint64(0), jonesTable, p) }

func encodePayload(codes []string) []byte {
	var b []byte
	for _, code := range codes {
		b = append(b, opcodeFunction2)
		b = appendRDBLen(b, uint64(len(code)))
		b = append(b, code...)
	}
	b = binary.LittleEndian.AppendUint16(b, rdbVersion)
	return binary.LittleEndian.AppendUint64(b, crc64Jones(b))
}

// appendRDBLen is rdbSaveLen: 6 bits, 14 bits, or a marker byte and 32 or
// 64 bits big-endian.
func appendRDBLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0x80), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0x81), n)
}

func decodePayload(p []byte) ([]string, error) {
	if len(p) < 10 {
		return nil, errBadPayload
	}
	body := p[:len(p)-8]
	if binary.LittleEndian.Uint16(p[len(p)-10:]) > rdbVersion || crc64Jones(body) != binary.LittleEndian.Uint64(p[len(p)-8:]) {
		return nil, errBadPayload
	}
	r := rdbReader{b: body[:len(body)-2]}
	var codes []string
	for len(r.b) > 0 {
		if r.b[0] != opcodeFunction2 {
			return nil, ReplyError("ERR given type is not a function")
		}
		r.b = r.b[1:]
		code, ok := r.str()
		if !ok {
			return nil, ReplyError("ERR failed loading the library")
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// rdbReader reads RDB strings from b.
type rdbReader struct{ b []byte }

// length reads an RDB length; special reports the encoded-string form
// (11 in the top bits), whose kind is then the length.
func (r *rdbReader) length() (n uint64, special, ok bool) {
	if len(r.b) == 0 {
		return 0, false, false
	}
	c := r.b[0]
	switch c >> 6 {
	case 0:
		r.b = r.b[1:]
		return uint64(c & 0x3f), false, true
	case 1:
		if len(r.b) < 2 {
			return 0, false, false
		}
		n = uint64(c&0x3f)<<8 | uint64(r.b[1])
		r.b = r.b[2:]
		return n, false, true
	case 3:
		r.b = r.b[1:]
		return uint64(c & 0x3f), true, true
	}
	switch {
	case c == 0x80 && len(r.b) >= 5:
		n = uint64(binary.BigEndian.Uint32(r.b[1:]))
		r.b = r.b[5:]
	case c == 0x81 && len(r.b) >= 9:
		n = binary.BigEndian.Uint64(r.b[1:])
		r.b = r.b[9:]
	default:
		return 0, false, false
	}
	return n, false, true
}

// str reads an RDB string: plain, an integer (int8, int16, int32) or
// LZF-compressed.
func (r *rdbReader) str() (string, bool) {
	n, special, ok := r.length()
	if !ok {
		return "", false
	}
	if !special {
		if n > uint64(len(r.b)) {
			return "", false
		}
		s := string(r.b[:n])
		r.b = r.b[n:]
		return s, true
	}
	switch n {
	case 0, 1, 2:
		size := 1 << n
		if len(r.b) < size {
			return "", false
		}
		var v int64
		switch size {
		case 1:
			v = int64(int8(r.b[0]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(r.b)))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(r.b)))
		}
		r.b = r.b[size:]
		return strconv.FormatInt(v, 10), true
	case 3:
		clen, _, ok1 := r.length()
		ulen, _, ok2 := r.length()
		if !ok1 || !ok2 || clen > uint64(len(r.b)) || ulen > 512<<20 {
			return "", false
		}
		out, ok := lzfDecompress(r.b[:clen], int(ulen))
		r.b = r.b[clen:]
		return string(out), ok
	}
	return "", false
}

// lzfDecompress undoes LZF (liblzf's format, which Redis's RDB strings
// use): a control byte below 32 starts a run of that many plus one
// literals; above, its top 3 bits (7: plus a byte) plus 2 are a match's
// length and its low 5 bits with the next byte the match's distance - 1.
func lzfDecompress(in []byte, size int) ([]byte, bool) {
	out := make([]byte, 0, size)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 {
			n := ctrl + 1
			if i+n > len(in) || len(out)+n > size {
				return nil, false
			}
			out = append(out, in[i:i+n]...)
			i += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if i >= len(in) {
				return nil, false
			}
			n += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, false
		}
		ref := len(out) - (ctrl&0x1f)<<8 - int(in[i]) - 1
		i++
		n += 2
		if ref < 0 || len(out)+n > size {
			return nil, false
		}
		for k := range n {
			out = append(out, out[ref+k])
		}
	}
	return out, len(out) == size
}
