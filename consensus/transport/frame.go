package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/rkv/rkv/consensus"
)

// Errors of the framing and handshake layers.
var (
	// ErrFrameTooLarge means a frame exceeds Config.MaxFrameSize.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrChecksum means a frame's CRC-32C does not match its payload.
	ErrChecksum = errors.New("transport: frame checksum mismatch")
	// ErrHandshake means a peer's hello is not an rkv transport hello of
	// this version.
	ErrHandshake = errors.New("transport: bad handshake")
	// ErrClusterMismatch means a peer belongs to another cluster.
	ErrClusterMismatch = errors.New("transport: peer belongs to another cluster")
	// ErrWrongNode means a peer is not the node it was expected to be, or
	// a message names a sender or receiver other than the connection's.
	ErrWrongNode = errors.New("transport: unexpected node id")
)

// frameHeaderSize is the length (uint32) and CRC-32C (uint32) before each
// payload.
const frameHeaderSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends m as one frame to b. If the payload would exceed
// maxSize it returns b unchanged and ErrFrameTooLarge: the receiver would
// refuse the frame and drop the connection with it.
func appendFrame(b []byte, m *consensus.Message, maxSize int) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = EncodeMessage(b, m)
	payload := b[start+frameHeaderSize:]
	if len(payload) > maxSize {
		return b[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(payload), maxSize)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b, nil
}

// readFrame reads one frame from r and decodes its message. Each payload
// gets a fresh buffer, so the decoded message may alias it safely.
func readFrame(r io.Reader, hdr *[frameHeaderSize]byte, maxSize int) (consensus.Message, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return consensus.Message{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if uint64(n) > uint64(maxSize) {
		return consensus.Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, maxSize)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return consensus.Message{}, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
		return consensus.Message{}, ErrChecksum
	}
	return DecodeMessage(payload)
}

// The hello both sides send when a connection opens: magic, version,
// cluster id, the sender's node id and the node id it expects at the
// other end, fixed-size big-endian.
const (
	helloMagic   = "rkvB" // rkv bus
	helloVersion = 1
	helloSize    = len(helloMagic) + 1 + 8 + 8 + 8
)

// hello is the content of a handshake message.
type hello struct {
	cluster uint64
	from    consensus.NodeID
	to      consensus.NodeID
}

func (h hello) marshal() []byte {
	b := make([]byte, 0, helloSize)
	b = append(b, helloMagic...)
	b = append(b, helloVersion)
	b = binary.BigEndian.AppendUint64(b, h.cluster)
	b = binary.BigEndian.AppendUint64(b, uint64(h.from))
	return binary.BigEndian.AppendUint64(b, uint64(h.to))
}

// readHello reads a hello from r and checks that it comes from cluster
// and is addressed to self. A non-zero want also pins the sender's id.
func readHello(r io.Reader, cluster uint64, self, want consensus.NodeID) (hello, error) {
	var b [helloSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return hello{}, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if string(b[:len(helloMagic)]) != helloMagic {
		return hello{}, fmt.Errorf("%w: bad magic %q", ErrHandshake, b[:len(helloMagic)])
	}
	if v := b[len(helloMagic)]; v != helloVersion {
		return hello{}, fmt.Errorf("%w: version %d, want %d", ErrHandshake, v, helloVersion)
	}
	p := b[len(helloMagic)+1:]
	h := hello{
		cluster: binary.BigEndian.Uint64(p),
		from:    consensus.NodeID(binary.BigEndian.Uint64(p[8:])),
		to:      consensus.NodeID(binary.BigEndian.Uint64(p[16:])),
	}
	switch {
	case h.cluster != cluster:
		return h, fmt.Errorf("%w: cluster %d, want %d", ErrClusterMismatch, h.cluster, cluster)
	case h.from == consensus.None || (want != consensus.None && h.from != want):
		return h, fmt.Errorf("%w: peer says it is node %d, want %d", ErrWrongNode, h.from, want)
	case h.to != self:
		return h, fmt.Errorf("%w: peer addressed node %d, this is node %d", ErrWrongNode, h.to, self)
	}
	return h, nil
}
