package consensus

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// Regression tests for the safety holes a line-by-line read of the core and
// its driver found. Each fails on the code before its fix.

// recorder is a transport that keeps what a node sends.
type recorder struct{ msgs []Message }

func (r *recorder) Send(msgs []Message) { r.msgs = append(r.msgs, msgs...) }

func (r *recorder) sent(typ MessageType) []Message {
	var out []Message
	for _, m := range r.msgs {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// newDriverNode returns node id over st (bootstrapping voters when st is
// empty) with its goroutines not started: the test runs its loop by hand,
// and decides when the disk writes.
func newDriverNode(t *testing.T, id NodeID, voters []NodeID, st LogStore, opts ...cfgOpt) (*Node, *recorder) {
	t.Helper()
	tr := &recorder{}
	cfg := Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Peers: voters, Logger: discardLogger}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := newNode(NodeConfig{
		Raft:         cfg,
		Storage:      st,
		Transport:    tr,
		StateMachine: &counterSM{},
		TickInterval: time.Millisecond,
		Logger:       discardLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1e9, 0)
	n.clock = func() time.Time { return now }
	n.lastTick = now
	return n, tr
}

// settle runs the node's loop by hand, disk included, until it is idle.
func settle(t *testing.T, n *Node) {
	t.Helper()
	for range 1000 {
		switch {
		case n.readyToHandle():
			if !n.ready() {
				t.Fatalf("node failed: %v", n.failed)
			}
		case len(n.persist.jobs) > 0:
			jobs, _ := n.persist.takeNow()
			n.writeJobs(jobs)
		case len(n.persist.written) > 0:
			<-n.persist.written
			if !n.onPersisted() {
				t.Fatalf("node failed: %v", n.failed)
			}
		default:
			return
		}
	}
	t.Fatal("node never settled")
}

// tickOnce lets one tick interval pass on a node made by newDriverNode and
// does what its ticker's wake-up does.
func tickOnce(n *Node) {
	now := n.clock().Add(n.cfg.TickInterval)
	n.clock = func() time.Time { return now }
	n.onTick()
}

// writeQueued lets the disk write everything queued, as the persist
// goroutine would.
func writeQueued(n *Node) {
	if jobs, _ := n.persist.takeNow(); len(jobs) > 0 {
		n.writeJobs(jobs)
	}
}

// TestBugLoneVoterStaleReadAfterRestart: a lone voter restarted with a
// lazily saved commit index behind its log answered ReadIndex at once with
// that index, before its no-op committed, so a read missed writes
// acknowledged before the crash.
func TestBugLoneVoterStaleReadAfterRestart(t *testing.T) {
	n := newTestNodeWithLog(t, 1, []NodeID{1}, []uint64{1, 1, 1, 1, 1}, 1)
	n.r.Tick()
	if n.r.state != StateLeader {
		t.Fatalf("lone voter is %v after a tick, want leader", n.r.state)
	}
	_ = n.r.Step(Message{Type: MsgReadIndex, Context: []byte("r")})
	if len(n.r.readStates) != 0 {
		t.Fatalf("read answered at %d before an entry of the term committed (commit %d, last %d)",
			n.r.readStates[0].Index, n.r.log.committed, n.r.LastIndex())
	}
	n.readyAll()
	if len(n.readStates) != 1 || n.readStates[0].Index != 6 {
		t.Fatalf("read states %v, want one at the no-op's index 6", n.readStates)
	}
}

// TestBugLoneVoterSendsBeforeTermDurable: a lone voter with a learner
// takes office within one tick, and its appends of the new term went out
// before the write that records the term and vote. Crashing before that
// write, it could win the same term again and write other entries at the
// indexes the learner already held.
func TestBugLoneVoterSendsBeforeTermDurable(t *testing.T) {
	st := NewMemoryStorage()
	snap := &Snapshot{Meta: SnapshotMeta{Index: 1, Term: 1, Conf: ConfState{Voters: []NodeID{1}, Learners: []NodeID{2}}},
		Data: []byte("0")}
	if err := st.Save(HardState{Term: 1, Commit: 1}, nil, snap); err != nil {
		t.Fatal(err)
	}
	n, tr := newDriverNode(t, 1, nil, st)
	tickOnce(n)
	if n.core.state != StateLeader {
		t.Fatalf("lone voter is %v after a tick, want leader", n.core.state)
	}
	if !n.ready() {
		t.Fatal(n.failed)
	}
	if apps := tr.sent(MsgApp); len(apps) != 0 {
		t.Fatalf("sent %v before term %d and its vote were durable", apps, n.core.term)
	}
	writeQueued(n)
	if apps := tr.sent(MsgApp); len(apps) != 1 || apps[0].To != 2 || apps[0].Term != 2 {
		t.Fatalf("after the write: sent %v, want one MsgApp of term 2 to the learner", apps)
	}
}

// TestBugSnapshotChunksFromTwoLeaders: a follower holding part of one
// leader's snapshot answered a new leader's first chunk of a snapshot of the
// same index with "resume at len(buf)", and so installed a splice of two
// files that need not be the same bytes.
func TestBugSnapshotChunksFromTwoLeaders(t *testing.T) {
	n := newTestNode(t, 1, peers3)
	meta := SnapshotMeta{Index: 10, Term: 2, Conf: ConfState{Voters: peers3}}
	chunk := func(from NodeID, term, off uint64, data string, done bool) []Message {
		m := meta
		_ = n.r.Step(Message{From: from, To: 1, Type: MsgSnap, Term: term, Snapshot: &m,
			SnapOffset: off, SnapData: []byte(data), SnapDone: done})
		return takeMsgs(n.r)
	}
	chunk(2, 2, 0, "AAAA", false)
	resp := chunk(3, 3, 0, "BBBBBB", false)
	if len(resp) != 1 || resp[0].Type != MsgSnapResp || resp[0].Index != 6 {
		t.Fatalf("new leader's first chunk answered with %v, want it accepted (next offset 6)", resp)
	}
	chunk(3, 3, 6, "CC", true)
	if s := n.r.log.unstable.snapshot; s == nil || string(s.Data) != "BBBBBBCC" {
		t.Fatalf("installed snapshot %v, want leader 3's bytes", s)
	}
}

// TestBugSnapshotSavedBeforeRestore: a received snapshot was made durable
// before the state machine restored it; one that does not restore then
// failed the node on every restart. It must be refused without a write, and
// the node must go on and take the next one.
func TestBugSnapshotSavedBeforeRestore(t *testing.T) {
	st := NewMemoryStorage()
	n, _ := newDriverNode(t, 1, peers3, st)
	settle(t, n)
	send := func(data string) {
		meta := SnapshotMeta{Index: 10, Term: 2, Conf: ConfState{Voters: peers3}}
		n.stepMessage(Message{From: 2, To: 1, Type: MsgSnap, Term: 2, Snapshot: &meta, SnapData: []byte(data), SnapDone: true})
		settle(t, n)
	}
	send("not a counter")
	if snap, _ := st.Snapshot(); !snap.IsEmpty() {
		t.Fatalf("a snapshot that does not restore was saved at %d", snap.Meta.Index)
	}
	if err := n.Failed(); err != nil {
		t.Fatalf("node failed: %v", err)
	}
	send("7")
	if snap, _ := st.Snapshot(); snap.Meta.Index != 10 || n.sm.(*counterSM).n != 7 {
		t.Fatalf("good snapshot: stored at %d, state %d; want 10 and 7", snap.Meta.Index, n.sm.(*counterSM).n)
	}
}

// TestBugDuplicateVoteBeforeDurable: a duplicated MsgVote arriving while the
// first grant was being written was granted again, and since its Ready
// showed no change of term or vote, the grant left before the vote was on
// disk. A crash then forgot the vote, and the node could vote twice.
func TestBugDuplicateVoteBeforeDurable(t *testing.T) {
	n, tr := newDriverNode(t, 1, peers3, NewMemoryStorage())
	settle(t, n)
	vote := Message{From: 2, To: 1, Type: MsgVote, Term: 2, Index: n.core.LastIndex(), LogTerm: n.core.log.lastTerm()}
	for range 2 {
		n.stepMessage(vote)
		if !n.ready() {
			t.Fatal(n.failed)
		}
		if grants := tr.sent(MsgVoteResp); len(grants) != 0 {
			t.Fatalf("granted %v before the vote was durable", grants)
		}
	}
	writeQueued(n)
	if grants := tr.sent(MsgVoteResp); len(grants) != 2 || grants[0].Reject || grants[1].Reject {
		t.Fatalf("after the write: %v, want both grants", grants)
	}
}

// TestBugStaleTimeoutNow: a MsgTimeoutNow of a transfer the leader gave up,
// delivered late, made the transferee campaign with the force that voters
// honor despite their lease, while the old leader trusted its lease again:
// a stale read in lease mode.
func TestBugStaleTimeoutNow(t *testing.T) {
	nw := newNetwork(t, peers3, leaseConfig)
	for _, n := range nw.nodes {
		n.r.ticks = int64(n.r.cfg.ElectionTick) // past the restart quiet time
	}
	nw.campaign(1)
	l := nw.nodes[1].r
	var late []Message
	nw.hook = func(m Message) bool {
		if m.Type == MsgTimeoutNow {
			late = append(late, m)
			return false
		}
		return true
	}
	_ = l.Step(Message{Type: MsgTransferLeader, From: 2})
	nw.flush()
	if len(late) != 1 {
		t.Fatalf("transfer sent %v, want one MsgTimeoutNow", late)
	}
	nw.hook = nil
	nw.tick(1, l.cfg.ElectionTick+1)
	if l.leadTransferee != None || !l.leaseValid() {
		t.Fatalf("after the transfer timed out: transferee %d, lease %v; want none and a lease again", l.leadTransferee, l.leaseValid())
	}
	term := l.term
	nw.send(late...)
	if nw.leader() != 1 || nw.nodes[2].r.term != term {
		t.Fatalf("a late MsgTimeoutNow moved leadership to %d at term %d (leader 1 at term %d)", nw.leader(), nw.nodes[2].r.term, term)
	}
	// A voter that heard the leader after the transfer ended refuses the
	// transfer's campaign, as it refuses any while its lease holds.
	force := Message{From: 2, To: 3, Type: MsgVote, Term: term + 1, Index: l.LastIndex(), LogTerm: l.log.lastTerm(),
		Context: transferContext(late[0].Index)}
	_ = nw.nodes[3].r.Step(force)
	if nw.nodes[3].r.term != term || len(nw.nodes[3].r.msgs) != 0 {
		t.Fatalf("voter in lease answered a stale transfer campaign: term %d, %v", nw.nodes[3].r.term, nw.nodes[3].r.msgs)
	}
}

// TestBugReplacedWaiterSettled: a proposal whose index a later leadership
// reused (after a truncation and re-election) was dropped from the waiters
// unsettled, so its client waited out its timeout and heard "outcome
// unknown" although its entry was gone.
func TestBugReplacedWaiterSettled(t *testing.T) {
	n, _ := newDriverNode(t, 1, []NodeID{1}, NewMemoryStorage())
	settle(t, n)
	tickOnce(n)
	settle(t, n)
	if !n.core.committedEntryInCurrentTerm() {
		t.Fatalf("lone voter not leading: %v", n.core.Status())
	}
	stale := &proposalBatch{ents: make([]Entry, 1), results: make([]Result, 1), left: 1, done: make(chan struct{})}
	next := n.core.LastIndex() + 1
	n.waiters[next] = waiter{term: n.core.term - 1, batch: stale}
	n.enqueueProposal([]Entry{{Data: []byte("x")}})
	n.stepProposals()
	if !done(stale.done) || !errors.Is(stale.results[0].Err, ErrProposalDropped) {
		t.Fatalf("replaced proposal: done %v, result %v; want ErrProposalDropped", done(stale.done), stale.results[0])
	}
}

// TestBugConfChangeRefusedAlone: a membership change refused as pending
// failed every write batched with it, and left pendingConfIndex at an index
// never appended.
func TestBugConfChangeRefusedAlone(t *testing.T) {
	n, _ := newDriverNode(t, 1, []NodeID{1}, NewMemoryStorage())
	settle(t, n)
	tickOnce(n)
	settle(t, n)
	learner := func(id NodeID) []Entry {
		return []Entry{{Type: EntryConfChange, Data: ConfChange{Type: ConfAddLearner, Node: id}.Marshal()}}
	}
	n.enqueueProposal(learner(2))
	n.stepProposals()
	pending := n.core.pendingConfIndex
	write := n.enqueueProposal([]Entry{{Data: []byte("x")}})
	refused := n.enqueueProposal(learner(3))
	n.stepProposals()
	if !done(refused.done) || !errors.Is(refused.results[0].Err, ErrConfChangePending) {
		t.Fatalf("second change: %v, want ErrConfChangePending", refused.results[0])
	}
	if done(write.done) {
		t.Fatalf("the write batched with a refused change failed: %v", write.results[0])
	}
	if n.core.pendingConfIndex != pending {
		t.Fatalf("pendingConfIndex %d, want %d (the change that was appended)", n.core.pendingConfIndex, pending)
	}
	settle(t, n)
	if !done(write.done) || write.results[0].Err != nil {
		t.Fatalf("write: %v, want applied", write.results[0])
	}

	// Two changes in one proposal are refused as a whole, leaving nothing
	// behind.
	before := n.core.pendingConfIndex
	if err := n.core.Step(Message{Type: MsgProp, Entries: slices.Concat(learner(4), learner(5))}); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("two changes at once: %v, want ErrConfChangePending", err)
	}
	if n.core.pendingConfIndex != before {
		t.Fatalf("refused proposal moved pendingConfIndex from %d to %d", before, n.core.pendingConfIndex)
	}
}

// TestBugRefusedSnapshotKeepsMembership: after refusing a snapshot, the
// driver rebuilt its core as of the applied index but with the membership
// of the last snapshot stored, losing every change applied since (a node
// grown from one voter believed itself alone again), and forgot that the
// refused Ready's term was never written, so a later message of that term
// left before the term was on disk.
func TestBugRefusedSnapshotKeepsMembership(t *testing.T) {
	st := NewMemoryStorage()
	n, tr := newDriverNode(t, 1, []NodeID{1}, st)
	settle(t, n)
	tickOnce(n)
	// Time passes between the node's steps, so its commit index is saved
	// with each write.
	now := n.clock()
	n.clock = func() time.Time { now = now.Add(time.Second); return now }
	settle(t, n)
	for _, id := range []NodeID{2, 3} {
		b := n.enqueueProposal([]Entry{{Type: EntryConfChange, Data: ConfChange{Type: ConfAddLearner, Node: id}.Marshal()}})
		n.stepProposals()
		settle(t, n)
		if !done(b.done) || b.results[0].Err != nil {
			t.Fatalf("adding learner %d: %v", id, b.results[0])
		}
	}
	term := n.core.term + 1
	meta := SnapshotMeta{Index: 100, Term: term, Conf: ConfState{Voters: []NodeID{2}, Learners: []NodeID{1}}}
	n.stepMessage(Message{From: 2, To: 1, Type: MsgSnap, Term: term, Snapshot: &meta, SnapData: []byte("garbage"), SnapDone: true})
	settle(t, n)
	want := ConfState{Voters: []NodeID{1}, Learners: []NodeID{2, 3}}
	if c, a := n.core.conf, n.core.AppliedConf(); !slices.Equal(c.Voters, want.Voters) || !slices.Equal(c.Learners, want.Learners) ||
		!slices.Equal(a.Voters, want.Voters) || !slices.Equal(a.Learners, want.Learners) {
		t.Fatalf("after a refused snapshot: membership %v, applied %v; want %v", c, a, want)
	}
	tr.msgs = nil
	n.stepMessage(Message{From: 2, To: 1, Type: MsgHeartbeat, Term: term})
	if !n.ready() {
		t.Fatal(n.failed)
	}
	if resp := tr.sent(MsgHeartbeatResp); len(resp) != 0 {
		t.Fatalf("answered %v before term %d was durable", resp, term)
	}
	settle(t, n)
	if hs, _, _ := st.InitialState(); hs.Term != term || len(tr.sent(MsgHeartbeatResp)) != 1 {
		t.Fatalf("term on disk %d, answers %v; want term %d written, then the answer", hs.Term, tr.sent(MsgHeartbeatResp), term)
	}
}

// TestBugRestartedNodeHonorsTransfer: in lease mode a node within an
// election timeout of its start may have backed the leader's lease before
// a restart it does not remember. It honored a transfer campaign once it
// had heard the leader again through an append (only a heartbeat teaches
// it the leader's clock), and a transferee acted on any MsgTimeoutNow.
func TestBugRestartedNodeHonorsTransfer(t *testing.T) {
	n := newTestNode(t, 3, peers3, leaseConfig)
	_ = n.r.Step(Message{From: 1, To: 3, Type: MsgApp, Term: 2, Index: n.r.LastIndex(), LogTerm: n.r.log.lastTerm(),
		Commit: n.r.log.committed})
	takeMsgs(n.r)
	if n.r.lead != 1 {
		t.Fatalf("lead %d, want 1", n.r.lead)
	}
	_ = n.r.Step(Message{From: 2, To: 3, Type: MsgVote, Term: 3, Index: 100, LogTerm: 2, Context: transferContext(1 << 40)})
	if n.r.term != 2 || len(n.r.msgs) != 0 {
		t.Fatalf("restarted voter answered a transfer campaign: term %d, %v", n.r.term, n.r.msgs)
	}
	_ = n.r.Step(Message{From: 1, To: 3, Type: MsgTimeoutNow, Term: 2, Index: 1 << 40})
	if n.r.state != StateFollower || n.r.term != 2 {
		t.Fatalf("restarted transferee campaigned: %v at term %d", n.r.state, n.r.term)
	}
}

// TestBugPromotedLearnerNeverHearsCommit: a learner whose promotion a lone
// voter committed, and which holds entries that voter lost in a crash (it
// sent them before its own write), refused the voter's campaign for its
// shorter log and could not campaign itself, since the promotion took
// effect when applied and it never learned that it was committed: the
// group never elected again. The promotion now takes effect once it is in
// the learner's log.
func TestBugPromotedLearnerNeverHearsCommit(t *testing.T) {
	st := NewMemoryStorage()
	snap := &Snapshot{Meta: SnapshotMeta{Index: 1, Term: 1, Conf: ConfState{Voters: []NodeID{1}, Learners: []NodeID{2}}}}
	promote := Entry{Index: 2, Term: 2, Type: EntryConfChange, Data: ConfChange{Type: ConfPromote, Node: 2}.Marshal()}
	if err := st.Save(HardState{Term: 2, Commit: 1}, []Entry{promote, {Index: 3, Term: 2, Data: []byte("lost by 1")}}, snap); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(newTestConfig(2, st, withPreVote))
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Step(Message{From: 1, To: 2, Type: MsgPreVote, Term: 3, Index: 2, LogTerm: 2})
	if resp := takeMsgs(r); len(resp) != 1 || !resp[0].Reject {
		t.Fatalf("answered %v, want a rejection: the candidate's log is behind", resp)
	}
	if !r.promotable() {
		t.Fatalf("membership %v, want 2 a voter: its promotion is in its log", r.conf)
	}
	for range 2 * r.cfg.ElectionTick {
		r.Tick()
	}
	if r.state != StatePreCandidate && r.state != StateCandidate {
		t.Fatalf("promoted learner is %v after an election timeout, want campaigning", r.state)
	}
}

// orderedDisk and orderedNet record, in one list, when a node writes and
// when it sends.
type orderedDisk struct {
	*MemoryStorage
	events *[]string
}

func (d orderedDisk) Save(hs HardState, ents []Entry, snap *Snapshot) error {
	*d.events = append(*d.events, "save")
	return d.MemoryStorage.Save(hs, ents, snap)
}

type orderedNet struct{ events *[]string }

func (t orderedNet) Send(msgs []Message) {
	for _, m := range msgs {
		*t.events = append(*t.events, "send "+m.Type.String())
	}
}

// TestWriteJobsSavesBeforeSending: the messages a persist job carries (a
// vote, an acknowledgement of entries) vouch for what the job writes, so
// they leave only after the write returned.
func TestWriteJobsSavesBeforeSending(t *testing.T) {
	var events []string
	st := NewMemoryStorage()
	n, err := newNode(NodeConfig{
		Raft:         Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Peers: peers3, Logger: discardLogger},
		Storage:      orderedDisk{MemoryStorage: st, events: &events},
		Transport:    orderedNet{events: &events},
		StateMachine: &counterSM{},
		TickInterval: time.Millisecond,
		Logger:       discardLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, n)
	last, lastTerm := n.core.LastIndex(), n.core.log.lastTerm()
	for _, tt := range []struct {
		m     Message
		reply MessageType
	}{
		{Message{From: 2, To: 1, Type: MsgVote, Term: 2, Index: last, LogTerm: lastTerm}, MsgVoteResp},
		{Message{From: 2, To: 1, Type: MsgApp, Term: 2, Index: last, LogTerm: lastTerm,
			Entries: []Entry{{Index: last + 1, Term: 2, Data: []byte("x")}}}, MsgAppResp},
	} {
		events = nil
		n.stepMessage(tt.m)
		if !n.ready() {
			t.Fatal(n.failed)
		}
		if len(events) != 0 {
			t.Fatalf("after %v, before the persist job ran: %v", tt.m.Type, events)
		}
		jobs, _ := n.persist.takeNow()
		n.writeJobs(jobs)
		if want := []string{"save", "send " + tt.reply.String()}; !slices.Equal(events, want) {
			t.Fatalf("persist job for %v: %v, want %v", tt.m.Type, events, want)
		}
		settle(t, n)
	}
}
