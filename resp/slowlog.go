package resp

// SLOWLOG: the commands this node ran that took longer than
// slowlog-log-slower-than microseconds, newest first, at most
// slowlog-max-len of them, as Redis keeps them. A command proposed with
// others in one batch is charged its share of the batch's time.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Redis's defaults and its bounds on a logged command's arguments.
const (
	defaultSlowlogSlowerThan = 10_000
	defaultSlowlogMaxLen     = 128
	slowlogMaxArgs           = 32
	slowlogMaxArgLen         = 128
)

type slowlogEntry struct {
	id   int64
	at   int64 // Unix seconds
	usec int64
	args []string
	addr string
	name string
}

type slowlog struct {
	slowerThan atomic.Int64 // microseconds; negative: off
	maxLen     atomic.Int64
	mu         sync.Mutex
	nextID     int64
	entries    []slowlogEntry // oldest first
}

func newSlowlog() *slowlog {
	l := &slowlog{}
	l.slowerThan.Store(defaultSlowlogSlowerThan)
	l.maxLen.Store(defaultSlowlogMaxLen)
	return l
}

// record logs the command args of client c if it took usec or longer
// than the threshold, unless Redis never logs it (skip_slowlog: EXEC,
// AUTH ...).
func (l *slowlog) record(c *client, args [][]byte, usec int64) {
	limit := l.slowerThan.Load()
	if limit < 0 || usec < limit {
		return
	}
	sp, ok := specFor(args)
	if !ok || sp.Has("skip_slowlog") || !sp.ArityFits(len(args)) {
		return
	}
	e := slowlogEntry{at: time.Now().Unix(), usec: usec, args: slowlogArgs(sp.Name, args), addr: c.addr, name: c.name}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	l.trim()
}

// trim drops the oldest entries past slowlog-max-len; the mutex is held.
func (l *slowlog) trim() {
	if over := len(l.entries) - int(l.maxLen.Load()); over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

// slowlogArgs are the arguments as Redis logs them: at most 32 (the last
// saying how many more there were), each cut at 128 bytes, passwords
// redacted.
func slowlogArgs(name string, args [][]byte) []string {
	redact := redactedArgs(name, args)
	n := min(len(args), slowlogMaxArgs)
	out := make([]string, 0, n)
	for i := range n {
		switch {
		case i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs:
			out = append(out, fmt.Sprintf("... (%d more arguments)", len(args)-slowlogMaxArgs+1))
		case redact[i]:
			out = append(out, "(redacted)")
		case len(args[i]) > slowlogMaxArgLen:
			out = append(out, fmt.Sprintf("%s... (%d more bytes)", args[i][:slowlogMaxArgLen], len(args[i])-slowlogMaxArgLen))
		default:
			out = append(out, string(args[i]))
		}
	}
	return out
}

// ran records the commands of a step that took elapsed, each charged its
// share.
func (l *slowlog) ran(c *client, cmds []redcon.Command, elapsed time.Duration) {
	if l == nil || l.slowerThan.Load() < 0 {
		return
	}
	usec := elapsed.Microseconds() / int64(len(cmds))
	for _, cmd := range cmds {
		l.record(c, cmd.Args, usec)
	}
}

func (s *Server) cmdSlowlog(conn redcon.Conn, _ *client, args [][]byte) {
	l := s.slowlog
	switch strings.ToLower(string(args[1])) {
	case "get":
		count := int64(10)
		if len(args) == 3 {
			n, err := strconv.ParseInt(string(args[2]), 10, 64)
			switch {
			case err != nil || n < -1:
				conn.WriteError("ERR count should be greater than or equal to -1")
				return
			case n == -1:
				n = 1 << 62
			}
			count = n
		}
		l.mu.Lock()
		n := min(int64(len(l.entries)), count)
		conn.WriteArray(int(n))
		for i := range n {
			e := l.entries[len(l.entries)-1-int(i)]
			conn.WriteArray(6)
			conn.WriteInt64(e.id)
			conn.WriteInt64(e.at)
			conn.WriteInt64(e.usec)
			conn.WriteArray(len(e.args))
			for _, a := range e.args {
				conn.WriteBulkString(a)
			}
			conn.WriteBulkString(e.addr)
			conn.WriteBulkString(e.name)
		}
		l.mu.Unlock()
	case "len":
		l.mu.Lock()
		n := len(l.entries)
		l.mu.Unlock()
		conn.WriteInt(n)
	case "reset":
		l.mu.Lock()
		l.entries = nil
		l.mu.Unlock()
		conn.WriteString("OK")
	case "help":
		writeHelp(conn, "SLOWLOG", slowlogHelp)
	}
}

var slowlogHelp = []string{
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
}

// setSlowlogMaxLen is CONFIG SET slowlog-max-len: the log is cut to it.
func (s *Server) setSlowlogMaxLen(n int64) {
	s.slowlog.maxLen.Store(n)
	s.slowlog.mu.Lock()
	s.slowlog.trim()
	s.slowlog.mu.Unlock()
}
