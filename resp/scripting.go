package resp

// Lua scripts and functions. A script that may write goes through the log
// as one replica.KindScript entry and runs at apply on every replica (see
// store/doc.go); one that may not (EVAL_RO, FCALL_RO, no-writes scripts
// and functions) runs as a linearizable read on the node asked. Changes
// of the script cache and of the function libraries go through the log
// too, so that EVALSHA and FCALL work on whichever node leads.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/script"
	"github.com/rkv/rkv/store"
)

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){
		"eval": (*Server).cmdEval, "evalsha": (*Server).cmdEval, "eval_ro": (*Server).cmdEval,
		"evalsha_ro": (*Server).cmdEval, "fcall": (*Server).cmdEval, "fcall_ro": (*Server).cmdEval,
		"script": (*Server).cmdScript, "function": (*Server).cmdFunction,
	})
}

// defaultBusyMs is busy-reply-threshold's default, Redis's 5 seconds.
const defaultBusyMs = 5000

// The -BUSY replies Redis gives while an EVAL script or a function has
// run past busy-reply-threshold.
const (
	errBusyEval     = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errBusyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)

// busyRefusal is the -BUSY reply for a command that arrives while a
// script on this node has run past busy-reply-threshold, unless the
// command is one Redis allows then (allow_busy: SCRIPT KILL, AUTH,
// MULTI, ...). Redis cannot serve anything during a script; rkv could,
// but answers as Redis does so that clients see when to kill one.
func (s *Server) busyRefusal(args [][]byte) string {
	call, ok := s.home.Scripts().Current()
	if !ok || time.Since(call.Started) < time.Duration(s.busyMs.Load())*time.Millisecond {
		return ""
	}
	if spec, ok := command.Lookup(args[0]); ok {
		if len(spec.Subcommands) > 0 && len(args) > 1 {
			spec, ok = spec.Sub(string(args[1]))
		}
		if ok && spec.Has("allow_busy") {
			return ""
		}
	}
	if call.Eval {
		return errBusyEval
	}
	return errBusyFunction
}

// scriptRoutes place the script commands for redirects.
var scriptRoutes = map[string]*store.Command{}

func init() {
	for _, n := range []string{"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "script", "function"} {
		scriptRoutes[n] = routeOf(n)
	}
}

// cmdEval is EVAL, EVALSHA, FCALL and their _RO forms.
func (s *Server) cmdEval(conn redcon.Conn, c *client, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	route := scriptRoutes[name]
	rep := s.route.forCommand(route, args)
	eng := rep.Scripts()
	keys, argv, err := eng.CallArgs(name, args)
	if err != nil {
		conn.WriteError(err.Error())
		return
	}
	readOnly := strings.HasSuffix(name, "_ro")
	fcall := strings.HasPrefix(name, "fcall")
	body, fn := args[1], string(args[1])
	var flags script.Flags
	if fcall {
		flags, _ = eng.FunctionFlags(fn)
	} else {
		if strings.HasPrefix(name, "evalsha") {
			b, ok := eng.Body(fn)
			if !ok {
				conn.WriteError(string(script.ErrNoScript))
				return
			}
			body = b
		}
		flags, _ = eng.ScriptFlags("", body)
	}
	run := func(h script.Host, o script.Options) script.Result {
		o.Cluster, o.NoCache, o.Command, o.Seed = true, true, args, rand.Uint64()
		if c.resp3 {
			o.Resp = 3
		}
		if fcall {
			return eng.FCall(fn, keys, argv, h, o)
		}
		return eng.Eval(body, keys, argv, h, o)
	}
	if readOnly || (flags&script.FlagEvalCompat == 0 && flags&script.FlagNoWrites != 0) {
		if !fcall && !s.cacheScript(conn, c, rep, route, args, body) {
			return
		}
		s.readScript(conn, c, rep, route, args, func(h script.Host) script.Result {
			return run(h, script.Options{ReadOnly: readOnly})
		})
		return
	}
	// A script that declares it may write is refused at once without
	// enough good replicas, one without a shebang at its first write.
	mayWrite := flags&script.FlagEvalCompat == 0 && flags&script.FlagNoWrites == 0
	if mayWrite && s.noReplicas(rep) {
		conn.WriteError(errNoReplicas)
		return
	}
	// The script runs first on the leader alone, up to its first write:
	// until then SCRIPT KILL and FUNCTION KILL may end it as in Redis,
	// which no node can do to a script every replica runs from the log.
	// Past its first write it goes through the log as a whole and runs
	// again there; its reads before the write cost twice.
	if rep.Node().IsLeader() {
		noReplicas := s.noReplicas(rep)
		var r script.Result
		rep.Store().ReadScript(c.db, time.Now().UnixMilli(), func(nowMs int64, exec store.Exec) {
			r = run(replica.ReadScriptHost(exec, nowMs, nil), script.Options{UntilWrite: true, Budget: replica.ScriptBudget, NoReplicas: noReplicas})
		})
		if r.Killed {
			conn.WriteRaw(r.Reply)
			return
		}
		// Short of good replicas, the script's first write raised
		// NOREPLICAS: its error is the reply.
		if noReplicas && !r.StoppedAtWrite {
			conn.WriteRaw(r.Reply)
			return
		}
		// The keys of a script that reads before it writes are tracked
		// (what it reads after its first write is not seen here).
		if r.Read && c.tracked {
			defer s.rememberRead(c, args)
		}
	}
	cmd := make([][]byte, 0, len(args))
	if fcall {
		cmd = append(cmd, []byte("fcall"), args[1])
	} else {
		cmd = append(cmd, []byte("eval"), body)
	}
	cmd = append(cmd, args[2:]...)
	s.propose(conn, rep, route, args, func() []byte {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		oom := !rep.Removal().AdmitWrite(ctx)
		return replica.EncodeScript(nil, time.Now().UnixMilli(), c.db, oom, c.resp3, replica.ScriptBudget, rand.Uint64(), cmd)
	})
}

// cacheScript puts the script of an EVAL that runs as a read into the
// cache first, through the log, as Redis caches every script EVAL runs; it
// reports false when it answered an error instead. A READONLY connection's
// script on a follower stays uncached: only the log changes the cache.
func (s *Server) cacheScript(conn redcon.Conn, c *client, rep *replica.Replica, route *store.Command, args [][]byte, body []byte) bool {
	if c.readonly && !rep.Node().IsLeader() || rep.Scripts().Exists(script.SHA1Hex(body)) {
		return true
	}
	if !rep.Node().IsLeader() {
		s.redirect(conn, route, args, rep.Node().Leader())
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	load := [][]byte{[]byte("script"), []byte("load"), body}
	v, err := rep.Node().Propose(ctx, replica.EncodeEntry(nil, replica.KindScriptCache, time.Now().UnixMilli(), load))
	if reply, ok := v.([]byte); err == nil && ok && len(reply) > 0 && reply[0] == '-' {
		conn.WriteRaw(reply) // it does not compile
		return false
	} else if err != nil {
		s.writeResult(conn, route, args, consensus.Result{Err: err})
		return false
	}
	return true
}

// readScript runs a read-only script after a ReadIndex round on the
// leader, or locally for a READONLY connection, as reads are served.
func (s *Server) readScript(conn redcon.Conn, c *client, rep *replica.Replica, route *store.Command, args [][]byte,
	run func(h script.Host) script.Result) {
	if !s.readable(conn, c, rep, route, args) {
		return
	}
	var r script.Result
	rep.Store().ReadScript(c.db, time.Now().UnixMilli(), func(nowMs int64, exec store.Exec) {
		r = run(replica.ReadScriptHost(exec, nowMs, s.monitorScript(rep)))
	})
	conn.WriteRaw(r.Reply)
	if r.Read && c.tracked {
		s.rememberRead(c, args)
	}
}

// proposeScripts sends a change of the script cache or the function
// libraries through the home replica's log.
func (s *Server) proposeScripts(conn redcon.Conn, args [][]byte) {
	route := scriptRoutes[strings.ToLower(string(args[0]))]
	s.propose(conn, s.home, route, nil, func() []byte {
		return replica.EncodeEntry(nil, replica.KindScriptCache, time.Now().UnixMilli(), args)
	})
}

// flushModeOK checks SCRIPT FLUSH's and FUNCTION FLUSH's optional mode;
// both modes empty the cache at once, as a flush in the log must.
func flushModeOK(conn redcon.Conn, args [][]byte) bool {
	fn := strings.EqualFold(string(args[0]), "function")
	if fn && len(args) > 3 {
		conn.WriteError(subcommandSyntaxError(args))
		return false
	}
	if len(args) == 2 || len(args) == 3 && (strings.EqualFold(string(args[2]), "async") || strings.EqualFold(string(args[2]), "sync")) {
		return true
	}
	if fn {
		conn.WriteError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
	} else {
		conn.WriteError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
	}
	return false
}

// subcommandSyntaxError is Redis's addReplySubcommandSyntaxError.
func subcommandSyntaxError(args [][]byte) string {
	return fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP.",
		truncate(args[1]), strings.ToUpper(string(args[0])))
}

func (s *Server) cmdScript(conn redcon.Conn, c *client, args [][]byte) {
	eng := s.home.Scripts()
	switch strings.ToLower(string(args[1])) {
	case "load":
		if s.home.Node().IsLeader() {
			s.proposeScripts(conn, args)
			return
		}
		// Cluster clients send SCRIPT LOAD to every node, replicas too;
		// the leader's load, through the log, caches it everywhere.
		sha, err := eng.Compile(args[2])
		if err != nil {
			conn.WriteError(err.Error())
			return
		}
		conn.WriteBulkString(sha)
	case "flush":
		if flushModeOK(conn, args) {
			s.proposeScripts(conn, args[:2])
		}
	case "exists":
		conn.WriteArray(len(args) - 2)
		for _, sha := range args[2:] {
			if eng.Exists(string(sha)) {
				conn.WriteInt(1)
			} else {
				conn.WriteInt(0)
			}
		}
	case "kill":
		writeKill(conn, eng.Kill(true))
	case "help":
		writeHelp(conn, "SCRIPT", scriptHelp)
	}
}

func writeKill(conn redcon.Conn, err error) {
	if err != nil {
		conn.WriteError(err.Error())
		return
	}
	conn.WriteString("OK")
}

var scriptHelp = []string{
	"EXISTS <sha1> [<sha1> ...]",
	"    For each sha1, return 1 if its script is cached on this node, else 0.",
	"FLUSH [ASYNC|SYNC]",
	"    Empty the script cache of every node (through the Raft log).",
	"KILL",
	"    Stop the read-only script running on this node; a script run from the",
	"    log ends by itself or at its instruction budget.",
	"LOAD <script>",
	"    Cache a script on every node (through the Raft log) and return its sha1.",
}

var functionHelp = []string{
	"LOAD [REPLACE] <library code>",
	"    Load a library of functions on every node (through the Raft log).",
	"DELETE <library name>",
	"    Remove a library and its functions.",
	"LIST [LIBRARYNAME <pattern>] [WITHCODE]",
	"    Describe the libraries, their functions and optionally their code.",
	"FLUSH [ASYNC|SYNC]",
	"    Remove every library.",
	"DUMP",
	"    Serialize every library into a payload for FUNCTION RESTORE.",
	"RESTORE <payload> [APPEND|REPLACE|FLUSH]",
	"    Load libraries from a payload; APPEND (the default) refuses a library",
	"    that exists, REPLACE replaces it, FLUSH removes every library first.",
	"STATS",
	"    Report the function running now and the libraries loaded.",
	"KILL",
	"    Stop the read-only function running on this node.",
}

// writeHelp writes a HELP reply: the container's name line, the lines,
// and the closing HELP line, as Redis's addReplyHelp.
func writeHelp(conn redcon.Conn, container string, lines []string) {
	conn.WriteArray(len(lines) + 3)
	conn.WriteString(container + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		conn.WriteString(l)
	}
	conn.WriteString("HELP")
	conn.WriteString("    Print this help.")
}

func (s *Server) cmdFunction(conn redcon.Conn, c *client, args [][]byte) {
	eng := s.home.Scripts()
	switch strings.ToLower(string(args[1])) {
	case "load":
		// Options before the code, the last argument: REPLACE, any
		// number of times.
		for _, opt := range args[2 : len(args)-1] {
			if !strings.EqualFold(string(opt), "replace") {
				conn.WriteError("ERR Unknown option given: " + string(opt))
				return
			}
		}
		s.proposeScripts(conn, args)
	case "delete":
		s.proposeScripts(conn, args)
	case "flush":
		if flushModeOK(conn, args) {
			s.proposeScripts(conn, args[:2])
		}
	case "restore":
		if len(args) > 4 {
			conn.WriteError(subcommandSyntaxError(args))
			return
		}
		if len(args) == 4 {
			switch strings.ToUpper(string(args[3])) {
			case script.RestoreAppend, script.RestoreReplace, script.RestoreFlush:
			default:
				conn.WriteError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
				return
			}
		}
		s.proposeScripts(conn, args)
	case "dump":
		conn.WriteBulk(eng.FunctionDump())
	case "list":
		s.functionList(conn, eng, args[2:])
	case "stats":
		functionStats(conn, eng)
	case "kill":
		writeKill(conn, eng.Kill(false))
	case "help":
		writeHelp(conn, "FUNCTION", functionHelp)
	}
}

// functionList is FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
func (s *Server) functionList(conn redcon.Conn, eng *script.Engine, opts [][]byte) {
	withCode, pattern, named := false, "", false
	for i := 0; i < len(opts); i++ {
		switch {
		case !withCode && strings.EqualFold(string(opts[i]), "withcode"):
			withCode = true
		case !named && strings.EqualFold(string(opts[i]), "libraryname"):
			if i+1 >= len(opts) {
				conn.WriteError("ERR library name argument was not given")
				return
			}
			i++
			pattern, named = string(opts[i]), true
		default:
			conn.WriteError("ERR Unknown argument " + string(opts[i]))
			return
		}
	}
	libs := eng.FunctionList(func(lib string) bool { return !named || store.GlobMatch(pattern, lib) }, withCode)
	conn.WriteArray(len(libs))
	for _, lib := range libs {
		n := 6
		if withCode {
			n = 8
		}
		conn.WriteArray(n)
		conn.WriteBulkString("library_name")
		conn.WriteBulkString(lib.Name)
		conn.WriteBulkString("engine")
		conn.WriteBulkString(lib.Engine)
		conn.WriteBulkString("functions")
		conn.WriteArray(len(lib.Functions))
		for _, f := range lib.Functions {
			conn.WriteArray(6)
			conn.WriteBulkString("name")
			conn.WriteBulkString(f.Name)
			conn.WriteBulkString("description")
			if f.Description == nil {
				conn.WriteNull()
			} else {
				conn.WriteBulkString(*f.Description)
			}
			conn.WriteBulkString("flags")
			names := f.Flags.Names()
			conn.WriteArray(len(names))
			for _, fl := range names {
				conn.WriteString(fl)
			}
		}
		if withCode {
			conn.WriteBulkString("library_code")
			conn.WriteBulkString(lib.Code)
		}
	}
}

// functionStats is FUNCTION STATS: the function running now on this node
// and the counts of libraries and functions. As in Redis, a running EVAL
// script makes it BUSY.
func functionStats(conn redcon.Conn, eng *script.Engine) {
	call, running := eng.Current()
	if running && call.Eval {
		conn.WriteError(errBusyEval)
		return
	}
	libs, funcs := eng.FunctionCounts()
	conn.WriteArray(4)
	conn.WriteBulkString("running_script")
	if running {
		conn.WriteArray(6)
		conn.WriteBulkString("name")
		conn.WriteBulkString(call.Name)
		conn.WriteBulkString("command")
		conn.WriteArray(len(call.Command))
		for _, a := range call.Command {
			conn.WriteBulk(a)
		}
		conn.WriteBulkString("duration_ms")
		conn.WriteInt64(time.Since(call.Started).Milliseconds())
	} else {
		conn.WriteNull()
	}
	conn.WriteBulkString("engines")
	conn.WriteArray(2)
	conn.WriteBulkString("LUA")
	conn.WriteArray(4)
	conn.WriteBulkString("libraries_count")
	conn.WriteInt(libs)
	conn.WriteBulkString("functions_count")
	conn.WriteInt(funcs)
}
