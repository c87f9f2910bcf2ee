package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
)

// campaignTransfer starts the context of a vote request caused by
// leadership transfer, which voters grant even while they still hear from
// a leader. The transfer's deadline in the old leader's ticks follows it.
var campaignTransfer = []byte("transfer")

// transferContext is the vote context of a campaign for the transfer that
// the old leader abandons at tick deadline.
func transferContext(deadline uint64) []byte {
	return binary.BigEndian.AppendUint64(slices.Clip(campaignTransfer), deadline)
}

// parseTransferContext returns the deadline a transfer vote context
// carries.
func parseTransferContext(ctx []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(ctx, campaignTransfer)
	if !ok || len(rest) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(rest), true
}

// noAckYet is a lastAckedSend far enough in the past to grant no lease.
const noAckYet = -1 << 62

// Config configures a Raft core.
type Config struct {
	// ID is this node's id; it must not be None.
	ID NodeID
	// Group is stamped on every outgoing message.
	Group GroupID
	// ElectionTick is the number of Ticks without hearing from a leader
	// before a follower campaigns (randomized in [ElectionTick, 2*ElectionTick)).
	ElectionTick int
	// HeartbeatTick is the number of Ticks between leader heartbeats.
	HeartbeatTick int
	// Storage holds the persisted log and hard state.
	Storage Storage
	// Applied is the index the application had applied when it restarted:
	// at least the snapshot's index, which the core takes from here since
	// Storage may keep entries below it. Committed entries after it are
	// handed out again.
	Applied uint64
	// Peers bootstraps a brand-new group: when Storage is empty, the log
	// starts with one committed entry per peer making it a voter. Ignored
	// when Storage holds state. A node joining an existing group leaves it
	// empty and learns the membership from the leader.
	Peers []NodeID
	// MaxSizePerMsg bounds the bytes of entries in one MsgApp.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds the MsgApps in flight to one follower.
	MaxInflightMsgs int
	// MaxCommittedSizePerReady bounds the bytes of committed entries per Ready.
	MaxCommittedSizePerReady uint64
	// MaxSnapshotChunk bounds the bytes of snapshot data per MsgSnap.
	MaxSnapshotChunk uint64
	// PreVote makes a node ask whether it could win before it bumps its term,
	// so a partitioned node rejoining does not disrupt the group.
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// quorum for an election timeout, and followers ignore vote requests while
	// they hear from a leader.
	CheckQuorum bool
	// LeaseRead serves ReadIndex from the leader's lease without a heartbeat
	// round. It requires CheckQuorum.
	LeaseRead bool
	// LeaseMargin is how many ticks short of the election timeout a lease
	// ends, covering tick granularity (two ticks) and clock drift and
	// pauses (the rest); at least 3. See leaseValid for the arithmetic.
	LeaseMargin int
	// AutoPromoteLag is how close (in entries) to the commit index a learner
	// must be before the leader promotes it to voter.
	AutoPromoteLag uint64
	// AutoPromote reports whether the leader promotes learner id once it has
	// caught up; nil promotes every learner. A learner it refuses stays one
	// (a non-voting replica) until a ConfPromote is proposed for it. It is
	// called on the goroutine that drives the core, after every conf entry
	// up to the leader's last one was applied, so an application that keeps
	// the answer in its replicated state has the entry that added id.
	AutoPromote func(id NodeID) bool
	// Rand supplies randomized election timeouts; nil means a fixed seed
	// derived from ID.
	Rand *rand.Rand
	// Logger receives the core's log lines; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.ID == None {
		return errors.New("consensus: config: ID must not be zero")
	}
	if c.HeartbeatTick <= 0 {
		return errors.New("consensus: config: HeartbeatTick must be positive")
	}
	if c.ElectionTick <= c.HeartbeatTick {
		return errors.New("consensus: config: ElectionTick must be greater than HeartbeatTick")
	}
	if c.Storage == nil {
		return errors.New("consensus: config: Storage is required")
	}
	if c.LeaseRead && !c.CheckQuorum {
		return errors.New("consensus: config: LeaseRead requires CheckQuorum")
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = 1 << 20
	}
	if c.MaxInflightMsgs <= 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxCommittedSizePerReady == 0 {
		// Small enough that one Ready's apply keeps the node's loop
		// responsive to heartbeats; large enough to amortize a Ready.
		c.MaxCommittedSizePerReady = 1 << 20
	}
	if c.MaxSnapshotChunk == 0 {
		c.MaxSnapshotChunk = 1 << 20
	}
	if c.LeaseMargin < 3 {
		c.LeaseMargin = 3
	}
	if c.LeaseMargin >= c.ElectionTick {
		return errors.New("consensus: config: LeaseMargin must be below ElectionTick")
	}
	if c.AutoPromoteLag == 0 {
		c.AutoPromoteLag = 256
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(uint64(c.ID), 0x726b76))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// snapReceive is a snapshot a follower is receiving in chunks. Chunks
// join it only from the same sender in the same term: two leaders'
// snapshots of one index need not be the same bytes.
type snapReceive struct {
	meta SnapshotMeta
	from NodeID
	term uint64
	buf  []byte
}

// Raft is the pure consensus core: it does no IO, reads no clock and starts
// no goroutines. Feed it with Step and Tick, drain it with Ready and Advance.
// It is not safe for concurrent use.
type Raft struct {
	id    NodeID
	group GroupID

	term  uint64
	vote  NodeID
	state StateType
	lead  NodeID

	log *raftLog

	// conf is the membership in use: the last one in the log, committed
	// or not (thesis §4.1); confIndex is the index of the last conf entry
	// reflected in it, or of the state it was built from. appliedConf is
	// the membership as of appliedConfIndex, the applied index, which is
	// what a snapshot records and what conf is rebuilt from when a
	// follower's log loses a suffix.
	conf             ConfState
	confIndex        uint64
	appliedConf      ConfState
	appliedConfIndex uint64

	prs   map[NodeID]*progress
	votes map[NodeID]bool

	msgs       []Message
	readStates []ReadState

	electionElapsed  int
	heartbeatElapsed int
	// ticks counts every Tick; leases are measured in it.
	ticks                     int64
	randomizedElectionTimeout int

	leadTransferee NodeID
	// transferDeadline is the tick at which this leader's latest transfer
	// is abandoned (0: none this term). A MsgTimeoutNow may be delivered
	// long after that, so the leader trusts its lease only from heartbeats
	// sent at or after it: the voters that answered those refuse the late
	// transferee (see transferHonored).
	transferDeadline uint64
	// leaderTicks is the newest tick, on the leader's clock, of a heartbeat
	// heard from this term's leader.
	leaderTicks uint64
	// pendingConfIndex: no new conf change is accepted until the applied
	// index passes it, so changes go one at a time.
	pendingConfIndex uint64

	readOnly                 readOnly
	pendingReadIndexMessages []Message

	snapRecv *snapReceive

	// storageFault is set while the driver cannot write the log (see
	// SetStorageFault); handOffTried are the voters a hand-off of
	// leadership timed out on during it.
	storageFault bool
	handOffTried map[NodeID]bool

	prevHardState HardState
	prevSoftState SoftState

	cfg    Config
	logger *slog.Logger
}

// NewRaft returns a core restored from cfg.Storage, as a follower.
func NewRaft(cfg Config) (*Raft, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Committed and applied start at the restored snapshot's index, which
	// the driver passes as Applied: the storage may keep entries below it
	// for followers catching up, and reading the snapshot would load its
	// data, the whole state, only for its index.
	l, err := newLog(cfg.Storage, cfg.Applied, cfg.MaxCommittedSizePerReady)
	if err != nil {
		return nil, err
	}
	hs, cs, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, err
	}
	r := &Raft{
		id:           cfg.ID,
		group:        cfg.Group,
		log:          l,
		prs:          make(map[NodeID]*progress),
		readOnly:     newReadOnly(),
		handOffTried: map[NodeID]bool{},
		cfg:          cfg,
		logger:       cfg.Logger.With("node", cfg.ID, "group", cfg.Group),
	}
	r.conf = cs.Clone()
	r.appliedConf = cs.Clone()
	// The membership is the snapshot's, as of the applied index.
	r.confIndex = l.applied
	r.appliedConfIndex = l.applied
	empty := hs.IsEmpty() && l.lastIndex() == 0 && r.confIndex == 0
	if empty && len(cfg.Peers) > 0 {
		r.bootstrap(cfg.Peers)
	} else {
		if l.applied > l.lastIndex() {
			return nil, fmt.Errorf("consensus: applied index %d is beyond the last index %d", l.applied, l.lastIndex())
		}
		if hs.Commit > l.lastIndex() {
			return nil, fmt.Errorf("consensus: hard state commit %d is beyond the last index %d", hs.Commit, l.lastIndex())
		}
		// The commit index is saved lazily, so it may lag the snapshot.
		r.term, r.vote, l.committed = hs.Term, hs.Vote, max(hs.Commit, l.applied)
		// The membership in use is the last one in the log: what the log
		// holds is durable, while the commit index saved may be far
		// behind what this node knew before it stopped.
		if err := r.replayConf(l.applied, l.lastIndex()); err != nil {
			return nil, err
		}
	}
	r.prevHardState = r.hardState()
	if empty && len(cfg.Peers) > 0 {
		r.prevHardState = HardState{}
	}
	r.becomeFollower(r.term, None)
	r.prevSoftState = r.softState()
	r.logger.Info("raft core started", "term", r.term, "commit", l.committed,
		"applied", l.applied, "last", l.lastIndex(), "voters", r.conf.Voters, "learners", r.conf.Learners)
	return r, nil
}

func (r *Raft) bootstrap(peers []NodeID) {
	ents := make([]Entry, len(peers))
	for i, p := range peers {
		ents[i] = Entry{Term: 1, Index: uint64(i + 1), Type: EntryConfChange,
			Data: ConfChange{Type: ConfPromote, Node: p}.Marshal()}
		r.conf = applyConf(r.conf, ConfChange{Type: ConfPromote, Node: p})
	}
	r.log.append(ents...)
	r.log.committed = uint64(len(ents))
	r.confIndex = r.log.committed
	r.term = 1
}

// replayConf applies the conf entries in (lo, hi] to the active membership.
func (r *Raft) replayConf(lo, hi uint64) error {
	return r.forEachConfChange(lo, hi, func(i uint64, cc ConfChange) {
		r.conf = applyConf(r.conf, cc)
		r.confIndex = i
	})
}

// confAppended brings the membership up to date after the log was written
// from index from on with ents (the entries from there): a conf entry takes
// effect once it is in the log. A suffix lost from confIndex down may have
// held the conf entry in use, so the membership is then rebuilt from the
// applied one, which no truncation reaches (truncation stops at the commit
// index).
func (r *Raft) confAppended(from uint64, ents []Entry) {
	before := r.confIndex
	if from <= r.confIndex {
		r.conf = r.appliedConf.Clone()
		r.confIndex = r.appliedConfIndex
		if err := r.replayConf(r.appliedConfIndex, r.log.lastIndex()); err != nil {
			panic(err)
		}
	} else {
		eachConfChange(ents, func(e Entry, cc ConfChange) {
			r.conf = applyConf(r.conf, cc)
			r.confIndex = e.Index
		})
	}
	if r.confIndex != before || from <= before {
		r.logger.Info("membership changed", "index", r.confIndex, "voters", r.conf.Voters, "learners", r.conf.Learners)
		if r.state == StateLeader {
			r.syncProgress()
		}
	}
}

// syncProgress fits a leader's progress map to the membership: new members
// are probed from the end of the log, promoted learners count as voters,
// removed members are dropped. A leader that removed itself goes on
// replicating, without counting itself, until the removal is committed
// (thesis §4.2.2); it steps down when it applies it.
func (r *Raft) syncProgress() {
	for id := range r.prs {
		if !r.isVoter(id) && !r.isLearner(id) {
			delete(r.prs, id)
		}
	}
	last := r.log.lastIndex()
	for _, id := range r.conf.Voters {
		if pr := r.prs[id]; pr != nil {
			pr.learner = false
		} else {
			r.prs[id] = r.newProgress(last, false)
		}
	}
	for _, id := range r.conf.Learners {
		if r.prs[id] == nil {
			r.prs[id] = r.newProgress(last, true)
		}
	}
	if !r.isVoter(r.leadTransferee) {
		r.leadTransferee = None
	}
	// A smaller quorum may commit what was waiting, or confirm reads.
	r.maybeCommit()
	r.recheckReads()
}

// forEachConfChange calls f for each conf entry in (lo, hi], in order.
func (r *Raft) forEachConfChange(lo, hi uint64, f func(index uint64, cc ConfChange)) error {
	for lo < hi {
		ents, err := r.log.slice(lo+1, hi+1, r.cfg.MaxCommittedSizePerReady)
		if err != nil {
			return fmt.Errorf("consensus: reading committed entries: %w", err)
		}
		for _, e := range ents {
			if e.Type != EntryConfChange {
				continue
			}
			cc, err := UnmarshalConfChange(e.Data)
			if err != nil {
				return fmt.Errorf("consensus: entry %d: %w", e.Index, err)
			}
			f(e.Index, cc)
		}
		lo = ents[len(ents)-1].Index
	}
	return nil
}

// eachConfChange calls f for each conf entry of ents, in order. The log
// holds only conf entries a leader encoded, so one that does not decode is
// a broken invariant.
func eachConfChange(ents []Entry, f func(e Entry, cc ConfChange)) {
	for _, e := range ents {
		if e.Type != EntryConfChange {
			continue
		}
		cc, err := UnmarshalConfChange(e.Data)
		if err != nil {
			panic(fmt.Sprintf("consensus: entry %d: %v", e.Index, err))
		}
		f(e, cc)
	}
}

// applyConf returns cs with cc applied. Applying a change twice is harmless.
func applyConf(cs ConfState, cc ConfChange) ConfState {
	cs = cs.Clone()
	switch cc.Type {
	case ConfAddLearner:
		if !slices.Contains(cs.Voters, cc.Node) && !slices.Contains(cs.Learners, cc.Node) {
			cs.Learners = append(cs.Learners, cc.Node)
		}
	case ConfPromote:
		cs.Learners = slices.DeleteFunc(cs.Learners, func(n NodeID) bool { return n == cc.Node })
		if !slices.Contains(cs.Voters, cc.Node) {
			cs.Voters = append(cs.Voters, cc.Node)
		}
	case ConfRemove:
		cs.Voters = slices.DeleteFunc(cs.Voters, func(n NodeID) bool { return n == cc.Node })
		cs.Learners = slices.DeleteFunc(cs.Learners, func(n NodeID) bool { return n == cc.Node })
	}
	slices.Sort(cs.Voters)
	slices.Sort(cs.Learners)
	return cs
}

func (r *Raft) hardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed}
}

func (r *Raft) softState() SoftState { return SoftState{Lead: r.lead, State: r.state} }

func (r *Raft) isVoter(id NodeID) bool { return slices.Contains(r.conf.Voters, id) }

func (r *Raft) isLearner(id NodeID) bool { return slices.Contains(r.conf.Learners, id) }

// promotable reports whether this node may campaign: it is a voter, or it
// was one as of its applied index and the entry that removes it is not
// applied yet. Such a node campaigns under the membership in its log, not
// counting itself, as a leader that removes itself goes on leading without
// counting itself (thesis §4.2.2): its log may hold entries, its own
// removal among them, that the voters left need to elect anyone, and they
// would refuse every candidate that lacks them.
func (r *Raft) promotable() bool {
	return r.isVoter(r.id) || slices.Contains(r.appliedConf.Voters, r.id)
}

// alone reports whether this node is the only voter.
func (r *Raft) alone() bool { return len(r.conf.Voters) == 1 && r.isVoter(r.id) }

func (r *Raft) quorum() int { return len(r.conf.Voters)/2 + 1 }

func (r *Raft) send(m Message) {
	m.Group = r.group
	m.From = r.id
	if m.Term == 0 && m.Type != MsgProp && m.Type != MsgReadIndex && m.Type != MsgTransferLeader {
		m.Term = r.term
	}
	r.msgs = append(r.msgs, m)
}

// sendAppend sends entries (or a heartbeat-like empty MsgApp when
// sendIfEmpty) to a follower, or starts a snapshot if the entries it needs
// are compacted. It reports whether a message was sent.
func (r *Raft) sendAppend(to NodeID, sendIfEmpty bool) bool {
	pr := r.prs[to]
	if pr == nil || pr.isPaused() {
		return false
	}
	prevIndex := pr.next - 1
	prevTerm, errt := r.log.term(prevIndex)
	ents, erre := r.log.entries(pr.next, r.cfg.MaxSizePerMsg)
	if len(ents) == 0 && !sendIfEmpty && errt == nil && erre == nil {
		return false
	}
	if errt != nil || erre != nil {
		return r.startSnapshot(to, pr)
	}
	r.send(Message{To: to, Type: MsgApp, Index: prevIndex, LogTerm: prevTerm,
		Entries: ents, Commit: r.log.committed})
	last := prevIndex
	if n := len(ents); n > 0 {
		last = ents[n-1].Index
	}
	pr.sentEntries(last, len(ents))
	return true
}

func (r *Raft) startSnapshot(to NodeID, pr *progress) bool {
	if !pr.recentActive {
		return false // a follower that is down would only waste the bandwidth
	}
	meta, size, err := r.log.snapshotMeta()
	if err != nil {
		if errors.Is(err, ErrSnapshotTemporarilyUnavailable) {
			return false
		}
		panic(err)
	}
	if meta.Index == 0 {
		panic("consensus: need a snapshot but there is none")
	}
	r.logger.Info("sending snapshot", "to", to, "index", meta.Index, "bytes", size)
	pr.becomeSnapshot(&meta, size)
	r.sendSnapChunk(to, pr)
	return true
}

// sendSnapChunk asks for the chunk at the follower's offset. The MsgSnap
// names the chunk without its data, which the driver reads from storage
// off the run goroutine (see fillSnapChunk).
func (r *Raft) sendSnapChunk(to NodeID, pr *progress) {
	off := min(pr.snapOff, pr.snapSize)
	end := min(off+r.cfg.MaxSnapshotChunk, pr.snapSize)
	meta := *pr.snap
	r.send(Message{To: to, Type: MsgSnap, Snapshot: &meta, SnapOffset: off,
		SnapLen: end - off, SnapDone: end == pr.snapSize})
}

// ReportSnapshotReplaced tells the core that the driver could not read a
// chunk of the snapshot at index for follower to, because the storage
// replaced that snapshot with a newer one. A follower still being sent it
// goes back to probe, and so gets the current snapshot (or entries)
// instead of waiting in snapshot state for chunks that never come. A
// report about a transfer that has already ended is ignored.
func (r *Raft) ReportSnapshotReplaced(to NodeID, index uint64) {
	pr := r.prs[to]
	if r.state != StateLeader || pr == nil || pr.state != snapshotState || pr.snap.Index != index {
		return
	}
	pr.resetState(probeState)
	pr.next = pr.match + 1
	r.sendAppend(to, true)
}

func (r *Raft) sendHeartbeat(to NodeID, ctx []byte) {
	pr := r.prs[to]
	// Never advance a follower's commit past what it is known to hold.
	commit := min(pr.match, r.log.committed)
	r.send(Message{To: to, Type: MsgHeartbeat, Commit: commit, Index: uint64(r.ticks), Context: ctx})
}

func (r *Raft) forEachPeer(f func(id NodeID, pr *progress)) {
	for id, pr := range r.prs {
		if id != r.id {
			f(id, pr)
		}
	}
}

func (r *Raft) bcastAppend() {
	r.forEachPeer(func(id NodeID, _ *progress) { r.sendAppend(id, true) })
}

func (r *Raft) bcastHeartbeat(ctx []byte) {
	r.forEachPeer(func(id NodeID, _ *progress) { r.sendHeartbeat(id, ctx) })
}

// maybeCommit advances the commit index to the highest index stored on a
// quorum, if that entry is of the current term (§5.4.2).
func (r *Raft) maybeCommit() bool {
	if len(r.conf.Voters) == 0 {
		return false
	}
	matches := make([]uint64, 0, len(r.conf.Voters))
	for _, v := range r.conf.Voters {
		if pr := r.prs[v]; pr != nil {
			matches = append(matches, pr.match)
		} else {
			matches = append(matches, 0)
		}
	}
	slices.Sort(matches)
	mci := matches[len(matches)-r.quorum()]
	if !r.log.maybeCommit(mci, r.term) {
		return false
	}
	r.onLeaderCommit()
	return true
}

// onLeaderCommit releases reads that waited for the first commit of the term.
func (r *Raft) onLeaderCommit() {
	if !r.committedEntryInCurrentTerm() || len(r.pendingReadIndexMessages) == 0 {
		return
	}
	msgs := r.pendingReadIndexMessages
	r.pendingReadIndexMessages = nil
	for _, m := range msgs {
		r.sendReadIndex(m)
	}
}

func (r *Raft) committedEntryInCurrentTerm() bool {
	return r.log.zeroTermOnErr(r.log.term(r.log.committed)) == r.term
}

func (r *Raft) reset(term uint64) {
	if r.term != term {
		r.term = term
		r.vote = None
		r.leaderTicks = 0
	}
	r.transferDeadline = 0
	r.lead = None
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.randomizedElectionTimeout = r.cfg.ElectionTick + r.cfg.Rand.IntN(r.cfg.ElectionTick)
	r.leadTransferee = None
	r.votes = make(map[NodeID]bool)
	clear(r.prs)
	last := r.log.lastIndex()
	for _, id := range r.conf.Voters {
		r.prs[id] = r.newProgress(last, false)
	}
	for _, id := range r.conf.Learners {
		r.prs[id] = r.newProgress(last, true)
	}
	if pr := r.prs[r.id]; pr != nil {
		pr.match = r.stableLastIndex()
	}
	r.pendingConfIndex = 0
	r.readOnly.reset()
	r.pendingReadIndexMessages = nil
}

func (r *Raft) newProgress(last uint64, learner bool) *progress {
	return &progress{next: last + 1, inflights: newInflights(r.cfg.MaxInflightMsgs),
		learner: learner, recentActive: true, lastAckedSend: noAckYet}
}

// stableLastIndex is the last index the driver has persisted.
func (r *Raft) stableLastIndex() uint64 {
	if len(r.log.unstable.entries) > 0 {
		return r.log.unstable.offset - 1
	}
	return r.log.lastIndex()
}

func (r *Raft) appendEntries(es []Entry) {
	last := r.log.lastIndex()
	for i := range es {
		es[i].Term = r.term
		es[i].Index = last + 1 + uint64(i)
	}
	r.log.append(es...)
}

func (r *Raft) becomeFollower(term uint64, lead NodeID) {
	r.reset(term)
	r.lead = lead
	r.state = StateFollower
}

func (r *Raft) becomePreCandidate() {
	// PreVote does not change the term or vote, so a rejected pre-candidate
	// leaves no trace.
	r.votes = make(map[NodeID]bool)
	r.lead = None
	r.state = StatePreCandidate
}

func (r *Raft) becomeCandidate() {
	r.reset(r.term + 1)
	r.vote = r.id
	r.state = StateCandidate
}

func (r *Raft) becomeLeader() {
	r.reset(r.term)
	r.lead = r.id
	r.state = StateLeader
	if pr := r.prs[r.id]; pr != nil {
		pr.becomeReplicate()
	}
	r.pendingConfIndex = r.log.lastIndex()
	// A no-op of the new term lets the leader commit what earlier terms left
	// (§5.4.2) and makes ReadIndex safe once committed.
	r.appendEntries([]Entry{{}})
	r.logger.Info("became leader", "term", r.term, "last", r.log.lastIndex())
	if r.alone() {
		r.maybeCommit()
	}
	r.bcastAppend()
	if r.storageFault {
		r.handOff()
	}
}

// SetStorageFault tells the core whether its driver can write the log.
// A node that cannot must not acknowledge, vote or lead on what it has not
// persisted, and makes no progress of its own: it stays out of elections
// (it neither campaigns nor answers vote requests, which it could not
// persist), ignores the entries and snapshots a leader sends (the leader
// sends them again once it acknowledges), and a leader hands its
// leadership to the voter whose log is longest among those heard from
// lately; with none it stays leader, for reads, as a lone voter does.
// Pre-votes, which it need not persist, it answers as usual.
func (r *Raft) SetStorageFault(fault bool) {
	if r.storageFault == fault {
		return
	}
	r.storageFault = fault
	clear(r.handOffTried)
	if fault && r.state == StateLeader {
		r.handOff()
	}
}

// handOff asks the voter with the longest log among those heard from
// lately to take over from this leader, which cannot write its log. Those
// a hand-off already timed out on during this fault (their disk may be
// full too) come last, so that every other voter gets its turn.
func (r *Raft) handOff() {
	best := r.handOffTarget()
	if best == None && len(r.handOffTried) > 0 {
		clear(r.handOffTried)
		best = r.handOffTarget()
	}
	if best != None {
		r.logger.Warn("cannot write the log; handing leadership over", "to", best, "term", r.term)
		r.transferLeadership(best)
	}
}

// handOffTarget is the recently active voter, not yet tried, with the
// longest log; None if there is none.
func (r *Raft) handOffTarget() NodeID {
	best, match := None, uint64(0)
	for _, id := range r.conf.Voters {
		pr := r.prs[id]
		if id == r.id || pr == nil || !pr.recentActive || r.handOffTried[id] {
			continue
		}
		if best == None || pr.match > match {
			best, match = id, pr.match
		}
	}
	return best
}

// hup starts an election (with a pre-vote first when enabled); transfer is
// the vote context of a campaign for a leadership transfer, nil otherwise.
func (r *Raft) hup(transfer []byte) {
	if r.state == StateLeader || !r.promotable() || r.storageFault {
		return
	}
	if r.cfg.PreVote && transfer == nil {
		r.campaign(true, nil)
	} else {
		r.campaign(false, transfer)
	}
}

func (r *Raft) campaign(pre bool, transfer []byte) {
	var voteMsg MessageType
	var term uint64
	if pre {
		r.becomePreCandidate()
		voteMsg, term = MsgPreVote, r.term+1
	} else {
		r.becomeCandidate()
		voteMsg, term = MsgVote, r.term
	}
	if r.poll(r.id, true) == voteWon {
		if pre {
			r.campaign(false, transfer)
		} else {
			r.becomeLeader()
		}
		return
	}
	for _, id := range r.conf.Voters {
		if id == r.id {
			continue
		}
		r.send(Message{To: id, Term: term, Type: voteMsg, Index: r.log.lastIndex(),
			LogTerm: r.log.lastTerm(), Context: transfer})
	}
}

type voteResult uint8

const (
	votePending voteResult = iota
	voteLost
	voteWon
)

func voteRespType(t MessageType) MessageType {
	if t == MsgVote {
		return MsgVoteResp
	}
	return MsgPreVoteResp
}

func (r *Raft) poll(id NodeID, granted bool) voteResult {
	if _, ok := r.votes[id]; !ok {
		r.votes[id] = granted
	}
	var yes, no int
	for _, v := range r.conf.Voters {
		if g, ok := r.votes[v]; ok {
			if g {
				yes++
			} else {
				no++
			}
		}
	}
	switch {
	case yes >= r.quorum():
		return voteWon
	case no > len(r.conf.Voters)-r.quorum():
		return voteLost
	}
	return votePending
}

// Tick advances the core's logical clock by one tick.
func (r *Raft) Tick() {
	r.ticks++
	if r.state == StateLeader {
		r.tickHeartbeat()
	} else {
		r.tickElection()
	}
}

func (r *Raft) tickElection() {
	r.electionElapsed++
	// A lone voter has nobody to wait for: it takes office at its first tick.
	if r.promotable() && (r.alone() || r.electionElapsed >= r.randomizedElectionTimeout) {
		r.electionElapsed = 0
		r.hup(nil)
	}
}

func (r *Raft) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++
	if r.electionElapsed >= r.cfg.ElectionTick {
		r.electionElapsed = 0
		// A timed-out transfer is handled first: a new hand-off goes by
		// the voters heard from in the round that ends here, which the
		// quorum check below starts anew.
		if r.leadTransferee != None {
			r.logger.Info("leadership transfer timed out", "to", r.leadTransferee)
			if r.storageFault {
				r.handOffTried[r.leadTransferee] = true
			}
			r.leadTransferee = None
			if r.storageFault {
				r.handOff()
			}
		}
		if r.cfg.CheckQuorum && !r.checkQuorumActive() {
			r.logger.Warn("stepping down: no quorum heard within an election timeout", "term", r.term)
			r.becomeFollower(r.term, None)
			return
		}
	}
	if r.heartbeatElapsed >= r.cfg.HeartbeatTick {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat(r.readOnly.lastPendingCtx())
	}
}

// checkQuorumActive reports whether a quorum of voters was heard from since
// the last check, and starts a new round.
func (r *Raft) checkQuorumActive() bool {
	active := 0
	for _, v := range r.conf.Voters {
		pr := r.prs[v]
		if pr == nil {
			continue
		}
		if v == r.id || pr.recentActive {
			active++
		}
		if v != r.id {
			pr.recentActive = false
		}
	}
	return active >= r.quorum()
}

// leaseValid reports whether no other leader can have been elected yet:
// a quorum answered heartbeats sent within the last election timeout (less
// the margin), and those voters refuse votes for an election timeout after
// hearing from us.
//
// The arithmetic, with I the tick interval, E = ElectionTick and M =
// LeaseMargin. The driver's tick count is the number of whole intervals
// since its clock's origin t0, never more, and a lease-mode leader brings
// it up to date before every step (Node.syncLeaseClock). A heartbeat
// stamped s was therefore sent at some t_send >= t0 + s*I, and a lease
// judged valid at time t had ticks(t) = floor((t-t0)/I) < s+E-M, so
// t < t0 + (s+E-M+1)*I <= t_send + (E-M+1)*I. A voter that answered it
// heard it at t_recv >= t_send and reset its election clock; it refuses
// votes (Step, inLease) until E of its own ticks have passed, and its
// first may come at once, so its promise lasts past t_recv + (E-1)*I on
// its clock. The lease ends first when (E-M+1)*I on the leader's clock
// is at most (E-1)*I on the voter's: M = 2 allows no drift at all, and
// each tick of margin beyond it lets the leader's clock run slower than a
// voter's by another 1/(E-M+1), or the leader pause that long between
// judging the lease and serving the read. The minimum of 3 with E = 10
// allows 12.5%; rkv sets M = max(3, E/5).
func (r *Raft) leaseValid() bool {
	if !r.cfg.LeaseRead || r.leadTransferee != None {
		return false
	}
	sends := make([]int64, 0, len(r.conf.Voters))
	for _, v := range r.conf.Voters {
		if v == r.id {
			sends = append(sends, r.ticks)
		} else if pr := r.prs[v]; pr != nil {
			sends = append(sends, pr.lastAckedSend)
		}
	}
	if len(sends) < r.quorum() {
		return false
	}
	slices.Sort(sends)
	base := sends[len(sends)-r.quorum()]
	return base >= int64(r.transferDeadline) && base+int64(r.cfg.ElectionTick-r.cfg.LeaseMargin) > r.ticks
}

// transferHonored reports whether the vote request m is a transfer
// campaign that may override this voter's lease for its leader. It is not
// once the voter has answered a heartbeat its leader sent after giving the
// transfer up: the leader trusts its lease again only on such answers from
// a quorum. A voter that restarted within an election timeout may have
// answered some and forgotten, so in lease mode it honors none.
func (r *Raft) transferHonored(m Message) bool {
	deadline, ok := parseTransferContext(m.Context)
	if !ok || r.mayHaveForgottenLease() {
		return false
	}
	return r.term+1 != m.Term || r.leaderTicks < deadline
}

// mayHaveForgottenLease reports whether this node, in lease mode, may have
// backed a leader's lease before a restart that it no longer remembers:
// until an election timeout has passed since it started.
func (r *Raft) mayHaveForgottenLease() bool {
	return r.cfg.LeaseRead && r.ticks < int64(r.cfg.ElectionTick)
}

// Step feeds one message into the core: a local request (MsgHup, MsgProp,
// MsgReadIndex, MsgTransferLeader) or a message from a peer.
func (r *Raft) Step(m Message) error {
	if r.storageFault && m.Type == MsgVote {
		return nil // see SetStorageFault
	}
	switch {
	case m.Term == 0:
		// Local message.
	case m.Term > r.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			force := r.transferHonored(m)
			// Before its first election timeout a restarted node may have
			// promised a lease it no longer remembers: it grants no vote
			// until that promise has surely run out.
			heard := r.lead != None || r.mayHaveForgottenLease()
			inLease := r.cfg.CheckQuorum && heard && r.electionElapsed < r.cfg.ElectionTick
			if !force && inLease {
				return nil // we hear from a live leader: do not help depose it
			}
		}
		switch {
		case m.Type == MsgPreVote:
		case m.Type == MsgPreVoteResp && !m.Reject:
			// The term is bumped only when the pre-vote wins.
		default:
			if m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap {
				r.becomeFollower(m.Term, m.From)
			} else {
				r.becomeFollower(m.Term, None)
			}
		}
	case m.Term < r.term:
		switch {
		case (r.cfg.CheckQuorum || r.cfg.PreVote) && (m.Type == MsgHeartbeat || m.Type == MsgApp):
			// Tell a stale leader about the newer term so it steps down
			// (with PreVote we would otherwise never bump its term).
			r.send(Message{To: m.From, Type: MsgAppResp})
		case m.Type == MsgPreVote:
			r.send(Message{To: m.From, Type: MsgPreVoteResp, Reject: true})
		case m.Type == MsgVote:
			// The rejection carries our term (§5.1), so that a candidate
			// that cannot hear this node's own campaigns catches up with
			// it instead of staying behind it for good.
			r.send(Message{To: m.From, Type: MsgVoteResp, Reject: true})
		}
		return nil
	}

	switch m.Type {
	case MsgHup:
		r.hup(nil)
	case MsgVote, MsgPreVote:
		canVote := r.vote == m.From ||
			(r.vote == None && r.lead == None) ||
			(m.Type == MsgPreVote && m.Term > r.term)
		if canVote && r.log.isUpToDate(m.Index, m.LogTerm) {
			r.send(Message{To: m.From, Term: m.Term, Type: voteRespType(m.Type)})
			if m.Type == MsgVote {
				r.electionElapsed = 0
				r.vote = m.From
			}
		} else {
			r.send(Message{To: m.From, Type: voteRespType(m.Type), Reject: true})
		}
	default:
		switch r.state {
		case StateLeader:
			return r.stepLeader(m)
		case StateCandidate, StatePreCandidate:
			return r.stepCandidate(m)
		default:
			return r.stepFollower(m)
		}
	}
	return nil
}

func (r *Raft) stepLeader(m Message) error {
	switch m.Type {
	case MsgBeat:
		r.bcastHeartbeat(r.readOnly.lastPendingCtx())
		return nil
	case MsgProp:
		return r.propose(m)
	case MsgReadIndex:
		// Until an entry of this term commits, the commit index may lag
		// what earlier leaders committed; a lone voter is no exception
		// (after a restart its commit index is the lazily saved one).
		if !r.committedEntryInCurrentTerm() {
			r.pendingReadIndexMessages = append(r.pendingReadIndexMessages, m)
			return nil
		}
		r.sendReadIndex(m)
		return nil
	case MsgTransferLeader:
		r.transferLeadership(m.From)
		return nil
	}

	pr := r.prs[m.From]
	if pr == nil {
		return nil
	}
	switch m.Type {
	case MsgAppResp:
		pr.recentActive = true
		r.handleAppendResponse(m, pr)
	case MsgHeartbeatResp:
		pr.recentActive = true
		pr.lastAckedSend = max(pr.lastAckedSend, int64(m.Index))
		pr.probeSent = false
		if pr.state == replicateState && pr.inflights.full() {
			pr.inflights.freeLE(pr.inflights.buf[pr.inflights.start]) // the oldest MsgApp may be lost: do not stall forever
		}
		if pr.state == snapshotState {
			r.sendSnapChunk(m.From, pr) // resend what may have been lost
		} else if pr.match < r.log.lastIndex() {
			r.sendAppend(m.From, true)
		}
		if len(m.Context) > 0 {
			r.handleReadAck(m)
		}
		// A promotion deferred behind another change: a learner that
		// has caught up sends no more acknowledgements that move it.
		r.maybePromote(m.From, pr)
	case MsgSnapResp:
		pr.recentActive = true
		if pr.state != snapshotState || m.Commit != pr.snap.Index {
			return nil
		}
		// Only progress sends the next chunk: answering duplicates and stale
		// responses too would multiply the chunks in flight. A response that
		// moves backwards (the follower restarted) is picked up by the resend
		// at the next heartbeat response.
		progressed := m.Index > pr.snapOff
		pr.snapOff = m.Index
		if progressed && pr.snapOff < pr.snapSize {
			r.sendSnapChunk(m.From, pr)
		}
	}
	return nil
}

func (r *Raft) propose(m Message) error {
	if r.prs[r.id] == nil {
		return ErrProposalDropped // removed from the group
	}
	if r.leadTransferee != None {
		return ErrProposalDropped
	}
	// Refused as a whole before anything changes: a second change in one
	// proposal waits on the first like any other.
	confAt := -1
	for i := range m.Entries {
		if m.Entries[i].Type != EntryConfChange {
			continue
		}
		if confAt >= 0 || r.pendingConfIndex > r.log.applied {
			return ErrConfChangePending
		}
		confAt = i
	}
	if confAt >= 0 {
		if err := r.checkConfChange(m.Entries[confAt]); err != nil {
			return err
		}
	}
	r.appendEntries(m.Entries)
	if confAt >= 0 {
		r.pendingConfIndex = m.Entries[confAt].Index
		r.confAppended(m.Entries[0].Index, m.Entries)
	}
	r.bcastAppend()
	return nil
}

// checkConfChange refuses a change that would leave the group without a
// voter (a lone voter removing itself), and a promotion of anything but a
// learner that has caught up: a voter far behind would count towards the
// quorum without helping it commit.
func (r *Raft) checkConfChange(e Entry) error {
	cc, err := UnmarshalConfChange(e.Data)
	if err != nil {
		return err
	}
	switch cc.Type {
	case ConfRemove:
		if r.isVoter(cc.Node) && len(r.conf.Voters) == 1 {
			return ErrUnsafeConfChange
		}
	case ConfPromote:
		if !r.isLearner(cc.Node) {
			return ErrNotLearner
		}
		if !r.caughtUp(r.prs[cc.Node]) {
			return ErrLearnerNotReady
		}
	}
	return nil
}

// caughtUp reports whether a member's log follows the leader's closely
// enough for it to become a voter.
func (r *Raft) caughtUp(pr *progress) bool {
	return pr != nil && pr.state == replicateState && pr.match+r.cfg.AutoPromoteLag >= r.log.committed
}

func (r *Raft) handleAppendResponse(m Message, pr *progress) {
	if m.Reject {
		next := m.RejectHint
		if m.HintTerm > 0 {
			next, _ = r.log.findConflictByTerm(m.RejectHint, m.HintTerm)
		}
		if pr.maybeDecrTo(m.Index, next) {
			if pr.state == replicateState {
				pr.becomeProbe()
			}
			r.sendAppend(m.From, false)
		}
		return
	}
	updated := pr.maybeUpdate(m.Index)
	if pr.state == snapshotState && pr.match >= pr.snap.Index {
		// The follower has what the snapshot holds (perhaps its last
		// acknowledgement was lost): replicate from there, with a newer
		// snapshot if the log has been compacted again since.
		pr.becomeProbe()
		if pr.match+1 >= r.log.firstIndex() {
			pr.becomeReplicate()
		}
		r.sendAppend(m.From, false)
	}
	if !updated {
		return
	}
	switch {
	case pr.state == probeState:
		pr.becomeReplicate()
	case pr.state == replicateState:
		pr.inflights.freeLE(m.Index)
	}
	if r.maybeCommit() {
		r.bcastAppend()
	} else {
		for r.sendAppend(m.From, false) {
		}
	}
	if m.From == r.leadTransferee && pr.match == r.log.lastIndex() {
		r.logger.Info("transferee caught up; sending TimeoutNow", "to", m.From)
		r.send(Message{To: m.From, Type: MsgTimeoutNow, Index: r.transferDeadline})
	}
	r.maybePromote(m.From, pr)
}

// maybePromote turns a caught-up learner into a voter, unless
// Config.AutoPromote keeps it a learner: learners join without a vote so
// that a slow newcomer cannot stall commits.
func (r *Raft) maybePromote(id NodeID, pr *progress) {
	if !pr.learner || !r.caughtUp(pr) || r.pendingConfIndex > r.log.applied {
		return
	}
	if r.cfg.AutoPromote != nil && !r.cfg.AutoPromote(id) {
		return
	}
	r.logger.Info("promoting caught-up learner", "node", id, "match", pr.match)
	if err := r.propose(Message{Entries: []Entry{{Type: EntryConfChange,
		Data: ConfChange{Type: ConfPromote, Node: id}.Marshal()}}}); err != nil {
		r.logger.Debug("promotion deferred", "node", id, "err", err)
	}
}

func (r *Raft) transferLeadership(to NodeID) {
	if to == r.id || !r.isVoter(to) {
		return
	}
	if r.leadTransferee == to {
		return
	}
	r.leadTransferee = to
	// The transfer must finish within an election timeout.
	r.electionElapsed = 0
	r.transferDeadline = uint64(r.ticks) + uint64(r.cfg.ElectionTick)
	r.logger.Info("transferring leadership", "to", to)
	if r.prs[to].match == r.log.lastIndex() {
		r.send(Message{To: to, Type: MsgTimeoutNow, Index: r.transferDeadline})
	} else {
		r.sendAppend(to, true)
	}
}

func (r *Raft) sendReadIndex(m Message) {
	if r.leaseValid() || r.alone() {
		r.respondReadIndex(m, r.log.committed)
		return
	}
	r.readOnly.add(r.log.committed, m)
	r.readOnly.recvAck(r.id, m.Context)
	r.bcastHeartbeat(m.Context)
}

func (r *Raft) handleReadAck(m Message) {
	if acks := r.readOnly.recvAck(m.From, m.Context); acks != nil && r.readQuorum(acks) {
		r.releaseReads(m.Context)
	}
}

// readQuorum reports whether acks hold a quorum of the voters.
func (r *Raft) readQuorum(acks map[NodeID]bool) bool {
	n := 0
	for _, v := range r.conf.Voters {
		if acks[v] {
			n++
		}
	}
	return n >= r.quorum()
}

// releaseReads answers every pending read up to and including ctx's.
func (r *Raft) releaseReads(ctx []byte) {
	for _, rs := range r.readOnly.advance(ctx) {
		r.respondReadIndex(rs.req, rs.index)
	}
}

// recheckReads releases the reads whose acknowledgements make a quorum of
// a new membership: a round waiting for a removed voter would otherwise
// wait for an answer that never comes. Every quorum of the new membership
// meets every quorum of the one before, so the acks vouch as well.
func (r *Raft) recheckReads() {
	q := r.readOnly.queue
	for i := len(q) - 1; i >= 0; i-- {
		if r.readQuorum(r.readOnly.pending[q[i]].acks) {
			r.releaseReads([]byte(q[i]))
			return
		}
	}
}

func (r *Raft) respondReadIndex(req Message, index uint64) {
	if req.From == None || req.From == r.id {
		r.readStates = append(r.readStates, ReadState{Index: index, RequestCtx: req.Context})
		return
	}
	r.send(Message{To: req.From, Type: MsgReadIndexResp, Index: index, Context: req.Context})
}

func (r *Raft) stepCandidate(m Message) error {
	myVoteResp := MsgVoteResp
	if r.state == StatePreCandidate {
		myVoteResp = MsgPreVoteResp
	}
	switch m.Type {
	case MsgProp:
		return ErrProposalDropped
	case MsgApp:
		r.becomeFollower(m.Term, m.From)
		r.handleAppend(m)
	case MsgHeartbeat:
		r.becomeFollower(m.Term, m.From)
		r.handleHeartbeat(m)
	case MsgSnap:
		r.becomeFollower(m.Term, m.From)
		r.handleSnapshot(m)
	case myVoteResp:
		switch r.poll(m.From, !m.Reject) {
		case voteWon:
			if r.state == StatePreCandidate {
				r.campaign(false, nil)
			} else {
				r.becomeLeader()
			}
		case voteLost:
			r.becomeFollower(r.term, None)
		}
	case MsgReadIndex:
		r.pendingReadIndexMessages = append(r.pendingReadIndexMessages, m)
	}
	return nil
}

func (r *Raft) stepFollower(m Message) error {
	switch m.Type {
	case MsgProp:
		return ErrProposalDropped
	case MsgApp:
		r.electionElapsed = 0
		r.lead = m.From
		r.handleAppend(m)
	case MsgHeartbeat:
		r.electionElapsed = 0
		r.lead = m.From
		r.handleHeartbeat(m)
	case MsgSnap:
		r.electionElapsed = 0
		r.lead = m.From
		r.handleSnapshot(m)
	case MsgTransferLeader, MsgReadIndex:
		// Requests only the leader can serve are forwarded to it.
		if r.lead == None {
			return ErrProposalDropped
		}
		m.To = r.lead
		r.send(m)
	case MsgTimeoutNow:
		// Index is the transfer's deadline: a heartbeat sent at or after
		// it shows that the leader has given this transfer up. A node
		// that restarted lately may have heard one and forgotten.
		if r.leaderTicks >= m.Index || r.mayHaveForgottenLease() {
			r.logger.Info("ignoring a leadership transfer the leader abandoned", "term", r.term)
			return nil
		}
		r.logger.Info("campaigning at the leader's request", "term", r.term)
		r.hup(transferContext(m.Index))
	case MsgReadIndexResp:
		r.readStates = append(r.readStates, ReadState{Index: m.Index, RequestCtx: m.Context})
	}
	return nil
}

func (r *Raft) handleAppend(m Message) {
	if r.storageFault {
		return // see SetStorageFault
	}
	if m.Index < r.log.committed {
		r.send(Message{To: m.From, Type: MsgAppResp, Index: r.log.committed})
		return
	}
	if last, written, ok := r.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries); ok {
		if written > 0 {
			r.confAppended(written, m.Entries[written-(m.Index+1):])
		}
		r.send(Message{To: m.From, Type: MsgAppResp, Index: last})
		return
	}
	// Point the leader at where our logs may match: the last index of a
	// term no later than its entry's, skipping a whole conflicting term.
	hintIndex := min(m.Index, r.log.lastIndex())
	hintIndex, hintTerm := r.log.findConflictByTerm(hintIndex, m.LogTerm)
	r.send(Message{To: m.From, Type: MsgAppResp, Index: m.Index, Reject: true,
		RejectHint: hintIndex, HintTerm: hintTerm})
}

func (r *Raft) handleHeartbeat(m Message) {
	r.leaderTicks = max(r.leaderTicks, m.Index)
	r.log.commitTo(min(m.Commit, r.log.lastIndex()))
	r.send(Message{To: m.From, Type: MsgHeartbeatResp, Index: m.Index, Context: m.Context})
}

func (r *Raft) handleSnapshot(m Message) {
	if m.Snapshot == nil || r.storageFault {
		return // see SetStorageFault
	}
	meta := *m.Snapshot
	if meta.Index <= r.log.committed {
		// Already have it: tell the leader where we are.
		r.snapRecv = nil
		r.send(Message{To: m.From, Type: MsgAppResp, Index: r.log.committed})
		return
	}
	if rcv := r.snapRecv; rcv == nil || rcv.meta.Index != meta.Index || rcv.meta.Term != meta.Term ||
		rcv.from != m.From || rcv.term != m.Term {
		r.snapRecv = nil
		if m.SnapOffset != 0 {
			// A chunk of a snapshot we have not started: ask for the start.
			r.send(Message{To: m.From, Type: MsgSnapResp, Commit: meta.Index, Index: 0})
			return
		}
		r.snapRecv = &snapReceive{meta: meta, from: m.From, term: m.Term}
	}
	rcv := r.snapRecv
	if m.SnapOffset != uint64(len(rcv.buf)) {
		// Out of order or duplicate: resume from what we hold.
		r.send(Message{To: m.From, Type: MsgSnapResp, Commit: meta.Index, Index: uint64(len(rcv.buf))})
		return
	}
	rcv.buf = append(rcv.buf, m.SnapData...)
	if !m.SnapDone {
		r.send(Message{To: m.From, Type: MsgSnapResp, Commit: meta.Index, Index: uint64(len(rcv.buf))})
		return
	}
	r.snapRecv = nil
	snap := Snapshot{Meta: meta, Data: rcv.buf}
	if r.restore(snap) {
		r.logger.Info("restored snapshot", "index", meta.Index, "term", meta.Term, "bytes", len(snap.Data))
		r.send(Message{To: m.From, Type: MsgAppResp, Index: r.log.lastIndex()})
	} else {
		r.send(Message{To: m.From, Type: MsgAppResp, Index: r.log.committed})
	}
}

// restore installs snapshot s unless the log already covers it.
func (r *Raft) restore(s Snapshot) bool {
	if s.Meta.Index <= r.log.committed {
		return false
	}
	if r.log.matchTerm(s.Meta.Index, s.Meta.Term) {
		// Our log already holds the snapshot's last entry: just commit to it.
		r.log.commitTo(s.Meta.Index)
		return false
	}
	r.log.restore(s)
	r.conf = s.Meta.Conf.Clone()
	r.appliedConf = s.Meta.Conf.Clone()
	r.confIndex = s.Meta.Index
	r.appliedConfIndex = s.Meta.Index
	return true
}

// HasReady reports whether Ready would return anything to do.
func (r *Raft) HasReady() bool {
	if r.softState() != r.prevSoftState {
		return true
	}
	if hs := r.hardState(); !hs.IsEmpty() && hs != r.prevHardState {
		return true
	}
	return r.log.unstable.snapshot != nil || len(r.log.unstable.pending()) > 0 ||
		len(r.msgs) > 0 || len(r.readStates) > 0 || r.log.hasNextCommitted()
}

// Ready returns the work the driver must do next. The driver must finish it
// and call Advance before calling Step, Tick or Ready again.
func (r *Raft) Ready() Ready {
	rd := Ready{
		Entries:          r.log.unstableEntries(),
		CommittedEntries: r.log.nextCommitted(),
		Messages:         r.msgs,
		ReadStates:       r.readStates,
	}
	if ss := r.softState(); ss != r.prevSoftState {
		rd.SoftState = &ss
	}
	if hs := r.hardState(); hs != r.prevHardState {
		rd.HardState = hs
	}
	if r.log.unstable.snapshot != nil {
		rd.Snapshot = r.log.unstable.snapshot
	}
	return rd
}

// AcceptReady tells the core that the driver has taken rd: its messages are
// sent or queued behind the write of its entries, its committed entries are
// applied, and its entries and hard state are being written. A driver that
// writes in the background calls StableTo once the write is done. A Ready
// with a snapshot must be persisted before AcceptReady.
func (r *Raft) AcceptReady(rd Ready) {
	r.msgs = nil
	r.readStates = nil
	if rd.SoftState != nil {
		r.prevSoftState = *rd.SoftState
	}
	if !rd.HardState.IsEmpty() {
		r.prevHardState = rd.HardState
	}
	if rd.Snapshot != nil {
		r.log.stableSnapTo(rd.Snapshot.Meta.Index)
		r.log.appliedTo(rd.Snapshot.Meta.Index)
	}
	if len(rd.Entries) > 0 {
		r.log.unstable.acceptInProgress()
	}
	eachConfChange(rd.CommittedEntries, func(_ Entry, cc ConfChange) {
		r.appliedConf = applyConf(r.appliedConf, cc)
		if cc.Type == ConfRemove && cc.Node == r.id && r.state == StateLeader {
			r.logger.Info("removal committed; stepping down", "term", r.term)
			r.becomeFollower(r.term, None)
		}
	})
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.appliedTo(rd.CommittedEntries[n-1].Index)
		r.appliedConfIndex = r.log.applied
	}
}

// StableTo tells the core that entries up to (index, term) are durable. A
// leader counts itself towards commitment only from here.
func (r *Raft) StableTo(index, term uint64) {
	r.log.stableTo(index, term)
	if r.state == StateLeader {
		if pr := r.prs[r.id]; pr != nil && pr.maybeUpdate(r.stableLastIndex()) {
			if r.maybeCommit() {
				r.bcastAppend()
			}
		}
	}
}

// skipApplied marks the committed entries up to i applied without handing
// them to the application, which already applied them: a driver that
// replaces its core keeps its state machine. The applied membership is
// brought up to date from their conf entries.
func (r *Raft) skipApplied(i uint64) error {
	// What was applied was committed, though the commit index saved may
	// be older.
	r.log.commitTo(i)
	if i <= r.log.applied {
		return nil
	}
	err := r.forEachConfChange(r.log.applied, i, func(_ uint64, cc ConfChange) {
		r.appliedConf = applyConf(r.appliedConf, cc)
	})
	if err != nil {
		return err
	}
	r.appliedConfIndex = i
	r.log.appliedTo(i)
	return nil
}

// Status is a snapshot of a core's state for observers.
type Status struct {
	ID       NodeID
	Group    GroupID
	Term     uint64
	Vote     NodeID
	Commit   uint64
	Applied  uint64
	Lead     NodeID
	State    StateType
	Conf     ConfState
	Progress map[NodeID]ProgressStatus
}

// ProgressStatus is the leader's view of one member.
type ProgressStatus struct {
	Match, Next uint64
	State       string
	Learner     bool
	// SinceAck is how many ticks ago the heartbeat the member last
	// answered was sent, -1 if it never answered one.
	SinceAck int64
}

// Status returns the core's current state.
func (r *Raft) Status() Status {
	s := Status{ID: r.id, Group: r.group, Term: r.term, Vote: r.vote, Commit: r.log.committed,
		Applied: r.log.applied, Lead: r.lead, State: r.state, Conf: r.conf.Clone()}
	if r.state == StateLeader {
		s.Progress = make(map[NodeID]ProgressStatus, len(r.prs))
		for id, pr := range r.prs {
			since := int64(-1)
			if id == r.id {
				since = 0
			} else if pr.lastAckedSend != noAckYet {
				since = r.ticks - pr.lastAckedSend
			}
			s.Progress[id] = ProgressStatus{Match: pr.match, Next: pr.next, State: pr.state.String(), Learner: pr.learner,
				SinceAck: since}
		}
	}
	return s
}

// AppliedConf is the membership as of the applied index: what a snapshot
// taken now must record.
func (r *Raft) AppliedConf() ConfState { return r.appliedConf.Clone() }
