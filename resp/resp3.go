package resp

// RESP3: HELLO 3 switches a connection to it. Replies are produced in
// RESP2 (a write's reply is computed when the entry is applied, on every
// replica); a RESP3 connection gets each converted by its command's shape
// (command.ToRESP3), and pushes (Pub/Sub messages and confirmations)
// under RESP3's push type.

import (
	"strings"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
)

// writeReply writes reply, the RESP2 reply to the command args, in the
// connection's protocol.
func writeReply(conn redcon.Conn, c *client, args [][]byte, reply []byte) {
	if len(reply) > 0 && reply[0] == '-' && c != nil && c.stats != nil {
		line, _, _ := strings.Cut(string(reply[1:]), "\r\n")
		c.stats.replied(args, line, false)
	}
	if c != nil && c.resp3 {
		reply = command.ToRESP3(nil, args, reply)
	}
	conn.WriteRaw(reply)
}

// clientOf is the connection's client state.
func clientOf(conn redcon.Conn) *client {
	c, _ := conn.Context().(*client)
	return c
}

// replyEach writes an array header for len(cmds) replies, then elems (one
// RESP2 reply per command) each in the connection's protocol.
func replyEach(conn redcon.Conn, c *client, cmds [][][]byte, elems []byte) {
	conn.WriteArray(len(cmds))
	for _, args := range cmds {
		n, _ := redcon.ReadNextRESP(elems)
		writeReply(conn, c, args, elems[:n])
		elems = elems[n:]
	}
}

// capturedConn collects a server command's reply, for conversion before
// it is written to a RESP3 connection. A command that closes the
// connection after its reply (QUIT, CLIENT KILL of itself) closes it
// once the reply is written: closed records it.
type capturedConn struct {
	redcon.Conn
	buf    []byte
	closed bool
}

func (cc *capturedConn) Close() error {
	cc.closed = true
	return nil
}

func (cc *capturedConn) WriteString(str string)      { cc.buf = redcon.AppendString(cc.buf, str) }
func (cc *capturedConn) WriteBulk(bulk []byte)       { cc.buf = redcon.AppendBulk(cc.buf, bulk) }
func (cc *capturedConn) WriteBulkString(bulk string) { cc.buf = redcon.AppendBulkString(cc.buf, bulk) }
func (cc *capturedConn) WriteInt(num int)            { cc.buf = redcon.AppendInt(cc.buf, int64(num)) }
func (cc *capturedConn) WriteInt64(num int64)        { cc.buf = redcon.AppendInt(cc.buf, num) }
func (cc *capturedConn) WriteUint64(num uint64)      { cc.buf = redcon.AppendUint(cc.buf, num) }
func (cc *capturedConn) WriteError(msg string)       { cc.buf = redcon.AppendError(cc.buf, msg) }
func (cc *capturedConn) WriteArray(count int)        { cc.buf = redcon.AppendArray(cc.buf, count) }
func (cc *capturedConn) WriteNull()                  { cc.buf = redcon.AppendNull(cc.buf) }
func (cc *capturedConn) WriteRaw(data []byte)        { cc.buf = append(cc.buf, data...) }
func (cc *capturedConn) WriteAny(v any)              { cc.buf = redcon.AppendAny(cc.buf, v) }

// pushForm is a RESP2 pushed array (a message, a subscription's
// confirmation) in RESP3's push type for a RESP3 connection.
func pushForm(b []byte, resp3 bool) []byte {
	if !resp3 {
		return b
	}
	v, _, ok := command.ParseReply(b)
	if !ok {
		return b
	}
	v.Type = command.TypePush
	return command.AppendValue(nil, v)
}

// setProtocol switches the connection to RESP3 or back to RESP2, its
// pushes too.
func (s *Server) setProtocol(c *client, resp3 bool) {
	s.setClient(c, func(c *client) { c.resp3 = resp3 })
	if c.sub != nil {
		c.sub.resp3.Store(resp3)
	}
}
