package replica

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/script"
	"github.com/rkv/rkv/store"
)

// Scripts run from the log on every replica (store/doc.go says why): a
// KindScript entry holds its options (whether the leader found memory over
// maxmemory, whether the client speaks RESP3, whose conversions of the
// script's result differ), the instruction budget, the seed of math.random the leader drew, and
// the client's EVAL or FCALL, an EVALSHA's
// script already replaced by its body; a KindScriptCache entry holds a
// SCRIPT or FUNCTION command that changes the cached scripts or the
// function libraries, which are replicated state.

// EncodeScript lays out the entry that runs cmd (EVAL <body> or FCALL
// <function>, then numkeys, keys and arguments).
func EncodeScript(buf []byte, stampMs int64, db int, oom bool, resp3 bool, budget int64, seed uint64, cmd [][]byte) []byte {
	var opts []string
	if oom {
		opts = append(opts, "oom")
	}
	if resp3 {
		opts = append(opts, "resp3")
	}
	if db != 0 {
		opts = append(opts, "db="+strconv.Itoa(db))
	}
	args := append([][]byte{[]byte(strings.Join(opts, ",")), strconv.AppendInt(nil, budget, 10), strconv.AppendUint(nil, seed, 10)}, cmd...)
	return EncodeEntry(buf, KindScript, stampMs, args)
}

// ScriptBudget bounds the Lua instructions of a script run from the log,
// one to three seconds of gopher-lua: a looping script must end, and end
// at the same instruction on every replica, which only a count gives. The
// leader puts it in each KindScript entry; a script a transaction holds
// gets it too.
const ScriptBudget = 100_000_000

// runScript applies a KindScript entry: the script runs inside one store
// entry, its commands on this replica's store at the entry's time.
func (m *machine) runScript(stamp int64, args [][]byte) (reply []byte) {
	if len(args) < 6 {
		return []byte("-ERR malformed script entry\r\n")
	}
	budget, _ := strconv.ParseInt(string(args[1]), 10, 64)
	seed, _ := strconv.ParseUint(string(args[2]), 10, 64)
	o := script.Options{Budget: budget, Seed: seed}
	db := 0
	for _, opt := range strings.Split(string(args[0]), ",") {
		switch {
		case opt == "oom":
			o.OOM = true
		case opt == "resp3":
			o.Resp = 3
		case strings.HasPrefix(opt, "db="):
			db, _ = strconv.Atoi(opt[3:])
		}
	}
	m.store.ApplyScript(db, stamp, func(nowMs int64, exec store.Exec) {
		reply = m.runCall(args[3:], storeHost{exec: exec, nowMs: nowMs, monitor: m.scriptMonitor()}, o)
	})
	return reply
}

// runTransactionScript runs a script an EXEC holds, inside the EXEC's
// entry; its math.random starts from a fresh Redis's state, the EXEC
// entry carrying no seed.
func (m *machine) runTransactionScript(nowMs int64, exec store.Exec, args [][]byte, out []byte) []byte {
	return append(out, m.runCall(args, storeHost{exec: exec, nowMs: nowMs, monitor: m.scriptMonitor()}, script.Options{Budget: ScriptBudget})...)
}

// runCall runs a script command from the log (EVAL, EVALSHA, FCALL or an
// _RO form, its arguments) and returns its reply.
func (m *machine) runCall(cmd [][]byte, h script.Host, o script.Options) []byte {
	name := strings.ToLower(string(cmd[0]))
	keys, argv, err := m.scripts.CallArgs(name, cmd)
	if err != nil {
		return replyError(err)
	}
	o.ReadOnly, o.Replicated, o.Cluster, o.Command = strings.HasSuffix(name, "_ro"), true, true, cmd
	switch strings.TrimSuffix(name, "_ro") {
	case "fcall":
		return m.scripts.FCall(string(cmd[1]), keys, argv, h, o).Reply
	case "evalsha":
		body, ok := m.scripts.Body(string(cmd[1]))
		if !ok {
			return script.ErrNoScript.Reply()
		}
		return m.scripts.Eval(body, keys, argv, h, o).Reply
	}
	return m.scripts.Eval(cmd[1], keys, argv, h, o).Reply
}

// changeScripts applies a KindScriptCache entry, a SCRIPT or FUNCTION
// command the leader checked.
func (m *machine) changeScripts(args [][]byte) []byte {
	if len(args) < 2 {
		return []byte("-ERR malformed script cache entry\r\n")
	}
	var err error
	var name string
	switch string(bytes.ToLower(args[0])) + " " + string(bytes.ToLower(args[1])) {
	case "script load":
		if name, err = m.scripts.Load(args[2]); err == nil {
			return redcon.AppendBulkString(nil, name)
		}
	case "script flush":
		m.scripts.Flush()
	case "function load":
		if name, err = m.scripts.FunctionLoad(args[len(args)-1], len(args) > 3); err == nil {
			return redcon.AppendBulkString(nil, name)
		}
	case "function delete":
		err = m.scripts.FunctionDelete(string(args[2]))
	case "function flush":
		m.scripts.FunctionFlush()
	case "function restore":
		policy := script.RestoreAppend
		if len(args) == 4 {
			policy = string(bytes.ToUpper(args[3]))
		}
		err = m.scripts.FunctionRestore(args[2], policy)
	default:
		return []byte("-ERR malformed script cache entry\r\n")
	}
	if err != nil {
		return replyError(err)
	}
	return []byte("+OK\r\n")
}

func replyError(err error) []byte {
	if re, ok := err.(script.ReplyError); ok {
		return re.Reply()
	}
	return []byte("-ERR " + err.Error() + "\r\n")
}

// storeHost runs a script's commands on the store: its keyspace commands
// and the few others Redis scripts call (SELECT among them), TIME answered from the entry's
// clock so that every replica sees the same time.
type storeHost struct {
	exec  store.Exec
	nowMs int64
	// monitor, if set, is shown each command the script runs (MONITOR).
	monitor func(args [][]byte)
}

func (h storeHost) Call(args [][]byte, resp int) []byte {
	reply := h.call(args)
	// Shown once run, as Redis shows it: a SELECT in the database it
	// chose.
	if h.monitor != nil {
		h.monitor(args)
	}
	if resp == 3 {
		return command.ToRESP3(nil, args, reply)
	}
	return reply
}

func (h storeHost) call(args [][]byte) []byte {
	switch string(bytes.ToLower(args[0])) {
	case "time":
		out := redcon.AppendArray(nil, 2)
		out = redcon.AppendBulkString(out, strconv.FormatInt(h.nowMs/1000, 10))
		return redcon.AppendBulkString(out, strconv.FormatInt(h.nowMs%1000*1000, 10))
	case "ping":
		if len(args) > 1 {
			return redcon.AppendBulk(nil, args[1])
		}
		return []byte("+PONG\r\n")
	case "echo":
		return redcon.AppendBulk(nil, args[1])
	case "select":
		// The store switches the script's database until it ends.
		return h.exec(args, nil)
	}
	if _, ok := store.Lookup(args[0]); !ok {
		return []byte("-ERR rkv runs keyspace commands, TIME, PING, ECHO and SELECT from scripts, not this one\r\n")
	}
	return h.exec(args, nil)
}

// ReadScriptHost is the host of a read-only script run outside the log:
// its commands read the store as of nowMs, each shown to monitor if set.
func ReadScriptHost(exec store.Exec, nowMs int64, monitor func(args [][]byte)) script.Host {
	return storeHost{exec: exec, nowMs: nowMs, monitor: monitor}
}

// MonitorScripts sets what is shown each command a script applied from
// the log runs on this replica (nil: nothing).
func (r *Replica) MonitorScripts(fn func(args [][]byte)) { r.scriptMonitor.Store(&fn) }

// scriptMonitor is what MonitorScripts set, nil if nothing.
func (m *machine) scriptMonitor() func(args [][]byte) {
	if fn := m.monitor.Load(); fn != nil {
		return *fn
	}
	return nil
}

// scriptLogger sends redis.log lines to the node's log.
func scriptLogger(logger *slog.Logger) script.Logger {
	levels := [...]slog.Level{script.LogDebug: slog.LevelDebug, script.LogVerbose: slog.LevelDebug,
		script.LogNotice: slog.LevelInfo, script.LogWarning: slog.LevelWarn}
	return func(level int, msg string) {
		lv := slog.LevelInfo
		if level >= 0 && level < len(levels) {
			lv = levels[level]
		}
		logger.Log(context.Background(), lv, "script: "+msg)
	}
}
