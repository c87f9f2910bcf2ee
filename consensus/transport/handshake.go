package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/rkv/rkv/consensus"
)

// The hello both sides send when a connection opens: magic, the sender's
// wire versions, cluster id, the sender's node id, the node id it expects
// at the other end, and a fresh random nonce, fixed-size big-endian.
const (
	helloMagic = "rkvB" // rkv bus
	nonceSize  = 16
	// helloSize is the length of a hello of baseVersion; a hello whose
	// highest version is above it has one more byte, the lowest.
	helloSize = len(helloMagic) + 1 + 8 + 8 + 8 + nonceSize
	macSize   = sha256.Size
)

// Labels keep the two proofs apart, so that what a receiver sends can
// never be replayed as a dialer's proof, or the reverse.
const (
	labelAccept = "rkv bus accept\x00"
	labelDial   = "rkv bus dial\x00"
)

// hello is the content of a handshake message.
type hello struct {
	lo, hi  uint8 // the wire versions the sender accepts on this connection
	cluster uint64
	from    consensus.NodeID
	to      consensus.NodeID
	nonce   [nonceSize]byte
}

// newHello returns a hello offering versions lo..hi, with a fresh nonce.
func newHello(lo, hi uint8, cluster uint64, from, to consensus.NodeID) hello {
	h := hello{lo: lo, hi: hi, cluster: cluster, from: from, to: to}
	rand.Read(h.nonce[:])
	return h
}

// marshal lays h out as the package documentation says: a hello of
// baseVersion is the 45 bytes every release reads; only a higher version
// adds the byte of the lowest.
func (h hello) marshal() []byte {
	b := make([]byte, 0, helloSize+1)
	b = append(b, helloMagic...)
	b = append(b, h.hi)
	if h.hi > baseVersion {
		b = append(b, h.lo)
	}
	b = binary.BigEndian.AppendUint64(b, h.cluster)
	b = binary.BigEndian.AppendUint64(b, uint64(h.from))
	b = binary.BigEndian.AppendUint64(b, uint64(h.to))
	return append(b, h.nonce[:]...)
}

// readHello reads a hello from r and checks that it comes from cluster
// and is addressed to self. A non-zero want also pins the sender's id.
// Whether its versions meet the reader's is for the caller to decide.
func readHello(r io.Reader, cluster uint64, self, want consensus.NodeID) (hello, error) {
	// The magic and version are checked before the rest is read, so that
	// another protocol (an HTTP request, a RESP command) is refused at
	// once rather than at the handshake timeout.
	var b [helloSize + 1]byte
	head := len(helloMagic) + 1
	if _, err := io.ReadFull(r, b[:head]); err != nil {
		return hello{}, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if string(b[:len(helloMagic)]) != helloMagic {
		return hello{}, fmt.Errorf("%w: bad magic %q", ErrHandshake, b[:len(helloMagic)])
	}
	h := hello{lo: b[len(helloMagic)], hi: b[len(helloMagic)]}
	if h.hi < baseVersion {
		return h, fmt.Errorf("%w: the peer speaks bus version %d, retired before version negotiation", ErrVersion, h.hi)
	}
	if h.hi > baseVersion {
		if _, err := io.ReadFull(r, b[head:head+1]); err != nil {
			return h, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		h.lo = b[head]
		head++
		if h.lo > h.hi {
			return h, fmt.Errorf("%w: versions %d..%d", ErrHandshake, h.lo, h.hi)
		}
	}
	p := b[head : head+helloSize-len(helloMagic)-1]
	if _, err := io.ReadFull(r, p); err != nil {
		return h, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	h.cluster = binary.BigEndian.Uint64(p)
	h.from = consensus.NodeID(binary.BigEndian.Uint64(p[8:]))
	h.to = consensus.NodeID(binary.BigEndian.Uint64(p[16:]))
	copy(h.nonce[:], p[24:])
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

// authKey is the HMAC key of the handshake: the cluster secret, or the
// cluster id when there is none, so that both cases run the same protocol.
func authKey(cfg *Config) []byte {
	if len(cfg.Secret) > 0 {
		return cfg.Secret
	}
	return binary.BigEndian.AppendUint64(nil, cfg.ClusterID)
}

// proof is HMAC-SHA256 under key of label and both hellos: each side's
// nonce makes it fresh, and the hellos bind it to the two node ids and
// the cluster.
func proof(key []byte, label string, dialer, receiver []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write(dialer)
	m.Write(receiver)
	return m.Sum(nil)
}

// DialHandshake runs the dialer's side of the handshake on rw as node
// cfg.NodeID of cfg.ClusterID with cfg.Secret, towards node peer: send its
// hello, check the receiver's hello and proof (ErrAuth if the receiver has
// another key), then send its own proof. It offers only baseVersion, the
// encoding of EncodeMessage, so that the caller can frame what it sends
// next. The transport runs its own offer on every connection it dials;
// this is exported for tools and tests that speak to a node's bus directly.
func DialHandshake(rw io.ReadWriter, cfg *Config, peer consensus.NodeID) error {
	_, err := dialHandshake(rw, cfg, peer, baseOnly)
	return err
}

// dialHandshake runs the dialer's side offering vs and returns the
// version the receiver chose.
func dialHandshake(rw io.ReadWriter, cfg *Config, peer consensus.NodeID, vs versions) (uint8, error) {
	mine := newHello(vs.lo, vs.hi(), cfg.ClusterID, cfg.NodeID, peer).marshal()
	if _, err := rw.Write(mine); err != nil {
		return 0, err
	}
	theirs, err := readHello(rw, cfg.ClusterID, cfg.NodeID, peer)
	if errors.Is(err, io.EOF) {
		// A receiver answers a hello it refuses with nothing at all.
		return 0, fmt.Errorf("%w: the peer closed the connection (other cluster, node id or bus version? its log says which)", ErrHandshake)
	}
	if err != nil {
		return 0, err
	}
	// The receiver answers with the one version it chose.
	if theirs.lo != theirs.hi || !vs.speaks(theirs.hi) {
		return 0, fmt.Errorf("%w: the peer answered bus versions %s, this node speaks %s", ErrVersion, versionRange(theirs.lo, theirs.hi), vs)
	}
	key := authKey(cfg)
	if err := readProof(rw, proof(key, labelAccept, mine, theirs.marshal())); err != nil {
		return 0, err
	}
	if _, err := rw.Write(proof(key, labelDial, mine, theirs.marshal())); err != nil {
		return 0, err
	}
	return theirs.hi, nil
}

// acceptHandshake runs the receiver's side on rw, speaking vs, and returns
// the dialer's node id and the version the connection uses once the dialer
// has proved it knows the key: the highest both speak. A hello that is
// wrong, or shares no version with vs, gets no answer at all.
func acceptHandshake(rw io.ReadWriter, cfg *Config, vs versions) (consensus.NodeID, uint8, error) {
	theirs, err := readHello(rw, cfg.ClusterID, cfg.NodeID, consensus.None)
	if err != nil {
		return consensus.None, 0, err
	}
	v, ok := vs.common(theirs.lo, theirs.hi)
	if !ok {
		return consensus.None, 0, fmt.Errorf("%w: node %d speaks bus versions %s, this node %s; upgrade one release at a time",
			ErrVersion, theirs.from, versionRange(theirs.lo, theirs.hi), vs)
	}
	mine := newHello(v, v, cfg.ClusterID, cfg.NodeID, theirs.from).marshal()
	key := authKey(cfg)
	if _, err := rw.Write(append(mine, proof(key, labelAccept, theirs.marshal(), mine)...)); err != nil {
		return consensus.None, 0, err
	}
	if err := readProof(rw, proof(key, labelDial, theirs.marshal(), mine)); err != nil {
		return consensus.None, 0, err
	}
	return theirs.from, v, nil
}

// readProof reads the other side's proof and compares it with want in
// constant time.
func readProof(r io.Reader, want []byte) error {
	got := make([]byte, macSize)
	if _, err := io.ReadFull(r, got); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if !hmac.Equal(got, want) {
		return ErrAuth
	}
	return nil
}

// MutualTLS returns a tls.Config for Config.TLS: each node presents certs
// and accepts a peer, in either direction, only if the peer presents a
// certificate that chains to roots. Host names are not checked, as Redis
// Cluster does not check them on its bus: nodes dial addresses that may be
// proxies or NATs, and membership is decided by the CA (and the cluster
// secret), not by names.
func MutualTLS(certs []tls.Certificate, roots *x509.CertPool) *tls.Config {
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: the peer sent no certificate", ErrAuth)
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return errors.Join(ErrAuth, err)
		}
		return nil
	}
	return &tls.Config{
		Certificates: certs,
		MinVersion:   tls.VersionTLS12,
		// The chain is checked by VerifyConnection on both sides instead:
		// the standard checks want a host name (dialer) or a client-auth
		// key usage (receiver) that bus certificates need not carry.
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
	}
}
