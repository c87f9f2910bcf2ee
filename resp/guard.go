package resp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/store"
)

// Protocol limits. Every client connection is read through a guardConn,
// which follows the RESP framing of the bytes as they arrive, before
// redcon buffers them, and refuses what Redis refuses: a multibulk count
// or a bulk length out of range, a header or inline command line too long,
// a command larger than client-query-buffer-limit. The client gets Redis's
// protocol error and the connection is closed, so no client can make the
// node buffer more than the limits allow. Writes enforce
// client-output-buffer-limit for normal clients, and reads the idle
// timeout.
//
// The guard also hands redcon whole commands where it can, holding back
// the start of a command a read cut: redcon grows its buffer whenever a
// read fills it while a command is unfinished and shrinks it back only
// when a read leaves no partial command behind, so a pipeline the network
// always cuts mid-command would keep doubling it (and the batches, and
// their replies, with it).

// Limits are the connection limits, with Redis's names; CONFIG SET
// changes them for every connection.
type Limits struct {
	ProtoMaxBulkLen int64         // proto-max-bulk-len: the largest bulk string
	QueryBufferMax  int64         // client-query-buffer-limit: the largest command
	IdleTimeout     time.Duration // timeout: close a client idle this long (0: never)
	// client-output-buffer-limit normal <hard> <soft> <soft-seconds>:
	// replies waiting to be written over OutputHard bytes close the
	// connection at once; over OutputSoft bytes (0: any) for OutputSoftFor,
	// they close it too (all 0: no limit, Redis's default).
	OutputHard, OutputSoft int64
	OutputSoftFor          time.Duration
	// client-output-buffer-limit pubsub <hard> <soft> <soft-seconds>: the
	// same for a connection while it subscribes, counting its replies and
	// the messages pushed to it (outbox.go).
	PubsubHard, PubsubSoft int64
	PubsubSoftFor          time.Duration
	// client-output-buffer-limit replica: kept for CONFIG GET, as rkv has
	// no Redis replicas to apply it to.
	ReplicaHard, ReplicaSoft int64
	ReplicaSoftFor           time.Duration
}

// DefaultLimits are Redis's defaults.
func DefaultLimits() Limits {
	return Limits{ProtoMaxBulkLen: 512 << 20, QueryBufferMax: 1 << 30,
		PubsubHard: 32 << 20, PubsubSoft: 8 << 20, PubsubSoftFor: 60 * time.Second,
		ReplicaHard: 256 << 20, ReplicaSoft: 64 << 20, ReplicaSoftFor: 60 * time.Second}
}

// ParseLimits reads the limits as the command line gives them.
func ParseLimits(idleSeconds int, protoMaxBulkLen, queryBufferLimit, outputBufferLimit string) (Limits, bool) {
	lim := DefaultLimits()
	var ok1, ok2 bool
	lim.ProtoMaxBulkLen, ok1 = ParseMemory(protoMaxBulkLen)
	lim.QueryBufferMax, ok2 = ParseMemory(queryBufferLimit)
	lim.IdleTimeout = time.Duration(idleSeconds) * time.Second
	ok := ok1 && ok2 && idleSeconds >= 0 && lim.ProtoMaxBulkLen >= 1<<20 && lim.QueryBufferMax >= 1<<20
	return lim, ok && parseOutputLimit(outputBufferLimit, &lim) == ""
}

// maxLineLen is Redis's PROTO_INLINE_MAX_SIZE: the longest inline command
// and the longest multibulk or bulk header line.
const maxLineLen = 64 << 10

// maxMultibulk is the largest multibulk count Redis accepts (INT_MAX).
const maxMultibulk = 1<<31 - 1

var errClosedByLimit = errors.New("resp: connection closed by a protocol limit")

// refuse writes the pending protocol error, once, and returns the error
// that makes redcon close the connection.
func (g *guardConn) refuse() error {
	if g.reply != "" {
		g.Conn.Write([]byte("-" + g.reply + "\r\n"))
		g.reply = ""
	}
	return g.err
}

func (g *guardConn) Write(p []byte) (int, error) {
	lim := g.limits.Load()
	if lim.OutputHard > 0 && int64(len(p)) > lim.OutputHard {
		g.Conn.Close()
		return 0, errClosedByLimit
	}
	if lim.OutputSoftFor > 0 && int64(len(p)) > lim.OutputSoft {
		g.Conn.SetWriteDeadline(time.Now().Add(lim.OutputSoftFor))
		defer g.Conn.SetWriteDeadline(time.Time{})
	}
	return g.Conn.Write(p)
}

// outputChunk is how many reply bytes a pipeline piles up before they are
// written out (see flushOutput).
const outputChunk = 64 << 10

// flushOutput runs between the replies of a pipeline: once they pass
// outputChunk it writes them out, and the write waits for the client, so
// one that sends a pipeline and does not read its replies stops being read
// (TCP pushes back) instead of making the node hold every reply; redcon
// alone writes only after the whole batch it read. With a normal
// client-output-buffer-limit set, replies pile up to the limit first, so
// Write can apply it as Redis does. It returns false when the connection
// is gone (a limit closed it, or the client left): the rest of the
// pipeline is not run.
func (s *Server) flushOutput(conn redcon.Conn, c *client) bool {
	if c.dropped {
		return false
	}
	if c.outConn != nil {
		return c.outConn.out.drain(outputChunk)
	}
	w := redcon.BaseWriter(conn)
	if w == nil {
		return true
	}
	lim := s.conns.Load()
	threshold := int64(outputChunk)
	if lim.OutputHard > 0 {
		threshold = max(threshold, lim.OutputHard+1)
	}
	if lim.OutputSoftFor > 0 {
		threshold = max(threshold, lim.OutputSoft+1)
	}
	if int64(len(w.Buffer())) < threshold {
		return true
	}
	if w.Flush() != nil {
		s.setClient(c, func(c *client) { c.dropped = true })
		return false
	}
	return true
}

// respScanner follows the RESP framing of a stream, byte run by byte run.
type respScanner struct {
	state   scanState
	line    int   // bytes of the current header or inline line
	num     int64 // the number being read
	neg     bool
	bad     bool  // a non-digit in the number
	bulks   int64 // bulks left in the current multibulk
	body    int64 // bytes left of the current bulk, with its CRLF
	pending int64 // bytes of the current command so far
	bulk    int64 // the length of the current bulk
	good    int   // set by feed when it fails: the bytes before the failure
	end     int   // set by feed: the offset just past the last command that ended, -1 if none
	ends    []int // set by feed: the offset just past each command that ended
	// start is where the current command began in what feed scans, -1
	// when it began in an earlier read; empty holds the spans of empty
	// multibulks ("*0", "*-1") feed found (from start), which Redis skips
	// and redcon would refuse.
	start int
	empty [][2]int
}

type scanState uint8

const (
	scanStart      scanState = iota // a command begins
	scanMultibulk                   // in "*<count>\r\n"
	scanBulkType                    // expecting '$'
	scanBulkHeader                  // in "$<len>\r\n"
	scanBulkBody                    // in a bulk's bytes
	scanInline                      // in an inline command line
)

// feed scans b; on a violation it returns false, with Redis's error reply
// ("" to close without one) and sets good.
func (s *respScanner) feed(b []byte, lim *Limits) (bool, string) {
	s.end, s.start, s.empty, s.ends = -1, -1, s.empty[:0], s.ends[:0]
	for i := 0; i < len(b); {
		switch s.state {
		case scanStart:
			s.pending, s.start = 0, i
			switch b[i] {
			case '*':
				s.state, s.line, s.num, s.neg, s.bad = scanMultibulk, 0, 0, false, false
			case '\r', '\n':
				s.ended(i + 1)
			default:
				s.state, s.line = scanInline, 0
				continue
			}
		case scanMultibulk, scanBulkHeader:
			c := b[i]
			if c == '\n' {
				if s.state == scanMultibulk {
					if s.bad || s.num > maxMultibulk {
						return s.fail(i, "ERR Protocol error: invalid multibulk length")
					}
					if s.neg || s.num <= 0 {
						s.state = scanStart
						s.ended(i + 1)
						s.empty = append(s.empty, [2]int{s.start, i + 1})
					} else {
						s.bulks, s.state = s.num, scanBulkType
					}
				} else {
					if s.bad || s.neg || s.num > lim.ProtoMaxBulkLen {
						return s.fail(i, "ERR Protocol error: invalid bulk length")
					}
					s.bulk, s.body, s.state = s.num, s.num+2, scanBulkBody
				}
				break
			}
			if s.line++; s.line > maxLineLen {
				if s.state == scanMultibulk {
					return s.fail(i, "ERR Protocol error: too big mbulk count string")
				}
				return s.fail(i, "ERR Protocol error: too big bulk count string")
			}
			switch {
			case c == '\r':
			case c == '-' && s.line == 1:
				s.neg = true
			case '0' <= c && c <= '9':
				if s.num < 1<<40 {
					s.num = s.num*10 + int64(c-'0')
				}
			default:
				s.bad = true
			}
		case scanBulkType:
			if got := b[i]; got != '$' {
				// The byte goes out as it came, but a CR or LF as a space,
				// as Redis sends it: either would end the error reply.
				if got == '\r' || got == '\n' {
					got = ' '
				}
				return s.fail(i, "ERR Protocol error: expected '$', got '"+string([]byte{got})+"'")
			}
			s.state, s.line, s.num, s.neg, s.bad = scanBulkHeader, 0, 0, false, false
		case scanBulkBody:
			n := min(s.body, int64(len(b)-i))
			s.body -= n
			s.pending += n
			i += int(n)
			if s.pending > lim.QueryBufferMax {
				return s.fail(i-1, "")
			}
			if s.body == 0 {
				if s.bulks--; s.bulks == 0 {
					s.state = scanStart
					s.ended(i)
				} else {
					s.state = scanBulkType
				}
			}
			continue
		case scanInline:
			if b[i] == '\n' {
				s.state = scanStart
				s.ended(i + 1)
				break
			}
			if s.line++; s.line > maxLineLen {
				return s.fail(i, "ERR Protocol error: too big inline request")
			}
		}
		s.pending++
		if s.pending > lim.QueryBufferMax {
			return s.fail(i, "")
		}
		i++
	}
	return true, ""
}

func (s *respScanner) ended(at int) {
	s.end = at
	s.ends = append(s.ends, at)
}

// bigBulkLeft is how many bytes of the current bulk have yet to come, if
// it is a big one (Redis's PROTO_MBULK_BIG_ARG, 32 KB), else 0.
func (s *respScanner) bigBulkLeft() int64 {
	if s.state == scanBulkBody && s.bulk >= 32<<10 {
		return s.body
	}
	return 0
}

func (s *respScanner) fail(at int, reply string) (bool, string) {
	s.good = at
	return false, reply
}

// parseOutputLimit reads "<class> <hard> <soft> <seconds>" (repeated) into
// lim, the classes it names and no other, or returns Redis's complaint.
func parseOutputLimit(v string, lim *Limits) string {
	f := multiArgs(v)
	if len(f)%4 != 0 {
		return "Wrong number of arguments in buffer limit configuration."
	}
	next := *lim
	for i := 0; i < len(f); i += 4 {
		class := strings.ToLower(f[i])
		if class != "normal" && class != "replica" && class != "slave" && class != "pubsub" {
			return "Invalid client class specified in buffer limit configuration."
		}
		hard, ok1 := store.ParseConfigNumber(f[i+1], true)
		soft, ok2 := store.ParseConfigNumber(f[i+2], true)
		secs, ok3 := cStrtoll(f[i+3])
		if !ok1 || !ok2 || !ok3 || secs < 0 {
			return "Error in hard, soft or soft_seconds setting in buffer limit configuration."
		}
		// soft_seconds is a C int.
		softFor := time.Duration(int32(secs)) * time.Second
		switch class {
		case "normal":
			next.OutputHard, next.OutputSoft, next.OutputSoftFor = hard, soft, softFor
		case "pubsub":
			next.PubsubHard, next.PubsubSoft, next.PubsubSoftFor = hard, soft, softFor
		default:
			next.ReplicaHard, next.ReplicaSoft, next.ReplicaSoftFor = hard, soft, softFor
		}
	}
	*lim = next
	return ""
}

func formatOutputLimit(lim Limits) string {
	return fmt.Sprintf("normal %d %d %d slave %d %d %d pubsub %d %d %d",
		uint64(lim.OutputHard), uint64(lim.OutputSoft), int64(lim.OutputSoftFor/time.Second),
		uint64(lim.ReplicaHard), uint64(lim.ReplicaSoft), int64(lim.ReplicaSoftFor/time.Second),
		uint64(lim.PubsubHard), uint64(lim.PubsubSoft), int64(lim.PubsubSoftFor/time.Second))
}
