package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/rkv/rkv/consensus"
)

// peer is the outbound side of one remote node: a queue that Send fills
// without blocking and a writer goroutine (run) that owns the connection.
type peer struct {
	t     *Transport
	id    consensus.NodeID
	addr  string
	queue chan consensus.Message
	// redial cuts a backoff short: the peer just connected to us, so it is
	// up again.
	redial chan struct{}
	ctx    context.Context // canceled by RemovePeer, SetPeer (move) and Close
	cancel context.CancelFunc
}

func newPeer(t *Transport, id consensus.NodeID, addr string) *peer {
	ctx, cancel := context.WithCancel(t.ctx)
	return &peer{
		t:      t,
		id:     id,
		addr:   addr,
		queue:  make(chan consensus.Message, t.cfg.QueueSize),
		redial: make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
	}
}

// run connects, streams the queue, and reconnects with exponential
// backoff whenever dialing fails or the connection breaks, until the peer
// is canceled. Messages stay queued while the peer is down; Send drops
// new ones once the queue is full.
func (p *peer) run() {
	defer p.t.wg.Done()
	log := p.t.log.With("peer", uint64(p.id), "addr", p.addr)
	backoff := minBackoff
	var buf []byte
	failures := 0
	for {
		conn, version, err := p.dial()
		if err == nil {
			if failures > 0 {
				log.Info("connected to peer", "after_failures", failures, "version", version)
			} else {
				log.Debug("connected to peer", "version", version)
			}
			p.t.connects.Add(1)
			failures, backoff = 0, minBackoff
			buf, err = p.stream(conn, p.t.cfg.versions.codec(version), buf)
			conn.Close()
		}
		if p.ctx.Err() != nil {
			return
		}
		// Warn once per outage; the retries that follow are noise.
		if failures == 0 {
			log.Warn("peer connection failed, retrying", "err", err)
		} else {
			log.Debug("peer connection failed, retrying", "err", err, "failures", failures)
		}
		failures++
		// Jitter keeps nodes that lost a peer together from redialing in
		// lockstep.
		wait := backoff - time.Duration(rand.Int64N(int64(backoff/4)))
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-time.After(wait):
		case <-p.redial:
			backoff = minBackoff
		case <-p.ctx.Done():
			return
		}
	}
}

// dial connects to the peer, runs TLS if configured, and exchanges
// hellos and proofs. It returns the connection and the wire version the
// peer chose.
func (p *peer) dial() (net.Conn, uint8, error) {
	d := net.Dialer{Timeout: dialTimeout}
	raw, err := d.DialContext(p.ctx, "tcp", p.addr)
	if err != nil {
		return nil, 0, err
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		// Raft messages are latency-bound and already batched per write.
		tc.SetNoDelay(true)
	}
	// Close the connection if the peer is canceled mid-handshake, so
	// Close never waits for the handshake timeout.
	stop := context.AfterFunc(p.ctx, func() { raw.Close() })
	defer stop()
	cfg := &p.t.cfg
	raw.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	conn := raw
	if cfg.TLS != nil {
		tc := tls.Client(raw, cfg.TLS)
		if err = tc.HandshakeContext(p.ctx); err != nil {
			err = fmt.Errorf("%w: tls: %w", ErrAuth, err)
		}
		conn = tc
	}
	var version uint8
	if err == nil {
		version, err = dialHandshake(conn, cfg, p.id, cfg.versions)
	}
	if err != nil {
		raw.Close()
		if p.ctx.Err() == nil {
			p.t.handshakeFailures.Add(1)
		}
		return nil, 0, err
	}
	raw.SetDeadline(time.Time{})
	return conn, version, nil
}

// stream writes queued messages to conn, encoded by enc, until the
// connection breaks or the peer is canceled. Every message waiting when
// the writer wakes goes out in a single Write. buf is the reused write
// buffer, returned for the next connection.
func (p *peer) stream(conn net.Conn, enc codec, buf []byte) ([]byte, error) {
	// The receiver never writes after the handshake, so a read returns
	// only when the connection dies: that tells an idle writer to
	// reconnect now rather than lose its next batch to a dead socket.
	dead := make(chan error, 1)
	p.t.wg.Add(1)
	go func() {
		defer p.t.wg.Done()
		var b [1]byte
		_, err := conn.Read(b[:])
		if err == nil {
			err = fmt.Errorf("%w: peer wrote after the handshake", ErrHandshake)
		}
		dead <- err
	}()
	// Unblocks a Write stuck on a peer that stopped reading.
	stop := context.AfterFunc(p.ctx, func() { conn.Close() })
	defer stop()
	maxFrame := p.t.cfg.MaxFrameSize
	for {
		var m consensus.Message
		select {
		case <-p.ctx.Done():
			return buf, p.ctx.Err()
		case err := <-dead:
			return buf, err
		case m = <-p.queue:
		}
		var n int
		buf, n = p.appendMsg(buf[:0], &m, maxFrame, enc)
	drain:
		for len(buf) < maxBatchBytes {
			select {
			case m = <-p.queue:
				var k int
				buf, k = p.appendMsg(buf, &m, maxFrame, enc)
				n += k
			default:
				break drain
			}
		}
		if len(buf) == 0 {
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(buf); err != nil {
			return buf, err
		}
		p.t.sent.Add(uint64(n))
		if cap(buf) > maxKeptBuffer {
			buf = nil
		}
	}
}

// appendMsg appends m's frame to buf and reports how many messages it
// added: zero when m is too large to send, which is counted and logged.
func (p *peer) appendMsg(buf []byte, m *consensus.Message, maxFrame int, enc codec) ([]byte, int) {
	buf, err := appendFrame(buf, m, maxFrame, enc)
	if err != nil {
		p.t.dropTooLarge.Add(1)
		p.t.log.Error("dropping message", "peer", uint64(p.id), "msg", m.String(), "err", err)
		return buf, 0
	}
	return buf, 1
}
