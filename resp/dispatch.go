package resp

// The front end's own commands: their registry, the checks made before
// they run, and the error texts they share.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// serverCommand is a command the front end answers itself: its entry in
// the command table and its executor.
type serverCommand struct {
	spec *command.Spec
	run  func(s *Server, conn redcon.Conn, c *client, args [][]byte)
}

var serverCommands = map[string]*serverCommand{}

// addServerCommands registers executors of server commands by name; each
// must be in the command table.
func addServerCommands(runs map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte)) {
	for name, run := range runs {
		spec, ok := command.Lookup([]byte(name))
		if !ok {
			panic("resp: no command table entry for " + name)
		}
		if spec.Runs == command.AsWrite || spec.Runs == command.AsRead {
			panic("resp: the command table runs " + name + " on the keyspace")
		}
		serverCommands[name] = &serverCommand{spec: spec, run: run}
	}
}

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){
		"ping": (*Server).cmdPing, "echo": (*Server).cmdEcho, "quit": (*Server).cmdQuit,
		"select": (*Server).cmdSelect, "reset": (*Server).cmdReset, "hello": (*Server).cmdHello, "auth": (*Server).cmdAuth,
		"client": (*Server).cmdClient, "command": (*Server).cmdCommand, "config": (*Server).cmdConfig,
		"info": (*Server).cmdInfo, "time": (*Server).cmdTime, "role": (*Server).cmdRole,
		"cluster": (*Server).cmdCluster, "readonly": (*Server).cmdReadonly, "readwrite": (*Server).cmdReadwrite,
		"multi": (*Server).cmdMulti, "exec": (*Server).cmdExec, "discard": (*Server).cmdDiscard,
		"watch": (*Server).cmdWatch, "unwatch": (*Server).cmdUnwatch, "wait": (*Server).cmdWait,
		"monitor": (*Server).cmdMonitor, "slowlog": (*Server).cmdSlowlog, "latency": (*Server).cmdLatency,
	})
}

func (s *Server) admin(conn redcon.Conn, c *client, cmd redcon.Command) {
	name := strings.ToLower(string(cmd.Args[0]))
	sc, ok := serverCommands[name]
	if !ok {
		msg := unknownCommand(cmd.Args)
		s.stats.replied(cmd.Args, msg, true)
		conn.WriteError(msg)
		return
	}
	if msg := checkServerCommand(sc, cmd.Args); msg != "" {
		s.stats.replied(cmd.Args, msg, true)
		conn.WriteError(msg)
		return
	}
	counted := &errorCountingConn{Conn: conn, stats: s.stats, args: cmd.Args}
	if c == nil || !c.resp3 || sc.spec.Group == "pubsub" || sc.spec.Runs == command.AsScript {
		sc.run(s, counted, c, cmd.Args)
		return
	}
	// Pub/Sub's commands write their pushes, and scripts their results,
	// in the client's protocol themselves.
	// writeReply counts the error it may hold.
	captured := &capturedConn{Conn: conn}
	sc.run(s, captured, c, cmd.Args)
	writeReply(conn, c, cmd.Args, captured.buf)
	if captured.closed {
		conn.Close()
	}
}

// checkServerCommand returns the error for a server command of the wrong
// arity, or of an unknown subcommand or a subcommand's wrong arity, or "":
// checked before the command runs (in a transaction, when it is queued),
// as Redis does.
func checkServerCommand(sc *serverCommand, args [][]byte) string {
	if !sc.spec.ArityFits(len(args)) {
		return arityError(sc.spec.Name)
	}
	if len(sc.spec.Subcommands) == 0 || len(args) < 2 {
		return ""
	}
	sub, ok := sc.spec.Sub(string(args[1]))
	switch {
	case !ok:
		return unknownSubcommand(sc.spec.Name, args[1])
	case !sub.ArityFits(len(args)):
		return arityError(sub.Name)
	}
	return ""
}

// unknownCommand is Redis 7's error text for a command it does not know,
// built as processCommand builds it: arguments are quoted while the list is
// shorter than 128 bytes, each cut to what is left of that budget.
func unknownCommand(args [][]byte) string {
	var list strings.Builder
	for _, a := range args[1:] {
		if list.Len() >= 128 {
			break
		}
		n := 128 - list.Len()
		list.WriteByte('\'')
		list.WriteString(cString(a, n))
		list.WriteString("' ")
	}
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", truncate(args[0]), list.String())
}

// truncate is what Redis's "%.128s" prints of an argument.
func truncate(b []byte) string { return cString(b, 128) }

// cString is what C's "%.*s" prints of b with precision n: at most n bytes,
// and nothing from the first NUL on, since Redis formats arguments as C
// strings.
func cString(b []byte, n int) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

func unknownSubcommand(cmd string, sub []byte) string {
	return fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", truncate(sub), strings.ToUpper(cmd))
}

// slotArg parses a hash slot argument, answering a bad one itself.
func slotArg(conn redcon.Conn, arg []byte) (int, bool) {
	slot, err := strconv.Atoi(string(arg))
	if err != nil || slot < 0 || slot >= store.NumSlots {
		conn.WriteError("ERR Invalid slot")
		return 0, false
	}
	return slot, true
}

func (s *Server) redirectKeyless(conn redcon.Conn) {
	lead := s.home.Node().Leader()
	m, ok := s.home.Members().Get(lead)
	if lead == consensus.None || !ok {
		conn.WriteError(errNoLeader)
		return
	}
	conn.WriteError(fmt.Sprintf("MOVED 0 %s", m.ClientAddr))
}
