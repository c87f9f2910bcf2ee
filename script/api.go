package script

import (
	"errors"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rkv/rkv/command"
)

// The version scripts see in redis.REDIS_VERSION: rkv answers as Redis
// 7.0.15, whose scripting it follows.
const (
	redisVersion    = "7.0.15"
	redisVersionNum = 0x07000f
)

// registerAPI adds the redis table, the Lua modules rkv writes in Go and
// Redis's math.random to a state's real globals; withDebug adds the
// EVAL-only redis.breakpoint, redis.debug and redis.replicate_commands.
func (e *Engine) registerAPI(in *interp, withDebug bool) {
	L := in.L
	g := in.real
	g.RawSetString("pcall", L.NewFunction(redisPcall))
	// Memory figures differ between replicas and gopher-lua's
	// collectgarbage runs a full Go GC: both answer 0 and do nothing.
	zero := func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 }
	g.RawSetString("collectgarbage", L.NewFunction(zero))
	g.RawSetString("gcinfo", L.NewFunction(zero))
	r := L.NewTable()
	set := func(name string, fn lua.LGFunction) { r.RawSetString(name, L.NewFunction(fn)) }
	set("call", func(L *lua.LState) int { return e.redisCall(L, true) })
	set("pcall", func(L *lua.LState) int { return e.redisCall(L, false) })
	e.registerLog(L, r)
	registerVersion(r)
	set("setresp", e.setResp)
	set("sha1hex", sha1hexLua)
	set("error_reply", errorReply)
	set("status_reply", statusReply)
	set("set_repl", e.setRepl)
	for name, v := range map[string]int{"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3} {
		r.RawSetString(name, lua.LNumber(v))
	}
	set("acl_check_cmd", e.aclCheckCmd)
	if withDebug {
		set("breakpoint", func(L *lua.LState) int { L.Push(lua.LFalse); return 1 })
		set("debug", func(L *lua.LState) int { return 0 })
		set("replicate_commands", func(L *lua.LState) int { L.Push(lua.LTrue); return 1 })
	}
	g.RawSetString("redis", r)

	m := g.RawGetString("math").(*lua.LTable)
	m.RawSetString("random", L.NewFunction(e.mathRandom))
	m.RawSetString("randomseed", L.NewFunction(e.mathRandomseed))

	g.RawSetString("cjson", newCjson(L))
	g.RawSetString("cmsgpack", newCmsgpack(L))
	g.RawSetString("bit", newBit(L))
	g.RawSetString("struct", newStruct(L))
}

func (e *Engine) registerLog(L *lua.LState, r *lua.LTable) {
	r.RawSetString("log", L.NewFunction(e.redisLog))
	r.RawSetString("LOG_DEBUG", lua.LNumber(LogDebug))
	r.RawSetString("LOG_VERBOSE", lua.LNumber(LogVerbose))
	r.RawSetString("LOG_NOTICE", lua.LNumber(LogNotice))
	r.RawSetString("LOG_WARNING", lua.LNumber(LogWarning))
}

func registerVersion(r *lua.LTable) {
	r.RawSetString("REDIS_VERSION_NUM", lua.LNumber(redisVersionNum))
	r.RawSetString("REDIS_VERSION", lua.LString(redisVersion))
}

// raise raises Redis's error table for msg (luaPushError + luaError).
func raise(L *lua.LState, msg string) {
	L.Error(errorTable(L, msg), 0)
}

// current returns the call in progress, raising Redis's error when the
// API is used outside one (from a library's load code).
func (e *Engine) current(L *lua.LState, what string) *run {
	r := e.cur.Load()
	if r == nil {
		raise(L, what+" can only be called inside a script invocation")
	}
	return r
}

// redisCall is redis.call (raise true) and redis.pcall: the checks of
// scriptCall, then the host, then the reply converted to Lua.
func (e *Engine) redisCall(L *lua.LState, raiseErr bool) int {
	r := e.current(L, "redis.call/pcall")
	args, errMsg := callArgs(L)
	if errMsg == "" {
		errMsg = r.check(args)
	}
	if errMsg != "" {
		t := errorTable(L, errMsg)
		if raiseErr {
			L.Error(t, 0)
		}
		t.RawSetString("ignore_error_stats_update", lua.LTrue)
		L.Push(t)
		return 1
	}
	reply := r.host.Call(args, r.scriptResp)
	v, _ := respToLua(L, reply)
	if raiseErr && len(reply) > 0 && (reply[0] == '-' || reply[0] == '!') {
		L.Error(v, 0)
	}
	L.Push(v)
	return 1
}

// callArgs converts redis.call's arguments: strings as they are, numbers
// as "%.17g" (Lua's own conversion would lose precision).
func callArgs(L *lua.LState) ([][]byte, string) {
	n := L.GetTop()
	if n == 0 {
		return nil, "Please specify at least one argument for this redis lib call"
	}
	args := make([][]byte, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = []byte(v)
		case lua.LNumber:
			args[i-1] = []byte(formatG(float64(v), 17))
		default:
			return nil, "Lua redis lib command arguments must be strings or integers"
		}
	}
	return args, ""
}

// lookup finds a command as Redis's lookupCommand does: a container's
// subcommand by the second argument.
func lookup(args [][]byte) (*command.Spec, bool) {
	spec, ok := command.Lookup(args[0])
	if !ok {
		return nil, false
	}
	if len(spec.Subcommands) > 0 && len(args) >= 2 {
		return spec.Sub(string(args[1]))
	}
	return spec, true
}

// check refuses a command the script may not run, with scriptCall's
// texts, and records a write.
func (r *run) check(args [][]byte) string {
	spec, ok := lookup(args)
	if !ok {
		return "Unknown Redis command called from script"
	}
	if !spec.ArityFits(len(args)) {
		return "Wrong number of args calling Redis command from script"
	}
	if spec.Has("noscript") {
		return "This Redis command is not allowed from script"
	}
	write := spec.Has("write")
	if r.readOnly && (write || spec.Has("may_replicate")) {
		return "Write commands are not allowed from read-only scripts."
	}
	if r.oom && !r.allowOOM && !r.wrote.Load() && spec.Has("denyoom") {
		return "-OOM command not allowed when used memory > 'maxmemory'."
	}
	if write && r.noReplicas {
		return "-NOREPLICAS Not enough good replicas to write."
	}
	if write && r.untilWrite {
		// Ended through the context, which pcall cannot hold back: the
		// VM raises again at the next instruction.
		r.stopped.Store(true)
		r.cancel()
		return "Script stopped at its first write"
	}
	if write {
		r.wrote.Store(true)
	}
	if spec.Has("readonly") {
		r.read.Store(true)
	}
	return ""
}

// aclCheckCmd is redis.acl_check_cmd. ACLs are the host's: a command
// the table knows is reported allowed.
func (e *Engine) aclCheckCmd(L *lua.LState) int {
	e.current(L, "redis.acl_check_cmd")
	args, errMsg := callArgs(L)
	if errMsg != "" {
		raise(L, errMsg)
	}
	if _, ok := lookup(args); !ok {
		raise(L, "Invalid command passed to redis.acl_check_cmd()")
	}
	L.Push(lua.LTrue)
	return 1
}

// redisPcall is the global pcall: as Lua's, but an error table with an
// err field is returned as its err string, as Redis 7 does for older
// scripts' sake.
func redisPcall(L *lua.LState) int {
	L.CheckAny(1)
	v := L.Get(1)
	if v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, lua.MultRet, nil); err != nil {
		var obj lua.LValue = lua.LString(err.Error())
		if aerr, ok := err.(*lua.ApiError); ok {
			obj = aerr.Object
		}
		if t, ok := obj.(*lua.LTable); ok {
			if s, ok := t.RawGetString("err").(lua.LString); ok {
				obj = s
			}
		}
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

func (e *Engine) setResp(L *lua.LState) int {
	r := e.current(L, "redis.setresp")
	if L.GetTop() != 1 {
		raise(L, "redis.setresp() requires one argument.")
	}
	resp := int(toNumber(L.Get(1)))
	if resp != 2 && resp != 3 {
		raise(L, "RESP version must be 2 or 3.")
	}
	r.scriptResp = resp
	return 0
}

// setRepl is redis.set_repl: the flags are checked and accepted; rkv
// replicates a script as a whole, so they change nothing.
func (e *Engine) setRepl(L *lua.LState) int {
	e.current(L, "redis.set_repl")
	if L.GetTop() != 1 {
		raise(L, "redis.set_repl() requires two arguments.")
	}
	if int(toNumber(L.Get(1)))&^3 != 0 {
		raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
	}
	return 0
}

func (e *Engine) redisLog(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		raise(L, "redis.log() requires two arguments or more.")
	}
	if _, ok := toNumberOK(L.Get(1)); !ok {
		raise(L, "First argument must be a number (log level).")
	}
	level := int(toNumber(L.Get(1)))
	if level < LogDebug || level > LogWarning {
		raise(L, "Invalid debug level.")
	}
	var parts []string
	for i := 2; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString, lua.LNumber:
			parts = append(parts, v.String())
		}
	}
	e.log(level, strings.Join(parts, " "))
	return 0
}

func sha1hexLua(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "wrong number of arguments")
	}
	var s string
	switch v := L.Get(1).(type) {
	case lua.LString, lua.LNumber:
		s = v.String()
	}
	L.Push(lua.LString(SHA1Hex([]byte(s))))
	return 1
}

func errorReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errorTable(L, "wrong number or type of arguments"))
		return 1
	}
	msg := string(s)
	if !strings.HasPrefix(msg, "-") {
		msg = "-" + msg
	}
	L.Push(errorTable(L, msg))
	return 1
}

func statusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errorTable(L, "wrong number or type of arguments"))
		return 1
	}
	L.Push(singleField(L, "ok", s))
	return 1
}

// toNumberOK is lua_tonumber with lua_isnumber: numbers, and strings
// that read as numbers (decimal or 0x hex, surrounding spaces allowed).
func toNumberOK(v lua.LValue) (float64, bool) {
	switch v := v.(type) {
	case lua.LNumber:
		return float64(v), true
	case lua.LString:
		return strToNumber(string(v))
	}
	return 0, false
}

func strToNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 64)
		return float64(n), err == nil
	}
	if s == "" || strings.ContainsAny(s, "_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

func toNumber(v lua.LValue) float64 {
	n, _ := toNumberOK(v)
	return n
}

// argCheck is luaL_argcheck for the function named fname.
func argCheck(L *lua.LState, cond bool, n int, fname, msg string) {
	if !cond {
		argError(L, n, fname, msg)
	}
}

// argError is luaL_argerror's "bad argument #n to 'f' (msg)".
func argError(L *lua.LState, n int, fname, msg string) {
	L.RaiseError("bad argument #%d to '%s' (%s)", n, fname, msg)
}
