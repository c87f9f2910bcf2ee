package script

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Chunk names: Redis names the chunks "@user_script" and "@user_function";
// gopher-lua prints a chunk name as given in error positions, where Lua
// strips the '@', so chunks are named without it and the '@' is put back
// where Redis reports a source (the "on @user_script:1." suffix).
const (
	evalChunk = "user_script"
	funcChunk = "user_function"
)

// errReadonly is the text of Redis 7's read-only table patch.
const errReadonly = "Attempt to modify a readonly table"

// allowedGlobals are the base-library globals Redis 7.0.15 scripts see
// (script_lua.c's allow lists, less getfenv, setfenv and newproxy, which
// redis-server 7.0.15 does not offer); everything else gopher-lua's base
// library defines (print, dofile, loadfile, ...) is removed.
var allowedGlobals = map[string]bool{
	"xpcall": true, "tostring": true, "setmetatable": true,
	"next": true, "assert": true, "tonumber": true, "rawequal": true,
	"collectgarbage": true, "getmetatable": true, "rawset": true, "pcall": true,
	"coroutine": true, "type": true, "_G": true, "select": true, "unpack": true,
	"gcinfo": true, "pairs": true, "rawget": true, "loadstring": true,
	"ipairs": true, "_VERSION": true, "load": true, "error": true,
	"string": true, "cjson": true, "bit": true, "cmsgpack": true, "math": true,
	"table": true, "struct": true, "redis": true,
}

// The Lua stack of a state: room for Lua 5.1's limit of 8000 values
// (LUAI_MAXCSTACK) and what calls hold beside them. A script that pushes
// past the maximum would make gopher-lua panic instead of raising an
// error, so unpack, the way to push that many, is bounded as in Lua.
const (
	registrySize    = 16 * 1024
	registryMaxSize = 64 * 1024
	maxCStack       = 8000
)

// interp is one Lua state with Redis's globals protection.
//
// gopher-lua has no read-only tables (Redis patches its Lua for them), so
// every table reachable from the globals is hidden behind a proxy: an
// empty table whose metatable reads through to the real one and refuses
// new keys. Scripts only ever see proxies (the globals themselves, _G,
// string, redis, ...), so they cannot change what a later script sees —
// which matters beyond safety here: every replica must run the next
// script in the same environment. rawset, setmetatable and the table
// library's mutators are wrapped to refuse proxies too.
type interp struct {
	L *lua.LState
	// real is the hidden globals table; KEYS and ARGV are set in it.
	real *lua.LTable
	// env is the proxy of real that scripts run with as their globals.
	env *lua.LTable
	// envMeta is env's metatable; functions switch its __index while a
	// library loads.
	envMeta *lua.LTable
	// proxies holds every read-only proxy.
	proxies map[*lua.LTable]bool
}

// luaTostring is tostring printing a number as Lua 5.1 does ("%.14g"),
// where gopher-lua's prints Go's shortest representation; other values
// go to gopher-lua's own.
func luaTostring(orig lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(formatNumber(float64(n))))
			return 1
		}
		L.Push(orig)
		L.Push(L.Get(1))
		L.Call(1, 1)
		return 1
	}
}

// luaTonumber is tonumber reading a string as Lua 5.1 does, whole, with
// C's strtod ("1e+2", "0x10", "0x1.8p1"), where gopher-lua's refuses
// some; a base, or a value that is not a string, go
// to gopher-lua's own.
func luaTonumber(orig lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		str, ok := L.Get(1).(lua.LString)
		if !ok || L.GetTop() > 1 && L.Get(2) != lua.LNil {
			n := L.GetTop()
			L.Push(orig)
			for i := 1; i <= n; i++ {
				L.Push(L.Get(i))
			}
			L.Call(n, 1)
			return 1
		}
		s := strings.TrimSpace(string(str))
		if f, n := strtod(s); n > 0 && n == len(s) {
			L.Push(lua.LNumber(f))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}
}

// formatNumber is C's "%.14g", Lua 5.1's number format.
func formatNumber(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// newInterp opens the libraries Redis loads into a fresh state. api adds
// the non-protected contents (redis.*, cjson, ...) to the real globals
// before everything is locked.
func newInterp(api func(in *interp)) *interp {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, RegistrySize: registrySize, RegistryMaxSize: registryMaxSize})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	in := &interp{L: L, real: L.G.Global, proxies: map[*lua.LTable]bool{}}
	var drop []string
	in.real.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); !ok || !allowedGlobals[string(s)] {
			drop = append(drop, k.String())
		}
	})
	for _, k := range drop {
		in.real.RawSetString(k, lua.LNil)
	}
	in.real.RawSetString("tostring", L.NewFunction(luaTostring(in.real.RawGetString("tostring"))))
	in.real.RawSetString("tonumber", L.NewFunction(luaTonumber(in.real.RawGetString("tonumber"))))
	api(in)
	in.wrapMutators()

	// Lock: replace each table reachable from the globals by its proxy.
	seen := map[*lua.LTable]*lua.LTable{in.real: in.real}
	in.protectFields(in.real, seen)
	in.envMeta = L.NewTable()
	in.envMeta.RawSetString("__index", in.real)
	in.envMeta.RawSetString("__newindex", L.NewFunction(readonlyError))
	// getmetatable(_G) shows, as Redis does, a read-only metatable; a
	// view of it, since the real one leads to the hidden globals.
	view := L.NewTable()
	view.RawSetString("__index", L.NewFunction(missingGlobal))
	view.RawSetString("__newindex", L.NewFunction(readonlyError))
	in.envMeta.RawSetString("__metatable", in.protect(view, seen))
	in.env = L.NewTable()
	L.SetMetatable(in.env, in.envMeta)
	in.proxies[in.env] = true
	in.real.RawSetString("_G", in.env)
	// Reading a missing global is an error; the hidden table has the
	// metatable so that env's __index chain ends there.
	realMeta := L.NewTable()
	realMeta.RawSetString("__index", L.NewFunction(missingGlobal))
	L.SetMetatable(in.real, realMeta)
	// String methods ("x"):upper() go through the string metatable.
	if sm, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		sm.RawSetString("__index", in.real.RawGetString("string"))
		sm.RawSetString("__metatable", in.protect(sm, seen))
	}
	L.Env = in.env
	return in
}

// protect returns t's read-only proxy, making proxies of the tables it
// holds first.
func (in *interp) protect(t *lua.LTable, seen map[*lua.LTable]*lua.LTable) *lua.LTable {
	if p, ok := seen[t]; ok {
		return p
	}
	p := in.L.NewTable()
	seen[t] = p
	in.protectFields(t, seen)
	in.lockProxy(p, t)
	return p
}

// protectFields replaces the tables t holds by their proxies.
func (in *interp) protectFields(t *lua.LTable, seen map[*lua.LTable]*lua.LTable) {
	var keys []lua.LValue
	t.ForEach(func(k, v lua.LValue) {
		if _, ok := v.(*lua.LTable); ok {
			keys = append(keys, k)
		}
	})
	for _, k := range keys {
		if sub := t.RawGet(k).(*lua.LTable); sub != t {
			t.RawSet(k, in.protect(sub, seen))
		}
	}
}

// lockProxy makes p a read-only view of t.
func (in *interp) lockProxy(p, t *lua.LTable) {
	m := in.L.NewTable()
	m.RawSetString("__index", t)
	m.RawSetString("__newindex", in.L.NewFunction(readonlyError))
	m.RawSetString("__metatable", lua.LFalse)
	in.L.SetMetatable(p, m)
	in.proxies[p] = true
}

// wrapMutators makes the raw writers refuse proxies, as Redis's patched
// lua_rawset and friends refuse read-only tables.
func (in *interp) wrapMutators() {
	guard := func(tbl *lua.LTable, name string, argTable int) {
		orig := tbl.RawGetString(name).(*lua.LFunction)
		tbl.RawSetString(name, in.L.NewFunction(func(L *lua.LState) int {
			if t, ok := L.Get(argTable).(*lua.LTable); ok && in.proxies[t] {
				// Without a position, as Lua's runtime errors from C.
				L.Error(lua.LString(errReadonly), 0)
			}
			top := L.GetTop()
			L.Insert(orig, 1)
			L.Call(top, lua.MultRet)
			return L.GetTop()
		}))
	}
	unpack := in.real.RawGetString("unpack").(*lua.LFunction)
	in.real.RawSetString("unpack", in.L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		i, j := L.OptInt(2, 1), L.OptInt(3, t.Len())
		if j-i >= maxCStack-L.GetTop() {
			L.RaiseError("too many results to unpack")
		}
		top := L.GetTop()
		L.Insert(unpack, 1)
		L.Call(top, lua.MultRet)
		return L.GetTop()
	}))
	guard(in.real, "rawset", 1)
	guard(in.real, "setmetatable", 1)
	tl := in.real.RawGetString("table").(*lua.LTable)
	for _, f := range []string{"insert", "remove", "sort"} {
		guard(tl, f, 1)
	}
}

func readonlyError(L *lua.LState) int {
	L.RaiseError(errReadonly)
	return 0
}

func missingGlobal(L *lua.LState) int {
	L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.Get(2).String())
	return 0
}

// setGlobal sets a global behind the protection (KEYS, ARGV).
func (in *interp) setGlobal(name string, v lua.LValue) { in.real.RawSetString(name, v) }

// compile loads body as a chunk named name with the protected globals.
func (in *interp) compile(body []byte, name string) (*lua.LFunction, error) {
	fn, err := in.L.Load(strings.NewReader(string(body)), name)
	if err != nil {
		return nil, compileError(err, name, body)
	}
	return fn, nil
}

// compileError rewrites gopher-lua's syntax errors ("name line:1(column:5)
// near 'x':   syntax error", "name at EOF:   syntax error") into Lua's
// "name:1: ... near 'x'" shape; the wording is gopher-lua's.
func compileError(err error, name string, body []byte) error {
	msg := err.Error()
	if aerr, ok := err.(*lua.ApiError); ok {
		msg = aerr.Object.String()
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if rest, ok := strings.CutPrefix(msg, name+" at EOF: "); ok {
		return fmt.Errorf("%s:%d: %s near '<eof>'", name, bytes.Count(body, []byte("\n"))+1, rest)
	}
	rest, ok := strings.CutPrefix(msg, name+" line:")
	if !ok {
		return errors.New(msg)
	}
	line, rest, _ := strings.Cut(rest, "(")
	_, rest, _ = strings.Cut(rest, ") ")
	near, what, ok := strings.Cut(rest, ": ")
	if !ok {
		return fmt.Errorf("%s:%s: %s", name, line, rest)
	}
	return fmt.Errorf("%s:%s: %s %s", name, line, what, near)
}
