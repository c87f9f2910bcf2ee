package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rkv/rkv/consensus"
)

// fakeCodec stands for a wire version later than this build's: a marker
// byte, then version 2's encoding. Its decoder refuses a frame without the
// marker, and notes in Context that it decoded the message, so a test sees
// which version carried each message.
func fakeCodec(v uint8) codec {
	marker := 0xf0 | v
	return codec{
		encode: func(b []byte, m *consensus.Message) []byte {
			return EncodeMessage(append(b, marker), m)
		},
		decode: func(b []byte) (consensus.Message, error) {
			if len(b) == 0 || b[0] != marker {
				return consensus.Message{}, fmt.Errorf("%w: not a version %d message", ErrCorrupt, v)
			}
			m, err := DecodeMessage(b[1:])
			m.Context = fmt.Appendf(nil, "decoded by v%d", v)
			return m, err
		},
	}
}

// fakeVersions speaks lo..hi: version 2 as this build does, later ones
// with fakeCodec.
func fakeVersions(lo, hi uint8) versions {
	vs := versions{lo: lo}
	for v := lo; v <= hi; v++ {
		c := codecV2
		if v != baseVersion {
			c = fakeCodec(v)
		}
		vs.codecs = append(vs.codecs, c)
	}
	return vs
}

func speaking(vs versions) func(*Config) { return func(c *Config) { c.versions = vs } }

// TestVersionNegotiation connects nodes of different releases, some later
// than this build: each connection must use the highest version both
// speak, its frames in that version's encoding, and nodes with none in
// common must not connect.
func TestVersionNegotiation(t *testing.T) {
	tests := []struct {
		name             string
		dialer, receiver versions
		want             uint8 // 0: refused
	}{
		{"this build with itself", spoken, spoken, 2},
		{"next release dials this build", fakeVersions(2, 3), spoken, 2},
		{"this build dials the next release", spoken, fakeVersions(2, 3), 2},
		{"next release with itself", fakeVersions(2, 3), fakeVersions(2, 3), 3},
		{"overlapping ranges", fakeVersions(2, 4), fakeVersions(3, 5), 4},
		{"dialer past the receiver", fakeVersions(3, 3), spoken, 0},
		{"receiver past the dialer", spoken, fakeVersions(3, 4), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestTransport(t, 1, 7, speaking(tt.dialer))
			b := newTestTransport(t, 2, 7, speaking(tt.receiver))
			in := register(b)
			a.SetPeer(2, b.Addr().String())
			a.Send(heartbeat(1, 2))
			if tt.want == 0 {
				waitFor(t, "refusal on both sides", func() bool {
					return a.Stats().HandshakeFailures > 0 && b.Stats().HandshakeFailures > 0
				})
				if s := a.Stats(); s.Connects != 0 || in.len() != 0 {
					t.Fatalf("nodes with no version in common connected: stats %+v, delivered %d", s, in.len())
				}
				return
			}
			waitFor(t, "delivery", func() bool { return in.len() == 1 })
			var want []byte
			if tt.want != baseVersion {
				want = fmt.Appendf(nil, "decoded by v%d", tt.want)
			}
			if got := in.get()[0].Context; !bytes.Equal(got, want) {
				t.Fatalf("message arrived with Context %q, want %q (version %d)", got, want, tt.want)
			}
		})
	}
}

// TestBaseHelloLayout pins the hello of version 2 as releases before
// negotiation send and read it, 45 bytes, and checks that a receiver
// speaking later versions too answers such a dialer in exactly that
// layout: those releases read 45 bytes and refuse any version byte but 2.
func TestBaseHelloLayout(t *testing.T) {
	h := newHello(baseVersion, baseVersion, 7, 5, 2)
	want := []byte("rkvB\x02")
	for _, v := range []uint64{7, 5, 2} {
		want = binary.BigEndian.AppendUint64(want, v)
	}
	want = append(want, h.nonce[:]...)
	if got := h.marshal(); !bytes.Equal(got, want) {
		t.Fatalf("version 2 hello = %x, want %x", got, want)
	}
	for _, vs := range []versions{spoken, fakeVersions(2, 3)} {
		t.Run(vs.String(), func(t *testing.T) {
			tr := newTestTransport(t, 2, 7, speaking(vs))
			c, err := net.Dial("tcp", tr.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(newHello(baseVersion, baseVersion, 7, 5, 2).marshal()); err != nil {
				t.Fatal(err)
			}
			answer := make([]byte, helloSize)
			if _, err := io.ReadFull(c, answer); err != nil {
				t.Fatal(err)
			}
			if string(answer[:5]) != "rkvB\x02" || binary.BigEndian.Uint64(answer[13:]) != 2 || binary.BigEndian.Uint64(answer[21:]) != 5 {
				t.Fatalf("the receiver answered a version 2 hello with %x", answer)
			}
		})
	}
}

// TestVersionErrorsSayWhy: the receiver's refusal names both sides'
// versions, the dialer it leaves without an answer says where to look,
// and a dialer refuses an answer outside what it offered.
func TestVersionErrorsSayWhy(t *testing.T) {
	cfg := &Config{ClusterID: 7, NodeID: 2}
	dialer, receiver := net.Pipe()
	defer dialer.Close()
	go dialer.Write(newHello(3, 4, 7, 5, 2).marshal())
	_, _, err := acceptHandshake(receiver, cfg, spoken)
	receiver.Close()
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "node 5 speaks bus versions 3..4, this node 2..2") {
		t.Fatalf("receiver's error = %v, want ErrVersion naming versions 3..4 and 2", err)
	}

	dialer, receiver = net.Pipe()
	go func() {
		readHello(receiver, 7, 2, 0)
		receiver.Close()
	}()
	_, err = dialHandshake(dialer, &Config{ClusterID: 7, NodeID: 5}, 2, fakeVersions(2, 3))
	dialer.Close()
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "its log says which") {
		t.Fatalf("dialer's error on a silent refusal = %v", err)
	}

	dialer, receiver = net.Pipe()
	defer receiver.Close()
	go func() {
		readHello(receiver, 7, 2, 0)
		receiver.Write(newHello(3, 3, 7, 2, 5).marshal())
	}()
	_, err = dialHandshake(dialer, &Config{ClusterID: 7, NodeID: 5}, 2, spoken)
	dialer.Close()
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "answered bus versions 3..3, this node speaks 2..2") {
		t.Fatalf("dialer's error on an answer it did not offer = %v", err)
	}
}
