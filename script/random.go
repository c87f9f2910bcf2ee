package script

import (
	"math"

	lua "github.com/yuin/gopher-lua"
)

// rand48 is Redis's redisLrand48 (rand.c): the 48-bit linear congruence
// of drand48, the same on every platform. Redis keeps one state for the
// process, so that each call draws different numbers; rkv sets it at the
// start of every call from Options.Seed, which the log carries for a
// script every replica runs, so that the numbers differ between calls
// but not between replicas or after a restart. math.randomseed(n) gives
// Redis's sequence for n.
type rand48 struct{ x [3]uint32 }

const (
	randX0 = 0x330E
	randX1 = 0xABCD
	randX2 = 0x1234
	randA  = 0x5DEECE66D
	randC  = 0xB
	// randMax is REDIS_LRAND48_MAX.
	randMax = math.MaxInt32
)

func (r *rand48) seed(v int32) {
	r.x = [3]uint32{randX0, uint32(v) & 0xffff, uint32(v) >> 16 & 0xffff}
}

func (r *rand48) next() int32 {
	x := uint64(r.x[2])<<32 | uint64(r.x[1])<<16 | uint64(r.x[0])
	x = (randA*x + randC) & (1<<48 - 1)
	r.x = [3]uint32{uint32(x & 0xffff), uint32(x >> 16 & 0xffff), uint32(x >> 32 & 0xffff)}
	return int32(x >> 17)
}

// start puts the state at the low 48 bits of seed, or where a fresh
// Redis process starts if seed is 0.
func (r *rand48) start(seed uint64) {
	if seed == 0 {
		r.x = [3]uint32{randX0, randX1, randX2}
		return
	}
	r.x = [3]uint32{uint32(seed & 0xffff), uint32(seed >> 16 & 0xffff), uint32(seed >> 32 & 0xffff)}
}

// mathRandom is Redis's math.random: Lua 5.1's, drawing from rand48.
func (e *Engine) mathRandom(L *lua.LState) int {
	e.current(L, "math.random")
	r := float64(e.rng.next()%randMax) / float64(randMax)
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := L.CheckInt(1)
		argCheck(L, 1 <= u, 1, "random", "interval is empty")
		L.Push(lua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l := L.CheckInt(1)
		u := L.CheckInt(2)
		argCheck(L, l <= u, 2, "random", "interval is empty")
		L.Push(lua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

func (e *Engine) mathRandomseed(L *lua.LState) int {
	e.current(L, "math.randomseed")
	n, ok := toNumberOK(L.Get(1))
	if !ok {
		got := "no value"
		if L.GetTop() >= 1 {
			got = L.Get(1).Type().String()
		}
		argError(L, 1, "randomseed", "number expected, got "+got)
	}
	e.rng.seed(int32(int64(n)))
	return 0
}
