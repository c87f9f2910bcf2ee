package transport

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/internal/testcert"
)

func withSecret(s string) func(*Config) { return func(c *Config) { c.Secret = []byte(s) } }

func heartbeat(from, to consensus.NodeID) []consensus.Message {
	return []consensus.Message{{Group: testGroup, Type: consensus.MsgHeartbeat, From: from, To: to, Term: 1}}
}

func TestSecretMismatchRefused(t *testing.T) {
	a := newTestTransport(t, 1, 7, withSecret("one"))
	b := newTestTransport(t, 2, 7, withSecret("two"))
	in := register(b)
	a.SetPeer(2, b.Addr().String())
	a.Send(heartbeat(1, 2))
	waitFor(t, "refusal on both sides", func() bool {
		return a.Stats().HandshakeFailures > 0 && b.Stats().HandshakeFailures > 0
	})
	if s := a.Stats(); s.Connects != 0 || s.Sent != 0 || in.len() != 0 {
		t.Fatalf("connection with the wrong secret carried messages: stats %+v, delivered %d", s, in.len())
	}
}

// TestStrangerHasNoEffect has a stranger, which knows the cluster id but
// not the secret, claim to be node 1 while node 1 is connected: it must be
// disconnected before any frame is read, and node 1's connection must
// carry on untouched (adopting the stranger would have closed it).
func TestStrangerHasNoEffect(t *testing.T) {
	a := newTestTransport(t, 1, 7, withSecret("shared"))
	b := newTestTransport(t, 2, 7, withSecret("shared"))
	in := register(b)
	a.SetPeer(2, b.Addr().String())
	a.Send(heartbeat(1, 2))
	waitFor(t, "first delivery", func() bool { return in.len() == 1 })

	// Without the secret a stranger can try the cluster id, which is the
	// key of clusters that have no secret, or guess.
	for _, secret := range [][]byte{authKey(&Config{ClusterID: 7}), []byte("guess")} {
		c, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		// The stranger runs the dialer's side, ignoring that the
		// receiver's proof does not check, and sends its best guess of a
		// proof and then a frame, which must never be read.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		mine := newHello(baseVersion, baseVersion, 7, 1, 2).marshal()
		if _, err := c.Write(mine); err != nil {
			t.Fatal(err)
		}
		theirs, err := readHello(c, 7, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, macSize)); err != nil {
			t.Fatal(err)
		}
		guess := proof(secret, labelDial, mine, theirs.marshal())
		frame, err := appendFrame(guess, &heartbeat(1, 2)[0], DefaultMaxFrameSize, codecV2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
		c.Close()
	}
	waitFor(t, "refusals counted", func() bool { return b.Stats().HandshakeFailures == 2 })
	a.Send(heartbeat(1, 2))
	waitFor(t, "second delivery", func() bool { return in.len() == 2 })
	if s := a.Stats(); s.Connects != 1 {
		t.Fatalf("node 1 reconnected (Connects = %d): the stranger disturbed its connection", s.Connects)
	}
	if s := b.Stats(); s.Delivered != 2 || s.InboundErrors != 0 {
		t.Fatalf("receiver stats %+v, want 2 delivered and no inbound errors", s)
	}
}

// TestSilentConnectionTimesOut: a connection that never completes its
// handshake is closed at the handshake timeout.
func TestSilentConnectionTimesOut(t *testing.T) {
	tr := newTestTransport(t, 2, 7, func(c *Config) { c.HandshakeTimeout = 100 * time.Millisecond })
	c, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A valid hello gets the receiver's hello and proof; then silence.
	if _, err := c.Write(newHello(baseVersion, baseVersion, 7, 5, 2).marshal()); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, helloSize+macSize)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
	waitFor(t, "failure counted", func() bool { return tr.Stats().HandshakeFailures == 1 })
}

// TestHandshakesPerHostBounded opens as many silent connections as one
// host may have in their handshake: the next is closed at once, and once
// they are gone a real peer connects.
func TestHandshakesPerHostBounded(t *testing.T) {
	b := newTestTransport(t, 2, 7, func(c *Config) { c.HandshakeTimeout = time.Minute })
	in := register(b)
	var silent []net.Conn
	for range maxHandshakesPerHost {
		c, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	extra, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	expectClosed(t, extra)
	if got := b.Stats().RefusedOverload; got != 1 {
		t.Fatalf("RefusedOverload = %d, want 1", got)
	}
	for _, c := range silent {
		c.Close()
	}
	a := newTestTransport(t, 1, 7)
	a.SetPeer(2, b.Addr().String())
	a.Send(heartbeat(1, 2))
	waitFor(t, "delivery after the silent connections closed", func() bool {
		if in.len() == 0 {
			a.Send(heartbeat(1, 2))
		}
		return in.len() > 0
	})
}

// tlsConfig returns MutualTLS with a certificate of ca.
func tlsConfig(t *testing.T, ca *testcert.CA, trusted *testcert.CA) *tls.Config {
	t.Helper()
	leaf, err := ca.Issue("node")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := leaf.TLS()
	if err != nil {
		t.Fatal(err)
	}
	return MutualTLS([]tls.Certificate{cert}, trusted.Pool())
}

func newCA(t *testing.T, name string) *testcert.CA {
	t.Helper()
	ca, err := testcert.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, "cluster")
	withTLS := func(c *Config) { c.TLS = tlsConfig(t, ca, ca) }
	a := newTestTransport(t, 1, 7, withTLS, withSecret("shared"))
	b := newTestTransport(t, 2, 7, withTLS, withSecret("shared"))
	inA, inB := register(a), register(b)
	a.SetPeer(2, b.Addr().String())
	b.SetPeer(1, a.Addr().String())
	a.Send(heartbeat(1, 2))
	b.Send(heartbeat(2, 1))
	waitFor(t, "delivery both ways", func() bool { return inA.len() == 1 && inB.len() == 1 })
}

// TestTLSUntrustedRefused: a node whose certificate another CA signed, or
// that speaks plain TCP, gets no connection either way.
func TestTLSUntrustedRefused(t *testing.T) {
	ca, rogue := newCA(t, "cluster"), newCA(t, "rogue")
	b := newTestTransport(t, 2, 7, func(c *Config) { c.TLS = tlsConfig(t, ca, ca) })
	in := register(b)
	tests := []struct {
		name string
		opt  func(*Config)
	}{
		{"rogue certificate", func(c *Config) { c.TLS = tlsConfig(t, rogue, ca) }},
		{"rogue certificate trusting rogue", func(c *Config) { c.TLS = tlsConfig(t, rogue, rogue) }},
		{"plain tcp", func(*Config) {}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestTransport(t, consensus.NodeID(10+i), 7, tt.opt)
			a.SetPeer(2, b.Addr().String())
			a.Send(heartbeat(a.cfg.NodeID, 2))
			waitFor(t, "refusal", func() bool {
				return a.Stats().HandshakeFailures > 0 && b.Stats().HandshakeFailures > uint64(i)
			})
			if s := a.Stats(); s.Connects != 0 || in.len() != 0 {
				t.Fatalf("untrusted node connected: stats %+v, delivered %d", s, in.len())
			}
		})
	}
	// The trusted node b refuses to dial into a rogue listener as well.
	r := newTestTransport(t, 3, 7, func(c *Config) { c.TLS = tlsConfig(t, rogue, rogue) })
	b.SetPeer(3, r.Addr().String())
	b.Send(heartbeat(2, 3))
	waitFor(t, "refusal of the rogue listener", func() bool { return r.Stats().HandshakeFailures > 0 })
	if s := b.Stats(); s.Connects != 0 {
		t.Fatalf("b connected to a rogue listener: %+v", s)
	}
}

// FuzzAcceptHandshake feeds arbitrary bytes to the receiver's side of the
// handshake, as a stranger's connection would: it must never panic, and
// without the key no input may pass.
func FuzzAcceptHandshake(f *testing.F) {
	cfg := &Config{ClusterID: 7, NodeID: 2, Secret: []byte("shared")}
	good := newHello(baseVersion, baseVersion, 7, 5, 2).marshal()
	f.Add(good)
	f.Add(append(good, make([]byte, macSize)...))
	f.Add(newHello(3, 5, 7, 5, 2).marshal())
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), io.Discard}
		if id, _, err := acceptHandshake(rw, cfg, fakeVersions(2, 4)); err == nil {
			t.Fatalf("input %x passed the handshake as node %d", in, id)
		}
	})
}
