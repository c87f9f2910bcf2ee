package resp

// CLIENT: the connections of this node.

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"
)

func clientID(c *client) int64 {
	if c == nil {
		return 0
	}
	return c.id
}

func (s *Server) setClient(c *client, f func(c *client)) {
	if c == nil {
		return
	}
	s.clientsMu.Lock()
	f(c)
	s.clientsMu.Unlock()
}

func (s *Server) cmdClient(conn redcon.Conn, c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "setname":
		if strings.ContainsAny(string(args[2]), " \n") {
			conn.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		s.setClient(c, func(c *client) { c.name = string(args[2]) })
		conn.WriteString("OK")
	case "getname":
		s.clientsMu.Lock()
		name := ""
		if c != nil {
			name = c.name
		}
		s.clientsMu.Unlock()
		if name == "" {
			conn.WriteNull()
		} else {
			conn.WriteBulkString(name)
		}
	case "setinfo":
		val := string(args[3])
		switch strings.ToLower(string(args[2])) {
		case "lib-name":
			s.setClient(c, func(c *client) { c.libName = val })
		case "lib-ver":
			s.setClient(c, func(c *client) { c.libVer = val })
		default:
			conn.WriteError(fmt.Sprintf("ERR Unrecognized option '%s'", args[2]))
			return
		}
		conn.WriteString("OK")
	case "id":
		conn.WriteInt64(clientID(c))
	case "unblock":
		withError := false
		if len(args) == 4 {
			switch strings.ToLower(string(args[3])) {
			case "timeout":
			case "error":
				withError = true
			default:
				conn.WriteError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
				return
			}
		}
		id, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil {
			conn.WriteError(errNotInteger)
			return
		}
		if s.blocked.unblock(id, withError) {
			conn.WriteInt(1)
		} else {
			conn.WriteInt(0)
		}
	case "reply":
		switch strings.ToLower(string(args[2])) {
		case "on":
			c.reply = replyOn
			conn.WriteString("OK")
		case "off":
			c.reply = replyOff
		case "skip":
			if c.reply == replyOn {
				c.reply = replySkip
			}
		default:
			conn.WriteError(errSyntax)
		}
	case "no-evict":
		// rkv evicts keys, never clients: the flag is accepted.
		switch strings.ToLower(string(args[2])) {
		case "on", "off":
			conn.WriteString("OK")
		default:
			conn.WriteError(errSyntax)
		}
	case "kill":
		s.cmdKill(conn, c, args)
	case "help":
		writeHelp(conn, "CLIENT", clientHelp)
	case "tracking":
		s.cmdTracking(conn, c, args)
	case "caching":
		s.cmdCaching(conn, c, args)
	case "trackinginfo":
		s.cmdTrackingInfo(conn, c, args)
	case "getredir":
		s.cmdGetRedir(conn, c, args)
	case "list":
		keep, msg := clientListFilter(args[2:])
		if msg != "" {
			conn.WriteError(msg)
			return
		}
		var b strings.Builder
		for _, cl := range s.sortedClients() {
			if keep(cl) {
				b.WriteString(s.clientLine(cl, c, args))
				b.WriteByte('\n')
			}
		}
		conn.WriteBulkString(b.String())
	case "info":
		for _, cl := range s.clientList() {
			if c != nil && cl.id == c.id {
				conn.WriteBulkString(s.clientLine(cl, c, args) + "\n")
				return
			}
		}
		conn.WriteNull()
	default:
		conn.WriteError(unknownSubcommand("client", args[1]))
	}
}

func (s *Server) sortedClients() []*client {
	cl := s.clientList()
	slices.SortFunc(cl, func(a, b *client) int { return int(a.id - b.id) })
	return cl
}

// clientLine is a connection's line of CLIENT LIST and CLIENT INFO, as
// asked by the connection caller running args: its own line shows that
// command running, with the query buffer holding it.
func (s *Server) clientLine(c, caller *client, args [][]byte) string {
	self := caller != nil && c.id == caller.id
	// Another connection's transaction is its own goroutine's to read.
	inMulti := self && c.tx.multi
	flags := ""
	_, redirect, _ := s.tracking.info(c.id, false)
	for _, f := range []struct {
		on   bool
		flag string
	}{{c.subscribed(), "P"}, {inMulti, "x"}, {c.tracked, "t"}, {c.readonly, "r"}} {
		if f.on {
			flags += f.flag
		}
	}
	if flags == "" {
		flags = "N"
	}
	multi := -1
	if inMulti {
		multi = len(c.tx.queue)
	}
	cmd, qbuf, qfree := orDefault(c.lastCmd, "NULL"), 0, 0
	if c.guard != nil {
		qbuf, qfree = c.guard.queryBuffer()
	}
	if self {
		if sp, ok := specFor(args); ok {
			cmd = sp.Name
		}
		// The command being run is still held by the reading side, as
		// it is in Redis's query buffer.
		qbuf += len(redcon.AppendArray(nil, len(args)))
		for _, a := range args {
			qbuf += len(redcon.AppendBulk(nil, a))
		}
	}
	resp := 2
	if c.resp3 {
		resp = 3
	}
	now := time.Now()
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s redir=%d resp=%d lib-name=%s lib-ver=%s",
		c.id, c.addr, c.laddr, c.name, int(now.Sub(c.created).Seconds()), int(now.Sub(c.lastSeen).Seconds()),
		flags, c.db, c.nsub, c.npsub, c.nssub, multi, qbuf, qfree, cmd, c.user, redirect, resp, c.libName, c.libVer)
}

// clientListFilter reads CLIENT LIST's TYPE and ID options.
func clientListFilter(opts [][]byte) (func(*client) bool, string) {
	switch {
	case len(opts) == 0:
		return func(*client) bool { return true }, ""
	case len(opts) == 2 && strings.EqualFold(string(opts[0]), "type"):
		typ := strings.ToLower(string(opts[1]))
		switch typ {
		case "normal", "pubsub":
			return func(c *client) bool { return c.subscribed() == (typ == "pubsub") }, ""
		case "master", "replica", "slave":
			return func(*client) bool { return false }, ""
		}
		return nil, fmt.Sprintf("ERR Unknown client type '%s'", opts[1])
	case len(opts) >= 2 && strings.EqualFold(string(opts[0]), "id"):
		ids := map[int64]bool{}
		for _, o := range opts[1:] {
			id, err := strconv.ParseInt(string(o), 10, 64)
			if err != nil || id <= 0 {
				return nil, "ERR Invalid client ID"
			}
			ids[id] = true
		}
		return func(c *client) bool { return ids[c.id] }, ""
	}
	return nil, errSyntax
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// replyMode is CLIENT REPLY's: replies on, off, or off for the next
// command only.
type replyMode uint8

const (
	replyOn replyMode = iota
	replyOff
	replySkip
)

// isClientSub reports whether args is the CLIENT subcommand sub.
func isClientSub(args [][]byte, sub string) bool {
	return len(args) > 1 && bytes.EqualFold(args[0], []byte("client")) && bytes.EqualFold(args[1], []byte(sub))
}

// cmdKill is CLIENT KILL: by address (the old form, answered OK or an
// error) or by filters (ID, TYPE, ADDR, LADDR, USER, SKIPME), answered
// with the number of connections closed. The caller's own connection
// closes after the reply.
func (s *Server) cmdKill(conn redcon.Conn, c *client, args [][]byte) {
	var addr, laddr, user, typ string
	var id int64
	skipme := true
	if len(args) == 3 {
		addr, skipme = string(args[2]), false
	}
	for i := 2; len(args) > 3 && i < len(args); i += 2 {
		if i+1 >= len(args) {
			conn.WriteError(errSyntax)
			return
		}
		v := string(args[i+1])
		switch strings.ToLower(string(args[i])) {
		case "id":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				conn.WriteError("ERR client-id should be greater than 0")
				return
			}
			id = n
		case "type":
			typ = strings.ToLower(v)
			switch typ {
			case "normal", "pubsub", "master", "replica", "slave":
			default:
				conn.WriteError(fmt.Sprintf("ERR Unknown client type '%s'", v))
				return
			}
		case "addr":
			addr = v
		case "laddr":
			laddr = v
		case "user":
			if s.acl.user(v) == nil {
				conn.WriteError(fmt.Sprintf("ERR No such user '%s'", v))
				return
			}
			user = v
		case "skipme":
			switch strings.ToLower(v) {
			case "yes":
				skipme = true
			case "no":
				skipme = false
			default:
				conn.WriteError(errSyntax)
				return
			}
		default:
			conn.WriteError(errSyntax)
			return
		}
	}
	killed, self := 0, false
	for _, cl := range s.clientList() {
		clientType := "normal"
		if cl.subscribed() {
			clientType = "pubsub"
		}
		if addr != "" && cl.addr != addr || laddr != "" && cl.laddr != laddr || id != 0 && cl.id != id ||
			user != "" && cl.user != user || typ != "" && typ != clientType || skipme && cl.id == c.id {
			continue
		}
		killed++
		if cl.id == c.id {
			self = true
			continue
		}
		s.clientsMu.Lock()
		target := s.clients[cl.id]
		s.clientsMu.Unlock()
		if target != nil {
			target.close()
		}
	}
	switch {
	case len(args) > 3:
		conn.WriteInt(killed)
	case killed == 0:
		conn.WriteError("ERR No such client")
	default:
		conn.WriteString("OK")
	}
	if self {
		conn.Close()
		s.setClient(c, func(c *client) { c.dropped = true })
	}
}

var clientHelp = []string{
	"CACHING (YES|NO)",
	"    Track, or not, the keys the next command reads (OPTIN or OPTOUT tracking).",
	"GETNAME",
	"    Return this connection's name.",
	"GETREDIR",
	"    Return the id of the connection tracking invalidations go to, -1 if none.",
	"ID",
	"    Return this connection's id.",
	"INFO",
	"    Describe this connection, as a line of CLIENT LIST.",
	"KILL <ip:port>",
	"    Close the connection from <ip:port>.",
	"KILL <option> <value> [<option> <value> ...]",
	"    Close the connections matching every option: ID, ADDR, LADDR, TYPE, USER,",
	"    SKIPME (YES|NO; default YES).",
	"LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> ...]",
	"    Describe this node's connections.",
	"NO-EVICT (ON|OFF)",
	"    Accepted: rkv evicts keys, never connections.",
	"REPLY (ON|OFF|SKIP)",
	"    Turn this connection's replies on, off, or off for the next command.",
	"SETINFO (LIB-NAME|LIB-VER) <value>",
	"    Record the client library's name or version.",
	"SETNAME <name>",
	"    Name this connection.",
	"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> ...] [OPTIN] [OPTOUT] [NOLOOP]",
	"    Turn client-side caching invalidations on or off.",
	"TRACKINGINFO",
	"    Describe this connection's tracking.",
	"UNBLOCK <id> [TIMEOUT|ERROR]",
	"    End the wait of a client blocked in a blocking command.",
}
