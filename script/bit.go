package script

import (
	"math"

	lua "github.com/yuin/gopher-lua"
)

// newBit is the bit module (LuaBitOp 1.0 as Redis bundles it): 32-bit
// operations on numbers, results signed.
func newBit(L *lua.LState) *lua.LTable {
	ret := func(L *lua.LState, b uint32) int {
		L.Push(lua.LNumber(int32(b)))
		return 1
	}
	fold := func(op func(a, b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := bitArg(L, 1)
			for i := L.GetTop(); i > 1; i-- {
				b = op(b, bitArg(L, i))
			}
			return ret(L, b)
		}
	}
	shift := func(op func(b, n uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int { return ret(L, op(bitArg(L, 1), bitArg(L, 2)&31)) }
	}
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"tobit":   func(L *lua.LState) int { return ret(L, bitArg(L, 1)) },
		"bnot":    func(L *lua.LState) int { return ret(L, ^bitArg(L, 1)) },
		"band":    fold(func(a, b uint32) uint32 { return a & b }),
		"bor":     fold(func(a, b uint32) uint32 { return a | b }),
		"bxor":    fold(func(a, b uint32) uint32 { return a ^ b }),
		"lshift":  shift(func(b, n uint32) uint32 { return b << n }),
		"rshift":  shift(func(b, n uint32) uint32 { return b >> n }),
		"arshift": shift(func(b, n uint32) uint32 { return uint32(int32(b) >> n) }),
		"rol":     shift(func(b, n uint32) uint32 { return b<<n | b>>(32-n) }),
		"ror":     shift(func(b, n uint32) uint32 { return b<<(32-n) | b>>n }),
		"bswap": func(L *lua.LState) int {
			b := bitArg(L, 1)
			return ret(L, b>>24|b>>8&0xff00|(b&0xff00)<<8|b<<24)
		},
		"tohex": func(L *lua.LState) int {
			b := bitArg(L, 1)
			n := int32(8)
			if L.GetTop() >= 2 {
				n = int32(bitArg(L, 2))
			}
			digits := "0123456789abcdef"
			if n < 0 {
				n, digits = -n, "0123456789ABCDEF"
			}
			if n > 8 {
				n = 8
			}
			buf := make([]byte, n)
			for i := n - 1; i >= 0; i-- {
				buf[i] = digits[b&15]
				b >>= 4
			}
			L.Push(lua.LString(buf))
			return 1
		},
	})
}

// bitArg converts argument i as LuaBitOp's barg: adding 2^52+2^51 and
// keeping the low 32 bits of the double rounds to the nearest integer
// (ties to even) modulo 2^32.
func bitArg(L *lua.LState, i int) uint32 {
	n, ok := toNumberOK(L.Get(i))
	if !ok {
		L.TypeError(i, lua.LTNumber)
	}
	return uint32(math.Float64bits(n + 6755399441055744.0))
}
