package resp

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// A connection that subscribes gets messages between its replies, from the
// replica's applier, which must never wait for a client. From its first
// SUBSCRIBE on, everything written to it goes through an outbox: a queue
// that the applier and the connection append to without blocking, and a
// goroutine of its own that writes the queue out. The connection's replies
// reach the queue through an outConn, which stands in for the redcon.Conn
// in handle. A client that does not read is closed when its queue passes
// client-output-buffer-limit (the pubsub class while it subscribes, the
// normal one otherwise), as Redis closes it.

var errOutboxClosed = errors.New("resp: connection closed")

// outbox is the outbound queue of one connection.
type outbox struct {
	// raw is the connection below the guard, whose Write applies the
	// normal class's limit to each write on its own.
	raw    net.Conn
	limits *atomic.Pointer[Limits]

	mu sync.Mutex
	// cond is signalled when bytes are queued or written and when the
	// outbox closes.
	cond sync.Cond
	buf  []byte
	// pending counts buf and the bytes being written: what the client has
	// not taken yet, which the limits bound.
	pending int64
	// softSince is when pending passed the soft limit; zero while under.
	softSince time.Time
	// pubsub selects the pubsub class of limits.
	pubsub bool
	// closing: close the connection once the queue is written (QUIT).
	closing bool
	// dead: closed; nothing more is queued or written.
	dead bool
}

func newOutbox(raw net.Conn, limits *atomic.Pointer[Limits]) *outbox {
	o := &outbox{raw: raw, limits: limits}
	o.cond.L = &o.mu
	go o.run()
	return o
}

// Write queues p. It never waits for the client: it fails once the outbox
// is closed, and closes it when p takes the unread bytes past a limit.
func (o *outbox) Write(p []byte) (int, error) {
	o.mu.Lock()
	if o.dead || o.closing {
		o.mu.Unlock()
		return 0, errOutboxClosed
	}
	o.buf = append(o.buf, p...)
	o.pending += int64(len(p))
	if o.overLimit() {
		o.dead, o.buf = true, nil
		o.cond.Broadcast()
		o.mu.Unlock()
		o.raw.Close()
		return 0, errClosedByLimit
	}
	o.cond.Broadcast()
	o.mu.Unlock()
	return len(p), nil
}

// overLimit applies client-output-buffer-limit as Redis's
// checkClientOutputBufferLimits does: at the hard limit at once, at the
// soft one once it has lasted longer than its seconds.
func (o *outbox) overLimit() bool {
	lim := o.limits.Load()
	hard, soft, softFor := lim.OutputHard, lim.OutputSoft, lim.OutputSoftFor
	if o.pubsub {
		hard, soft, softFor = lim.PubsubHard, lim.PubsubSoft, lim.PubsubSoftFor
	}
	if hard > 0 && o.pending >= hard {
		return true
	}
	if soft <= 0 || o.pending < soft {
		o.softSince = time.Time{}
		return false
	}
	now := time.Now()
	if o.softSince.IsZero() {
		o.softSince = now
		return false
	}
	return now.Sub(o.softSince) > softFor
}

// run writes the queue out until the outbox closes.
func (o *outbox) run() {
	var spare []byte
	for {
		o.mu.Lock()
		for len(o.buf) == 0 && !o.dead && !o.closing {
			o.cond.Wait()
		}
		if o.dead || len(o.buf) == 0 {
			// Closed, or everything owed before a QUIT is written.
			o.dead = true
			o.cond.Broadcast()
			o.mu.Unlock()
			o.raw.Close()
			return
		}
		b := o.buf
		o.buf = spare[:0]
		o.mu.Unlock()
		_, err := o.raw.Write(b)
		o.mu.Lock()
		o.pending -= int64(len(b))
		if err != nil {
			o.dead, o.buf = true, nil
		}
		o.cond.Broadcast()
		o.mu.Unlock()
		if err != nil {
			o.raw.Close()
			return
		}
		// A buffer grown by a burst is let go rather than kept for good.
		spare = nil
		if cap(b) <= outputChunk {
			spare = b
		}
	}
}

// drain waits until at most n bytes are unread; false once the outbox is
// closed. The connection waits here between commands, as flushOutput waits
// for a client that does not read its replies.
func (o *outbox) drain(n int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.pending > n && !o.dead && !o.closing {
		o.cond.Wait()
	}
	return !o.dead && !o.closing
}

// setPubsub selects the limits of the pubsub class (subscribed) or of the
// normal one.
func (o *outbox) setPubsub(subscribed bool) {
	o.mu.Lock()
	o.pubsub = subscribed
	o.mu.Unlock()
}

// closeWhenWritten closes the connection once what is queued is written.
func (o *outbox) closeWhenWritten() {
	o.mu.Lock()
	o.closing = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// kill drops the queue and ends the writer: the connection is gone.
func (o *outbox) kill() {
	o.mu.Lock()
	o.dead, o.buf = true, nil
	o.cond.Broadcast()
	o.mu.Unlock()
}

// outConn is the redcon.Conn handle uses for a connection with an outbox:
// each reply is queued as soon as it is written, so that replies and
// pushed messages keep the order in which they were made.
type outConn struct {
	redcon.Conn
	w   *redcon.Writer
	out *outbox
}

func newOutConn(conn redcon.Conn, out *outbox) *outConn {
	return &outConn{Conn: conn, w: redcon.NewWriter(out), out: out}
}

func (oc *outConn) WriteString(str string)      { oc.w.WriteString(str); oc.w.Flush() }
func (oc *outConn) WriteBulk(bulk []byte)       { oc.w.WriteBulk(bulk); oc.w.Flush() }
func (oc *outConn) WriteBulkString(bulk string) { oc.w.WriteBulkString(bulk); oc.w.Flush() }
func (oc *outConn) WriteInt(num int)            { oc.w.WriteInt(num); oc.w.Flush() }
func (oc *outConn) WriteInt64(num int64)        { oc.w.WriteInt64(num); oc.w.Flush() }
func (oc *outConn) WriteUint64(num uint64)      { oc.w.WriteUint64(num); oc.w.Flush() }
func (oc *outConn) WriteError(msg string)       { oc.w.WriteError(msg); oc.w.Flush() }
func (oc *outConn) WriteArray(count int)        { oc.w.WriteArray(count); oc.w.Flush() }
func (oc *outConn) WriteNull()                  { oc.w.WriteNull(); oc.w.Flush() }
func (oc *outConn) WriteRaw(data []byte)        { oc.w.WriteRaw(data); oc.w.Flush() }
func (oc *outConn) WriteAny(v any)              { oc.w.WriteAny(v); oc.w.Flush() }

func (oc *outConn) WriteBulkFrom(n int64, rb io.Reader) { oc.w.WriteBulkFrom(n, rb); oc.w.Flush() }

// Close closes the connection once the replies queued before it are
// written; the client still gets QUIT's +OK.
func (oc *outConn) Close() error {
	oc.out.closeWhenWritten()
	return nil
}
