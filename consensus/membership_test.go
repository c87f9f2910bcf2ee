package consensus

import (
	"errors"
	"slices"
	"testing"
)

// Membership takes effect when its entry is appended (thesis §4.1). These
// tests fail on the rule it replaced, membership taking effect when applied.

func confEntry(index, term uint64, typ ConfChangeType, node NodeID) Entry {
	return Entry{Index: index, Term: term, Type: EntryConfChange, Data: ConfChange{Type: typ, Node: node}.Marshal()}
}

// TestBugRestartElectsUnderOldMembership: a voter restarted with its commit
// index saved before two membership changes (the driver saves it lazily)
// rebuilt the membership only up to that index and campaigned under the
// one from two changes back: a lone voter elected itself while the other
// two voters of the membership it had committed elected another leader of
// the same term.
func TestBugRestartElectsUnderOldMembership(t *testing.T) {
	st := NewMemoryStorage()
	ents := []Entry{
		confEntry(1, 1, ConfPromote, 1),
		confEntry(2, 1, ConfAddLearner, 2),
		confEntry(3, 1, ConfAddLearner, 3),
		confEntry(4, 1, ConfPromote, 2),
		confEntry(5, 1, ConfPromote, 3),
	}
	if err := st.Save(HardState{Term: 1, Vote: 1, Commit: 1}, ents, nil); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(newTestConfig(1, st))
	if err != nil {
		t.Fatal(err)
	}
	if want := []NodeID{1, 2, 3}; !slices.Equal(r.conf.Voters, want) {
		t.Fatalf("restarted with voters %v, want %v: the last membership in the log", r.conf.Voters, want)
	}
	for range 2 * r.cfg.ElectionTick {
		r.Tick()
	}
	if r.state == StateLeader {
		t.Fatalf("restarted voter leads term %d alone, without the votes of 2 and 3", r.term)
	}
	if votes := takeMsgs(r); len(votes) == 0 {
		t.Fatal("restarted voter did not ask 2 and 3 for their votes")
	}
}

// TestConfChangeTakesEffectWhenAppended: a follower uses a membership as
// soon as its entry is in the log, committed or not, and goes back to the
// one before when a new leader overwrites the entry.
func TestConfChangeTakesEffectWhenAppended(t *testing.T) {
	n := newTestNode(t, 1, peers3)
	r := n.r
	remove := confEntry(4, 2, ConfRemove, 1)
	_ = r.Step(Message{From: 2, To: 1, Type: MsgApp, Term: 2, Index: 3, LogTerm: 1, Commit: 3, Entries: []Entry{remove}})
	n.readyAll()
	if slices.Contains(r.conf.Voters, 1) {
		t.Fatalf("voters %v after appending the removal of 1", r.conf.Voters)
	}
	// Its removal is not committed: it may campaign, without its own vote.
	_ = r.Step(Message{Type: MsgHup})
	if r.state != StateCandidate {
		t.Fatalf("node 1 is %v after MsgHup, want candidate", r.state)
	}
	_ = r.Step(Message{From: 2, To: 1, Type: MsgVoteResp, Term: r.term})
	if r.state == StateLeader {
		t.Fatal("node 1 counted its own vote towards voters [2 3]")
	}
	// Leader 3 of a later term never had the removal and overwrites index 4.
	term := r.term + 1
	_ = r.Step(Message{From: 3, To: 1, Type: MsgApp, Term: term, Index: 3, LogTerm: 1, Commit: 3,
		Entries: []Entry{{Index: 4, Term: term, Data: []byte("x")}}})
	n.readyAll()
	if !slices.Equal(r.conf.Voters, peers3) {
		t.Fatalf("voters %v after the removal was overwritten, want %v", r.conf.Voters, peers3)
	}
	_ = r.Step(Message{Type: MsgHup})
	_ = r.Step(Message{From: 2, To: 1, Type: MsgVoteResp, Term: r.term})
	if r.state != StateLeader {
		t.Fatalf("node 1, a voter again, is %v with its own vote and 2's, want leader", r.state)
	}
}

// TestBugTwoVoterRemovalStalls: the leader of two voters removed itself;
// both held the removal, but the message telling the other that it was
// committed was lost, and the removed leader stepped down and stopped.
// The other kept the membership of two, as of its commit index, and
// needed the removed node's vote forever. It now uses the membership in
// its log, leads alone and commits.
func TestBugTwoVoterRemovalStalls(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2})
	nw.campaign(1)
	if nw.leader() != 1 {
		t.Fatalf("leader = %d, want 1", nw.leader())
	}
	l := nw.nodes[1].r
	removal := l.LastIndex() + 1
	// 2 receives the removal and acknowledges it; nothing from 1 reaches
	// it after that.
	nw.hook = func(m Message) bool { return m.From != 1 || m.To != 2 || nw.nodes[2].r.LastIndex() < removal }
	if err := l.Step(Message{Type: MsgProp, Entries: []Entry{confEntry(0, 0, ConfRemove, 1)}}); err != nil {
		t.Fatal(err)
	}
	nw.flush()
	if l.log.applied < removal || l.state == StateLeader {
		t.Fatalf("removed leader: applied %d (removal at %d), %v; want it applied and stepped down", l.log.applied, removal, l.state)
	}
	nw.isolate(1) // a removed node stops
	r2 := nw.nodes[2].r
	for range 4 * r2.cfg.ElectionTick {
		nw.tick(2, 1)
		if r2.state == StateLeader {
			break
		}
	}
	if r2.state != StateLeader || !slices.Equal(r2.conf.Voters, []NodeID{2}) {
		t.Fatalf("node 2 is %v with voters %v (commit %d); want the leader of [2]", r2.state, r2.conf.Voters, r2.log.committed)
	}
	if err := nw.propose(2, "after"); err != nil {
		t.Fatal(err)
	}
	if e := nw.nodes[2].applied[len(nw.nodes[2].applied)-1]; string(e.Data) != "after" {
		t.Fatalf("last applied %q, want the write after the removal", e.Data)
	}
}

// TestRemovedLeaderCampaignsForItsRemoval: a leader of two voters that
// removes itself and steps down before the other holds the removal may
// still campaign, without counting itself: the other refuses any
// candidate whose log lacks the removal, and could not campaign if it
// held it. It commits its removal and steps down, and the other voter,
// alone, takes over. A lone voter cannot remove itself.
func TestRemovedLeaderCampaignsForItsRemoval(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2}, withCheckQuorum)
	nw.campaign(1)
	l := nw.nodes[1].r
	nw.isolate(2)
	if err := l.Step(Message{Type: MsgProp, Entries: []Entry{confEntry(0, 0, ConfRemove, 1)}}); err != nil {
		t.Fatal(err)
	}
	nw.flush()
	// Not hearing 2 for an election timeout, 1 steps down.
	nw.tick(1, 2*l.cfg.ElectionTick)
	if l.state == StateLeader {
		t.Fatal("leader still leads without a quorum")
	}
	nw.heal()
	for range 4 * l.cfg.ElectionTick {
		nw.tick(1, 1)
		nw.tick(2, 1)
		if nw.nodes[2].r.state == StateLeader {
			break
		}
	}
	r2 := nw.nodes[2].r
	if r2.state != StateLeader || !slices.Equal(r2.conf.Voters, []NodeID{2}) {
		t.Fatalf("node 2 is %v with voters %v; want the leader of [2]", r2.state, r2.conf.Voters)
	}
	if err := r2.Step(Message{Type: MsgProp, Entries: []Entry{confEntry(0, 0, ConfRemove, 2)}}); !errors.Is(err, ErrUnsafeConfChange) {
		t.Fatalf("lone voter removing itself: %v, want ErrUnsafeConfChange", err)
	}
}

// TestLeaderRemovingItselfStepsDownWhenApplied: a leader of three that
// removes itself goes on replicating without counting itself, steps down
// once the removal is applied, and the other two elect a leader.
func TestLeaderRemovingItselfStepsDownWhenApplied(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.campaign(1)
	l := nw.nodes[1].r
	if err := l.Step(Message{Type: MsgProp, Entries: []Entry{confEntry(0, 0, ConfRemove, 1)}}); err != nil {
		t.Fatal(err)
	}
	if l.state != StateLeader || slices.Contains(l.conf.Voters, 1) {
		t.Fatalf("after appending its removal: %v with voters %v, want a leader outside them", l.state, l.conf.Voters)
	}
	nw.flush()
	if l.state == StateLeader {
		t.Fatal("removed leader still leads after its removal was applied")
	}
	nw.isolate(1)
	for range 3 * l.cfg.ElectionTick {
		nw.tick(2, 1)
		nw.tick(3, 1)
		if lead := nw.leader(); lead == 2 || lead == 3 {
			return
		}
	}
	t.Fatalf("2 and 3 elected no leader; voters of 2: %v", nw.nodes[2].r.conf.Voters)
}

// TestReadRoundReleasedWhenQuorumShrinks: a ReadIndex round waiting for
// the acknowledgement of a voter that is then removed is confirmed by the
// acknowledgements it has, if they make a quorum of the new membership.
func TestReadRoundReleasedWhenQuorumShrinks(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2})
	nw.campaign(1)
	l := nw.nodes[1]
	nw.isolate(2)
	_ = l.r.Step(Message{Type: MsgReadIndex, Context: []byte("r")})
	nw.flush()
	if len(l.readStates) != 0 {
		t.Fatalf("read answered without 2's acknowledgement: %v", l.readStates)
	}
	if err := l.r.Step(Message{Type: MsgProp, Entries: []Entry{confEntry(0, 0, ConfRemove, 2)}}); err != nil {
		t.Fatal(err)
	}
	nw.flush()
	if len(l.readStates) != 1 || string(l.readStates[0].RequestCtx) != "r" {
		t.Fatalf("read states %v after 2 was removed, want the read released", l.readStates)
	}
}

// TestLearnerKeptByAutoPromote: a learner that Config.AutoPromote refuses
// receives the log but stays a learner however long it follows, and the
// voters alone make a quorum: with two of the three voters cut off, the
// leader commits nothing though the learner acknowledges everything. An
// explicit ConfPromote makes it a voter once it has caught up, and is
// refused for anything but a caught-up learner.
func TestLearnerKeptByAutoPromote(t *testing.T) {
	keep := func(c *Config) { c.AutoPromote = func(id NodeID) bool { return id != 4 } }
	nw := newNetwork(t, peers3, keep)
	nw.nodes[4] = newTestNode(t, 4, nil, keep)
	nw.campaign(1)
	l := nw.nodes[1].r
	nw.cut[[2]NodeID{1, 4}] = true
	proposeConf(t, nw, 1, ConfChange{Type: ConfAddLearner, Node: 4})
	err := l.Step(Message{Type: MsgProp, Entries: []Entry{{Type: EntryConfChange, Data: ConfChange{Type: ConfPromote, Node: 4}.Marshal()}}})
	if !errors.Is(err, ErrLearnerNotReady) {
		t.Fatalf("promoting a learner that has nothing yet: %v, want ErrLearnerNotReady", err)
	}
	nw.heal()
	if err := nw.propose(1, "x"); err != nil {
		t.Fatal(err)
	}
	nw.tick(1, 10*l.cfg.ElectionTick)
	for _, id := range []NodeID{1, 2, 3, 4} {
		if conf := nw.nodes[id].r.conf; !slices.Equal(conf.Voters, peers3) || !slices.Equal(conf.Learners, []NodeID{4}) {
			t.Fatalf("n%d conf %v, want voters %v and learner 4", id, conf, peers3)
		}
	}
	if got, want := nw.nodes[4].r.log.applied, l.log.committed; got != want {
		t.Fatalf("learner applied %d, want the leader's commit index %d", got, want)
	}

	nw.isolate(2)
	nw.isolate(3)
	commit := l.log.committed
	if err := nw.propose(1, "no quorum"); err != nil {
		t.Fatal(err)
	}
	nw.tick(1, 3)
	if l.log.committed != commit || nw.nodes[4].r.LastIndex() != l.LastIndex() {
		t.Fatalf("commit %d -> %d with only the leader and the learner (learner's last %d, leader's %d); want no commit",
			commit, l.log.committed, nw.nodes[4].r.LastIndex(), l.LastIndex())
	}
	nw.heal()
	nw.tick(1, 3)
	if l.log.committed != l.LastIndex() {
		t.Fatalf("commit %d, last %d: want the entry committed once the voters hear again", l.log.committed, l.LastIndex())
	}

	for _, node := range []NodeID{2, 5} {
		err := l.Step(Message{Type: MsgProp, Entries: []Entry{{Type: EntryConfChange, Data: ConfChange{Type: ConfPromote, Node: node}.Marshal()}}})
		if !errors.Is(err, ErrNotLearner) {
			t.Fatalf("promoting n%d, not a learner: %v, want ErrNotLearner", node, err)
		}
	}
	proposeConf(t, nw, 1, ConfChange{Type: ConfPromote, Node: 4})
	for _, id := range []NodeID{1, 2, 3, 4} {
		if conf := nw.nodes[id].r.conf; !slices.Equal(conf.Voters, []NodeID{1, 2, 3, 4}) || len(conf.Learners) != 0 {
			t.Fatalf("n%d conf %v after ConfPromote, want 4 a voter", id, conf)
		}
	}
}

// TestBugSecondLearnerNeverPromoted: two learners caught up at once; the
// second one's promotion waited for the first one's, and once that was
// applied the second, already caught up, sent no acknowledgement that
// moved its progress, which was the only moment the leader reconsidered
// it: with no more writes it stayed a learner for good. Heartbeat
// responses now retry a deferred promotion.
func TestBugSecondLearnerNeverPromoted(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.nodes[4] = newTestNode(t, 4, nil)
	nw.nodes[5] = newTestNode(t, 5, nil)
	nw.campaign(1)
	nw.cut[[2]NodeID{1, 4}] = true
	nw.cut[[2]NodeID{1, 5}] = true
	proposeConf(t, nw, 1, ConfChange{Type: ConfAddLearner, Node: 4})
	proposeConf(t, nw, 1, ConfChange{Type: ConfAddLearner, Node: 5})
	nw.heal()
	// Both catch up while nothing commits: 4's promotion is proposed, 5's
	// deferred behind it.
	nw.hook = func(m Message) bool { return m.Type != MsgAppResp || m.From > 3 }
	l := nw.nodes[1].r
	nw.tick(1, 3)
	if !slices.Equal(l.conf.Voters, []NodeID{1, 2, 3, 4}) || nw.nodes[5].r.LastIndex() != l.LastIndex() {
		t.Fatalf("conf %v, learner 5 at %d of %d: want 4's promotion proposed and 5 caught up", l.conf, nw.nodes[5].r.LastIndex(), l.LastIndex())
	}
	nw.heal()
	nw.tick(1, 3*l.cfg.ElectionTick)
	if want := []NodeID{1, 2, 3, 4, 5}; !slices.Equal(l.conf.Voters, want) {
		t.Fatalf("leader's conf %v with both learners caught up and no writes, want voters %v", l.conf, want)
	}
}
