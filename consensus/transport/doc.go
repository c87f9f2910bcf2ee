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
// A connection opens with a hello from each side, dialer first, 29 bytes:
//
//	magic "rkvB" | version (1 byte, 1) | cluster id | sender node id | expected receiver node id
//
// with the ids as big-endian uint64. The receiver of a hello closes the
// connection if the magic, version, cluster id or receiver id is wrong;
// the dialer also checks that the node answering is the peer it dialed.
//
// Then the dialer sends frames, one message each, until the connection
// closes:
//
//	length (uint32 BE) | CRC-32C of payload (uint32 BE) | payload (length bytes)
//
// A frame longer than Config.MaxFrameSize or with a wrong checksum closes
// the connection. The payload is a message with integers as uvarints and
// byte strings as a uvarint length followed by the bytes:
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
package transport
