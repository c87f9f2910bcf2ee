package resp

// CLIENT: the connections of this node.

import (
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
	case "tracking":
		s.cmdTracking(conn, c, args)
	case "caching":
		s.cmdCaching(conn, c, args)
	case "trackinginfo":
		s.cmdTrackingInfo(conn, c, args)
	case "getredir":
		s.cmdGetRedir(conn, c, args)
	case "list":
		var b strings.Builder
		for _, cl := range s.sortedClients() {
			b.WriteString(s.clientLine(cl))
			b.WriteByte('\n')
		}
		conn.WriteBulkString(b.String())
	case "info":
		for _, cl := range s.clientList() {
			if c != nil && cl.id == c.id {
				conn.WriteBulkString(s.clientLine(cl) + "\n")
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

func (s *Server) clientLine(c *client) string {
	flags := "N"
	switch {
	case c.subscribed():
		flags = "P"
	case c.readonly:
		flags = "r"
	}
	now := time.Now()
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=%d multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=2 lib-name=%s lib-ver=%s",
		c.id, c.addr, c.laddr, c.name, int(now.Sub(c.created).Seconds()), int(now.Sub(c.lastSeen).Seconds()),
		flags, c.nsub, c.npsub, c.nssub, orDefault(c.lastCmd, "NULL"), c.libName, c.libVer)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
