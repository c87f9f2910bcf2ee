package script

import (
	"encoding/binary"
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// newStruct is the struct module (Roberto Ierusalimschy's lua_struct as
// Redis bundles it) for amd64 sizes: short 2, int 4, long and size_t 8,
// native little-endian, maximum alignment 8.
func newStruct(L *lua.LState) *lua.LTable {
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"pack":   structPack,
		"unpack": structUnpack,
		"size":   structSize,
	})
}

const (
	structMaxIntSize = 32
	structMaxAlign   = 8
)

// structHeader is the current endianness and alignment.
type structHeader struct {
	little bool
	align  int
}

type structFormat struct {
	L     *lua.LState
	fname string // pack, unpack or size, for argument errors
	fmt   string
	i     int
	h     structHeader
}

func newStructFormat(L *lua.LState, fname, f string) *structFormat {
	return &structFormat{L: L, fname: fname, fmt: f, h: structHeader{little: true, align: 1}}
}

func (f *structFormat) more() bool { return f.i < len(f.fmt) }

func (f *structFormat) next() byte {
	c := f.fmt[f.i]
	f.i++
	return c
}

func (f *structFormat) num(def int) int {
	if !f.more() || !isDigit(f.fmt[f.i]) {
		return def
	}
	a := 0
	for f.more() && isDigit(f.fmt[f.i]) {
		d := int(f.fmt[f.i] - '0')
		if a > math.MaxInt32/10 || a*10 > math.MaxInt32-d {
			f.L.RaiseError("integral size overflow")
		}
		a = a*10 + d
		f.i++
	}
	return a
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (f *structFormat) optSize(opt byte) int {
	switch opt {
	case 'B', 'b':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T', 'd':
		return 8
	case 'f':
		return 4
	case 'x':
		return 1
	case 'c':
		return f.num(1)
	case 'i', 'I':
		sz := f.num(4)
		if sz > structMaxIntSize {
			f.L.RaiseError("integral size %d is larger than limit of %d", sz, structMaxIntSize)
		}
		return sz
	}
	return 0
}

func (f *structFormat) toAlign(pos int, opt byte, size int) int {
	if size == 0 || opt == 'c' {
		return 0
	}
	if size > f.h.align {
		size = f.h.align
	}
	return (size - (pos & (size - 1))) & (size - 1)
}

func (f *structFormat) control(opt byte) {
	switch opt {
	case ' ':
	case '>':
		f.h.little = false
	case '<':
		f.h.little = true
	case '!':
		a := f.num(structMaxAlign)
		if a <= 0 || a&(a-1) != 0 {
			f.L.RaiseError("alignment %d is not a power of 2", a)
		}
		f.h.align = a
	default:
		argError(f.L, 1, f.fname, "invalid format option '"+string(opt)+"'")
	}
}

func structPack(L *lua.LState) int {
	f := newStructFormat(L, "pack", L.CheckString(1))
	arg := 2
	var b []byte
	for f.more() {
		opt := f.next()
		size := f.optSize(opt)
		pad := f.toAlign(len(b), opt, size)
		b = append(b, make([]byte, pad)...)
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := float64(L.CheckNumber(arg))
			arg++
			var v uint64
			if n < 0 {
				v = uint64(int64(n))
			} else {
				v = uint64(n)
			}
			buf := make([]byte, size)
			for i := 0; i < size; i++ {
				idx := i
				if !f.h.little {
					idx = size - 1 - i
				}
				buf[idx] = byte(v)
				v >>= 8
			}
			b = append(b, buf...)
		case 'x':
			b = append(b, 0)
		case 'f':
			b = f.order(b, 4, uint64(math.Float32bits(float32(L.CheckNumber(arg)))))
			arg++
		case 'd':
			b = f.order(b, 8, math.Float64bits(float64(L.CheckNumber(arg))))
			arg++
		case 'c', 's':
			s := L.CheckString(arg)
			arg++
			if size == 0 {
				size = len(s)
			}
			argCheck(L, len(s) >= size, arg, "pack", "string too short")
			b = append(b, s[:size]...)
			if opt == 's' {
				b = append(b, 0)
			}
		default:
			f.control(opt)
		}
	}
	L.Push(lua.LString(b))
	return 1
}

// order appends the size low bytes of v in the header's byte order.
func (f *structFormat) order(b []byte, size int, v uint64) []byte {
	buf := make([]byte, 8)
	if f.h.little {
		binary.LittleEndian.PutUint64(buf, v)
		return append(b, buf[:size]...)
	}
	binary.BigEndian.PutUint64(buf, v)
	return append(b, buf[8-size:]...)
}

func structUnpack(L *lua.LState) int {
	f := newStructFormat(L, "unpack", L.CheckString(1))
	data := L.CheckString(2)
	pos := L.OptInt(3, 1)
	argCheck(L, pos > 0, 3, "unpack", "offset must be 1 or greater")
	pos--
	n := 0
	for f.more() {
		opt := f.next()
		size := f.optSize(opt)
		pos += f.toAlign(pos, opt, size)
		argCheck(L, size <= len(data) && pos <= len(data)-size, 2, "unpack", "data string too short")
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			var v uint64
			for i := 0; i < size; i++ {
				idx := i
				if f.h.little {
					idx = size - 1 - i
				}
				v = v<<8 | uint64(data[pos+idx])
			}
			if opt >= 'a' && size < 8 {
				mask := ^uint64(0) << (size*8 - 1)
				if v&mask != 0 {
					v |= mask
				}
			}
			if opt >= 'a' {
				L.Push(lua.LNumber(int64(v)))
			} else {
				L.Push(lua.LNumber(v))
			}
			n++
		case 'x':
		case 'f':
			L.Push(lua.LNumber(math.Float32frombits(uint32(f.read([]byte(data[pos : pos+4]))))))
			n++
		case 'd':
			L.Push(lua.LNumber(math.Float64frombits(f.read([]byte(data[pos : pos+8])))))
			n++
		case 'c':
			if size == 0 {
				prev, ok := L.Get(-1).(lua.LNumber)
				if n == 0 || !ok {
					L.RaiseError("format 'c0' needs a previous size")
				}
				size = int(prev)
				L.Pop(1)
				n--
				argCheck(L, size <= len(data) && pos <= len(data)-size, 2, "unpack", "data string too short")
			}
			L.Push(lua.LString(data[pos : pos+size]))
			n++
		case 's':
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				L.RaiseError("unfinished string in data")
			}
			size = e + 1
			L.Push(lua.LString(data[pos : pos+e]))
			n++
		default:
			f.control(opt)
		}
		pos += size
	}
	L.Push(lua.LNumber(pos + 1))
	return n + 1
}

// read decodes b (4 or 8 bytes) in the header's byte order.
func (f *structFormat) read(b []byte) uint64 {
	buf := make([]byte, 8)
	if f.h.little {
		copy(buf, b)
		return binary.LittleEndian.Uint64(buf)
	}
	copy(buf[8-len(b):], b)
	return binary.BigEndian.Uint64(buf)
}

func structSize(L *lua.LState) int {
	f := newStructFormat(L, "size", L.CheckString(1))
	pos := 0
	for f.more() {
		opt := f.next()
		size := f.optSize(opt)
		pos += f.toAlign(pos, opt, size)
		if opt == 's' {
			argError(L, 1, "size", "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			argError(L, 1, "size", "option 'c0' has no fixed size")
		}
		if !isAlnum(opt) {
			f.control(opt)
		}
		pos += size
	}
	L.Push(lua.LNumber(pos))
	return 1
}

func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
