package resp

// The query buffer: each connection's guard reads the client's bytes into
// a buffer of its own, which holds them until they make whole commands
// and redcon takes them. It is sized as Redis sizes its query buffer
// (networking.c): 16 KB at the first read, exactly the rest of a big
// argument while one arrives, and otherwise grown greedily; and the
// server's cron (clientsCron) shrinks it as Redis's
// clientsCronResizeQueryBuffer does: released when the client has been
// idle over 2 seconds, cut down toward the recent peak when it is much
// larger. CLIENT LIST's qbuf and qbuf-free are this buffer's.
//
// Over TCP the guard waits for the socket to be readable without a
// buffer (syscall.RawConn) and takes one only to read, so an idle
// connection really holds none. Other connections (TLS) read through a
// blocking Read, which holds the buffer while it waits: theirs is resized
// only between reads.

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	ioBufLen        = 16 << 10 // PROTO_IOBUF_LEN: a read's size
	resizeThreshold = 32 << 10 // PROTO_RESIZE_THRESHOLD: smaller buffers are left alone
	idleRelease     = 2 * time.Second
)

type guardListener struct {
	net.Listener
	limits *atomic.Pointer[Limits]
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardConn(c, l.limits), nil
}

func newGuardConn(c net.Conn, limits *atomic.Pointer[Limits]) *guardConn {
	g := &guardConn{Conn: c, limits: limits}
	if sc, ok := c.(syscall.Conn); ok {
		g.raw, _ = sc.SyscallConn()
	}
	g.lastRead.Store(time.Now().UnixNano())
	return g
}

// guardConn checks a client's byte stream (see guard.go) and holds its
// query buffer.
type guardConn struct {
	net.Conn
	raw    syscall.RawConn // nil: read through Conn.Read
	limits *atomic.Pointer[Limits]
	scan   respScanner
	// err is set once a limit is broken; reply is the error the client
	// is still owed. rerr is the read error to return once the whole
	// commands read before it are handed on.
	err   error
	reply string
	rerr  error
	// subscribed is set while the connection subscribes: as in Redis, the
	// idle timeout spares subscribers, which only listen.
	subscribed atomic.Bool
	lastRead   atomic.Int64 // when bytes last arrived, Unix nanoseconds

	// qmu guards the buffer, which the cron resizes: buf[off:] are the
	// bytes read and not handed on, buf[off:ready] whole commands, ends
	// the offset past each of those; peak is the most bytes it held since
	// the cron last looked; reading is set while a blocking Read holds
	// buf's free space.
	qmu     sync.Mutex
	buf     []byte
	off     int
	ready   int
	ends    []int
	peak    int
	reading bool
}

func (g *guardConn) Read(p []byte) (int, error) {
	for {
		g.qmu.Lock()
		n := g.handOn(p)
		g.qmu.Unlock()
		switch {
		case n > 0:
			return n, nil
		case g.err != nil:
			return 0, g.refuse()
		case g.rerr != nil:
			err := g.rerr
			g.rerr = nil
			return 0, err
		}
		lim := g.limits.Load()
		switch {
		case lim.IdleTimeout > 0 && g.subscribed.Load():
			g.Conn.SetReadDeadline(time.Time{})
		case lim.IdleTimeout > 0:
			g.Conn.SetReadDeadline(time.Now().Add(lim.IdleTimeout))
		}
		if err := g.fill(); err != nil {
			g.rerr = err
		}
	}
}

// handOn copies to p the whole commands it can hold (a part of the first
// if it alone is larger) and returns how many bytes.
func (g *guardConn) handOn(p []byte) int {
	if g.ready <= g.off {
		return 0
	}
	end := g.ready
	if end-g.off > len(p) {
		end = g.off + len(p)
		for i := len(g.ends) - 1; i >= 0; i-- {
			if g.ends[i] <= end {
				end = g.ends[i]
				break
			}
		}
	}
	n := copy(p, g.buf[g.off:end])
	g.off += n
	i := 0
	for i < len(g.ends) && g.ends[i] <= g.off {
		i++
	}
	g.ends = append(g.ends[:0], g.ends[i:]...)
	if g.off == len(g.buf) {
		g.buf, g.off, g.ready = g.buf[:0], 0, 0
	}
	return n
}

// fill reads what the client sent into the buffer and scans it.
func (g *guardConn) fill() error {
	if g.raw == nil {
		g.qmu.Lock()
		room := g.room()
		g.reading = true
		g.qmu.Unlock()
		n, err := g.Conn.Read(room)
		g.qmu.Lock()
		g.reading = false
		g.took(n)
		g.qmu.Unlock()
		return err
	}
	var rerr error
	err := g.raw.Read(func(fd uintptr) bool {
		g.qmu.Lock()
		defer g.qmu.Unlock()
		room := g.room()
		n, err := syscall.Read(int(fd), room)
		for err == syscall.EINTR {
			n, err = syscall.Read(int(fd), room)
		}
		switch {
		case err == syscall.EAGAIN:
			return false // wait until the socket is readable
		case err != nil:
			rerr = err
		case n == 0:
			rerr = io.EOF
		default:
			g.took(n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return rerr
}

// room makes room for a read at the end of the buffer, as Redis's
// readQueryFromClient does, and returns it.
func (g *guardConn) room() []byte {
	need, exact := ioBufLen, cap(g.buf) < ioBufLen
	if left := g.scan.bigBulkLeft(); left > 0 {
		need, exact = int(left), true
	}
	if free := cap(g.buf) - len(g.buf); free < need {
		size := len(g.buf) - g.off + need
		if !exact {
			if size < 1<<20 {
				size *= 2
			} else {
				size += 1 << 20
			}
		}
		g.resize(size)
	}
	return g.buf[len(g.buf):cap(g.buf)]
}

// resize moves the bytes not handed on into a buffer of size bytes (none
// when size is 0).
func (g *guardConn) resize(size int) {
	var next []byte
	if size > 0 {
		next = make([]byte, len(g.buf)-g.off, size)
		copy(next, g.buf[g.off:])
	}
	for i := range g.ends {
		g.ends[i] -= g.off
	}
	g.buf, g.ready, g.off = next, g.ready-g.off, 0
}

// took scans the n bytes just read at the end of the buffer: the whole
// commands among them become ready to hand on, empty multibulks are
// dropped, and a broken limit sets err.
func (g *guardConn) took(n int) {
	if n <= 0 {
		return
	}
	g.lastRead.Store(time.Now().UnixNano())
	at := len(g.buf)
	ok, reply := g.scan.feed(g.buf[at:at+n], g.limits.Load())
	// The scan's offsets are from at; an empty multibulk that began in an
	// earlier read began where the last whole command ended.
	for i := range g.scan.ends {
		g.scan.ends[i] += at
	}
	if g.scan.end >= 0 {
		g.scan.end += at
	}
	for i, span := range g.scan.empty {
		if span[0] < 0 {
			g.scan.empty[i][0] = g.ready - at
		}
		g.scan.empty[i][0] += at
		g.scan.empty[i][1] += at
	}
	g.buf = g.buf[:at+n]
	if len(g.scan.empty) > 0 {
		g.skipEmpty()
	}
	g.ends = append(g.ends, g.scan.ends...)
	if g.scan.end >= 0 {
		g.ready = g.scan.end
	}
	if !ok {
		// The commands before the bad one are handed on and answered
		// first; then Read answers the error.
		g.err, g.reply = errClosedByLimit, reply
	}
	g.peak = max(g.peak, len(g.buf)-g.off)
}

// skipEmpty removes the empty multibulks the scan found from the buffer;
// the ends it found move with the bytes.
func (g *guardConn) skipEmpty() {
	spans := g.scan.empty
	kept, from := spans[0][0], spans[0][0]
	for _, span := range spans {
		kept += copy(g.buf[kept:], g.buf[from:span[0]])
		from = span[1]
	}
	kept += copy(g.buf[kept:], g.buf[from:])
	g.buf = g.buf[:kept]
	shift := func(e int) int {
		to := e
		for _, span := range spans {
			if span[1] <= e {
				to -= span[1] - span[0]
			}
		}
		return to
	}
	for i, e := range g.scan.ends {
		g.scan.ends[i] = shift(e)
	}
	if g.scan.end >= 0 {
		g.scan.end = shift(g.scan.end)
	}
}

// watchHangup reads the connection while its handler waits in a blocking
// command, when nothing else reads it: gone closes if the client hangs
// up, so the wait ends as Redis unblocks a client it frees. What the
// client sends meanwhile stays in the buffer for Read; past one read's
// worth (16 KB) it is left to TCP, which makes the client wait, so a
// blocked client cannot make the node hold more. stop ends the watch and
// must be called before the handler returns.
func (g *guardConn) watchHangup() (gone <-chan struct{}, stop func()) {
	hangup, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for g.err == nil && g.held() < ioBufLen {
			err := g.fill()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if err != nil {
				g.rerr = err
				close(hangup)
				return
			}
		}
	}()
	return hangup, func() {
		g.Conn.SetReadDeadline(time.Now())
		<-done
		g.Conn.SetReadDeadline(time.Time{})
	}
}

// held is how many bytes the buffer holds.
func (g *guardConn) held() int {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	return len(g.buf) - g.off
}

// queryBuffer is CLIENT LIST's qbuf and qbuf-free: the bytes held and the
// room left.
func (g *guardConn) queryBuffer() (used, free int) {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	used = len(g.buf) - g.off
	return used, cap(g.buf) - used
}

// resizeQueryBuffer is Redis's clientsCronResizeQueryBuffer: a buffer
// wasting over 4 KB is released (or cut to what it holds) when the client
// has been idle over 2 seconds, and otherwise cut to the recent peak when
// it is over 32 KB and twice that peak; the peak then starts again.
func (g *guardConn) resizeQueryBuffer(now time.Time) {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	if g.reading {
		return
	}
	used := len(g.buf) - g.off
	inBulk := int(g.scan.bigBulkLeft())
	if cap(g.buf)-used > 4<<10 {
		switch {
		case now.Sub(time.Unix(0, g.lastRead.Load())) > idleRelease:
			g.resize(used)
		case cap(g.buf) > resizeThreshold && cap(g.buf)/2 > g.peak:
			g.resize(max(used, g.peak, used+inBulk))
		}
	}
	g.peak = used + inBulk
}

// clientsCron resizes every connection's query buffer ten times a second
// (Redis's hz 10), until Close.
func (s *Server) clientsCron() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var guards []*guardConn
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			guards = guards[:0]
			s.clientsMu.Lock()
			for _, c := range s.clients {
				if c.guard != nil {
					guards = append(guards, c.guard)
				}
			}
			s.clientsMu.Unlock()
			for _, g := range guards {
				g.resizeQueryBuffer(now)
			}
		}
	}
}
