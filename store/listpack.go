package store

import (
	"encoding/binary"
	"strconv"
)

// Redis's listpack format, as DUMP payloads carry it: a 4-byte total size
// and a 2-byte element count (both little-endian), the elements, and an end
// byte 0xFF. An element is its encoding (a 7-bit, 13-bit, 16, 24, 32 or
// 64-bit integer, or a string of 6, 12 or 32-bit length) then its data,
// then "backlen": the size of encoding and data, 7 bits a byte, so the list
// walks back too. rkv's own containers keep their own formats; these only
// translate.

const (
	lpHeaderSize = 6
	lpEnd        = 0xFF
)

// lpWriter builds a listpack.
type lpWriter struct {
	b []byte
	n int
}

func newLPWriter() *lpWriter { return &lpWriter{b: make([]byte, lpHeaderSize, 64)} }

// str appends s, as an integer when it is a canonical one (as Redis's
// lpAppend stores it).
func (w *lpWriter) str(s []byte) {
	if len(s) <= 20 {
		if v, ok := parseInt(b2s(s)); ok {
			w.int(v)
			return
		}
	}
	start := len(w.b)
	switch l := len(s); {
	case l < 64:
		w.b = append(w.b, 0x80|byte(l))
	case l < 4096:
		w.b = append(w.b, 0xE0|byte(l>>8), byte(l))
	default:
		w.b = binary.LittleEndian.AppendUint32(append(w.b, 0xF0), uint32(l))
	}
	w.b = append(w.b, s...)
	w.backlen(len(w.b) - start)
}

// int appends v in the smallest integer encoding.
func (w *lpWriter) int(v int64) {
	start := len(w.b)
	switch {
	case v >= 0 && v <= 127:
		w.b = append(w.b, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint16(v) & 0x1FFF
		w.b = append(w.b, 0xC0|byte(u>>8), byte(u))
	case v >= -32768 && v <= 32767:
		w.b = binary.LittleEndian.AppendUint16(append(w.b, 0xF1), uint16(v))
	case v >= -8388608 && v <= 8388607:
		w.b = append(w.b, 0xF2, byte(v), byte(v>>8), byte(v>>16))
	case v >= -1<<31 && v <= 1<<31-1:
		w.b = binary.LittleEndian.AppendUint32(append(w.b, 0xF3), uint32(v))
	default:
		w.b = binary.LittleEndian.AppendUint64(append(w.b, 0xF4), uint64(v))
	}
	w.backlen(len(w.b) - start)
}

func (w *lpWriter) backlen(l int) {
	w.n++
	switch {
	case l <= 127:
		w.b = append(w.b, byte(l))
	case l < 16383:
		w.b = append(w.b, byte(l>>7), byte(l&127)|128)
	case l < 2097151:
		w.b = append(w.b, byte(l>>14), byte(l>>7&127)|128, byte(l&127)|128)
	case l < 268435455:
		w.b = append(w.b, byte(l>>21), byte(l>>14&127)|128, byte(l>>7&127)|128, byte(l&127)|128)
	default:
		w.b = append(w.b, byte(l>>28), byte(l>>21&127)|128, byte(l>>14&127)|128, byte(l>>7&127)|128, byte(l&127)|128)
	}
}

// size is the listpack's size once finished.
func (w *lpWriter) size() int { return len(w.b) + 1 }

// finish completes the header and end byte and returns the listpack.
func (w *lpWriter) finish() []byte {
	w.b = append(w.b, lpEnd)
	binary.LittleEndian.PutUint32(w.b, uint32(len(w.b)))
	n := min(w.n, 65535) // 65535: unknown, count by walking
	binary.LittleEndian.PutUint16(w.b[4:], uint16(n))
	return w.b
}

// lpElems decodes a listpack into its elements as strings (integers in
// decimal), refusing anything malformed, as Redis's lpValidateIntegrity.
func lpElems(lp []byte) ([][]byte, bool) {
	if len(lp) < lpHeaderSize+1 || int(binary.LittleEndian.Uint32(lp)) != len(lp) || lp[len(lp)-1] != lpEnd {
		return nil, false
	}
	var out [][]byte
	p := lp[lpHeaderSize : len(lp)-1]
	for len(p) > 0 {
		e, size, ok := lpElem(p)
		if !ok {
			return nil, false
		}
		bl := lpBacklenSize(size)
		if size+bl > len(p) {
			return nil, false
		}
		out = append(out, e)
		p = p[size+bl:]
	}
	if n := int(binary.LittleEndian.Uint16(lp[4:])); n != 65535 && n != len(out) {
		return nil, false
	}
	return out, true
}

// lpElem decodes the element at the start of p: its value and the size of
// its encoding and data.
func lpElem(p []byte) ([]byte, int, bool) {
	c := p[0]
	var v int64
	var size int
	switch {
	case c&0x80 == 0:
		v, size = int64(c), 1
	case c&0xC0 == 0x80:
		return lpStr(p, 1, int(c&0x3F))
	case c&0xE0 == 0xC0:
		if len(p) < 2 {
			return nil, 0, false
		}
		u := int64(c&0x1F)<<8 | int64(p[1])
		if u >= 1<<12 {
			u -= 1 << 13
		}
		v, size = u, 2
	case c&0xF0 == 0xE0:
		if len(p) < 2 {
			return nil, 0, false
		}
		return lpStr(p, 2, int(c&0x0F)<<8|int(p[1]))
	case c == 0xF0:
		if len(p) < 5 {
			return nil, 0, false
		}
		return lpStr(p, 5, int(binary.LittleEndian.Uint32(p[1:])))
	case c >= 0xF1 && c <= 0xF4:
		n := [...]int{2, 3, 4, 8}[c-0xF1]
		if len(p) < 1+n {
			return nil, 0, false
		}
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(p[1+i])
		}
		shift := 64 - 8*n
		v, size = int64(u<<shift)>>shift, 1+n
	default:
		return nil, 0, false
	}
	return strconv.AppendInt(nil, v, 10), size, true
}

func lpStr(p []byte, hdr, n int) ([]byte, int, bool) {
	if n < 0 || hdr+n > len(p) {
		return nil, 0, false
	}
	return p[hdr : hdr+n], hdr + n, true
}

func lpBacklenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}
