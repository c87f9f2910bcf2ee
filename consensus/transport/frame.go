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
	// ErrHandshake means a peer's hello is not an rkv transport hello,
	// or the peer broke off the handshake.
	ErrHandshake = errors.New("transport: bad handshake")
	// ErrClusterMismatch means a peer belongs to another cluster.
	ErrClusterMismatch = errors.New("transport: peer belongs to another cluster")
	// ErrWrongNode means a peer is not the node it was expected to be, or
	// a message names a sender or receiver other than the connection's.
	ErrWrongNode = errors.New("transport: unexpected node id")
	// ErrAuth means a peer did not prove that it knows the cluster's
	// secret.
	ErrAuth = errors.New("transport: peer failed authentication")
)

// frameHeaderSize is the length (uint32) and CRC-32C (uint32) before each
// payload.
const frameHeaderSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends m as one frame to b, encoded by c. If the payload
// would exceed maxSize it returns b unchanged and ErrFrameTooLarge: the
// receiver would refuse the frame and drop the connection with it.
func appendFrame(b []byte, m *consensus.Message, maxSize int, c codec) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = c.encode(b, m)
	payload := b[start+frameHeaderSize:]
	if len(payload) > maxSize {
		return b[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(payload), maxSize)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b, nil
}

// readFrame reads one frame from r and decodes its message with c. Each
// payload gets a fresh buffer, so the decoded message may alias it safely.
func readFrame(r io.Reader, hdr *[frameHeaderSize]byte, maxSize int, c codec) (consensus.Message, error) {
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
	return c.decode(payload)
}
