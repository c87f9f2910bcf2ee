package integration

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The Raft bus seen by the fault proxy (consensus/transport/doc.go), in
// wire version 2, the only one rkv speaks yet: the dialer opens with a
// 45-byte hello (magic "rkvB", version, cluster id, sender id, receiver
// id, nonce), the receiver answers with its own hello and a 32-byte
// proof, the dialer sends its 32-byte proof, and from then on only the
// dialer sends, as frames of
// length uint32 | CRC-32C uint32 | payload, the payload's first byte being
// the message type. A node's messages to a peer therefore all travel on
// the connection it dialed to that peer, so a proxy in front of each
// node's bus can tell every link (sender -> receiver) from the hello and
// act on whole frames.
const (
	busHelloSize        = 45
	busProofSize        = 32
	busFrameHeader      = 8
	busMaxFrame         = 256 << 20
	msgTypeSnap    byte = 11 // consensus.MsgSnap
)

// link is one direction between two nodes: the messages from sends to to.
type link struct{ from, to int }

// linkFault is what the proxy does to a link's frames. The zero value
// forwards every frame at once.
type linkFault struct {
	// blocked discards every frame, while keeping the TCP connection up:
	// a silent partition, as a dropped route or a dead switch gives. Frames
	// are dropped whole, so the stream stays well-framed when the link
	// heals and no reconnection (with its back-off) is needed.
	blocked bool
	// delay (plus up to jitter) holds every frame before it is forwarded;
	// frames keep their order.
	delay, jitter time.Duration
	// drop is the fraction of frames discarded at random.
	drop float64
}

// faultNet is the set of proxies of one cluster and the faults of its
// links. Every node reaches each peer through the proxy in front of that
// peer's bus; the node itself listens on its real bus address.
type faultNet struct {
	t *testing.T

	mu      sync.Mutex
	faults  map[link]linkFault
	rng     *rand.Rand // frame drops and jitter
	onSnap  func(l link)
	proxies map[int]*busProxy

	forwarded, dropped atomic.Int64
}

func newFaultNet(t *testing.T, seed uint64) *faultNet {
	return &faultNet{
		t: t, faults: map[link]linkFault{}, proxies: map[int]*busProxy{},
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
}

// setFault sets the fault of one direction.
func (fn *faultNet) setFault(from, to int, f linkFault) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if f == (linkFault{}) {
		delete(fn.faults, link{from, to})
	} else {
		fn.faults[link{from, to}] = f
	}
}

// block cuts from -> to.
func (fn *faultNet) block(from, to int) { fn.setFault(from, to, linkFault{blocked: true}) }

// cut blocks both directions between every node of a and every node of b.
func (fn *faultNet) cut(a, b []int) {
	for _, x := range a {
		for _, y := range b {
			fn.block(x, y)
			fn.block(y, x)
		}
	}
}

// partition splits the ids into groups that hear only each other.
func (fn *faultNet) partition(groups ...[]int) {
	for i := range groups {
		for j := i + 1; j < len(groups); j++ {
			fn.cut(groups[i], groups[j])
		}
	}
}

// heal removes every link fault.
func (fn *faultNet) heal() {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.faults = map[link]linkFault{}
	fn.onSnap = nil
}

// setOnSnap installs a hook called (in its own goroutine) after a frame
// carrying a snapshot chunk was forwarded.
func (fn *faultNet) setOnSnap(f func(l link)) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.onSnap = f
}

// decide returns what to do with one frame of l: drop it, or forward it
// after a delay.
func (fn *faultNet) decide(l link) (drop bool, delay time.Duration) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	f := fn.faults[l]
	if f.blocked || (f.drop > 0 && fn.rng.Float64() < f.drop) {
		return true, 0
	}
	delay = f.delay
	if f.jitter > 0 {
		delay += time.Duration(fn.rng.Int64N(int64(f.jitter)))
	}
	return false, delay
}

// busProxy listens in front of one node's real bus address.
type busProxy struct {
	fn       *faultNet
	id       int // the node behind the proxy
	upstream string
	ln       net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// addProxy starts the proxy for node id, whose bus listens on upstream,
// and returns its address. It is closed by the test's cleanup.
func (fn *faultNet) addProxy(id int, upstream string) string {
	fn.t.Helper()
	// Port 0 is fine here, unlike for nodes: the proxy listens for the
	// whole test, so no outgoing connection can take its port meanwhile.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fn.t.Fatal(err)
	}
	p := &busProxy{fn: fn, id: id, upstream: upstream, ln: ln, conns: map[net.Conn]struct{}{}}
	fn.mu.Lock()
	fn.proxies[id] = p
	fn.mu.Unlock()
	fn.t.Cleanup(p.close)
	p.wg.Add(1)
	go p.accept()
	return ln.Addr().String()
}

func (p *busProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *busProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *busProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *busProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.serve(c)
		}()
	}
}

type timedFrame struct {
	b    []byte
	at   time.Time
	snap bool
}

// serve relays one connection: the hello as is, then frame by frame from
// the dialer, each dropped or delayed as the link's fault says, and the
// receiver's bytes (its hello) back raw.
func (p *busProxy) serve(c net.Conn) {
	var hello [busHelloSize]byte
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, hello[:]); err != nil || string(hello[:4]) != "rkvB" {
		return
	}
	c.SetReadDeadline(time.Time{})
	l := link{from: int(binary.BigEndian.Uint64(hello[13:21])), to: p.id}
	up, err := net.DialTimeout("tcp", p.upstream, time.Second)
	if err != nil {
		// The node is down: the dialer sees a closed connection and
		// retries, as it would on a refused dial.
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	if _, err := up.Write(hello[:]); err != nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		io.Copy(c, up)
		c.Close()
		up.Close()
	}()

	q := make(chan timedFrame, 4096)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		broken := false
		for f := range q {
			if broken {
				continue
			}
			if d := time.Until(f.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := up.Write(f.b); err != nil {
				broken = true
				c.Close()
				continue
			}
			p.fn.forwarded.Add(1)
			if f.snap {
				p.fn.mu.Lock()
				hook := p.fn.onSnap
				p.fn.mu.Unlock()
				if hook != nil {
					go hook(l)
				}
			}
		}
	}()
	defer close(q)

	br := bufio.NewReaderSize(c, 64<<10)
	// The dialer's proof goes up as is, before the frames.
	var proof [busProofSize]byte
	if _, err := io.ReadFull(br, proof[:]); err != nil {
		return
	}
	if _, err := up.Write(proof[:]); err != nil {
		return
	}
	for {
		var hdr [busFrameHeader]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n > busMaxFrame {
			return
		}
		b := make([]byte, busFrameHeader+int(n))
		copy(b, hdr[:])
		if _, err := io.ReadFull(br, b[busFrameHeader:]); err != nil {
			return
		}
		drop, delay := p.fn.decide(l)
		if drop {
			p.fn.dropped.Add(1)
			continue
		}
		q <- timedFrame{b: b, at: time.Now().Add(delay), snap: n > 0 && b[busFrameHeader] == msgTypeSnap}
	}
}

// String describes the current faults, for logs.
func (fn *faultNet) String() string {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fmt.Sprintf("%d link faults, %d frames forwarded, %d dropped", len(fn.faults), fn.forwarded.Load(), fn.dropped.Load())
}
