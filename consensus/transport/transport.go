package transport

import (
	"bufio"
	"context"
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

	minBackoff       = 50 * time.Millisecond
	maxBackoff       = 2 * time.Second
	dialTimeout      = 2 * time.Second
	handshakeTimeout = 5 * time.Second
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

	sent, delivered, dropFull, dropNoPeer, dropTooLarge, dropNoGroup atomic.Uint64
	connects, handshakeFailures, inboundErrors                       atomic.Uint64
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
	if cfg.QueueSize < 0 {
		return nil, fmt.Errorf("%w: queue size %d", ErrConfig, cfg.QueueSize)
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
		cfg:     cfg,
		log:     log,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		peers:   make(map[consensus.NodeID]*peer),
		groups:  make(map[consensus.GroupID]func(consensus.Message)),
		inbound: make(map[net.Conn]consensus.NodeID),
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
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.inbound[c] = consensus.None
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveInbound(c)
	}
}

// serveInbound handshakes with a dialing peer and then only reads from
// it, delivering each message to its group.
func (t *Transport) serveInbound(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.inbound, c)
		t.mu.Unlock()
		c.Close()
	}()
	remote := c.RemoteAddr().String()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	h, err := readHello(c, t.cfg.ClusterID, t.cfg.NodeID, consensus.None)
	if err == nil {
		_, err = c.Write(hello{cluster: t.cfg.ClusterID, from: t.cfg.NodeID, to: h.from}.marshal())
	}
	if err != nil {
		if t.ctx.Err() == nil {
			t.handshakeFailures.Add(1)
			t.log.Warn("refused inbound connection", "remote", remote, "err", err)
		}
		return
	}
	c.SetDeadline(time.Time{})
	peerID := h.from
	t.adoptInbound(c, peerID)
	t.log.Debug("inbound connection from peer", "peer", uint64(peerID), "remote", remote)

	r := bufio.NewReaderSize(c, readBufferSize)
	var hdr [frameHeaderSize]byte
	for {
		m, err := readFrame(r, &hdr, t.cfg.MaxFrameSize)
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
