package resp

// Commands about the connection itself: PING, ECHO, QUIT, SELECT, HELLO,
// READONLY and READWRITE.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"
)

func (s *Server) cmdPing(conn redcon.Conn, c *client, args [][]byte) {
	if c != nil && c.subscribed() && !c.resp3 && len(args) <= 2 {
		// A subscribed RESP2 connection gets ["pong", message], as Redis
		// answers there.
		msg := []byte{}
		if len(args) == 2 {
			msg = args[1]
		}
		conn.WriteRaw(appendSubscribedPong(nil, msg))
		return
	}
	switch len(args) {
	case 1:
		conn.WriteString("PONG")
	case 2:
		conn.WriteBulk(args[1])
	default:
		conn.WriteError(arityError("ping"))
	}
}

func (s *Server) cmdEcho(conn redcon.Conn, _ *client, args [][]byte) { conn.WriteBulk(args[1]) }

// cmdReset is RESET: the connection as a new one is — no transaction or
// watches, no subscriptions, READONLY off, no name, the default user
// (authenticated if it needs no password) — answered +RESET, as Redis.
func (s *Server) cmdReset(conn redcon.Conn, c *client, _ [][]byte) {
	s.endTransaction(c.tx)
	if c.sub != nil {
		s.pubsub.forget(c.sub)
		s.monitors.remove(c.sub)
		s.subscriptionsChanged(c)
	}
	authed := !s.acl.PasswordRequired()
	s.setClient(c, func(c *client) {
		c.readonly, c.name, c.user, c.authed, c.db = false, "", "default", authed, 0
	})
	s.setProtocol(c, false)
	s.tracking.disable(c.id)
	s.setClient(c, func(c *client) { c.tracked, c.caching = false, cachingOff })
	conn.WriteString("RESET")
}

// cmdQuit answers OK and closes the connection; the commands pipelined
// after QUIT are not run, as in Redis.
func (s *Server) cmdQuit(conn redcon.Conn, c *client, _ [][]byte) {
	conn.WriteString("OK")
	conn.Close()
	if c != nil {
		s.setClient(c, func(c *client) { c.dropped = true })
	}
}

// cmdSelect chooses the connection's database. Redis refuses SELECT in
// cluster mode; rkv, whose one Raft group holds every slot, keeps
// Redis's standalone databases beside its MOVED redirects, as Valkey 9
// does in cluster mode.
func (s *Server) cmdSelect(conn redcon.Conn, c *client, args [][]byte) {
	db, msg := s.home.Store().ParseDB(args[1])
	if msg != "" {
		conn.WriteError(msg)
		return
	}
	s.setClient(c, func(c *client) { c.db = db })
	conn.WriteString("OK")
}

// dbOf is the database c addresses, 0 without a client.
func dbOf(c *client) int {
	if c == nil {
		return 0
	}
	return c.db
}

func (s *Server) cmdHello(conn redcon.Conn, c *client, args [][]byte) {
	i, ver := 1, 0
	if len(args) > 1 {
		v, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			conn.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			conn.WriteError("NOPROTO unsupported protocol version")
			return
		}
		i, ver = 2, int(v)
	}
	for ; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "auth":
			if i+2 >= len(args) {
				conn.WriteError(errSyntax)
				return
			}
			if !s.authenticate(c, args[i+1], args[i+2]) {
				conn.WriteError(errWrongPass)
				return
			}
			i += 2
		case "setname":
			if i+1 >= len(args) {
				conn.WriteError(errSyntax)
				return
			}
			i++
			s.setClient(c, func(c *client) { c.name = string(args[i]) })
		default:
			conn.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", truncate(args[i])))
			return
		}
	}
	if !c.authed {
		conn.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if ver != 0 {
		s.setProtocol(c, ver == 3)
	}
	role := "replica"
	if s.home.Node().IsLeader() {
		role = "master"
	}
	proto := 2
	if c.resp3 {
		proto = 3
		conn.WriteRaw([]byte("%7\r\n"))
	} else {
		conn.WriteArray(14)
	}
	conn.WriteBulkString("server")
	conn.WriteBulkString("redis")
	conn.WriteBulkString("version")
	conn.WriteBulkString(RedisVersion)
	conn.WriteBulkString("proto")
	conn.WriteInt(proto)
	conn.WriteBulkString("id")
	conn.WriteInt64(clientID(c))
	conn.WriteBulkString("mode")
	conn.WriteBulkString("cluster")
	conn.WriteBulkString("role")
	conn.WriteBulkString(role)
	conn.WriteBulkString("modules")
	conn.WriteArray(0)
}

// RedisVersion is the Redis version whose behaviour rkv follows; clients
// pick features by it.
const RedisVersion = "7.0.15"

func (s *Server) cmdReadonly(conn redcon.Conn, c *client, _ [][]byte) {
	s.setClient(c, func(c *client) { c.readonly = true })
	conn.WriteString("OK")
}

func (s *Server) cmdReadwrite(conn redcon.Conn, c *client, _ [][]byte) {
	s.setClient(c, func(c *client) { c.readonly = false })
	conn.WriteString("OK")
}
