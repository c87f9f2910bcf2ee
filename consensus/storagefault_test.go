package consensus

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestStorageFaultHandsOverLeadership: a leader told it cannot write its
// log hands leadership to a voter that can; while the fault lasts it
// neither campaigns nor takes entries, and once it clears it catches up.
func TestStorageFaultHandsOverLeadership(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2, 3}, withPreVote, withCheckQuorum)
	nw.campaign(1)
	if nw.leader() != 1 {
		t.Fatalf("leader %d, want 1", nw.leader())
	}
	if err := nw.propose(1, "a"); err != nil {
		t.Fatal(err)
	}
	n1 := nw.nodes[1].r
	n1.SetStorageFault(true)
	nw.flush()
	lead := nw.leader()
	if lead == 1 || lead == None || n1.state != StateFollower {
		t.Fatalf("leader %d and n1 %v after n1's fault, want another leader and n1 following", lead, n1.state)
	}
	last, term := n1.log.lastIndex(), n1.term
	for range 5 {
		if err := nw.propose(lead, "b"); err != nil {
			t.Fatal(err)
		}
	}
	nw.tick(1, 50) // five election timeouts
	if n1.term != term || n1.state != StateFollower {
		t.Fatalf("n1 %v at term %d while it cannot write, want a follower at term %d", n1.state, n1.term, term)
	}
	if n1.log.lastIndex() != last {
		t.Fatalf("n1 took entries up to %d while it cannot write, had %d", n1.log.lastIndex(), last)
	}
	if got := nw.nodes[lead].r.log.committed; got < last+5 {
		t.Fatalf("the new leader committed up to %d, want the proposals past %d", got, last)
	}
	n1.SetStorageFault(false)
	nw.tick(lead, 1)
	if n1.log.lastIndex() != nw.nodes[lead].r.log.lastIndex() || n1.log.committed != nw.nodes[lead].r.log.committed {
		t.Fatalf("n1 at last %d commit %d after the fault cleared, leader at %d and %d", n1.log.lastIndex(),
			n1.log.committed, nw.nodes[lead].r.log.lastIndex(), nw.nodes[lead].r.log.committed)
	}
}

// TestStorageFaultHandOffSkipsFullVoters: when the voter a faulted leader
// hands over to cannot take over either (its disk is full too), the next
// hand-off tries another voter instead of the same one again.
func TestStorageFaultHandOffSkipsFullVoters(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2, 3, 4, 5}, withPreVote, withCheckQuorum)
	nw.campaign(1)
	if nw.leader() != 1 {
		t.Fatalf("leader %d, want 1", nw.leader())
	}
	if err := nw.propose(1, "a"); err != nil {
		t.Fatal(err)
	}
	// Every follower is as up to date as the others, so the first
	// hand-off goes to the lowest id, 2, which cannot write either.
	nw.nodes[2].r.SetStorageFault(true)
	n1 := nw.nodes[1].r
	n1.SetStorageFault(true)
	nw.flush()
	for range 10 {
		if lead := nw.leader(); lead != None && lead != 1 && lead != 2 {
			return
		}
		nw.tick(1, 10) // a transfer times out after an election timeout
	}
	t.Fatalf("leader %d after ten election timeouts, want a healthy voter (3, 4 or 5)", nw.leader())
}

// TestStorageFaultIgnoresVotes: a node that cannot write its log answers
// no vote request (it could not persist its vote), nor campaigns when
// asked to.
func TestStorageFaultIgnoresVotes(t *testing.T) {
	nw := newNetwork(t, []NodeID{1, 2, 3})
	n3 := nw.nodes[3].r
	n3.SetStorageFault(true)
	nw.campaign(1)
	if nw.leader() != 1 {
		t.Fatalf("leader %d, want 1 elected by n2", nw.leader())
	}
	for _, m := range nw.sent {
		if m.From == 3 && m.Type == MsgVoteResp {
			t.Fatalf("n3 answered a vote request while it cannot write: %v", m)
		}
	}
	if n3.vote != None {
		t.Fatalf("n3 voted for %d while it cannot write", n3.vote)
	}
	nw.send(Message{From: 1, To: 3, Type: MsgTimeoutNow, Term: nw.nodes[1].r.term})
	if n3.state != StateFollower || nw.leader() != 1 {
		t.Fatalf("n3 is %v and the leader %d after a MsgTimeoutNow, want a follower and 1", n3.state, nw.leader())
	}
}

// fullStorage is a MemoryStorage whose Saves fail, changing nothing,
// while full is set.
type fullStorage struct {
	*MemoryStorage
	full atomic.Bool
}

var errDiskFull = &wrappedErrno{syscall.ENOSPC}

type wrappedErrno struct{ errno syscall.Errno }

func (e *wrappedErrno) Error() string { return "write log: " + e.errno.Error() }
func (e *wrappedErrno) Unwrap() error { return e.errno }

func (s *fullStorage) Save(hs HardState, ents []Entry, snap *Snapshot) error {
	if s.full.Load() {
		return errDiskFull
	}
	return s.MemoryStorage.Save(hs, ents, snap)
}

// faultySnapshots is a MemoryStorage whose snapshots, or the compactions
// after them, fail while snapshotsFull, or compactsFull, is set; it counts
// the snapshots asked of it and the compactions tried.
type faultySnapshots struct {
	*MemoryStorage
	snapshotsFull, compactsFull atomic.Bool
	snapshots, compacts         atomic.Int64
}

func (s *faultySnapshots) CreateSnapshot(i uint64, conf ConfState, write SnapshotWriter) error {
	s.snapshots.Add(1)
	if s.snapshotsFull.Load() {
		return errDiskFull
	}
	return s.MemoryStorage.CreateSnapshot(i, conf, write)
}

func (s *faultySnapshots) Compact(i uint64) error {
	s.compacts.Add(1)
	if s.compactsFull.Load() {
		return errDiskFull
	}
	return s.MemoryStorage.Compact(i)
}

// TestNodeSnapshotFailure: a snapshot that storage refuses does not stop
// the node; it is reported and tried again, and succeeds once it can.
func TestNodeSnapshotFailure(t *testing.T) {
	var disk *faultySnapshots
	_, nodes := startTestCluster(t, 1, true, func(cfg *NodeConfig) {
		disk = &faultySnapshots{MemoryStorage: cfg.Storage.(*MemoryStorage)}
		disk.snapshotsFull.Store(true)
		cfg.Storage = disk
		cfg.SnapshotEntries = 10
		cfg.StorageRetry, cfg.StorageRetryMax = 10*time.Millisecond, 40*time.Millisecond
	})
	n := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	proposeOneByOne(t, ctx, n, 20, []byte("x"))
	poll(t, "a failed snapshot reported", func() bool { return errors.Is(n.SnapshotError(), syscall.ENOSPC) })
	proposeOneByOne(t, ctx, n, 5, []byte("y"))
	if n.Stats().Snapshots != 0 {
		t.Fatal("a snapshot counted while storage refuses them")
	}
	disk.snapshotsFull.Store(false)
	poll(t, "a snapshot taken", func() bool { return n.Stats().Snapshots > 0 && n.SnapshotError() == nil })
	if err := n.Failed(); err != nil {
		t.Fatalf("the node failed: %v", err)
	}
}

// TestNodeCompactionFailure: when the snapshot is stored but the log's
// compaction after it fails, only the compaction is tried again (the
// snapshot is not retaken while nothing more is applied), and it succeeds
// once it can.
func TestNodeCompactionFailure(t *testing.T) {
	var disk *faultySnapshots
	_, nodes := startTestCluster(t, 1, true, func(cfg *NodeConfig) {
		disk = &faultySnapshots{MemoryStorage: cfg.Storage.(*MemoryStorage)}
		disk.compactsFull.Store(true)
		cfg.Storage = disk
		cfg.SnapshotEntries = 10
		cfg.StorageRetry, cfg.StorageRetryMax = 10*time.Millisecond, 20*time.Millisecond
	})
	n := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The second snapshot compacts the log up to the first.
	proposeOneByOne(t, ctx, n, 30, []byte("x"))
	poll(t, "a failed compaction reported", func() bool { return errors.Is(n.SnapshotError(), syscall.ENOSPC) })
	snapshots, compacts := disk.snapshots.Load(), disk.compacts.Load()
	poll(t, "the compaction tried again", func() bool { return disk.compacts.Load() >= compacts+3 })
	if got := disk.snapshots.Load(); got != snapshots {
		t.Fatalf("%d snapshots taken while only the compaction failed and nothing was applied", got-snapshots)
	}
	disk.compactsFull.Store(false)
	poll(t, "the log compacted", func() bool {
		first, _ := disk.MemoryStorage.FirstIndex()
		return n.SnapshotError() == nil && first > 1
	})
	if err := n.Failed(); err != nil {
		t.Fatalf("the node failed: %v", err)
	}
}

// startFullableCluster starts size nodes whose storage can be filled up,
// retrying failed writes every 10 ms.
func startFullableCluster(t *testing.T, size int) ([]*Node, []*fullStorage) {
	var disks []*fullStorage
	_, nodes := startTestCluster(t, size, true, func(cfg *NodeConfig) {
		d := &fullStorage{MemoryStorage: cfg.Storage.(*MemoryStorage)}
		disks = append(disks, d)
		cfg.Storage = d
		cfg.StorageRetry, cfg.StorageRetryMax = 10*time.Millisecond, 40*time.Millisecond
	})
	return nodes, disks
}

// TestNodeStorageFailureAlone: a lone node whose disk fills refuses
// proposals with ErrStorageFailed wrapping the cause, goes on serving
// reads, and once the disk is freed answers the proposal that was in
// flight and accepts writes again, without a restart.
func TestNodeStorageFailureAlone(t *testing.T) {
	nodes, disks := startFullableCluster(t, 1)
	n := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := n.Propose(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	disks[0].full.Store(true)
	inFlight := make(chan Result, 1)
	go func() {
		v, err := n.Propose(ctx, []byte("in flight"))
		inFlight <- Result{Val: v, Err: err}
	}()
	poll(t, "the failed write reported", func() bool { return n.StorageError() != nil })
	_, err := n.Propose(ctx, []byte("refused"))
	if !errors.Is(err, ErrStorageFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Propose on a full disk = %v, want ErrStorageFailed wrapping ENOSPC", err)
	}
	if err := n.ReadIndex(ctx); err != nil {
		t.Fatalf("ReadIndex on a full disk: %v", err)
	}
	if !n.IsLeader() {
		t.Fatal("a lone voter stopped leading on a full disk")
	}
	select {
	case r := <-inFlight:
		t.Fatalf("the proposal in flight was answered (%v, %v) before its entry was written", r.Val, r.Err)
	default:
	}
	disks[0].full.Store(false)
	if r := <-inFlight; r.Err != nil || r.Val != 2 {
		t.Fatalf("the proposal in flight = %v, %v; want 2, nil", r.Val, r.Err)
	}
	poll(t, "the fault cleared", func() bool { return n.StorageError() == nil })
	if v, err := n.Propose(ctx, []byte("after")); err != nil || v != 3 {
		t.Fatalf("Propose after the disk was freed = %v, %v; want 3, nil", v, err)
	}
	if s := n.Stats(); s.LogWriteFailures == 0 {
		t.Fatal("no failed log write counted")
	}
}

// TestNodeStorageFailureLeader: the leader of three whose disk fills
// hands leadership over; the other two go on taking writes, and the
// former leader catches up once its disk is freed.
func TestNodeStorageFailureLeader(t *testing.T) {
	nodes, disks := startFullableCluster(t, 3)
	old := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := old.Propose(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	k := int(old.Status().ID) - 1
	disks[k].full.Store(true)
	// A heartbeat's term or a commit index is all the leader writes while
	// idle; a proposal makes it write at once.
	go old.Propose(ctx, []byte("in flight"))
	poll(t, "another leader", func() bool {
		for _, n := range nodes {
			if n != old && n.IsLeader() {
				return true
			}
		}
		return false
	})
	var lead *Node
	for _, n := range nodes {
		if n.IsLeader() {
			lead = n
		}
	}
	for range 10 {
		if _, err := lead.Propose(ctx, []byte("during")); err != nil {
			t.Fatal(err)
		}
	}
	if old.IsLeader() {
		t.Fatal("the full node leads again")
	}
	disks[k].full.Store(false)
	poll(t, "the former leader caught up", func() bool {
		return old.StorageError() == nil && old.Applied() == lead.Applied()
	})
}
