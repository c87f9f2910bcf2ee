package script

import (
	"context"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rkv/rkv/internal/sds"
)

// functions is the function libraries and the Lua state they live in.
type functions struct {
	e  *Engine
	in *interp
	// libAPI is what library code sees as globals while it loads: only
	// a redis table with register_function, log and the version.
	libAPI *lua.LTable
	// libs and byName are keyed by lower-cased name: Redis's library
	// and function dictionaries compare names case-insensitively.
	libs   map[string]*library
	byName map[string]*function
	// loading collects the functions of the library being loaded; nil
	// outside FUNCTION LOAD, when register_function is an error.
	loading *library
}

type library struct {
	name  string
	code  string
	funcs map[string]*function // keyed by lower-cased name
}

type function struct {
	name    string
	desc    string
	hasDesc bool
	flags   Flags
	fn      *lua.LFunction
	lib     *library
}

func newFunctions(e *Engine) *functions {
	fs := &functions{e: e, libs: map[string]*library{}, byName: map[string]*function{}}
	fs.in = newInterp(func(in *interp) { e.registerAPI(in, false) })
	L := fs.in.L
	r := L.NewTable()
	r.RawSetString("register_function", L.NewFunction(fs.registerFunction))
	e.registerLog(L, r)
	registerVersion(r)
	// As in Redis, the load-time redis table errors on missing fields.
	missing := L.NewTable()
	missing.RawSetString("__index", L.NewFunction(missingGlobal))
	L.SetMetatable(r, missing)
	api := L.NewTable()
	seen := map[*lua.LTable]*lua.LTable{}
	api.RawSetString("redis", fs.in.protect(r, seen))
	L.SetMetatable(api, missing)
	fs.libAPI = api
	return fs
}

// LibraryInfo describes one library for FUNCTION LIST.
type LibraryInfo struct {
	Name      string
	Engine    string
	Functions []FunctionInfo
	// Code is the library's source, filled in when asked for.
	Code string
}

// FunctionInfo describes one function of a library.
type FunctionInfo struct {
	Name string
	// Description is nil when register_function gave none.
	Description *string
	Flags       Flags
}

// loadBudget bounds the Lua instructions a library's code may run while
// it loads, where Redis allows 500 ms: a load is applied from the log on
// every replica and again on restart, so the bound must be a count (a
// few hundred milliseconds of gopher-lua).
const loadBudget = 10_000_000

// validName is functionsVerifyName: letters, digits and '_', not empty.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(isAlnum(c) || c == '_') {
			return false
		}
	}
	return true
}

const errBadName = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

// parseLibraryHeader reads "#!<engine> name=<lib>" as
// functionExtractLibMetaData does; body is the code after the shebang
// line, from its newline.
func parseLibraryHeader(code string) (name, engine, body string, err error) {
	if !strings.HasPrefix(code, "#!") {
		return "", "", "", ReplyError("ERR Missing library metadata")
	}
	end := strings.IndexByte(code, '\n')
	if end < 0 {
		return "", "", "", ReplyError("ERR Invalid library metadata")
	}
	parts, ok := sds.SplitArgs(code[:end])
	if !ok || len(parts) == 0 {
		return "", "", "", ReplyError("ERR Invalid library metadata")
	}
	engine = parts[0][2:]
	gotName := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(p[:5], "name=") {
			if gotName {
				return "", "", "", ReplyError("ERR Invalid metadata value, name argument was given multiple times")
			}
			name, gotName = p[5:], true
			continue
		}
		return "", "", "", ReplyError("ERR Invalid metadata value given: " + p)
	}
	if !gotName {
		return "", "", "", ReplyError("ERR Library name was not given")
	}
	return name, engine, code[end:], nil
}

// FunctionLoad loads a library (FUNCTION LOAD [REPLACE]) and returns its
// name. Errors are Redis's reply texts.
func (e *Engine) FunctionLoad(code []byte, replace bool) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.refreshCounts()
	lib, err := e.funcs.compile(string(code), !replace)
	if err != nil {
		return "", err
	}
	if err := e.funcs.link([]*library{lib}, replace); err != nil {
		return "", err
	}
	return lib.name, nil
}

// compile runs a library's code to collect its functions, without
// linking them; mustBeNew refuses a library name in use before the code
// runs, as FUNCTION LOAD without REPLACE does.
func (fs *functions) compile(code string, mustBeNew bool) (*library, error) {
	name, engine, body, err := parseLibraryHeader(code)
	if err != nil {
		return nil, err
	}
	if !validName(name) {
		return nil, ReplyError(errBadName)
	}
	if !strings.EqualFold(engine, "lua") {
		return nil, ReplyError("ERR Engine '" + engine + "' not found")
	}
	if _, ok := fs.libs[name]; ok && mustBeNew {
		return nil, ReplyError("ERR Library '" + name + "' already exists")
	}
	fn, err := fs.in.compile([]byte(body), funcChunk)
	if err != nil {
		return nil, ReplyError("ERR Error compiling function: " + err.Error())
	}
	lib := &library{name: name, code: code, funcs: map[string]*function{}}
	L := fs.in.L
	fs.in.envMeta.RawSetString("__index", fs.libAPI)
	fs.loading = lib
	defer func() {
		fs.in.envMeta.RawSetString("__index", fs.in.real)
		fs.loading = nil
	}()
	budget := &budgetContext{Context: context.Background(), left: loadBudget}
	L.SetContext(budget)
	defer L.RemoveContext()
	top := L.GetTop()
	L.Push(fn)
	perr := L.PCall(0, 0, nil)
	L.SetTop(top)
	if budget.exhausted() {
		return nil, ReplyError("ERR Error registering functions: FUNCTION LOAD timeout")
	}
	if perr != nil {
		msg := perr.Error()
		if aerr, ok := perr.(*lua.ApiError); ok {
			msg = luaToString(aerr.Object)
			if t, ok := aerr.Object.(*lua.LTable); ok {
				msg = luaToString(t.RawGetString("err"))
			} else {
				msg = "ERR " + msg
			}
		}
		return nil, ReplyError("ERR Error registering functions: " + msg)
	}
	if len(lib.funcs) == 0 {
		return nil, ReplyError("ERR No functions registered")
	}
	return lib, nil
}

// link adds compiled libraries, replacing same-named ones if replace,
// failing as a whole on a name collision.
func (fs *functions) link(libs []*library, replace bool) error {
	replaced := map[string]bool{}
	for _, lib := range libs {
		if _, ok := fs.libs[lib.name]; ok {
			if !replace {
				return ReplyError("ERR Library " + lib.name + " already exists")
			}
			replaced[lib.name] = true
		}
	}
	seen := map[string]bool{}
	for _, lib := range libs {
		for name, f := range lib.funcs {
			if old, ok := fs.byName[name]; (ok && !replaced[old.lib.name]) || seen[name] {
				return ReplyError("ERR Function " + f.name + " already exists")
			}
			seen[name] = true
		}
	}
	for name := range replaced {
		fs.unlink(fs.libs[name])
	}
	for _, lib := range libs {
		fs.libs[lib.name] = lib
		for name, f := range lib.funcs {
			fs.byName[name] = f
		}
	}
	return nil
}

func (fs *functions) unlink(lib *library) {
	delete(fs.libs, lib.name)
	for name := range lib.funcs {
		delete(fs.byName, name)
	}
}

// registerFunction is redis.register_function, positional (name,
// callback) or named ({function_name=, callback=, flags=, description=}).
func (fs *functions) registerFunction(L *lua.LState) int {
	lib := fs.loading
	if lib == nil {
		raise(L, "redis.register_function can only be called on FUNCTION LOAD command")
	}
	f := &function{lib: lib}
	switch L.GetTop() {
	case 1:
		if msg := f.readNamed(L); msg != "" {
			raise(L, msg)
		}
	case 2:
		name, ok := L.Get(1).(lua.LString)
		if n, isNum := L.Get(1).(lua.LNumber); isNum {
			name, ok = lua.LString(n.String()), true
		}
		if !ok {
			raise(L, "first argument to redis.register_function must be a string")
		}
		fn, ok := L.Get(2).(*lua.LFunction)
		if !ok {
			raise(L, "second argument to redis.register_function must be a function")
		}
		f.name, f.fn = string(name), fn
	default:
		raise(L, "wrong number of arguments to redis.register_function")
	}
	if !validName(f.name) {
		raise(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
	}
	if _, ok := lib.funcs[fold(f.name)]; ok {
		raise(L, "Function already exists in the library")
	}
	lib.funcs[fold(f.name)] = f
	return 0
}

func (f *function) readNamed(L *lua.LState) string {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."
	}
	var msg string
	gotName := false
	t.ForEach(func(k, v lua.LValue) {
		if msg != "" {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			msg = "named argument key given to redis.register_function is not a string"
			return
		}
		switch strings.ToLower(string(key)) {
		case "function_name":
			s, ok := luaStringish(v)
			if !ok {
				msg = "function_name argument given to redis.register_function must be a string"
				return
			}
			f.name, gotName = s, true
		case "description":
			s, ok := luaStringish(v)
			if !ok {
				msg = "description argument given to redis.register_function must be a string"
				return
			}
			f.desc, f.hasDesc = s, true
		case "callback":
			fn, ok := v.(*lua.LFunction)
			if !ok {
				msg = "callback argument given to redis.register_function must be a function"
				return
			}
			f.fn = fn
		case "flags":
			ft, ok := v.(*lua.LTable)
			if !ok {
				msg = "flags argument to redis.register_function must be a table representing function flags"
				return
			}
			for i := 1; ; i++ {
				item := ft.RawGetInt(i)
				if item == lua.LNil {
					break
				}
				s, ok := luaStringish(item)
				flag, known := flagByName(s, true)
				if !ok || !known {
					msg = "unknown flag given"
					return
				}
				f.flags |= flag
			}
		default:
			msg = "unknown argument given to redis.register_function"
		}
	})
	switch {
	case msg != "":
		return msg
	case !gotName:
		return "redis.register_function must get a function name argument"
	case f.fn == nil:
		return "redis.register_function must get a callback argument"
	}
	return ""
}

// luaStringish is lua_isstring + lua_tostring: strings and numbers.
func luaStringish(v lua.LValue) (string, bool) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return v.String(), true
	}
	return "", false
}

// FCall runs a function (FCALL, FCALL_RO with o.ReadOnly).
func (e *Engine) FCall(name string, keys, args [][]byte, h Host, o Options) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.funcs.byName[fold(name)]
	if !ok {
		return errorResult(ReplyError("ERR Function not found"))
	}
	if err := checkFlags(f.flags, o); err != nil {
		return errorResult(err)
	}
	L := e.funcs.in.L
	return e.call(e.funcs.in, f.fn, []lua.LValue{stringArray(L, keys), stringArray(L, args)}, name, false, f.flags, h, o)
}

// FunctionFlags returns a function's flags, for the host to route FCALL.
func (e *Engine) FunctionFlags(name string) (Flags, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.funcs.byName[fold(name)]
	if !ok {
		return 0, false
	}
	return f.flags, true
}

// FunctionDelete removes a library (FUNCTION DELETE).
func (e *Engine) FunctionDelete(lib string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.refreshCounts()
	l, ok := e.funcs.libs[lib]
	if !ok {
		return ReplyError("ERR Library not found")
	}
	e.funcs.unlink(l)
	return nil
}

// FunctionFlush removes every library and starts a fresh function state
// (FUNCTION FLUSH).
func (e *Engine) FunctionFlush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.refreshCounts()
	e.resetFunctions()
}

func (e *Engine) resetFunctions() {
	e.funcs.in.L.Close()
	e.funcs = newFunctions(e)
}

// FunctionList describes the libraries whose names match (all if match
// is nil), sorted by name, with their code if withCode. Redis lists
// libraries in its dictionary's order; rkv sorts so every node answers
// alike. Matching is the host's (it owns the glob matcher).
func (e *Engine) FunctionList(match func(lib string) bool, withCode bool) []LibraryInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []LibraryInfo
	for _, name := range e.funcs.libNames() {
		lib := e.funcs.libs[name]
		if match != nil && !match(lib.name) {
			continue
		}
		info := LibraryInfo{Name: lib.name, Engine: "LUA"}
		if withCode {
			info.Code = lib.code
		}
		fnames := make([]string, 0, len(lib.funcs))
		for fn := range lib.funcs {
			fnames = append(fnames, fn)
		}
		slices.Sort(fnames)
		for _, fn := range fnames {
			f := lib.funcs[fn]
			fi := FunctionInfo{Name: f.name, Flags: f.flags}
			if f.hasDesc {
				d := f.desc
				fi.Description = &d
			}
			info.Functions = append(info.Functions, fi)
		}
		out = append(out, info)
	}
	return out
}

// refreshCounts publishes the counts FunctionCounts reads; called with
// e.mu held after every change of the libraries.
func (e *Engine) refreshCounts() {
	e.counts.Store(&[2]int{len(e.funcs.libs), len(e.funcs.byName)})
}

// FunctionCounts returns the numbers of libraries and functions without
// waiting for a running script, for FUNCTION STATS.
func (e *Engine) FunctionCounts() (libs, funcs int) {
	c := e.counts.Load()
	return c[0], c[1]
}

// fold is the key of a function name: function names are case-insensitive
// in Redis, library names are not.
func fold(name string) string { return strings.ToLower(name) }

// libNames returns the keys of the libraries, sorted.
func (fs *functions) libNames() []string {
	names := make([]string, 0, len(fs.libs))
	for n := range fs.libs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// SnapshotLibraries returns every library's source, sorted by name, for
// a snapshot; RestoreLibraries rebuilds them.
func (e *Engine) SnapshotLibraries() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, n := range e.funcs.libNames() {
		out = append(out, e.funcs.libs[n].code)
	}
	return out
}

// RestoreLibraries replaces every library by the given sources, in a
// fresh function state; on error the libraries are left as they were.
func (e *Engine) RestoreLibraries(codes []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.refreshCounts()
	return e.replaceAll(codes)
}

func (e *Engine) replaceAll(codes []string) error {
	old := e.funcs
	e.funcs = newFunctions(e)
	libs := make([]*library, 0, len(codes))
	for _, c := range codes {
		lib, err := e.funcs.compile(c, false)
		if err == nil {
			libs = append(libs, lib)
			continue
		}
		e.funcs.in.L.Close()
		e.funcs = old
		return err
	}
	if err := e.funcs.link(libs, false); err != nil {
		e.funcs.in.L.Close()
		e.funcs = old
		return err
	}
	old.in.L.Close()
	return nil
}

// FunctionDump returns every library as one payload (FUNCTION DUMP), in
// Redis's format (payload.go), so that libraries move between Redis and
// rkv.
func (e *Engine) FunctionDump() []byte { return encodePayload(e.SnapshotLibraries()) }

// Restore policies of FUNCTION RESTORE.
const (
	RestoreAppend  = "APPEND"
	RestoreReplace = "REPLACE"
	RestoreFlush   = "FLUSH"
)

// FunctionRestore loads a FunctionDump payload with a policy: APPEND
// fails on any existing library or function name, REPLACE replaces
// same-named libraries, FLUSH drops every library first.
func (e *Engine) FunctionRestore(payload []byte, policy string) error {
	codes, err := decodePayload(payload)
	if err != nil {
		return err
	}
	var replace bool
	switch strings.ToUpper(policy) {
	case "", RestoreAppend:
	case RestoreReplace:
		replace = true
	case RestoreFlush:
		e.mu.Lock()
		defer e.mu.Unlock()
		defer e.refreshCounts()
		return e.replaceAll(codes)
	default:
		return ReplyError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.refreshCounts()
	libs := make([]*library, 0, len(codes))
	for _, c := range codes {
		lib, err := e.funcs.compile(c, false)
		if err != nil {
			return err
		}
		libs = append(libs, lib)
	}
	return e.funcs.link(libs, replace)
}
