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
	"strings"
	"time"

	"github.com/tidwall/redcon"

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
	switch {
	case fcall:
		flags, _ = eng.FunctionFlags(fn)
	case strings.HasPrefix(name, "evalsha"):
		b, ok := eng.Body(fn)
		if !ok {
			conn.WriteError(string(script.ErrNoScript))
			return
		}
		body = b
		flags, _ = eng.ScriptFlags("", body)
	default:
		flags, _ = eng.ScriptFlags("", body)
	}
	if readOnly || (flags&script.FlagEvalCompat == 0 && flags&script.FlagNoWrites != 0) {
		if !fcall && !s.cacheScript(conn, c, rep, route, args, body) {
			return
		}
		s.readScript(conn, c, rep, route, args, func(h script.Host) script.Result {
			o := script.Options{ReadOnly: readOnly, Cluster: true, NoCache: true}
			if fcall {
				return eng.FCall(fn, keys, argv, h, o)
			}
			return eng.Eval(body, keys, argv, h, o)
		})
		return
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
		return replica.EncodeScript(nil, time.Now().UnixMilli(), oom, replica.ScriptBudget, cmd)
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
	if !c.readonly {
		if !rep.Node().IsLeader() {
			s.redirect(conn, route, args, rep.Node().Leader())
			return
		}
		if err := rep.Node().ReadIndex(s.requests.get()); err != nil {
			s.writeResult(conn, route, args, consensus.Result{Err: err})
			return
		}
	}
	var r script.Result
	rep.Store().ReadScript(time.Now().UnixMilli(), func(nowMs int64, exec store.Exec) {
		r = run(replica.ReadScriptHost(exec, nowMs))
	})
	conn.WriteRaw(r.Reply)
}

// proposeScripts sends a change of the script cache or the function
// libraries through the home replica's log.
func (s *Server) proposeScripts(conn redcon.Conn, args [][]byte) {
	route := scriptRoutes[strings.ToLower(string(args[0]))]
	s.propose(conn, s.home, route, nil, func() []byte {
		return replica.EncodeEntry(nil, replica.KindScriptCache, time.Now().UnixMilli(), args)
	})
}

// isFlushMode reports whether arg is a flush's ASYNC or SYNC; both empty
// the cache at once, as a flush in the log must.
func isFlushMode(arg []byte) bool {
	return strings.EqualFold(string(arg), "async") || strings.EqualFold(string(arg), "sync")
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
		if len(args) > 3 || (len(args) == 3 && !isFlushMode(args[2])) {
			conn.WriteError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
			return
		}
		s.proposeScripts(conn, args[:2])
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
		if len(args) == 4 && !strings.EqualFold(string(args[2]), "replace") {
			conn.WriteError("ERR Unknown option given: " + string(args[2]))
			return
		}
		if len(args) > 4 {
			conn.WriteError("ERR Unknown option given: " + string(args[3]))
			return
		}
		s.proposeScripts(conn, args)
	case "delete":
		s.proposeScripts(conn, args)
	case "flush":
		switch {
		case len(args) > 3:
			conn.WriteError(fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%s'. Try FUNCTION HELP.", truncate(args[1])))
		case len(args) == 3 && !isFlushMode(args[2]):
			conn.WriteError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
		default:
			s.proposeScripts(conn, args[:2])
		}
	case "restore":
		if len(args) == 4 {
			switch strings.ToUpper(string(args[3])) {
			case script.RestoreAppend, script.RestoreReplace, script.RestoreFlush:
			default:
				conn.WriteError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
				return
			}
		}
		if len(args) > 4 {
			conn.WriteError(errSyntax)
			return
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
	withCode, named, pattern := false, false, ""
	for i := 0; i < len(opts); i++ {
		opt := strings.ToLower(string(opts[i]))
		switch {
		case opt == "withcode" && !withCode:
			withCode = true
		case opt == "libraryname" && !named:
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
// (a read-only one; those run from the log are not interrupted) and the
// counts of libraries and functions.
func functionStats(conn redcon.Conn, eng *script.Engine) {
	libs := eng.FunctionList(func(string) bool { return true }, false)
	funcs := 0
	for _, l := range libs {
		funcs += len(l.Functions)
	}
	conn.WriteArray(4)
	conn.WriteBulkString("running_script")
	if call, ok := eng.Current(); ok && !call.Eval {
		conn.WriteArray(6)
		conn.WriteBulkString("name")
		conn.WriteBulkString(call.Name)
		conn.WriteBulkString("command")
		conn.WriteArray(2)
		conn.WriteBulkString("fcall")
		conn.WriteBulkString(call.Name)
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
	conn.WriteInt(len(libs))
	conn.WriteBulkString("functions_count")
	conn.WriteInt(funcs)
}
