package script

import (
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

// msgpackMaxNesting is LUACMSGPACK_MAX_NESTING: deeper tables pack as nil.
const msgpackMaxNesting = 16

// newCmsgpack is the cmsgpack module (lua-cmsgpack 0.4 as Redis bundles
// it): pack, unpack, unpack_one, unpack_limit.
func newCmsgpack(L *lua.LState) *lua.LTable {
	t := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"pack": func(L *lua.LState) int {
			n := L.GetTop()
			if n == 0 {
				argError(L, 0, "pack", "MessagePack pack needs input.")
			}
			var b []byte
			for i := 1; i <= n; i++ {
				b = msgpackEncode(b, L.Get(i), 0)
			}
			L.Push(lua.LString(b))
			return 1
		},
		"unpack": func(L *lua.LState) int { return msgpackUnpack(L, 0, 0) },
		"unpack_one": func(L *lua.LState) int {
			return msgpackUnpack(L, 1, L.OptInt(2, 0))
		},
		"unpack_limit": func(L *lua.LState) int {
			return msgpackUnpack(L, L.OptInt(2, 0), L.OptInt(3, 0))
		},
	})
	t.RawSetString("_NAME", lua.LString("cmsgpack"))
	t.RawSetString("_VERSION", lua.LString("lua-cmsgpack 0.4.0"))
	return t
}

func msgpackEncode(b []byte, v lua.LValue, level int) []byte {
	switch v := v.(type) {
	case lua.LString:
		n := len(v)
		switch {
		case n < 32:
			b = append(b, 0xa0|byte(n))
		case n <= 0xff:
			b = append(b, 0xd9, byte(n))
		case n <= 0xffff:
			b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
		default:
			b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
		}
		return append(b, v...)
	case lua.LBool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case lua.LNumber:
		f := float64(v)
		if !math.IsInf(f, 0) && !math.IsNaN(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0 && float64(int64(f)) == f {
			return msgpackInt(b, int64(f))
		}
		if float64(float32(f)) == f {
			return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(float32(f)))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
	case *lua.LTable:
		if level == msgpackMaxNesting {
			return append(b, 0xc0)
		}
		if msgpackIsArray(v) {
			n := v.Len()
			b = msgpackHeader(b, n, 0x90, 0xdc, 0xdd)
			for i := 1; i <= n; i++ {
				b = msgpackEncode(b, v.RawGetInt(i), level+1)
			}
			return b
		}
		n := 0
		v.ForEach(func(lua.LValue, lua.LValue) { n++ })
		b = msgpackHeader(b, n, 0x80, 0xde, 0xdf)
		v.ForEach(func(k, val lua.LValue) {
			b = msgpackEncode(b, k, level+1)
			b = msgpackEncode(b, val, level+1)
		})
		return b
	}
	return append(b, 0xc0)
}

// msgpackIsArray is table_is_an_array: every key a positive integer and
// as many keys as the largest.
func msgpackIsArray(t *lua.LTable) bool {
	count, max := 0, 0
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		n, isNum := k.(lua.LNumber)
		if !isNum || n <= 0 || float64(n) != math.Trunc(float64(n)) || float64(n) > math.MaxInt32 {
			ok = false
			return
		}
		if int(n) > max {
			max = int(n)
		}
		count++
	})
	return ok && max == count
}

func msgpackHeader(b []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n <= 15:
		return append(b, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, b32), uint32(n))
}

func msgpackInt(b []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(b, byte(n))
		case n <= 0xff:
			return append(b, 0xcc, byte(n))
		case n <= 0xffff:
			return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
		case n <= 0xffffffff:
			return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	}
	switch {
	case n >= -32:
		return append(b, byte(int8(n)))
	case n >= -128:
		return append(b, 0xd0, byte(int8(n)))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// errMsgpackEOF and errMsgpackFormat end a decode.
type msgpackError string

const (
	errMsgpackEOF    msgpackError = "Missing bytes in input."
	errMsgpackFormat msgpackError = "Bad data format in input."
)

// msgpackUnpack is mp_unpack_full: with limit and offset both zero it
// decodes everything; otherwise at most limit objects from offset, the
// next offset (-1 at the end) first.
func msgpackUnpack(L *lua.LState, limit, offset int) int {
	s := L.CheckString(1)
	if offset < 0 || limit < 0 {
		L.RaiseError("Invalid request to unpack with offset of %d and limit of %d.", offset, len(s))
	}
	if offset > len(s) {
		L.RaiseError("Start offset %d greater than input length %d.", offset, len(s))
	}
	all := limit == 0 && offset == 0
	if all {
		limit = math.MaxInt32
	}
	d := &msgpackDecoder{L: L, b: []byte(s[offset:])}
	var vals []lua.LValue
	for len(d.b) > 0 && len(vals) < limit {
		v, err := d.decode()
		if err != "" {
			L.RaiseError("%s", string(err))
		}
		vals = append(vals, v)
	}
	if !all {
		next := -1
		if len(d.b) > 0 {
			next = len(s) - len(d.b)
		}
		L.Push(lua.LNumber(next))
	}
	for _, v := range vals {
		L.Push(v)
	}
	if all {
		return len(vals)
	}
	return len(vals) + 1
}

type msgpackDecoder struct {
	L *lua.LState
	b []byte
}

func (d *msgpackDecoder) take(n int) ([]byte, msgpackError) {
	if len(d.b) < n {
		return nil, errMsgpackEOF
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p, ""
}

func (d *msgpackDecoder) decode() (lua.LValue, msgpackError) {
	h, err := d.take(1)
	if err != "" {
		return lua.LNil, err
	}
	c := h[0]
	fixed := func(n int) ([]byte, msgpackError) { return d.take(n) }
	switch {
	case c <= 0x7f:
		return lua.LNumber(c), ""
	case c >= 0xe0:
		return lua.LNumber(int8(c)), ""
	case c&0xe0 == 0xa0:
		p, err := d.take(int(c & 0x1f))
		return lua.LString(p), err
	case c&0xf0 == 0x90:
		return d.array(int(c & 0xf))
	case c&0xf0 == 0x80:
		return d.hash(int(c & 0xf))
	}
	switch c {
	case 0xc0:
		return lua.LNil, ""
	case 0xc2:
		return lua.LFalse, ""
	case 0xc3:
		return lua.LTrue, ""
	case 0xcc, 0xd0:
		p, err := fixed(1)
		if err != "" {
			return lua.LNil, err
		}
		if c == 0xd0 {
			return lua.LNumber(int8(p[0])), ""
		}
		return lua.LNumber(p[0]), ""
	case 0xcd, 0xd1:
		p, err := fixed(2)
		if err != "" {
			return lua.LNil, err
		}
		v := binary.BigEndian.Uint16(p)
		if c == 0xd1 {
			return lua.LNumber(int16(v)), ""
		}
		return lua.LNumber(v), ""
	case 0xce, 0xd2, 0xca:
		p, err := fixed(4)
		if err != "" {
			return lua.LNil, err
		}
		v := binary.BigEndian.Uint32(p)
		switch c {
		case 0xd2:
			return lua.LNumber(int32(v)), ""
		case 0xca:
			return lua.LNumber(math.Float32frombits(v)), ""
		}
		return lua.LNumber(v), ""
	case 0xcf, 0xd3, 0xcb:
		p, err := fixed(8)
		if err != "" {
			return lua.LNil, err
		}
		v := binary.BigEndian.Uint64(p)
		switch c {
		case 0xd3:
			return lua.LNumber(int64(v)), ""
		case 0xcb:
			return lua.LNumber(math.Float64frombits(v)), ""
		}
		return lua.LNumber(v), ""
	case 0xd9, 0xda, 0xdb:
		n, err := d.length(map[byte]int{0xd9: 1, 0xda: 2, 0xdb: 4}[c])
		if err != "" {
			return lua.LNil, err
		}
		p, err := d.take(n)
		return lua.LString(p), err
	case 0xdc, 0xdd:
		n, err := d.length(map[byte]int{0xdc: 2, 0xdd: 4}[c])
		if err != "" {
			return lua.LNil, err
		}
		return d.array(n)
	case 0xde, 0xdf:
		n, err := d.length(map[byte]int{0xde: 2, 0xdf: 4}[c])
		if err != "" {
			return lua.LNil, err
		}
		return d.hash(n)
	}
	return lua.LNil, errMsgpackFormat
}

func (d *msgpackDecoder) length(size int) (int, msgpackError) {
	p, err := d.take(size)
	if err != "" {
		return 0, err
	}
	n := 0
	for _, c := range p {
		n = n<<8 | int(c)
	}
	return n, ""
}

func (d *msgpackDecoder) array(n int) (lua.LValue, msgpackError) {
	t := d.L.NewTable()
	for i := 1; i <= n; i++ {
		v, err := d.decode()
		if err != "" {
			return lua.LNil, err
		}
		t.RawSetInt(i, v)
	}
	return t, ""
}

func (d *msgpackDecoder) hash(n int) (lua.LValue, msgpackError) {
	t := d.L.NewTable()
	for i := 0; i < n; i++ {
		k, err := d.decode()
		if err != "" {
			return lua.LNil, err
		}
		v, err := d.decode()
		if err != "" {
			return lua.LNil, err
		}
		if k == lua.LNil {
			continue
		}
		t.RawSet(k, v)
	}
	return t, ""
}
