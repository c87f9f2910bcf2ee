package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// NodeID names a member of a Raft group. Zero means "none".
type NodeID uint64

// None is the NodeID that stands for no node (no vote, no known leader).
const None NodeID = 0

// GroupID names a Raft group. A process may host several groups later
// (one per slot range); today rkv runs group 1 only.
type GroupID uint64

// EntryType tells the core how to treat an entry's Data.
type EntryType uint8

const (
	// EntryNormal carries application data (may be empty: the leader's no-op).
	EntryNormal EntryType = iota
	// EntryConfChange carries an encoded ConfChange.
	EntryConfChange
)

// Entry is one record of the replicated log.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// Size is the approximate number of bytes the entry costs on the wire,
// used for batching limits.
func (e *Entry) Size() uint64 { return uint64(len(e.Data)) + 24 }

// HardState is the state that must be on stable storage before any message
// that depends on it leaves the node.
type HardState struct {
	Term   uint64
	Vote   NodeID
	Commit uint64
}

// IsEmpty reports whether hs is the zero value.
func (hs HardState) IsEmpty() bool { return hs == HardState{} }

// ConfState is the membership of a group: voters decide elections and
// commitment, learners only receive the log.
type ConfState struct {
	Voters   []NodeID
	Learners []NodeID
}

// Clone returns a deep copy of cs.
func (cs ConfState) Clone() ConfState {
	return ConfState{
		Voters:   append([]NodeID(nil), cs.Voters...),
		Learners: append([]NodeID(nil), cs.Learners...),
	}
}

// ConfChangeType is the kind of a single-server membership change.
type ConfChangeType uint8

const (
	// ConfAddLearner adds a non-voting member that receives the log.
	ConfAddLearner ConfChangeType = iota + 1
	// ConfPromote turns a caught-up learner into a voter.
	ConfPromote
	// ConfRemove removes a voter or learner.
	ConfRemove
)

// ConfChange is one single-server membership change. Context is opaque to
// the core; rkv carries the new member's addresses in it.
type ConfChange struct {
	Type    ConfChangeType
	Node    NodeID
	Context []byte
}

// Marshal encodes cc for an EntryConfChange entry.
func (cc ConfChange) Marshal() []byte {
	b := make([]byte, 0, 10+len(cc.Context))
	b = append(b, byte(cc.Type))
	b = binary.AppendUvarint(b, uint64(cc.Node))
	return append(b, cc.Context...)
}

// UnmarshalConfChange decodes the data of an EntryConfChange entry.
func UnmarshalConfChange(data []byte) (ConfChange, error) {
	if len(data) < 2 {
		return ConfChange{}, ErrCorruptConfChange
	}
	node, n := binary.Uvarint(data[1:])
	if n <= 0 {
		return ConfChange{}, ErrCorruptConfChange
	}
	cc := ConfChange{Type: ConfChangeType(data[0]), Node: NodeID(node)}
	if cc.Type < ConfAddLearner || cc.Type > ConfRemove || cc.Node == None {
		return ConfChange{}, ErrCorruptConfChange
	}
	if rest := data[1+n:]; len(rest) > 0 {
		cc.Context = append([]byte(nil), rest...)
	}
	return cc, nil
}

// SnapshotMeta describes the state a snapshot captures.
type SnapshotMeta struct {
	Index uint64
	Term  uint64
	Conf  ConfState
}

// Snapshot is an application snapshot plus the log position it covers.
type Snapshot struct {
	Meta SnapshotMeta
	Data []byte
}

// IsEmpty reports whether s holds no snapshot.
func (s *Snapshot) IsEmpty() bool { return s == nil || s.Meta.Index == 0 }

// MessageType is the kind of a Message.
type MessageType uint8

// Message types. Local messages (Hup, Beat, Prop, ReadIndex from the node
// itself, TransferLeader) never cross the network unless noted.
const (
	MsgHup MessageType = iota
	MsgBeat
	MsgProp
	MsgApp
	MsgAppResp
	MsgVote
	MsgVoteResp
	MsgPreVote
	MsgPreVoteResp
	MsgHeartbeat
	MsgHeartbeatResp
	MsgSnap
	MsgSnapResp
	MsgTimeoutNow
	MsgTransferLeader
	MsgReadIndex
	MsgReadIndexResp
	msgTypeCount
)

var msgTypeNames = [...]string{
	"MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote",
	"MsgVoteResp", "MsgPreVote", "MsgPreVoteResp", "MsgHeartbeat",
	"MsgHeartbeatResp", "MsgSnap", "MsgSnapResp", "MsgTimeoutNow",
	"MsgTransferLeader", "MsgReadIndex", "MsgReadIndexResp",
}

// String returns the type's name, e.g. "MsgApp".
func (t MessageType) String() string {
	if t < msgTypeCount {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Valid reports whether t is a known message type.
func (t MessageType) Valid() bool { return t < msgTypeCount }

// Message is the unit of communication between cores. Fields are used as
// each type needs them; the transport encodes all of them.
type Message struct {
	Group GroupID
	Type  MessageType
	From  NodeID
	To    NodeID
	Term  uint64
	// LogTerm and Index: the entry preceding Entries for MsgApp; the
	// candidate's last entry for votes; the accepted index for MsgAppResp.
	LogTerm uint64
	Index   uint64
	Entries []Entry
	Commit  uint64
	Reject  bool
	// RejectHint and HintTerm let a leader skip a whole conflicting term
	// at once: the follower's last index on a short log, or the first index
	// of its conflicting term with that term in HintTerm.
	RejectHint uint64
	HintTerm   uint64
	// Context carries a ReadIndex request id (heartbeats, MsgReadIndex) or
	// marks a forced campaign (leadership transfer).
	Context []byte
	// Snapshot metadata and one chunk of its data, for MsgSnap. SnapOffset is
	// the chunk's offset; SnapDone marks the last chunk. MsgSnapResp carries
	// the next offset the follower expects in Index.
	Snapshot   *SnapshotMeta
	SnapOffset uint64
	SnapData   []byte
	SnapDone   bool
	// SnapLen is the length of the chunk a leader's core asks its driver
	// to read from storage into SnapData: the core never holds snapshot
	// data. It is not sent.
	SnapLen uint64
}

// String summarizes m for logs and traces.
func (m Message) String() string {
	return fmt.Sprintf("%s %d->%d t%d lt%d i%d c%d n%d rej=%v", m.Type, m.From, m.To,
		m.Term, m.LogTerm, m.Index, m.Commit, len(m.Entries), m.Reject)
}

// ReadState tells the application that a read with the given request context
// may be served once its applied index reaches Index.
type ReadState struct {
	Index      uint64
	RequestCtx []byte
}

// StateType is a node's role.
type StateType uint8

// The roles a node can hold.
const (
	StateFollower StateType = iota
	StatePreCandidate
	StateCandidate
	StateLeader
)

// String returns the role's name, e.g. "leader".
func (s StateType) String() string {
	switch s {
	case StateFollower:
		return "follower"
	case StatePreCandidate:
		return "pre-candidate"
	case StateCandidate:
		return "candidate"
	case StateLeader:
		return "leader"
	}
	return fmt.Sprintf("StateType(%d)", uint8(s))
}

// SoftState is volatile state the application may want to observe.
type SoftState struct {
	Lead  NodeID
	State StateType
}

// Ready is what the core asks its driver to do, in order: persist Snapshot,
// Entries and HardState (one write, one sync), then send Messages, apply
// CommittedEntries, release ReadStates, then call Advance.
type Ready struct {
	*SoftState
	HardState        HardState
	Entries          []Entry
	Snapshot         *Snapshot
	CommittedEntries []Entry
	Messages         []Message
	ReadStates       []ReadState
}

// Errors of the consensus package.
var (
	ErrProposalDropped                = errors.New("consensus: proposal dropped")
	ErrCompacted                      = errors.New("consensus: requested index is unavailable due to compaction")
	ErrUnavailable                    = errors.New("consensus: requested entry at index is unavailable")
	ErrSnapOutOfDate                  = errors.New("consensus: requested index is older than the existing snapshot")
	ErrSnapshotTemporarilyUnavailable = errors.New("consensus: snapshot is temporarily unavailable")
	ErrStopped                        = errors.New("consensus: node stopped")
	ErrCorruptConfChange              = errors.New("consensus: corrupt conf change")
	ErrConfChangePending              = errors.New("consensus: a membership change is already in progress")
	ErrUnsafeConfChange               = errors.New("consensus: the only voter cannot be removed")
	ErrNotLearner                     = errors.New("consensus: only a learner can be promoted")
	ErrLearnerNotReady                = errors.New("consensus: the learner has not caught up with the leader yet")
	ErrStorageFailed                  = errors.New("consensus: storage failed")
)

// NotLeaderError is returned to a proposer on a node that is not the leader.
// Leader is None when no leader is known.
type NotLeaderError struct {
	Leader NodeID
}

// Error implements error.
func (e *NotLeaderError) Error() string {
	if e.Leader == None {
		return "consensus: not leader, no leader known"
	}
	return fmt.Sprintf("consensus: not leader, leader is %d", e.Leader)
}
