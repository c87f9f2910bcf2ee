package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rkv/rkv/consensus"
)

// Defaults and timings.
const (
	// DefaultMaxFrameSize bounds one encoded message unless Config says
	// otherwise. It must exceed the largest snapshot chunk the core sends.
	DefaultMaxFrameSize = 64 << 20
	// DefaultQueueSize is the per-peer outbound queue, in messages.
	DefaultQueueSize = 4096

	minBackoff  = 50 * time.Millisecond
	maxBackoff  = 2 * time.Second
	dialTimeout = 2 * time.Second
	// DefaultHandshakeTimeout bounds the TLS and rkv handshakes of a
	// connection unless Config says otherwise.
	DefaultHandshakeTimeout = 5 * time.Second
	// maxHandshakes and maxHandshakesPerHost bound the inbound connections
	// not yet authenticated, in all and from one remote host, so that
	// strangers opening connections can neither pile up goroutines nor,
	// from one host, crowd out the peers: more are closed at once. A real
	// peer needs one at a time.
	maxHandshakes        = 256
	maxHandshakesPerHost = 16
	// writeTimeout turns a peer that stopped reading into a broken
	// connection instead of a writer stuck forever.
	writeTimeout = 10 * time.Second
	// maxBatchBytes stops draining the queue into one write, so a large
	// backlog goes out in several writes rather than one huge buffer.
	maxBatchBytes = 1 << 20
	// maxKeptBuffer is the largest write buffer a writer keeps between
	// batches; a bigger one (a snapshot chunk) is released.
	maxKeptBuffer  = 4 << 20
	readBufferSize = 64 << 10
)

// ErrClosed is returned by Close when the transport is already closed.
var ErrClosed = errors.New("transport: closed")

// ErrConfig means a Config field is invalid.
var ErrConfig = errors.New("transport: invalid config")

// Config configures a Transport.
type Config struct {
	// ClusterID must match on both ends of a connection; peers from
	// another cluster are refused at handshake.
	ClusterID uint64
	// NodeID is this node's id; it must not be consensus.None.
	NodeID consensus.NodeID
	// ListenAddr is the TCP address to accept peers on, e.g.
	// "127.0.0.1:16379". Port 0 picks a free port (see Transport.Addr).
	ListenAddr string
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
	// MaxFrameSize bounds one encoded message in bytes, in and out.
	// Zero means DefaultMaxFrameSize.
	MaxFrameSize int
	// QueueSize is each peer's outbound queue in messages; Send drops
	// messages for a peer whose queue is full. Zero means DefaultQueueSize.
	QueueSize int
	// HandshakeTimeout bounds a connection's handshakes; a peer that has
	// not proved who it is by then is disconnected. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Secret is the key of the handshake's HMAC challenge: a peer that
	// cannot prove it knows it is disconnected before any message. Empty
	// means the cluster id is the key, which only keeps apart clusters
	// that do not try to meet.
	Secret []byte
	// TLS, if set, wraps every connection in TLS with this config, as a
	// server for inbound and a client for outbound connections (see
	// MutualTLS); the handshake then runs inside TLS.
	TLS *tls.Config

	// versions, when set, replaces the wire versions this build speaks:
	// tests give a transport versions that no release has yet.
	versions versions
}

// Stats counts what a Transport did since New. Drops are normal under
// failures: Raft retransmits what matters.
type Stats struct {
	Sent              uint64 // messages written to a peer connection
	Delivered         uint64 // inbound messages handed to a group
	DroppedQueueFull  uint64 // Send found the peer's queue full
	DroppedNoPeer     uint64 // Send had no peer for m.To, or was closed
	DroppedTooLarge   uint64 // encoded message exceeded MaxFrameSize
	DroppedNoGroup    uint64 // inbound message for an unregistered group
	Connects          uint64 // outbound connections that passed handshake
	HandshakeFailures uint64 // connections refused by either side
	RefusedOverload   uint64 // inbound connections closed: too many handshakes at once
	InboundErrors     uint64 // inbound connections closed on a bad frame
}

// Transport carries consensus messages between nodes over TCP. It keeps
// one outbound connection per peer, written by one goroutine draining a
// bounded queue, and reads every inbound connection in its own goroutine.
// All methods are safe for concurrent use.
type Transport struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex
	closed  bool
	peers   map[consensus.NodeID]*peer
	groups  map[consensus.GroupID]func(consensus.Message)
	inbound map[net.Conn]consensus.NodeID // None until the handshake passes
	// handshakes counts the inbound connections in their handshake, in
	// all and per remote host.
	handshakes     int
	hostHandshakes map[string]int

	sent, delivered, dropFull, dropNoPeer, dropTooLarge, dropNoGroup atomic.Uint64
	connects, handshakeFailures, inboundErrors, refusedOverload      atomic.Uint64
}

var _ consensus.Transport = (*Transport)(nil)

// New validates cfg, starts listening on cfg.ListenAddr and accepting
// peers. Call Close to stop.
func New(cfg Config) (*Transport, error) {
	if cfg.NodeID == consensus.None {
		return nil, fmt.Errorf("%w: node id is zero", ErrConfig)
	}
	if cfg.MaxFrameSize == 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
	}
	if cfg.MaxFrameSize < 0 || cfg.MaxFrameSize > math.MaxUint32 {
		return nil, fmt.Errorf("%w: max frame size %d", ErrConfig, cfg.MaxFrameSize)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.HandshakeTimeout < 0 {
		return nil, fmt.Errorf("%w: handshake timeout %v", ErrConfig, cfg.HandshakeTimeout)
	}
	if cfg.QueueSize < 0 {
		return nil, fmt.Errorf("%w: queue size %d", ErrConfig, cfg.QueueSize)
	}
	if cfg.versions.codecs == nil {
		cfg.versions = spoken
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", uint64(cfg.NodeID), "component", "transport")
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:            cfg,
		log:            log,
		ln:             ln,
		ctx:            ctx,
		cancel:         cancel,
		peers:          make(map[consensus.NodeID]*peer),
		groups:         make(map[consensus.GroupID]func(consensus.Message)),
		inbound:        make(map[net.Conn]consensus.NodeID),
		hostHandshakes: make(map[string]int),
	}
	t.wg.Add(1)
	go t.acceptLoop()
	log.Info("transport listening", "addr", ln.Addr().String())
	return t, nil
}

// Addr returns the address the transport listens on, with the actual port
// when ListenAddr asked for port 0.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Stats returns a snapshot of the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Sent:              t.sent.Load(),
		Delivered:         t.delivered.Load(),
		DroppedQueueFull:  t.dropFull.Load(),
		DroppedNoPeer:     t.dropNoPeer.Load(),
		DroppedTooLarge:   t.dropTooLarge.Load(),
		DroppedNoGroup:    t.dropNoGroup.Load(),
		Connects:          t.connects.Load(),
		HandshakeFailures: t.handshakeFailures.Load(),
		RefusedOverload:   t.refusedOverload.Load(),
		InboundErrors:     t.inboundErrors.Load(),
	}
}

// SetPeer adds peer id at addr, or moves it to a new address. A move
// drops the messages queued for the old address and reconnects.
func (t *Transport) SetPeer(id consensus.NodeID, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || id == consensus.None {
		return
	}
	if old, ok := t.peers[id]; ok {
		if old.addr == addr {
			return
		}
		old.cancel()
	}
	p := newPeer(t, id, addr)
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
}

// RemovePeer forgets peer id, closing its connection and dropping its
// queue. Inbound connections from it stay open until it closes them.
func (t *Transport) RemovePeer(id consensus.NodeID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.peers[id]; ok {
		p.cancel()
		delete(t.peers, id)
	}
}

// Register routes inbound messages of group g to deliver, replacing any
// earlier registration; a nil deliver unregisters g. deliver runs on the
// connection's reader goroutine, so it must be cheap and must not block
// (hand the message to a channel with a select/default, for instance).
func (t *Transport) Register(g consensus.GroupID, deliver func(consensus.Message)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if deliver == nil {
		delete(t.groups, g)
		return
	}
	t.groups[g] = deliver
}

// Send queues each message for the peer named by its To field. It never
// blocks: a message for an unknown peer, or a peer whose queue is full,
// is dropped and counted in Stats. The messages must not be modified
// after Send, since they are encoded later by the peer's writer.
func (t *Transport) Send(msgs []consensus.Message) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := range msgs {
		p, ok := t.peers[msgs[i].To]
		if !ok || t.closed {
			t.dropNoPeer.Add(1)
			continue
		}
		select {
		case p.queue <- msgs[i]:
		default:
			if t.dropFull.Add(1)&1023 == 1 {
				// Rate limited: a down peer fills its queue at the
				// heartbeat rate and would flood the log.
				t.log.Warn("peer queue full, dropping messages", "peer", uint64(p.id), "dropped_total", t.dropFull.Load())
			}
		}
	}
}

// Close stops accepting, closes every connection, and waits for all
// goroutines of the transport to exit. Later calls return ErrClosed.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	t.cancel()
	err := t.ln.Close()
	for c := range t.inbound {
		c.Close()
	}
	clear(t.peers)
	t.mu.Unlock()
	t.wg.Wait()
	t.log.Info("transport closed")
	return err
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			// Out of descriptors and the like: wait rather than spin.
			t.log.Warn("accept failed", "err", err)
			select {
			case <-time.After(minBackoff):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		host := remoteHost(c)
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		if t.handshakes >= maxHandshakes || t.hostHandshakes[host] >= maxHandshakesPerHost {
			t.mu.Unlock()
			if t.refusedOverload.Add(1)&1023 == 1 {
				t.log.Warn("too many bus handshakes at once, closing new connections", "remote", c.RemoteAddr().String(), "refused_total", t.refusedOverload.Load())
			}
			c.Close()
			continue
		}
		t.handshakes++
		t.hostHandshakes[host]++
		t.inbound[c] = consensus.None
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveInbound(c)
	}
}

// serveInbound handshakes with a dialing peer and then only reads from
// it, delivering each message to its group. Until the peer has proved
// who it is, the connection has no effect on the node: it is not adopted,
// and nothing of it reaches a group.
func (t *Transport) serveInbound(raw net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.inbound, raw)
		t.mu.Unlock()
		raw.Close()
	}()
	remote := raw.RemoteAddr().String()
	peerID, c, version, err := t.acceptPeer(raw)
	t.mu.Lock()
	t.handshakes--
	host := remoteHost(raw)
	if t.hostHandshakes[host]--; t.hostHandshakes[host] == 0 {
		delete(t.hostHandshakes, host)
	}
	t.mu.Unlock()
	if err != nil {
		if t.ctx.Err() == nil {
			t.handshakeFailures.Add(1)
			t.log.Warn("refused inbound connection", "remote", remote, "err", err)
		}
		return
	}
	t.adoptInbound(raw, peerID)
	t.log.Debug("inbound connection from peer", "peer", uint64(peerID), "remote", remote, "version", version)

	r := bufio.NewReaderSize(c, readBufferSize)
	var hdr [frameHeaderSize]byte
	dec := t.cfg.versions.codec(version)
	for {
		m, err := readFrame(r, &hdr, t.cfg.MaxFrameSize, dec)
		if err == nil && (m.From != peerID || m.To != t.cfg.NodeID) {
			err = fmt.Errorf("%w: message %d->%d on connection from %d to %d",
				ErrWrongNode, m.From, m.To, peerID, t.cfg.NodeID)
		}
		if err != nil {
			switch {
			case t.ctx.Err() != nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
				t.log.Debug("inbound connection closed", "peer", uint64(peerID), "err", err)
			default:
				t.inboundErrors.Add(1)
				t.log.Warn("closing inbound connection", "peer", uint64(peerID), "remote", remote, "err", err)
			}
			return
		}
		t.mu.RLock()
		deliver := t.groups[m.Group]
		t.mu.RUnlock()
		if deliver == nil {
			t.dropNoGroup.Add(1)
			continue
		}
		t.delivered.Add(1)
		deliver(m)
	}
}

// acceptPeer runs TLS, if configured, and the handshake on raw within
// handshakeTimeout, and returns the authenticated peer, the connection to
// read its frames from and the wire version they are in.
func (t *Transport) acceptPeer(raw net.Conn) (consensus.NodeID, net.Conn, uint8, error) {
	raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	c := raw
	if t.cfg.TLS != nil {
		tc := tls.Server(raw, t.cfg.TLS)
		if err := tc.HandshakeContext(t.ctx); err != nil {
			return consensus.None, nil, 0, fmt.Errorf("%w: tls: %w", ErrAuth, err)
		}
		c = tc
	}
	id, version, err := acceptHandshake(c, &t.cfg, t.cfg.versions)
	if err != nil {
		return consensus.None, nil, 0, err
	}
	raw.SetDeadline(time.Time{})
	return id, c, version, nil
}

// remoteHost is the host part of c's remote address.
func remoteHost(c net.Conn) string {
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// adoptInbound records c as the connection from peer and closes any older
// one from it: a peer that reconnects has given up on the old connection,
// which may be half-open.
func (t *Transport) adoptInbound(c net.Conn, peer consensus.NodeID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for old, id := range t.inbound {
		if id == peer && old != c {
			old.Close()
		}
	}
	t.inbound[c] = peer
	// A peer that reaches us is up: dial it back now rather than at the end
	// of a backoff that may run for seconds (a restarted node would wait
	// that long for the leader's messages).
	if p, ok := t.peers[peer]; ok {
		select {
		case p.redial <- struct{}{}:
		default:
		}
	}
}
