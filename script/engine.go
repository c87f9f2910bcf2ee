package script

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Host executes the commands a script calls. The engine has already
// checked each command against the command table (existence, arity,
// noscript, writes in a read-only script, OOM) before calling it.
type Host interface {
	// Call runs one command (the name first) and returns its reply
	// encoded in RESP version resp (2, or 3 after redis.setresp(3)),
	// exactly as a client would receive it.
	Call(args [][]byte, resp int) []byte
}

// Log levels of redis.log, Redis's LL_* values.
const (
	LogDebug   = 0
	LogVerbose = 1
	LogNotice  = 2
	LogWarning = 3
)

// Logger receives redis.log lines.
type Logger func(level int, msg string)

// Options are one call's circumstances, decided by the host.
type Options struct {
	// Context ends the script when done, as SCRIPT KILL does (the
	// reply is Redis's "Script killed by user" error). Nil: background.
	Context context.Context
	// ReadOnly is EVAL_RO, EVALSHA_RO or FCALL_RO.
	ReadOnly bool
	// OOM reports that used memory was over maxmemory when the call
	// started: a script without allow-oom is refused, and so are its
	// denyoom commands until it has written.
	OOM bool
	// NoReplicas refuses the script's writes with NOREPLICAS, as a
	// master short of min-replicas-to-write does.
	NoReplicas bool
	// Cluster refuses scripts flagged no-cluster, as a cluster node does.
	Cluster bool
	// Resp is the calling client's protocol, 2 (the default) or 3.
	Resp int
	// Budget bounds the Lua instructions the call may execute (0: no
	// bound): a script every replica runs from the log must end at the
	// same instruction everywhere, which no wall-clock limit gives.
	Budget int64
	// Replicated marks a call every replica runs from the log: Kill
	// refuses it, since only the budget ends it alike everywhere.
	Replicated bool
	// NoCache keeps an EVAL from caching its script: a node that runs a
	// read-only script outside the log must not change the cache, which
	// is replicated state.
	NoCache bool
	// UntilWrite stops the script at its first write command, which is
	// not run (Result.StoppedAtWrite): the host runs a script that may
	// write up to there on one node, where SCRIPT KILL can end it, before
	// sending it through the log, where nothing can.
	UntilWrite bool
	// Command is the client's command, for FUNCTION STATS.
	Command [][]byte
	// Seed starts math.random (0: where a fresh Redis process starts).
	Seed uint64
}

// Result is the outcome of one call.
type Result struct {
	// Reply is the RESP-encoded reply for the client.
	Reply []byte
	// Wrote reports that the script ran a write command, Read a
	// read-only one (client-side caching then tracks its keys).
	Wrote bool
	Read  bool
	// StoppedAtWrite reports that an Options.UntilWrite call reached a
	// write command; Reply is then nil.
	StoppedAtWrite bool
	// Killed reports that SCRIPT KILL or FUNCTION KILL ended the call.
	Killed bool
}

// ReplyError is an error whose text is a Redis error reply without the
// leading '-' ("NOSCRIPT No matching script. Please use EVAL.").
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// Reply returns the error as a RESP error reply.
func (e ReplyError) Reply() []byte { return []byte("-" + string(e) + "\r\n") }

// The errors of SCRIPT KILL and FUNCTION KILL.
const (
	ErrNotBusy    ReplyError = "NOTBUSY No scripts in execution right now."
	ErrUnkillable ReplyError = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	// ErrBusyFunction answers SCRIPT KILL while a function runs.
	ErrBusyFunction ReplyError = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	// ErrBusyEval answers FUNCTION KILL while an EVAL script runs.
	ErrBusyEval ReplyError = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	ErrNoScript ReplyError = "NOSCRIPT No matching script. Please use EVAL."
	// ErrUnkillableReplicated answers a kill of a script every replica
	// runs from the log: killing it on one node would leave the replicas
	// different.
	ErrUnkillableReplicated ReplyError = "UNKILLABLE The script runs on every replica from the Raft log; it ends by itself or at the script instruction budget."
)

// errKilled is the message a killed script ends with.
const errKilled = "ERR Script killed by user with SCRIPT KILL..."

// Engine runs Lua scripts and functions as Redis 7.0 does. It holds two
// Lua states, like Redis: one for EVAL scripts, reset by Flush, and one
// for function libraries. One call runs at a time; Kill may be called
// from another goroutine while a call runs.
type Engine struct {
	mu  sync.Mutex
	log Logger
	// eval is the EVAL state; scripts caches its compiled scripts by sha.
	eval    *interp
	scripts map[string]*evalScript
	funcs   *functions
	// rng is math.random's state, shared by scripts and functions as
	// in Redis, and reset at the start of every call.
	rng rand48
	// cur is the call in progress, nil between calls; Kill reads it.
	cur atomic.Pointer[run]
	// counts are the numbers of libraries and functions (refreshCounts).
	counts atomic.Pointer[[2]int]
}

type evalScript struct {
	body  []byte
	flags Flags
	fn    *lua.LFunction
}

// run is one call in progress.
type run struct {
	host       Host
	name       string // the sha or function name, for error messages
	isEval     bool
	readOnly   bool
	allowOOM   bool
	oom        bool
	noReplicas bool
	scriptResp int
	clientResp int
	wrote      atomic.Bool
	read       atomic.Bool
	cancel     context.CancelFunc
	killed     atomic.Bool
	replicated bool
	untilWrite bool
	command    [][]byte
	// stopped is set when an untilWrite call reaches a write.
	stopped atomic.Bool
	started time.Time
}

// New returns an engine whose redis.log lines go to log (nil: dropped).
func New(log Logger) *Engine {
	if log == nil {
		log = func(int, string) {}
	}
	e := &Engine{log: log}
	e.resetEval()
	e.funcs = newFunctions(e)
	e.refreshCounts()
	return e
}

func (e *Engine) resetEval() {
	if e.eval != nil {
		e.eval.L.Close()
	}
	e.eval = newInterp(func(in *interp) { e.registerAPI(in, true) })
	e.scripts = map[string]*evalScript{}
}

// Flush drops every cached script and starts a fresh EVAL state
// (SCRIPT FLUSH). Function libraries are kept.
func (e *Engine) Flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetEval()
}

// CachedScripts is the number of scripts in the cache (INFO's
// number_of_cached_scripts).
func (e *Engine) CachedScripts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.scripts)
}

// SnapshotScripts returns the cached scripts' bodies in the order of
// their shas, for a snapshot: the cache is replicated state, so that
// EVALSHA works on whichever node leads.
func (e *Engine) SnapshotScripts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	shas := slices.Sorted(maps.Keys(e.scripts))
	out := make([]string, len(shas))
	for i, sha := range shas {
		out[i] = string(e.scripts[sha].body)
	}
	return out
}

// RestoreScripts makes the cache hold exactly bodies, in a fresh EVAL
// state; a body that does not compile is an error, the cache then left
// holding the bodies before it.
func (e *Engine) RestoreScripts(bodies []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetEval()
	for _, b := range bodies {
		if _, err := e.load([]byte(b), true); err != nil {
			return err
		}
	}
	return nil
}

// SHA1Hex returns the lowercase hex sha1 of b, a script's name.
func SHA1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// Load compiles body into the script cache (SCRIPT LOAD) and returns its
// sha. Errors are Redis's reply texts.
func (e *Engine) Load(body []byte) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.load(body, true)
	if err != nil {
		return "", err
	}
	return SHA1Hex(s.body), nil
}

// Compile checks that body compiles and returns its sha, leaving the
// cache as it is: a node that may not change the replicated cache (a
// follower asked SCRIPT LOAD) still answers what the load would.
func (e *Engine) Compile(body []byte) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.load(body, false); err != nil {
		return "", err
	}
	return SHA1Hex(body), nil
}

// load compiles body, or finds it in the cache, and caches it if keep.
func (e *Engine) load(body []byte, keep bool) (*evalScript, error) {
	sha := SHA1Hex(body)
	if s, ok := e.scripts[sha]; ok {
		return s, nil
	}
	flags, n, err := ParseShebang(body)
	if err != nil {
		return nil, err
	}
	// The shebang line is skipped but its newline kept, so line
	// numbers stay the user's.
	fn, err := e.eval.compile(body[n:], evalChunk)
	if err != nil {
		return nil, ReplyError("ERR Error compiling script (new function): " + err.Error())
	}
	s := &evalScript{body: append([]byte(nil), body...), flags: flags, fn: fn}
	if keep {
		e.scripts[sha] = s
	}
	return s, nil
}

// Exists reports whether a script with this sha (any case) is cached.
func (e *Engine) Exists(sha string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.scripts[strings.ToLower(sha)]
	return ok
}

// ScriptFlags returns the flags of a cached script, or of body parsed
// anew, for the host to route the call (no-writes scripts may run as
// reads). ok is false if the sha is unknown and body is nil, or the
// shebang is invalid.
func (e *Engine) ScriptFlags(sha string, body []byte) (f Flags, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.scripts[strings.ToLower(sha)]; ok {
		return s.flags, true
	}
	if body == nil {
		return 0, false
	}
	f, _, err := ParseShebang(body)
	return f, err == nil
}

// Body returns the body of the cached script with this sha (any case).
func (e *Engine) Body(sha string) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.scripts[strings.ToLower(sha)]
	if !ok {
		return nil, false
	}
	return s.body, true
}

// Eval runs body (EVAL): it is compiled and cached on first use, unless
// o.NoCache.
func (e *Engine) Eval(body []byte, keys, args [][]byte, h Host, o Options) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.load(body, !o.NoCache)
	if err != nil {
		return errorResult(err)
	}
	return e.runEval(SHA1Hex(body), s, keys, args, h, o)
}

// EvalSHA runs a cached script (EVALSHA); an unknown sha is NOSCRIPT.
func (e *Engine) EvalSHA(sha string, keys, args [][]byte, h Host, o Options) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	sha = strings.ToLower(sha)
	s, ok := e.scripts[sha]
	if len(sha) != 40 || !ok {
		return errorResult(ErrNoScript)
	}
	return e.runEval(sha, s, keys, args, h, o)
}

func (e *Engine) runEval(sha string, s *evalScript, keys, args [][]byte, h Host, o Options) Result {
	if err := checkFlags(s.flags, o); err != nil {
		return errorResult(err)
	}
	in := e.eval
	in.setGlobal("KEYS", stringArray(in.L, keys))
	in.setGlobal("ARGV", stringArray(in.L, args))
	return e.call(in, s.fn, nil, sha, true, s.flags, h, o)
}

// checkFlags refuses a call its script's flags do not allow, as
// scriptPrepareForRun does.
func checkFlags(f Flags, o Options) error {
	if f&FlagEvalCompat != 0 {
		return nil
	}
	if f&FlagNoCluster != 0 && o.Cluster {
		return ReplyError("ERR Can not run script on cluster, 'no-cluster' flag is set.")
	}
	if f&FlagNoWrites == 0 && o.ReadOnly {
		return ReplyError("ERR Can not execute a script with write flag using *_ro command.")
	}
	if o.OOM && f&(FlagAllowOOM|FlagNoWrites) == 0 {
		return ReplyError("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
	}
	return nil
}

func errorResult(err error) Result {
	var re ReplyError
	if errors.As(err, &re) {
		return Result{Reply: re.Reply()}
	}
	return Result{Reply: ReplyError("ERR " + err.Error()).Reply()}
}

func stringArray(L *lua.LState, items [][]byte) *lua.LTable {
	t := L.CreateTable(len(items), 0)
	for i, it := range items {
		t.RawSetInt(i+1, lua.LString(it))
	}
	return t
}

// call runs fn with args under the error handler and converts its
// result, as luaCallFunction does.
func (e *Engine) call(in *interp, fn *lua.LFunction, fnArgs []lua.LValue, name string, isEval bool, f Flags, h Host, o Options) Result {
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var budget *budgetContext
	if o.Budget > 0 {
		budget = &budgetContext{Context: ctx, left: o.Budget}
		ctx = budget
	}
	clientResp := o.Resp
	if clientResp != 3 {
		clientResp = 2
	}
	r := &run{
		host: h, name: name, isEval: isEval,
		readOnly:   o.ReadOnly || (f&FlagEvalCompat == 0 && f&FlagNoWrites != 0),
		allowOOM:   f&FlagEvalCompat == 0 && f&FlagAllowOOM != 0,
		oom:        o.OOM,
		noReplicas: o.NoReplicas,
		scriptResp: 2,
		clientResp: clientResp,
		cancel:     cancel,
		replicated: o.Replicated,
		untilWrite: o.UntilWrite,
		command:    o.Command,
		started:    time.Now(),
	}
	e.cur.Store(r)
	defer e.cur.Store(nil)
	e.rng.start(o.Seed)

	L := in.L
	L.SetContext(ctx)
	defer L.RemoveContext()
	top := L.GetTop()
	defer L.SetTop(top)
	L.Push(fn)
	for _, a := range fnArgs {
		L.Push(a)
	}
	err := L.PCall(len(fnArgs), 1, L.NewFunction(errorHandler))
	res := Result{Wrote: r.wrote.Load(), Read: r.read.Load()}
	if err != nil {
		var obj lua.LValue = lua.LString(err.Error())
		if aerr, ok := err.(*lua.ApiError); ok {
			obj = aerr.Object
		}
		switch {
		case r.stopped.Load():
			res.StoppedAtWrite = true
		case budget != nil && budget.exhausted():
			res.Reply = scriptErrorReply(L, obj, name, errBudget)
		case r.killed.Load() || ctx.Err() != nil:
			res.Killed = true
			res.Reply = scriptErrorReply(L, obj, name, errKilled)
		default:
			res.Reply = scriptErrorReply(L, obj, name, "")
		}
		return res
	}
	res.Reply = luaToResp(nil, L.Get(-1), r.scriptResp, r.clientResp)
	return res
}

// errorHandler is Redis's __redis__err__handler: it turns the error into
// a table {err=, source=, line=} naming the Lua function that raised it
// (the caller of a Go function such as redis.call or error).
func errorHandler(L *lua.LState) int {
	obj := L.Get(1)
	t, ok := obj.(*lua.LTable)
	if !ok {
		t = L.NewTable()
		t.RawSetString("err", lua.LString("ERR "+luaToString(obj)))
	}
	for level := 1; level <= 2; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			break
		}
		if dbg.What == "G" && level == 1 {
			continue
		}
		t.RawSetString("source", lua.LString("@"+dbg.Source))
		t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
		break
	}
	L.Push(t)
	return 1
}

// luaToString is Lua's tostring for the values errors carry.
func luaToString(v lua.LValue) string {
	switch v := v.(type) {
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		if v {
			return "true"
		}
		return "false"
	}
	return v.String()
}

// scriptErrorReply is the reply of a script that raised obj, as
// luaCallFunction writes it: "-<err> script: <name>, on <source>:<line>."
// A script ended from outside has the message ended instead of its own.
func scriptErrorReply(L *lua.LState, obj lua.LValue, name string, ended string) []byte {
	t, ok := obj.(*lua.LTable)
	if !ok {
		// The handler itself failed.
		msg := "execution failure"
		if s, ok := obj.(lua.LString); ok {
			msg = string(s)
		}
		if len(msg) > 100 {
			msg = msg[:100]
		}
		return ReplyError("ERR Error running script " + name + ", " + msg).Reply()
	}
	msg := luaToString(t.RawGetString("err"))
	if ended != "" {
		msg = ended
	}
	out := "-" + msg
	src, sok := t.RawGetString("source").(lua.LString)
	line := t.RawGetString("line")
	if sok && line != lua.LNil {
		out += " script: " + name + ", on " + string(src) + ":" + luaToString(line) + "."
	}
	return []byte(out + "\r\n")
}

// Kill ends the running script (SCRIPT KILL with eval true, FUNCTION
// KILL with eval false) with Redis's refusals: nothing running, the
// script has written, or the wrong kind of script.
func (e *Engine) Kill(eval bool) error {
	r := e.cur.Load()
	switch {
	case r == nil:
		return ErrNotBusy
	case r.wrote.Load():
		return ErrUnkillable
	case r.replicated:
		return ErrUnkillableReplicated
	case eval && !r.isEval:
		return ErrBusyFunction
	case !eval && r.isEval:
		return ErrBusyEval
	}
	r.killed.Store(true)
	r.cancel()
	return nil
}

// CallInfo describes the call in progress.
type CallInfo struct {
	// Name is the script's sha or the function's name.
	Name  string
	Eval  bool
	Wrote bool
	// Command is the client's command (Options.Command).
	Command [][]byte
	// Started is when the call began, on this node's clock.
	Started time.Time
}

// Current describes the call in progress, if any.
func (e *Engine) Current() (CallInfo, bool) {
	r := e.cur.Load()
	if r == nil {
		return CallInfo{}, false
	}
	return CallInfo{Name: r.name, Eval: r.isEval, Wrote: r.wrote.Load(), Command: r.command, Started: r.started}, true
}
