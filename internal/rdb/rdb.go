// Package rdb holds the pieces of Redis's RDB format that rkv's dump
// payloads share: DUMP/RESTORE (store) and FUNCTION DUMP/RESTORE
// (script). A payload is Redis 7.0's createDumpPayload output: a body,
// then the RDB version (2 bytes) and a CRC-64 of everything before it (8
// bytes), both little-endian.
package rdb

import (
	"encoding/binary"
	"hash/crc64"
	"strconv"
)

// Version is Redis 7.0's RDB version; a payload of a later one is
// refused, as Redis refuses it.
const Version = 10

// jonesTable is the reflected table of the Jones polynomial Redis's
// crc64.c uses.
var jonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 is Redis's crc64(0, p): Go's Update inverts before and after,
// which the two complements here undo.
func CRC64(p []byte) uint64 { return ^crc64.Update(^uint64(0), jonesTable, p) }

// Seal appends the version and checksum to a payload's body.
func Seal(body []byte) []byte {
	body = binary.LittleEndian.AppendUint16(body, Version)
	return binary.LittleEndian.AppendUint64(body, CRC64(body))
}

// Open checks a payload's version and checksum (Redis's
// verifyDumpPayload) and returns its body.
func Open(p []byte) ([]byte, bool) {
	if len(p) < 10 {
		return nil, false
	}
	body := p[:len(p)-8]
	if binary.LittleEndian.Uint16(p[len(p)-10:]) > Version || CRC64(body) != binary.LittleEndian.Uint64(p[len(p)-8:]) {
		return nil, false
	}
	return body[:len(body)-2], true
}

// AppendLen is rdbSaveLen: 6 bits, 14 bits, or a marker byte and 32 or
// 64 bits big-endian.
func AppendLen(b []byte, n uint64) []byte {
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

// AppendString is an RDB string written plain (Redis reads it whatever
// it would have chosen itself).
func AppendString(b []byte, s []byte) []byte {
	return append(AppendLen(b, uint64(len(s))), s...)
}

// maxString bounds the strings a Reader accepts (proto-max-bulk-len).
const maxString = 512 << 20

// Reader reads RDB lengths and strings from B.
type Reader struct{ B []byte }

// length reads an RDB length; special reports the encoded-string form
// (11 in the top bits), whose kind is then the length.
func (r *Reader) length() (n uint64, special, ok bool) {
	if len(r.B) == 0 {
		return 0, false, false
	}
	c := r.B[0]
	switch c >> 6 {
	case 0:
		r.B = r.B[1:]
		return uint64(c & 0x3f), false, true
	case 1:
		if len(r.B) < 2 {
			return 0, false, false
		}
		n = uint64(c&0x3f)<<8 | uint64(r.B[1])
		r.B = r.B[2:]
		return n, false, true
	case 3:
		r.B = r.B[1:]
		return uint64(c & 0x3f), true, true
	}
	switch {
	case c == 0x80 && len(r.B) >= 5:
		n = uint64(binary.BigEndian.Uint32(r.B[1:]))
		r.B = r.B[5:]
	case c == 0x81 && len(r.B) >= 9:
		n = binary.BigEndian.Uint64(r.B[1:])
		r.B = r.B[9:]
	default:
		return 0, false, false
	}
	return n, false, true
}

// Len reads an RDB length (rdbLoadLen), refusing the encoded-string form.
func (r *Reader) Len() (uint64, bool) {
	n, special, ok := r.length()
	return n, ok && !special
}

// Byte reads one raw byte.
func (r *Reader) Byte() (byte, bool) {
	if len(r.B) == 0 {
		return 0, false
	}
	c := r.B[0]
	r.B = r.B[1:]
	return c, true
}

// Raw reads n raw bytes, aliasing B.
func (r *Reader) Raw(n int) ([]byte, bool) {
	if n < 0 || n > len(r.B) {
		return nil, false
	}
	p := r.B[:n]
	r.B = r.B[n:]
	return p, true
}

// Str reads an RDB string: plain, an integer (int8, int16, int32) or
// LZF-compressed. A plain string aliases B.
func (r *Reader) Str() ([]byte, bool) {
	n, special, ok := r.length()
	if !ok {
		return nil, false
	}
	if !special {
		if n > uint64(len(r.B)) {
			return nil, false
		}
		return r.Raw(int(n))
	}
	switch n {
	case 0, 1, 2:
		size := 1 << n
		if len(r.B) < size {
			return nil, false
		}
		var v int64
		switch size {
		case 1:
			v = int64(int8(r.B[0]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(r.B)))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(r.B)))
		}
		r.B = r.B[size:]
		return strconv.AppendInt(nil, v, 10), true
	case 3:
		clen, ok1 := r.Len()
		ulen, ok2 := r.Len()
		if !ok1 || !ok2 || clen > uint64(len(r.B)) || ulen > maxString {
			return nil, false
		}
		out, ok := LZFDecompress(r.B[:clen], int(ulen))
		r.B = r.B[clen:]
		return out, ok
	}
	return nil, false
}

// LZFDecompress undoes LZF (liblzf's format, which Redis's RDB strings
// use): a control byte below 32 starts a run of that many plus one
// literals; above, its top 3 bits (7: plus a byte) plus 2 are a match's
// length and its low 5 bits with the next byte the match's distance - 1.
func LZFDecompress(in []byte, size int) ([]byte, bool) {
	// A back reference of 3 bytes yields at most 264, so no input expands
	// more than 88 times: a larger claim is refused before it allocates.
	if size > 88*len(in) {
		return nil, false
	}
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
