// Package transport carries Raft messages between rkv nodes over TCP. It
// implements consensus.Transport: the driver hands it the messages of each
// Ready, and it delivers the messages other nodes send to the group
// registered for them. It knows nothing of Raft beyond the shape of
// consensus.Message, and never blocks the driver: every peer has a bounded
// queue, and a message that does not fit is dropped (Raft retransmits).
//
// # Connections
//
// Each node dials every peer it knows (SetPeer) and keeps one outbound
// connection to it, written by one goroutine that drains the peer's queue
// and writes all waiting messages with a single write. Inbound connections
// are only read. So between two nodes there are two connections, one per
// direction, and messages of one direction arrive in the order they were
// sent while a connection lasts. A broken connection or a failed dial is
// retried with exponential backoff from 50ms to 2s.
//
// # Wire format
//
// A connection opens with a handshake that authenticates both ends and
// settles the wire version of the connection. The dialer sends a hello:
//
//	magic "rkvB" | highest version (1 byte) | lowest version (1 byte, only if the highest is above 2) |
//	cluster id | sender node id | expected receiver node id | nonce (16 random bytes)
//
// with the ids as big-endian uint64. A hello of version 2 has no lowest
// version: it is the 45 bytes releases before version negotiation send
// and read, and names version 2 alone. The receiver closes the connection,
// without answering, if the magic, cluster id or receiver id is wrong, or
// if it speaks none of the versions offered; otherwise it answers with its
// own hello, naming as both highest and lowest the version the connection
// will use, the highest both speak, followed by
// HMAC-SHA256(key, "rkv bus accept\0" | dialer's hello | receiver's hello).
// The dialer checks that the node answering is the peer it dialed, that it
// offered the version named, and the proof, then sends
// HMAC-SHA256(key, "rkv bus dial\0" | the same two hellos), which the
// receiver checks. Proofs are compared in constant time; as they cover
// both hellos, no one without the key can change the version either side
// sees.
// The key is Config.Secret (rkv's --cluster-secret) or, when there is no
// secret, the cluster id: then the handshake only keeps apart clusters that
// are not trying to meet, as before the secret existed. The nonces make
// each proof fresh, so a recorded handshake cannot be replayed, and the
// labels keep a receiver's proof from serving as a dialer's.
//
// Until the receiver has checked the dialer's proof, an inbound connection
// has no effect on the node: it does not replace the peer's connection and
// nothing it sends is read as a frame. Handshakes must finish within
// Config.HandshakeTimeout, and at most 256 connections (16 from one remote
// host) may be in their handshake at once; more are closed on accept.
//
// With Config.TLS (rkv's --tls-cluster yes) every connection is TLS first,
// mutual: each side presents its certificate and accepts only a peer whose
// certificate chains to the CA (MutualTLS), and the handshake above runs
// inside TLS. The secret alone authenticates the handshake but not the
// frames after it: against someone who can rewrite traffic on the path,
// use TLS.
//
// Then the dialer sends frames, one message each, in the connection's
// version, until the connection closes:
//
//	length (uint32 BE) | CRC-32C of payload (uint32 BE) | payload (length bytes)
//
// A frame longer than Config.MaxFrameSize or with a wrong checksum closes
// the connection. In version 2 the payload is a message with integers as
// uvarints and byte strings as a uvarint length followed by the bytes:
//
//	type (1 byte) | flags (1 byte: 1 Reject, 2 SnapDone, 4 Snapshot present)
//	Group | From | To | Term | LogTerm | Index | Commit | RejectHint | HintTerm | SnapOffset
//	Context (bytes)
//	entry count, then per entry: Term | Index | Type (1 byte) | Data (bytes)
//	if flag 4: Snapshot.Index | Snapshot.Term |
//	           voter count, voter ids | learner count, learner ids
//	SnapData (bytes)
//
// DecodeMessage is strict: an unknown message or entry type, unknown flag
// bits, a truncated field, a count or length larger than the bytes left,
// and trailing bytes are all errors. Decoding allocates no more than the
// input size justifies, so a forged count cannot exhaust memory.
//
// # Versions and rolling upgrades
//
// A wire version fixes the hello after its version byte and the encoding
// of messages in frames. This build speaks version 2 alone, as releases
// before negotiation did. A release that adds a version must keep speaking
// the previous release's highest one, and a version may go only in the
// release after the one that superseded it: so a node and one of the
// release before or after always share a version, and a rolling upgrade,
// one release at a time, never splits the cluster. Releases further apart
// may share none (a hello above version 2 is read only by releases from
// this one on); a node refuses such a peer, with both ranges in its log.
//
// The bus version covers messages, not the log entries and snapshots they
// carry: every member applies those, and they outlive the connection (they
// reach a follower through whichever node leads later, and stay on disk
// across restarts), so they cannot follow one connection's version. Hence
// the rule for entry and snapshot formats (packages replica and store): a
// release reads every format an earlier release wrote, and writes only
// formats the previous release applies until every member runs it; a new
// format waits for a cluster-wide switch, never for a connection's
// version. Breaking the rule diverges the replicas: an old node skips an
// entry it cannot decode while new ones apply it. The order of a rolling
// upgrade (README, Upgrading), followers first and the leader last, has
// old nodes write the entries until the end, but a failover mid-upgrade
// can make a new node lead old ones, which the rule keeps safe. This
// release writes exactly the entries and snapshots the previous one did
// until an operator joins a node with --learner, the switch for the one
// new format: that join's conf change context names the learner that stays
// one, and snapshots list such learners (replica's RKVSNAP5), neither of
// which the previous release reads right. The README asks for every member
// on this release first; nothing checks it.
package transport
