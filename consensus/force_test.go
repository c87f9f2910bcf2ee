package consensus

import (
	"slices"
	"strings"
	"testing"
)

// restart starts a core on n's storage, as a process restarts, and hands
// it what it commits.
func restart(t *testing.T, n *testNode) *testNode {
	t.Helper()
	meta, _, err := n.st.SnapshotMeta()
	if err != nil {
		t.Fatal(err)
	}
	c := newTestConfig(n.r.id, n.st)
	c.Applied = meta.Index
	r, err := NewRaft(c)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{r: r, st: n.st}
}

// TestForceNewCluster: a voter whose two peers are gone for good, its log
// holding an entry no quorum acknowledged, restarts after ForceNewCluster
// as the only voter, in a later term, and leads, commits and applies
// everything its log held, the unacknowledged entry too, then new writes.
func TestForceNewCluster(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.campaign(1)
	if err := nw.propose(1, "acked"); err != nil {
		t.Fatal(err)
	}
	nw.isolate(1)
	if err := nw.propose(1, "unacked"); err != nil {
		t.Fatal(err)
	}
	old := nw.nodes[1]
	oldTerm, oldLast := old.r.term, old.r.LastIndex()
	if old.r.log.committed == oldLast {
		t.Fatal("the isolated leader committed its last entry")
	}
	removed, err := ForceNewCluster(old.st, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []NodeID{2, 3}) {
		t.Fatalf("removed %v, want [2 3]", removed)
	}
	n := restart(t, old)
	if !slices.Equal(n.r.conf.Voters, []NodeID{1}) || len(n.r.conf.Learners) != 0 || n.r.term <= oldTerm {
		t.Fatalf("restarted with conf %v in term %d, want voter 1 alone after term %d", n.r.conf, n.r.term, oldTerm)
	}
	n.readyAll()
	for range 2 * n.r.cfg.ElectionTick {
		n.r.Tick()
		n.readyAll()
	}
	if n.r.state != StateLeader {
		t.Fatalf("state %v after an election timeout alone, want leader", n.r.state)
	}
	if err := n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte("after")}}}); err != nil {
		t.Fatal(err)
	}
	n.readyAll()
	var data []string
	for _, e := range n.applied {
		if e.Type == EntryNormal && len(e.Data) > 0 {
			data = append(data, string(e.Data))
		}
	}
	if want := []string{"acked", "unacked", "after"}; !slices.Equal(data, want) || n.r.log.committed != n.r.LastIndex() {
		t.Fatalf("applied %q (commit %d, last %d), want %q all committed", data, n.r.log.committed, n.r.LastIndex(), want)
	}
	if n.r.LastIndex() <= oldLast {
		t.Fatalf("last index %d, want past the old log's %d", n.r.LastIndex(), oldLast)
	}
}

// TestForceNewClusterFromLearner: a learner that survived alone becomes
// the group's only voter.
func TestForceNewClusterFromLearner(t *testing.T) {
	keep := func(c *Config) { c.AutoPromote = func(NodeID) bool { return false } }
	nw := newNetwork(t, peers3, keep)
	nw.nodes[4] = newTestNode(t, 4, nil, keep)
	nw.campaign(1)
	proposeConf(t, nw, 1, ConfChange{Type: ConfAddLearner, Node: 4})
	if err := nw.propose(1, "x"); err != nil {
		t.Fatal(err)
	}
	removed, err := ForceNewCluster(nw.nodes[4].st, 4)
	if err != nil {
		t.Fatal(err)
	}
	n := restart(t, nw.nodes[4])
	if !slices.Equal(removed, peers3) || !slices.Equal(n.r.conf.Voters, []NodeID{4}) || len(n.r.conf.Learners) != 0 {
		t.Fatalf("removed %v, conf %v; want 1-3 removed and 4 the only voter", removed, n.r.conf)
	}
	if _, err := ForceNewCluster(nw.nodes[2].st, 9); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("forcing a node the log does not know: %v, want an error", err)
	}
	if _, err := ForceNewCluster(NewMemoryStorage(), 1); err == nil {
		t.Fatal("forcing an empty log succeeded")
	}
}
