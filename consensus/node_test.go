package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chanNet is an in-process transport: Send hands each message to the
// recipient's Node.Step, which never blocks.
type chanNet struct {
	mu    sync.Mutex
	nodes map[NodeID]*Node
	// observe, when set, sees every message sent.
	observe func(Message)
	// deliver, when set, decides whether a message reaches its recipient.
	deliver func(Message) bool
}

func (c *chanNet) Send(msgs []Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		if c.observe != nil {
			c.observe(m)
		}
		if c.deliver != nil && !c.deliver(m) {
			continue
		}
		if n := c.nodes[m.To]; n != nil {
			n.Step(m)
		}
	}
}

// counterSM counts applied non-empty entries; the result of an entry is
// the count after it, so results of distinct entries differ.
type counterSM struct {
	mu sync.Mutex
	n  int
}

func (s *counterSM) Apply(ents []Entry) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(ents))
	for i, e := range ents {
		if e.Type == EntryNormal && len(e.Data) > 0 {
			s.n++
			out[i] = s.n
		}
	}
	return out
}

func (s *counterSM) Snapshot() SnapshotWriter {
	s.mu.Lock()
	v := s.n
	s.mu.Unlock()
	return SnapshotBytes([]byte(strconv.Itoa(v)))
}

func (s *counterSM) Restore(r io.Reader) error {
	d, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(string(d))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.n = v
	s.mu.Unlock()
	return nil
}

// startTestCluster starts size nodes on one chanNet; adjust, if given,
// changes each node's configuration first.
func startTestCluster(t *testing.T, size int, checkQuorum bool, adjust ...func(*NodeConfig)) (*chanNet, []*Node) {
	t.Helper()
	net := &chanNet{nodes: map[NodeID]*Node{}}
	var ids []NodeID
	for i := 1; i <= size; i++ {
		ids = append(ids, NodeID(i))
	}
	var nodes []*Node
	for _, id := range ids {
		cfg := NodeConfig{
			Raft: Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Peers: ids,
				PreVote: true, CheckQuorum: checkQuorum, Logger: discardLogger},
			Storage:      NewMemoryStorage(),
			Transport:    net,
			StateMachine: &counterSM{},
			// 50 ms ticks, an election timeout of 500 ms: with 5 ms ones
			// a 50 ms stall of a goroutine on a loaded machine (seen at a
			// load of 20) moved the leadership in the middle of tests
			// that count on one leader (TestNodeCluster,
			// TestNodeReadRoundsBatch).
			TickInterval:    50 * time.Millisecond,
			SnapshotEntries: 50,
			Logger:          discardLogger,
		}
		for _, f := range adjust {
			f(&cfg)
		}
		n, err := StartNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		net.mu.Lock()
		net.nodes[id] = n
		net.mu.Unlock()
		nodes = append(nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Stop()
		}
	})
	return net, nodes
}

// poll calls cond until it holds or the deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitLeader returns the one node that leads and that every node follows.
func waitLeader(t *testing.T, nodes []*Node) *Node {
	t.Helper()
	var leader *Node
	poll(t, "a leader every node knows", func() bool {
		leader = nil
		for _, n := range nodes {
			if n.IsLeader() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range nodes {
			if n.Leader() != leader.Status().ID {
				return false
			}
		}
		return true
	})
	return leader
}

func TestNodeCluster(t *testing.T) {
	_, nodes := startTestCluster(t, 3, true)
	leader := waitLeader(t, nodes)
	leaderID := leader.Status().ID
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Concurrent proposals each get their own result.
	const workers, each = 8, 25
	var (
		mu      sync.Mutex
		results = map[int]bool{}
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v, err := leader.Propose(ctx, fmt.Appendf(nil, "w%d-%d", w, i))
				if err != nil {
					t.Errorf("propose: %v", err)
					return
				}
				mu.Lock()
				results[v.(int)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(results) != workers*each {
		t.Fatalf("%d distinct results for %d proposals", len(results), workers*each)
	}

	// A read waits until everything committed before it is applied here.
	applied := leader.Applied()
	if err := leader.ReadIndex(ctx); err != nil {
		t.Fatalf("ReadIndex: %v", err)
	}
	if leader.Applied() < applied {
		t.Fatalf("applied %d after ReadIndex, was %d", leader.Applied(), applied)
	}

	// A follower refuses proposals and names the leader.
	var follower *Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	_, err := follower.Propose(ctx, []byte("nope"))
	var nle *NotLeaderError
	if !errors.As(err, &nle) || nle.Leader != leaderID {
		t.Fatalf("propose on a follower: %v, want *NotLeaderError{Leader: %d}", err, leaderID)
	}
	if err := follower.ReadIndex(ctx); !errors.As(err, &nle) {
		t.Fatalf("ReadIndex on a follower: %v, want *NotLeaderError", err)
	}

	// Leadership moves to the follower on request.
	to := follower.Status().ID
	if err := leader.TransferLeadership(ctx, to); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	if got := waitLeader(t, nodes); got != follower {
		t.Fatalf("leader %d after transfer, want %d", got.Status().ID, to)
	}
	if _, err := follower.Propose(ctx, []byte("after transfer")); err != nil {
		t.Fatalf("propose on the new leader: %v", err)
	}
}

// TestNodeStopFailsWaiting: Stop fails a proposal waiting for a quorum with
// ErrStopped.
func TestNodeStopFailsWaiting(t *testing.T) {
	// Without CheckQuorum the leader keeps leading once alone, so the
	// proposal waits rather than failing for lack of a leader.
	_, nodes := startTestCluster(t, 3, false)
	leader := waitLeader(t, nodes)
	id := leader.Status().ID
	for _, n := range nodes {
		if n != leader {
			n.Stop()
		}
	}
	before := leader.Status().Progress[id].Match
	errc := make(chan error, 1)
	go func() {
		_, err := leader.Propose(context.Background(), []byte("never committed"))
		errc <- err
	}()
	// Once the leader has written the entry, the proposal is waiting.
	poll(t, "the leader to write the proposal", func() bool {
		return leader.Status().Progress[id].Match > before
	})
	leader.Stop()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("waiting proposal got %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting proposal not released by Stop")
	}
	if _, err := leader.Propose(context.Background(), []byte("late")); err == nil {
		t.Fatal("propose after Stop succeeded")
	}
}

// TestNodeHoldsProposalsUntilCommit: a leader with a batch not yet
// committed holds new proposals and sends them once it commits; a leader
// that steps down fails the proposals it holds with NotLeaderError
// instead of logging them.
func TestNodeHoldsProposalsUntilCommit(t *testing.T) {
	net, nodes := startTestCluster(t, 3, true)
	leader := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := leader.Propose(ctx, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	// Acknowledgements of appends are kept back while holdAcks is set
	// (and heartbeat answers too while holdBeats is), so the leader's
	// batch stays uncommitted.
	var (
		mu                  sync.Mutex
		holdAcks, holdBeats bool
		keptAcks            []Message
		sent                = map[string]bool{}
	)
	net.mu.Lock()
	net.deliver = func(m Message) bool {
		mu.Lock()
		defer mu.Unlock()
		if m.Type == MsgApp {
			for _, e := range m.Entries {
				sent[string(e.Data)] = true
			}
		}
		switch {
		case holdAcks && m.Type == MsgAppResp:
			keptAcks = append(keptAcks, m)
			return false
		case holdBeats && m.Type == MsgHeartbeatResp:
			return false
		}
		return true
	}
	net.mu.Unlock()
	wasSent := func(data string) bool {
		mu.Lock()
		defer mu.Unlock()
		return sent[data]
	}
	isHeld := func() bool {
		held := false
		if err := leader.do(ctx, func() { held = leader.propsHeld }); err != nil {
			t.Fatal(err)
		}
		return held
	}
	propose := func(data string) chan error {
		errc := make(chan error, 1)
		go func() {
			_, err := leader.Propose(ctx, []byte(data))
			errc <- err
		}()
		return errc
	}

	mu.Lock()
	holdAcks = true
	mu.Unlock()
	first := propose("first")
	poll(t, "the first batch to go out", func() bool { return wasSent("first") })
	second := propose("second")
	poll(t, "the leader to hold the second proposal", isHeld)
	if wasSent("second") {
		t.Fatal("a proposal went out while the batch before it was uncommitted")
	}
	mu.Lock()
	holdAcks = false
	kept := keptAcks
	keptAcks = nil
	mu.Unlock()
	net.Send(kept)
	for _, errc := range []chan error{first, second} {
		if err := <-errc; err != nil {
			t.Fatalf("proposal after the commit: %v", err)
		}
	}

	// A leader that hears from no quorum steps down (CheckQuorum) and
	// fails what it holds.
	mu.Lock()
	holdAcks, holdBeats = true, true
	mu.Unlock()
	third := propose("third")
	poll(t, "the third batch to go out", func() bool { return wasSent("third") })
	fourth := propose("fourth")
	poll(t, "the leader to hold the fourth proposal", isHeld)
	var nle *NotLeaderError
	if err := <-fourth; !errors.As(err, &nle) {
		t.Fatalf("held proposal of a leader that stepped down got %v, want NotLeaderError", err)
	}
	if wasSent("fourth") {
		t.Fatal("the held proposal was sent")
	}
	mu.Lock()
	holdAcks, holdBeats = false, false
	mu.Unlock()
	cancel()
	<-third
}

// TestNodeReadRoundsBatch: concurrent reads all complete, and reads that
// arrive while a round is under way share the next one instead of each
// starting their own.
func TestNodeReadRoundsBatch(t *testing.T) {
	net, nodes := startTestCluster(t, 3, true)
	leader := waitLeader(t, nodes)
	// One distinct read context per confirmation round. Slow heartbeat
	// answers, as over a real network, give reads time to pile up.
	rounds := map[string]bool{}
	net.mu.Lock()
	net.observe = func(m Message) {
		switch {
		case m.Type == MsgHeartbeat && len(m.Context) > 0:
			rounds[string(m.Context)] = true
		case m.Type == MsgHeartbeatResp:
			time.Sleep(200 * time.Microsecond)
		}
	}
	net.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const readers, each = 32, 40
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := leader.ReadIndex(ctx); err != nil {
					t.Errorf("ReadIndex: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	net.mu.Lock()
	n := len(rounds)
	net.mu.Unlock()
	t.Logf("%d reads in %d rounds", readers*each, n)
	// One round at a time serves each reader within two rounds, so about
	// 2*each rounds; a round per arriving batch of reads takes far more.
	if n == 0 || n > readers*each/10 {
		t.Fatalf("%d reads took %d rounds, want at most a tenth as many", readers*each, n)
	}
}

// bulkySM is a counterSM whose snapshots are size bytes, and which counts
// the snapshots taken.
type bulkySM struct {
	counterSM
	size  int
	snaps atomic.Int64
}

func (s *bulkySM) Snapshot() SnapshotWriter {
	s.snaps.Add(1)
	return SnapshotBytes(make([]byte, s.size))
}

// TestNodeSnapshotLogPercent: with SnapshotLogPercent 100 a snapshot of
// 20 KB waits for 20 KB of log, not just SnapshotEntries entries; with 0
// entries alone decide.
func TestNodeSnapshotLogPercent(t *testing.T) {
	for _, tc := range []struct {
		percent  uint64
		min, max int64
	}{
		// 400 entries of 100 bytes: a snapshot each 20 entries when
		// entries alone decide, each 200 (20 KB) otherwise, after the
		// first at 20.
		{percent: 0, min: 19, max: 21},
		{percent: 100, min: 2, max: 3},
	} {
		t.Run(fmt.Sprint("percent=", tc.percent), func(t *testing.T) {
			sm := &bulkySM{size: 20 << 10}
			n, err := StartNode(NodeConfig{
				Raft: Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Peers: []NodeID{1},
					Logger: discardLogger},
				Storage: NewMemoryStorage(), Transport: &chanNet{nodes: map[NodeID]*Node{}},
				StateMachine: sm, TickInterval: 5 * time.Millisecond,
				SnapshotEntries: 20, SnapshotLogPercent: tc.percent, Logger: discardLogger,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Stop()
			waitLeader(t, []*Node{n})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			proposeOneByOne(t, ctx, n, 400, make([]byte, 100))
			if got := sm.snaps.Load(); got < tc.min || got > tc.max {
				t.Fatalf("%d snapshots, want %d to %d", got, tc.min, tc.max)
			}
		})
	}
}

// proposeOneByOne proposes data count times, one write at a time, each
// after any snapshot it started, so that no snapshot is skipped for being
// busy and where snapshots fall is exact.
func proposeOneByOne(t *testing.T, ctx context.Context, n *Node, count int, data []byte) {
	t.Helper()
	for range count {
		if _, err := n.Propose(ctx, data); err != nil {
			t.Fatal(err)
		}
		poll(t, "the snapshot to finish", func() bool {
			var busy bool
			if err := n.do(ctx, func() { busy = n.snapshotting }); err != nil {
				t.Fatal(err)
			}
			return !busy
		})
	}
}

// TestNodeCompactsBehindSnapshot: a node compacts its log
// SnapshotCatchUpEntries behind each snapshot, or back to the previous
// snapshot when that is zero. Restarted, it restores the snapshot and
// applies only the entries after it, not those kept below it.
func TestNodeCompactsBehindSnapshot(t *testing.T) {
	for _, margin := range []uint64{0, 7} {
		t.Run(fmt.Sprint("margin=", margin), func(t *testing.T) {
			st := NewMemoryStorage()
			start := func(sm StateMachine) *Node {
				n, err := StartNode(NodeConfig{
					Raft: Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Peers: []NodeID{1},
						Logger: discardLogger},
					Storage: st, Transport: &chanNet{nodes: map[NodeID]*Node{}},
					StateMachine: sm, TickInterval: 5 * time.Millisecond,
					SnapshotEntries: 20, SnapshotCatchUpEntries: margin, Logger: discardLogger,
				})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			n := start(&counterSM{})
			waitLeader(t, []*Node{n})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// With the bootstrap entry and the no-op first, snapshots
			// fall at 20, 40, ... 100.
			proposeOneByOne(t, ctx, n, 100, []byte("x"))
			n.Stop()
			snap, _ := st.Snapshot()
			first, _ := st.FirstIndex()
			want := snap.Meta.Index - margin + 1
			if margin == 0 {
				want = snap.Meta.Index - 20 + 1
			}
			if snap.Meta.Index != 100 || first != want {
				t.Fatalf("snapshot at %d, first index %d; want 100 and %d", snap.Meta.Index, first, want)
			}
			sm := &counterSM{}
			n = start(sm)
			defer n.Stop()
			last, _ := st.LastIndex()
			poll(t, "the log to be replayed", func() bool { return n.Applied() >= last })
			sm.mu.Lock()
			defer sm.mu.Unlock()
			if sm.n != 100 {
				t.Fatalf("counter %d after the restart, want 100", sm.n)
			}
		})
	}
}

// slowSM is a counterSM whose every Apply call takes a while, like a large
// batch of commands applied to a big store.
type slowSM struct{ counterSM }

func (s *slowSM) Apply(ents []Entry) []any {
	time.Sleep(2 * time.Millisecond)
	return s.counterSM.Apply(ents)
}

// TestNodeLeadsThroughApplyBacklog: applying a backlog that takes many
// election timeouts, a Ready at a time, must not cost the leadership: the
// nodes go on exchanging heartbeats between Readies.
func TestNodeLeadsThroughApplyBacklog(t *testing.T) {
	_, nodes := startTestCluster(t, 3, true, func(c *NodeConfig) {
		c.Raft.MaxCommittedSizePerReady = 1000
		c.StateMachine = &slowSM{}
		c.SnapshotEntries = 0
	})
	leader := waitLeader(t, nodes)
	term := leader.Term()
	// 600 entries of 100 bytes, 10 per Ready of 2 ms: over 100 ms of
	// applying on every node, against an election timeout of 50 ms.
	datas := make([][]byte, 600)
	for i := range datas {
		datas[i] = make([]byte, 100)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, r := range leader.ProposeMany(ctx, datas) {
		if r.Err != nil {
			t.Fatalf("entry %d: %v", i, r.Err)
		}
	}
	if !leader.IsLeader() || leader.Term() != term {
		t.Fatalf("leadership lost while applying: leader %v, term %d, was %d", leader.IsLeader(), leader.Term(), term)
	}
}

// TestNodeRestartCountsReplayedLog: after a restart the replayed log
// counts toward the next snapshot against the restored snapshot's size,
// so a node does not snapshot again at once the data it has just loaded.
func TestNodeRestartCountsReplayedLog(t *testing.T) {
	const size = 20 << 10
	st := NewMemoryStorage()
	snap := &Snapshot{
		Meta: SnapshotMeta{Index: 10, Term: 1, Conf: ConfState{Voters: []NodeID{1}}},
		Data: bytes.Repeat([]byte("0"), size), // counterSM reads it as 0
	}
	var ents []Entry
	for i := uint64(11); i <= 40; i++ {
		ents = append(ents, Entry{Index: i, Term: 1, Data: make([]byte, 100)})
	}
	if err := st.Save(HardState{Term: 1, Vote: 1, Commit: 40}, ents, snap); err != nil {
		t.Fatal(err)
	}
	sm := &bulkySM{size: size}
	n, err := StartNode(NodeConfig{
		Raft:    Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Logger: discardLogger},
		Storage: st, Transport: &chanNet{nodes: map[NodeID]*Node{}},
		StateMachine: sm, TickInterval: 5 * time.Millisecond,
		SnapshotEntries: 20, SnapshotLogPercent: 100, Logger: discardLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	poll(t, "the log to be replayed", func() bool { return n.Applied() >= 40 })
	if got := sm.snaps.Load(); got != 0 {
		t.Fatalf("%d snapshots after replaying 30 entries (3 KB) past a 20 KB snapshot, want 0", got)
	}
	// Once the log written since reaches the snapshot's size, it is taken.
	waitLeader(t, []*Node{n})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	datas := make([][]byte, 200)
	for i := range datas {
		datas[i] = make([]byte, 100)
	}
	for i, r := range n.ProposeMany(ctx, datas) {
		if r.Err != nil {
			t.Fatalf("entry %d: %v", i, r.Err)
		}
	}
	poll(t, "a snapshot", func() bool { return sm.snaps.Load() >= 1 })
}

// TestNodeObservers: the counters and hooks metrics read agree with what
// the node did: every proposal counted, every entry in some observed log
// write, each snapshot counted with its size and duration.
func TestNodeObservers(t *testing.T) {
	var mu sync.Mutex
	var written, snaps int
	n, err := StartNode(NodeConfig{
		Raft:    Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Peers: []NodeID{1}, Logger: discardLogger},
		Storage: NewMemoryStorage(), Transport: &chanNet{nodes: map[NodeID]*Node{}},
		StateMachine: &counterSM{}, TickInterval: 5 * time.Millisecond,
		SnapshotEntries: 20, Logger: discardLogger,
		ObserveLogWrite: func(entries int) {
			mu.Lock()
			written += entries
			mu.Unlock()
		},
		ObserveSnapshot: func(took time.Duration) {
			if took <= 0 {
				t.Errorf("a snapshot observed as taking %v", took)
			}
			mu.Lock()
			snaps++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	waitLeader(t, []*Node{n})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	proposeOneByOne(t, ctx, n, 30, []byte("x"))
	if res := n.ProposeMany(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("c")}); res[2].Err != nil {
		t.Fatal(res[2].Err)
	}
	// The bootstrap entry and the no-op are written but not proposed.
	last := n.Status().Commit
	// The node counts a snapshot before it calls the hook; 35 entries
	// make one snapshot, at 20.
	poll(t, "the snapshot at 20", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return snaps == 1
	})
	st := n.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.Proposals != 33 || uint64(written) != last || written != int(st.LogEntries) {
		t.Fatalf("stats %+v, observed %d entries written; want 33 proposals and %d entries", st, written, last)
	}
	if st.Snapshots != 1 || st.SnapshotBytes == 0 || st.SnapshotsInstalled != 0 {
		t.Fatalf("stats %+v, %d snapshots observed", st, snaps)
	}
}

// TestNodeSnapshotApplied: after a ReadIndex, the leader's snapshot holds
// every write acknowledged before it, at an index no lower than what was
// applied then and with that entry's term; a follower's holds a prefix of
// the log as it applied it.
func TestNodeSnapshotApplied(t *testing.T) {
	_, nodes := startTestCluster(t, 3, true)
	leader := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const writes = 30
	for i := range writes {
		if _, err := leader.Propose(ctx, fmt.Appendf(nil, "w%d", i)); err != nil {
			t.Fatalf("propose: %v", err)
		}
	}
	applied := leader.Applied()
	if err := leader.ReadIndex(ctx); err != nil {
		t.Fatalf("ReadIndex: %v", err)
	}
	meta, write, err := leader.SnapshotApplied(ctx)
	if err != nil {
		t.Fatalf("SnapshotApplied: %v", err)
	}
	var data bytes.Buffer
	if err := write(&data); err != nil {
		t.Fatal(err)
	}
	if data.String() != strconv.Itoa(writes) {
		t.Fatalf("snapshot holds %q writes, want %d", data.String(), writes)
	}
	if meta.Index < applied || meta.Term != leader.Status().Term || len(meta.Conf.Voters) != 3 {
		t.Fatalf("snapshot meta %+v: want index >= %d, term %d, 3 voters", meta, applied, leader.Status().Term)
	}
	for _, n := range nodes {
		if n == leader {
			continue
		}
		fmeta, write, err := n.SnapshotApplied(ctx)
		if err != nil {
			t.Fatalf("SnapshotApplied on a follower: %v", err)
		}
		data.Reset()
		if err := write(&data); err != nil {
			t.Fatal(err)
		}
		if got, _ := strconv.Atoi(data.String()); fmeta.Index > meta.Index || got > writes {
			t.Fatalf("follower's snapshot at %d holds %d writes; the leader's at %d holds %d", fmeta.Index, got, meta.Index, writes)
		}
	}
}
