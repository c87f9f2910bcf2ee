package resp

// MONITOR: every command this node runs, as Redis shows it, streamed to
// the connections that asked. Each node shows the commands its own
// clients send, and the commands of the scripts it runs (from "lua"):
// those that write run in the log, so every node shows them.

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/internal/sds"
	"github.com/rkv/rkv/replica"
)

type monitorHub struct {
	mu       sync.Mutex
	watchers map[*subscriber]struct{}
	// count lets the request path skip formatting when nobody monitors.
	count atomic.Int64
}

func newMonitorHub() *monitorHub { return &monitorHub{watchers: map[*subscriber]struct{}{}} }

func (h *monitorHub) add(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.watchers[sub]; !ok {
		h.watchers[sub] = struct{}{}
		h.count.Add(1)
	}
}

func (h *monitorHub) remove(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.watchers[sub]; ok {
		delete(h.watchers, sub)
		h.count.Add(-1)
	}
}

// feed shows a command of the connection c to the monitors, unless Redis
// keeps it from them: unknown or of the wrong arity (refused before it
// runs), or an admin command. Commands are shown as they start, so a
// script (flagged skip_monitor: Redis shows it itself before it runs)
// comes before the commands it runs. db is the database the command
// leaves the connection in, which Redis shows (SELECT's new one).
func (h *monitorHub) feed(c *client, db int, args [][]byte) {
	// A RESET ends the monitoring of the connection sending it before
	// Redis shows the command, so that one does not see it.
	var except *subscriber
	if strings.EqualFold(string(args[0]), "reset") {
		except = c.sub
	}
	h.feedFrom(db, c.addr, args, except)
}

// feedFrom shows a command run for source (a client's address, or "lua")
// to every monitor but except.
func (h *monitorHub) feedFrom(db int, source string, args [][]byte, except *subscriber) {
	sp, ok := specFor(args)
	if !ok || !sp.ArityFits(len(args)) || sp.Has("admin") {
		return
	}
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%06d [%d %s]", now.Unix(), now.Nanosecond()/1000, db, source)
	redact := redactedArgs(sp.Name, args)
	for i, a := range args {
		b.WriteByte(' ')
		if redact[i] {
			b.WriteString(`"(redacted)"`)
			continue
		}
		b.WriteString(sds.Repr(a))
	}
	line := redcon.AppendString(nil, b.String())
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.watchers {
		// A simple string in RESP3 too, as Redis sends it: not a push.
		if sub != except {
			sub.out.Write(line)
		}
	}
}

// redactedArgs marks the passwords AUTH, HELLO and MIGRATE carry, which
// Redis never shows.
func redactedArgs(name string, args [][]byte) []bool {
	red := make([]bool, len(args))
	switch name {
	case "auth":
		for i := 1; i < len(args); i++ {
			red[i] = true
		}
	case "hello":
		for i := 2; i < len(args); i++ {
			if strings.EqualFold(string(args[i]), "auth") && i+2 < len(args) {
				red[i+1], red[i+2] = true, true
				i += 2
			}
		}
	case "migrate":
		for i := 6; i < len(args); i++ {
			switch strings.ToLower(string(args[i])) {
			case "auth":
				if i+1 < len(args) {
					red[i+1] = true
					i++
				}
			case "auth2":
				if i+2 < len(args) {
					red[i+1], red[i+2] = true, true
					i += 2
				}
			case "keys":
				return red
			}
		}
	}
	return red
}

// monitorStep shows cmds[i] (about to run) to the monitors: a command a
// transaction queues is shown when EXEC runs it, before the EXEC.
func (s *Server) monitorStep(c *client, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	db := c.db
	if c.tx.multi {
		switch name {
		case "exec":
			if !c.tx.dirty {
				for _, q := range c.tx.queue {
					db = s.selectedDB(db, q.args)
					s.monitors.feed(c, db, q.args)
				}
			}
		case "multi", "discard", "watch", "unwatch", "reset", "quit":
		default:
			return
		}
	}
	s.monitors.feed(c, s.selectedDB(db, args), args)
}

// selectedDB is the database a connection in db is in after args: a
// SELECT's, if it is one that succeeds.
func (s *Server) selectedDB(db int, args [][]byte) int {
	if len(args) == 2 && strings.EqualFold(string(args[0]), "select") {
		if n, msg := s.home.Store().ParseDB(args[1]); msg == "" {
			return n
		}
	}
	return db
}

// monitorScript is what counts a command a script runs on rep in
// commandstats and shows it to the monitors, as Redis shows it: from
// "lua", in the database the script is in.
func (s *Server) monitorScript(rep *replica.Replica) func(args [][]byte) {
	return func(args [][]byte) {
		s.stats.ran([]redcon.Command{{Args: args}}, 0, nil)
		if s.monitors.count.Load() > 0 {
			s.monitors.feedFrom(rep.Store().ScriptDB(), "lua", args, nil)
		}
	}
}

func (s *Server) cmdMonitor(conn redcon.Conn, c *client, _ [][]byte) {
	// handle opened the outbox for this pipeline (subscribes).
	s.monitors.add(c.sub)
	conn.WriteString("OK")
}
