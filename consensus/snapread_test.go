package consensus

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// gatedStorage is a MemoryStorage whose snapshot chunk reads wait until
// the test opens the gate, as reads of a large snapshot on a slow disk
// take long.
type gatedStorage struct {
	*MemoryStorage
	gate    chan struct{}
	entered atomic.Int64 // reads started
	left    atomic.Int64 // reads finished
}

func (s *gatedStorage) ReadSnapshotChunk(index, off uint64, buf []byte) error {
	s.entered.Add(1)
	defer s.left.Add(1)
	<-s.gate
	return s.MemoryStorage.ReadSnapshotChunk(index, off, buf)
}

// cutNet is a chanNet that drops every message to or from one node.
type cutNet struct {
	net  atomic.Pointer[chanNet]
	down atomic.Uint64 // the node cut off; None: nobody
}

func (c *cutNet) Send(msgs []Message) {
	down := NodeID(c.down.Load())
	kept := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.From != down && m.To != down {
			kept = append(kept, m)
		}
	}
	if net := c.net.Load(); net != nil {
		net.Send(kept)
	}
}

// coreTicks returns the ticks n's core has counted, read on its loop.
func coreTicks(t *testing.T, ctx context.Context, n *Node) int64 {
	t.Helper()
	var ticks int64
	if err := n.do(ctx, func() { ticks = n.core.ticks }); err != nil {
		t.Fatal(err)
	}
	return ticks
}

// TestNodeTicksWhileSnapshotRead: a leader whose snapshot chunk reads
// block goes on ticking, replicating and confirming reads for several
// election timeouts: the run loop does not wait for the read. Once the
// reads complete, the follower catches up from the snapshot.
func TestNodeTicksWhileSnapshotRead(t *testing.T) {
	gate := make(chan struct{})
	stores := map[NodeID]*gatedStorage{}
	cn := &cutNet{}
	net, nodes := startTestCluster(t, 3, true, func(cfg *NodeConfig) {
		st := &gatedStorage{MemoryStorage: NewMemoryStorage(), gate: gate}
		stores[cfg.Raft.ID] = st
		cfg.Storage = st
		cfg.Transport = cn
		cfg.SnapshotEntries = 20
		cfg.Raft.MaxSnapshotChunk = 4
	})
	cn.net.Store(net)
	// Runs before the cluster's Stop, which waits for the readers.
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := waitLeader(t, nodes)
	var lagger *Node
	for _, n := range nodes {
		if n != leader {
			lagger = n
			break
		}
	}
	id := lagger.cfg.Raft.ID
	cn.down.Store(uint64(id))
	proposeOneByOne(t, ctx, leader, 60, []byte("x"))
	lst := stores[leader.cfg.Raft.ID]
	poll(t, "the leader to compact past the cut-off follower", func() bool {
		first, _ := lst.FirstIndex()
		return first > lagger.Applied()+1
	})
	cn.down.Store(uint64(None))
	poll(t, "the leader to read a snapshot chunk", func() bool { return lst.entered.Load() > 0 })

	start := coreTicks(t, ctx, leader)
	term := leader.Term()
	for coreTicks(t, ctx, leader) < start+3*int64(leader.cfg.Raft.ElectionTick) {
		if _, err := leader.Propose(ctx, []byte("y")); err != nil {
			t.Fatalf("propose while a snapshot read blocks: %v", err)
		}
		if err := leader.ReadIndex(ctx); err != nil {
			t.Fatalf("read while a snapshot read blocks: %v", err)
		}
	}
	if lst.left.Load() != 0 {
		t.Fatal("a snapshot read finished before the gate opened")
	}
	if !leader.IsLeader() || leader.Term() != term {
		t.Fatalf("leadership changed while a snapshot read blocked: leader %v, term %d -> %d",
			leader.IsLeader(), term, leader.Term())
	}
	close(gate)
	want := leader.sm.(*counterSM)
	poll(t, "the follower to catch up by the snapshot", func() bool {
		return lagger.Applied() == leader.Applied() && lagger.sm.(*counterSM).get() == want.get()
	})
}

func (s *counterSM) get() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// readErrStorage is a MemoryStorage whose snapshot chunk reads fail.
type readErrStorage struct {
	*MemoryStorage
	err error
}

func (s *readErrStorage) ReadSnapshotChunk(index, off uint64, buf []byte) error {
	if s.err != nil {
		return s.err
	}
	return s.MemoryStorage.ReadSnapshotChunk(index, off, buf)
}

// newSnapshotLeader returns node 1 of voters {1, 2}, leading, over st,
// which holds a snapshot of data at index 2 (the bootstrap entries), with
// follower 2's log rejected down to nothing: its core has asked for the
// first chunk of snapshot 2, which waits in the node's queue.
func newSnapshotLeader(t *testing.T, st LogStore, data []byte) (*Node, *recorder) {
	t.Helper()
	n, tr := newDriverNode(t, 1, []NodeID{1, 2}, st, func(c *Config) { c.MaxSnapshotChunk = 4 })
	settle(t, n)
	if err := st.CreateSnapshot(2, ConfState{Voters: []NodeID{1, 2}}, SnapshotBytes(data)); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(2); err != nil {
		t.Fatal(err)
	}
	n.stepMessage(Message{Type: MsgHup})
	settle(t, n)
	n.stepMessage(Message{From: 2, To: 1, Type: MsgVoteResp, Term: n.core.term})
	settle(t, n)
	if n.core.state != StateLeader {
		t.Fatalf("node 1 is %v, want leader", n.core.state)
	}
	n.stepMessage(Message{From: 2, To: 1, Type: MsgAppResp, Term: n.core.term, Index: n.core.prs[2].next - 1, Reject: true})
	settle(t, n)
	if pr := n.core.prs[2]; pr.state != snapshotState || pr.snap.Index != 2 {
		t.Fatalf("follower 2's progress %v, want sending snapshot 2", pr)
	}
	return n, tr
}

// takeChunk takes the chunk queued for follower 2, checking that it is
// the only one and names snapshot index.
func takeChunk(t *testing.T, n *Node, index uint64) Message {
	t.Helper()
	if ids := n.snaps.waiting(); len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("chunks waiting for %v, want for 2 alone", ids)
	}
	m, _ := n.snaps.take(2)
	if m.Type != MsgSnap || m.Snapshot.Index != index || m.SnapData != nil {
		t.Fatalf("queued %v of snapshot %d with %d bytes, want an unread chunk of snapshot %d",
			m, m.Snapshot.Index, len(m.SnapData), index)
	}
	return m
}

// TestNodeSnapshotReplacedWhileQueued: a chunk whose snapshot storage
// replaced before it was read is reported to the core, which sends the
// follower the current snapshot instead of leaving it in snapshot state.
// A late report about the old transfer changes nothing.
func TestNodeSnapshotReplacedWhileQueued(t *testing.T) {
	st := NewMemoryStorage()
	n, tr := newSnapshotLeader(t, st, []byte("old snapshot"))
	m := takeChunk(t, n, 2)
	if err := st.CreateSnapshot(3, ConfState{Voters: []NodeID{1, 2}}, SnapshotBytes([]byte("new snapshot"))); err != nil {
		t.Fatal(err)
	}
	n.readSnapChunk(m)
	if len(tr.sent(MsgSnap)) != 0 || len(n.snaps.failedc) != 1 {
		t.Fatalf("chunk of a replaced snapshot: sent %v, %d failure signals; want none sent and one", tr.sent(MsgSnap), len(n.snaps.failedc))
	}
	<-n.snaps.failedc
	if !n.onSnapReadsFailed() {
		t.Fatalf("node failed: %v", n.failed)
	}
	settle(t, n)
	if pr := n.core.prs[2]; pr.state != snapshotState || pr.snap.Index != 3 {
		t.Fatalf("follower 2's progress %v, want sending snapshot 3", pr)
	}
	n.readSnapChunk(takeChunk(t, n, 3))
	if sent := tr.sent(MsgSnap); len(sent) != 1 || sent[0].Snapshot.Index != 3 || !bytes.Equal(sent[0].SnapData, []byte("new ")) {
		t.Fatalf("sent %v, want the first chunk of snapshot 3", sent)
	}
	n.core.ReportSnapshotReplaced(2, 2)
	if pr := n.core.prs[2]; pr.state != snapshotState || pr.snap.Index != 3 {
		t.Fatalf("after a stale report follower 2's progress is %v, want still sending snapshot 3", pr)
	}
}

// TestNodeSnapshotReadFails: a chunk read that fails for any other reason
// than a replaced snapshot stops the node with ErrStorageFailed, as a
// failed write does, rather than retry forever.
func TestNodeSnapshotReadFails(t *testing.T) {
	st := &readErrStorage{MemoryStorage: NewMemoryStorage()}
	n, tr := newSnapshotLeader(t, st, []byte("snapshot"))
	st.err = errors.New("disk on fire")
	n.readSnapChunk(takeChunk(t, n, 2))
	<-n.snaps.failedc
	if n.onSnapReadsFailed() {
		t.Fatal("the node survived a failed snapshot read")
	}
	if !errors.Is(n.failed, ErrStorageFailed) || !errors.Is(n.failed, st.err) {
		t.Fatalf("node failed with %v, want ErrStorageFailed wrapping the read error", n.failed)
	}
	if len(tr.sent(MsgSnap)) != 0 {
		t.Fatalf("sent %v", tr.sent(MsgSnap))
	}
}
