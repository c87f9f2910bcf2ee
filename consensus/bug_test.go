package consensus

import (
	"slices"
	"testing"
)

// TestBugReplicateStallsOnLostApps: a follower in replicate state whose
// MsgApps were all lost while the inflight window was full must still be
// caught up by the heartbeat round trip. Before the fix the window stayed
// full forever (only MsgAppResp frees it), so the leader never sent that
// follower another MsgApp; found by TestSim seeds 4, 10, 14 and 16.
func TestBugReplicateStallsOnLostApps(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2, 3}, func(c *Config) { c.MaxInflightMsgs = 2 })
	nw.campaign(1)
	if nw.leader() != 1 {
		t.Fatalf("leader = %d, want 1", nw.leader())
	}
	nw.hook = func(m Message) bool { return !(m.Type == MsgApp && m.To == 2) }
	for _, d := range []string{"a", "b", "c"} {
		if err := nw.propose(1, d); err != nil {
			t.Fatal(err)
		}
	}
	nw.heal()
	nw.tick(1, 3)
	if got, want := nw.nodes[2].r.LastIndex(), nw.nodes[1].r.LastIndex(); got != want {
		t.Fatalf("follower 2 last index = %d, want %d (leader's progress: %v)", got, want, nw.nodes[1].r.prs[2])
	}
}

// TestBugProbeNeverSentOnHeartbeat: a heartbeat response from a probing
// follower must trigger a probe even when the leader has no entry beyond the
// follower's next index. A learner added while the group is idle starts at
// next = last+1, and before the fix it received nothing but heartbeats until
// a new proposal arrived (and never anything, after a lost rejection);
// found by TestSim seed 105.
func TestBugProbeNeverSentOnHeartbeat(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2, 3})
	nw.nodes[4] = newTestNode(t, 4, nil)
	nw.campaign(1)
	cc := ConfChange{Type: ConfAddLearner, Node: 4}
	if err := nw.nodes[1].r.Step(Message{Type: MsgProp, Entries: []Entry{{Type: EntryConfChange, Data: cc.Marshal()}}}); err != nil {
		t.Fatal(err)
	}
	nw.flush()
	if c := nw.nodes[1].r.conf; !slices.Contains(c.Learners, 4) && !slices.Contains(c.Voters, 4) {
		t.Fatalf("learner 4 not added: %v", c)
	}
	nw.tick(1, 5)
	if got, want := nw.nodes[4].r.LastIndex(), nw.nodes[1].r.LastIndex(); got != want {
		t.Fatalf("learner 4 last index = %d, want %d (leader's progress: %v)", got, want, nw.nodes[1].r.prs[4])
	}
}

// TestBugStaleSnapshotStalls: a leader streaming a snapshot to a follower
// that already holds it (its acknowledgement of the install was lost and
// the leader compacted past it since) must move on to a newer snapshot.
// The core stayed in snapshot state forever: the follower answered every
// resent chunk with "already have it" (MsgAppResp at its commit index),
// which updated nothing, and match+1 < firstIndex kept the state. Found by
// TestSim seeds 52, 116 and 144; fixed in the core by 16cf893.
func TestBugStaleSnapshotStalls(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2, 3}, func(c *Config) { c.MaxSnapshotChunk = 4 })
	nw.campaign(1)
	lead := nw.nodes[1]
	compact := func() {
		if err := lead.st.CreateSnapshot(lead.r.log.applied, lead.r.AppliedConf(), SnapshotBytes([]byte("snapshot-data"))); err != nil {
			t.Fatal(err)
		}
		if err := lead.st.Compact(lead.r.log.applied); err != nil {
			t.Fatal(err)
		}
	}
	nw.isolate(3)
	for _, d := range []string{"a", "b"} {
		if err := nw.propose(1, d); err != nil {
			t.Fatal(err)
		}
	}
	compact()
	nw.heal()
	// 3 installs the snapshot, but its final acknowledgement is lost.
	nw.hook = func(m Message) bool { return !(m.From == 3 && m.Type == MsgAppResp && !m.Reject) }
	nw.tick(1, 1)
	if got, want := nw.nodes[3].r.log.committed, lead.r.log.committed; got != want {
		t.Fatalf("follower 3 commit = %d after the snapshot, want %d", got, want)
	}
	nw.isolate(3)
	for _, d := range []string{"c", "d"} {
		if err := nw.propose(1, d); err != nil {
			t.Fatal(err)
		}
	}
	compact()
	nw.heal()
	nw.tick(1, 10)
	if got, want := nw.nodes[3].r.LastIndex(), lead.r.LastIndex(); got != want {
		t.Fatalf("follower 3 last index = %d, want %d (leader's progress: %v, snapshot index %d)",
			got, want, lead.r.prs[3], lead.r.prs[3].snap.Index)
	}
}
