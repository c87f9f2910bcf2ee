package consensus

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rkv/rkv/internal/countio"
)

// StateMachine is the application the driver applies committed entries to.
// The driver calls it from its own goroutine only, except for the function
// returned by Snapshot.
type StateMachine interface {
	// Apply applies committed entries in log order and returns one result per
	// entry, handed to the entry's proposer. Entries include leader no-ops
	// (empty Data) and conf changes, which the application may watch.
	Apply(ents []Entry) []any
	// Snapshot captures the state as of the last applied entry, cheaply; the
	// returned function writes that capture out and may run on another
	// goroutine while Apply goes on.
	Snapshot() SnapshotWriter
	// Restore replaces the state with a snapshot's data, read from r: a
	// stored snapshot is streamed from its file, never held whole.
	Restore(r io.Reader) error
}

// NodeConfig configures a Node.
type NodeConfig struct {
	// Raft configures the core; its Storage is set from Storage.
	Raft         Config
	Storage      LogStore
	Transport    Transport
	StateMachine StateMachine
	// TickInterval is the wall-clock length of one core Tick.
	TickInterval time.Duration
	// SnapshotEntries takes a snapshot, and compacts the log behind it (see
	// SnapshotCatchUpEntries), once that many entries were applied since
	// the last one; zero disables automatic snapshots.
	SnapshotEntries uint64
	// SnapshotCatchUpEntries is how many entries the log keeps behind a
	// new snapshot, so that a follower that installs an older one goes on
	// from the log instead of needing the next (etcd's
	// SnapshotCatchUpEntries). The leader sends its latest snapshot, which
	// may be a whole interval old, so a margin smaller than the interval
	// between snapshots saves nothing. Zero keeps the log back to the
	// previous snapshot: a follower then survives one snapshot the leader
	// takes while it installs the latest, however far apart
	// SnapshotLogPercent spaces them, for a log on disk of at most two
	// intervals.
	SnapshotCatchUpEntries uint64
	// SnapshotLogPercent also holds a snapshot back until the entries
	// applied since the last one add up to this percent of its size, so
	// that a large data set is not rewritten every SnapshotEntries writes:
	// at 100 a snapshot costs no more than the writes it covers, and a
	// restart replays no more log than the snapshot holds (Redis's
	// auto-aof-rewrite-percentage reasons the same way). Zero: entries
	// alone decide.
	SnapshotLogPercent uint64
	Logger             *slog.Logger
	// ObserveLogWrite, when set, is told the number of entries of each
	// synced log write (the batch a group commit made), and
	// ObserveSnapshot how long each local snapshot took to write; for
	// metrics, they must not block.
	ObserveLogWrite func(entries int)
	ObserveSnapshot func(took time.Duration)
	// StorageRetry is how long after a failed write of the log, or of a
	// snapshot, the driver tries again, doubling after each failure up to
	// StorageRetryMax; zero means one second and 16 seconds. While the log
	// cannot be written the node refuses proposals (ErrStorageFailed) and
	// its core makes no progress of its own (see Raft.SetStorageFault);
	// the first successful retry ends that.
	StorageRetry, StorageRetryMax time.Duration
}

// ErrOutcomeUnknown is returned to a proposer whose entry may or may not
// have been applied (a snapshot replaced the log around it).
var ErrOutcomeUnknown = errors.New("consensus: proposal outcome unknown")

// proposalBatch is the entries of one Propose or ProposeMany call and
// their results. The run goroutine fills in the results and closes done
// once every entry has one; only then may the caller read them.
type proposalBatch struct {
	ents    []Entry
	results []Result
	left    int
	done    chan struct{}
}

func (b *proposalBatch) settle(slot int, r Result) {
	b.results[slot] = r
	if b.left--; b.left == 0 {
		close(b.done)
	}
}

// waiter is where the result of a proposed entry goes.
type waiter struct {
	term  uint64
	batch *proposalBatch
	slot  int
}

// readRound is one leadership confirmation shared by every read that
// joined it. Readers join under Node.readMu and wait for done; the run
// goroutine sets err and closes done, waking them all at once.
type readRound struct {
	done  chan struct{}
	err   error
	reads uint64 // readers that joined, for Stats
}

func (r *readRound) finish(err error) {
	r.err = err
	close(r.done)
}

// pendingRead is a round confirmed at a read index, waiting for the
// applied index to reach it.
type pendingRead struct {
	index uint64
	round *readRound
}

// Node runs a Raft core in one goroutine: it persists each Ready with one
// write and one sync, sends messages, applies committed entries and resolves
// proposals and reads.
type Node struct {
	core    *Raft
	cfg     NodeConfig
	storage LogStore
	sm      StateMachine
	logger  *slog.Logger

	// propWanted tells the run goroutine that batches wait in props.
	propWanted chan struct{}
	recvc      chan Message
	// readWanted tells the run goroutine that readers wait in nextRead.
	readWanted chan struct{}
	ctrlc      chan func()
	stopc      chan struct{}
	donec      chan struct{}
	closed     sync.Once

	// Owned by the run goroutine.
	waiters      map[uint64]waiter
	readRounds   map[uint64]*readRound
	readsApplied []pendingRead
	readSeq      uint64
	// lastTick is when the core's tick count last caught up with the
	// clock (see catchUpClock).
	lastTick time.Time
	// queued is the hard state last handed to the persist goroutine,
	// durable the last one it reported written. Messages that depend on a
	// term or vote wait until that term and vote are durable (see
	// handleReady); comparing with what is merely queued would let a
	// second answer to a duplicated request out before the first is on
	// disk.
	queued      HardState
	durable     HardState
	commitSaved time.Time
	// commitSaveEvery is commitSaveInterval, except in the simulation,
	// which varies it so that restarts find commit indexes of every age.
	commitSaveEvery time.Duration
	snapIndex       uint64
	// appliedBytes counts the data of every entry applied; snapBytesMark
	// is its value at the last snapshot, whose size is snapSize.
	appliedBytes  uint64
	snapBytesMark uint64
	snapSize      uint64
	snapshotting  bool
	snapDone      chan snapshotOutcome
	// snapRetryAt is when a snapshot may be tried again after one failed,
	// snapRetry the wait that led to it (zero after a success).
	snapRetryAt time.Time
	// compactPending is the index a stored snapshot allows the log to be
	// compacted to, after the compaction failed; 0 for none.
	compactPending uint64
	snapRetry      time.Duration
	// restored is the index of a received snapshot the state machine
	// holds but storage refused to store, zero when none: its Ready stays
	// with the core and is taken again, without restoring again, from
	// installRetryAt on (installRetry is the wait that led there).
	restored       uint64
	installRetryAt time.Time
	installRetry   time.Duration
	failed         error
	// storageErr is the error of the write of the log that failed last,
	// nil once a write succeeds again; snapshotErr the same for local
	// snapshots. Set by the run goroutine, read by anyone.
	storageErr, snapshotErr atomic.Pointer[error]
	// snaps are the snapshot chunks waiting to be read and sent.
	snaps *snapReads

	persist     *persistQueue
	persistDone chan struct{}
	// persistQueued counts jobs handed to the persist goroutine and not yet
	// reported back.
	persistQueued int
	// propsHeld is set while proposals wait in props for the leader's
	// batch in flight to commit (see onProposals).
	propsHeld bool

	lead    atomic.Uint64
	state   atomic.Uint32
	term    atomic.Uint64
	applied atomic.Uint64
	commit  atomic.Uint64

	leaderMu      sync.Mutex
	leaderChanged chan struct{}

	// props are the proposal batches not yet handed to the core, and
	// propsSpare the slice they are swapped with. Proposers append under
	// propMu, so that the run goroutine is woken once for all the
	// proposals arriving while it is busy, not once for each.
	propMu     sync.Mutex
	props      []*proposalBatch
	propsSpare []*proposalBatch

	// nextRead is the round that reads arriving now join; the run
	// goroutine starts it once no other round is under way. One round at
	// a time makes a busy leader confirm many reads per heartbeat instead
	// of one round for every few, and readers that join a round already
	// created cost the run goroutine nothing.
	readMu   sync.Mutex
	nextRead *readRound

	stats nodeCounters

	// clock is time.Now except in the simulation, which runs the driver
	// on a clock of its own.
	clock func() time.Time
}

// nodeCounters are updated by the node's goroutines and read by Stats.
type nodeCounters struct {
	logWrites, logWriteFailures, logEntries, readRounds, reads, proposals atomic.Uint64
	snapshots, snapshotsInstalled, snapshotBytes                          atomic.Uint64
}

// Stats counts work the node has done since it started, for INFO and
// benchmarks: how well writes share a sync and reads share a round.
type Stats struct {
	// LogWrites is the number of synced log writes, LogEntries the
	// entries they carried, LogWriteFailures the writes that failed.
	LogWrites, LogWriteFailures, LogEntries uint64
	// ReadRounds is the number of leadership confirmations started for
	// Reads reads.
	ReadRounds, Reads uint64
	// Proposals is the number of entries proposed while leader.
	Proposals uint64
	// Snapshots is the number of snapshots this node took,
	// SnapshotsInstalled the number it installed from a leader, and
	// SnapshotBytes the size of the data of the latest of either.
	Snapshots, SnapshotsInstalled, SnapshotBytes uint64
	// Storage is the LogStore's own count where it keeps one
	// (StorageCounter), else zero.
	Storage StorageStats
}

type snapshotOutcome struct {
	index uint64
	// size is the snapshot's data in bytes; appliedBytes is the node's
	// appliedBytes when it was taken.
	size, appliedBytes uint64
	took               time.Duration
	// saved: the snapshot was stored, though err may tell that the
	// compaction after it failed; compactOnly: the outcome of a retried
	// compaction alone (compactTo).
	saved, compactOnly bool
	compactTo          uint64
	err                error
}

// StartNode restores a core from cfg.Storage and starts its goroutine.
func StartNode(cfg NodeConfig) (*Node, error) {
	n, err := newNode(cfg)
	if err != nil {
		return nil, err
	}
	// The simulation steps messages itself and has no use for the queue.
	n.recvc = make(chan Message, 8192)
	n.snaps.async = true
	go n.persistLoop()
	go n.run()
	return n, nil
}

// newNode restores a core from cfg.Storage and returns a node whose
// goroutines are not started: the simulation drives it step by step.
func newNode(cfg NodeConfig) (*Node, error) {
	if cfg.Storage == nil || cfg.Transport == nil || cfg.StateMachine == nil {
		return nil, errors.New("consensus: node config needs Storage, Transport and StateMachine")
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StorageRetry <= 0 {
		cfg.StorageRetry = time.Second
	}
	if cfg.StorageRetryMax < cfg.StorageRetry {
		cfg.StorageRetryMax = max(cfg.StorageRetry, 16*time.Second)
	}
	cfg.Raft.Storage = cfg.Storage
	if cfg.Raft.Logger == nil {
		cfg.Raft.Logger = cfg.Logger
	}
	meta, size, err := cfg.Storage.SnapshotMeta()
	if err != nil {
		return nil, fmt.Errorf("consensus: loading snapshot: %w", err)
	}
	if meta.Index != 0 {
		r := &snapshotReader{st: cfg.Storage, index: meta.Index, size: size}
		if err := cfg.StateMachine.Restore(r); err != nil {
			return nil, fmt.Errorf("consensus: restoring snapshot at %d: %w", meta.Index, err)
		}
		cfg.Raft.Applied = meta.Index
	}
	core, err := NewRaft(cfg.Raft)
	if err != nil {
		return nil, err
	}
	hs, _, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, err
	}
	n := &Node{
		core:       core,
		cfg:        cfg,
		storage:    cfg.Storage,
		sm:         cfg.StateMachine,
		logger:     cfg.Logger.With("node", cfg.Raft.ID),
		propWanted: make(chan struct{}, 1),
		readWanted: make(chan struct{}, 1),
		ctrlc:      make(chan func()),
		stopc:      make(chan struct{}),
		donec:      make(chan struct{}),
		waiters:    make(map[uint64]waiter),
		readRounds: make(map[uint64]*readRound),
		queued:     hs,
		durable:    hs,

		commitSaveEvery: commitSaveInterval,
		clock:           time.Now,
		snapIndex:       meta.Index,
		// Replaying the log after a restart counts toward the next
		// snapshot like any apply, so that the restore is not followed at
		// once by a snapshot of the same data.
		snapSize:      size,
		snapDone:      make(chan snapshotOutcome, 1),
		persist:       newPersistQueue(),
		persistDone:   make(chan struct{}),
		snaps:         newSnapReads(),
		leaderChanged: make(chan struct{}),
	}
	n.publish()
	return n, nil
}

// Stop stops the goroutine; waiting proposals and reads get ErrStopped.
// It does not close the storage.
func (n *Node) Stop() {
	n.closed.Do(func() { close(n.stopc) })
	<-n.donec
}

// Done is closed when the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.donec }

// Step hands a message from the transport to the core. It never blocks: a
// full queue drops the message, as a lossy network would.
func (n *Node) Step(m Message) {
	select {
	case n.recvc <- m:
	default:
	}
}

// Propose replicates data and returns the state machine's result for it
// once applied. On a follower it returns *NotLeaderError.
func (n *Node) Propose(ctx context.Context, data []byte) (any, error) {
	return n.propose(ctx, Entry{Type: EntryNormal, Data: data})
}

// ProposeConfChange proposes one membership change and waits until it is
// applied. Only one change may be in flight (ErrConfChangePending).
func (n *Node) ProposeConfChange(ctx context.Context, cc ConfChange) error {
	_, err := n.propose(ctx, Entry{Type: EntryConfChange, Data: cc.Marshal()})
	return err
}

func (n *Node) propose(ctx context.Context, e Entry) (any, error) {
	r := n.proposeEntries(ctx, []Entry{e})[0]
	return r.Val, r.Err
}

// Result is the outcome of one proposal of ProposeMany.
type Result struct {
	Val any
	Err error
}

// ProposeMany proposes every datum, so that they share one log write, and
// waits for all of their results, in order.
func (n *Node) ProposeMany(ctx context.Context, datas [][]byte) []Result {
	ents := make([]Entry, len(datas))
	for i, d := range datas {
		ents[i] = Entry{Type: EntryNormal, Data: d}
	}
	return n.proposeEntries(ctx, ents)
}

// proposeEntries hands ents to the run goroutine as one batch and waits
// for their results. If ctx ends first every entry reports ctx's error:
// its outcome is unknown.
func (n *Node) proposeEntries(ctx context.Context, ents []Entry) []Result {
	fail := func(err error) []Result {
		results := make([]Result, len(ents))
		for i := range results {
			results[i].Err = err
		}
		return results
	}
	if StateType(n.state.Load()) != StateLeader {
		return fail(&NotLeaderError{Leader: NodeID(n.lead.Load())})
	}
	if err := n.StorageError(); err != nil {
		return fail(err)
	}
	n.stats.proposals.Add(uint64(len(ents)))
	b := n.enqueueProposal(ents)
	select {
	case <-b.done:
		return b.results
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-n.donec:
		return fail(n.stoppedErr())
	}
}

// enqueueProposal queues ents for the run goroutine as one batch.
func (n *Node) enqueueProposal(ents []Entry) *proposalBatch {
	b := &proposalBatch{ents: ents, results: make([]Result, len(ents)), left: len(ents), done: make(chan struct{})}
	n.propMu.Lock()
	first := len(n.props) == 0
	n.props = append(n.props, b)
	n.propMu.Unlock()
	if first {
		signal(n.propWanted)
	}
	return b
}

func (n *Node) stoppedErr() error {
	select {
	case <-n.donec:
		if n.failed != nil {
			return n.failed
		}
	default:
	}
	return ErrStopped
}

// ReadIndex returns once this node's state machine has applied everything
// committed before the call, as confirmed by a quorum: a read served after
// it is linearizable. Reads waiting together share one confirmation round.
func (n *Node) ReadIndex(ctx context.Context) error {
	if StateType(n.state.Load()) != StateLeader {
		return &NotLeaderError{Leader: NodeID(n.lead.Load())}
	}
	r := n.joinRead()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return n.stoppedErr()
	}
}

// SnapshotApplied returns a snapshot of the state machine as it is now,
// and its metadata: the index applied, that entry's term and the
// membership applied then. It is for backups; like the snapshots the node
// takes itself, it is captured on the driver's goroutine, between two
// applies, and written out later on any. After a ReadIndex it holds
// everything committed before that call.
func (n *Node) SnapshotApplied(ctx context.Context) (SnapshotMeta, SnapshotWriter, error) {
	var (
		meta  SnapshotMeta
		write SnapshotWriter
		err   error
	)
	if derr := n.do(ctx, func() {
		applied := n.core.log.applied
		var term uint64
		if term, err = n.core.log.term(applied); err != nil {
			return
		}
		meta = SnapshotMeta{Index: applied, Term: term, Conf: n.core.AppliedConf()}
		write = n.sm.Snapshot()
	}); derr != nil {
		return SnapshotMeta{}, nil, derr
	}
	return meta, write, err
}

// joinRead adds a reader to the round that starts next.
func (n *Node) joinRead() *readRound {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	r := n.nextRead
	if r == nil {
		r = &readRound{done: make(chan struct{})}
		n.nextRead = r
		signal(n.readWanted)
	}
	r.reads++
	return r
}

// TransferLeadership asks the leader to hand leadership to the voter to and
// waits until to leads or ctx ends. It works from any member.
func (n *Node) TransferLeadership(ctx context.Context, to NodeID) error {
	for sent := false; ; {
		ch := n.leaderWatch()
		lead := NodeID(n.lead.Load())
		if lead == to {
			return nil
		}
		// Once asked, a successful transfer passes through a moment with no
		// known leader (the old leader steps down when to campaigns): wait
		// for the next leader rather than fail on it.
		if !sent || lead != None {
			var stepErr error
			if err := n.do(ctx, func() { stepErr = n.core.Step(Message{Type: MsgTransferLeader, From: to}) }); err != nil {
				return err
			}
			if stepErr != nil {
				return &NotLeaderError{Leader: NodeID(n.lead.Load())}
			}
			sent = true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.donec:
			return n.stoppedErr()
		}
	}
}

// Status returns the core's state, read inside the driver's goroutine.
func (n *Node) Status() Status {
	var s Status
	if err := n.do(context.Background(), func() { s = n.core.Status() }); err != nil {
		return Status{ID: n.cfg.Raft.ID, Group: n.cfg.Raft.Group, Term: n.term.Load(),
			Lead: NodeID(n.lead.Load()), State: StateType(n.state.Load()),
			Commit: n.commit.Load(), Applied: n.applied.Load()}
	}
	return s
}

// Stats returns the node's counters, without waiting.
func (n *Node) Stats() Stats {
	st := Stats{LogWrites: n.stats.logWrites.Load(), LogWriteFailures: n.stats.logWriteFailures.Load(),
		LogEntries: n.stats.logEntries.Load(),
		ReadRounds: n.stats.readRounds.Load(), Reads: n.stats.reads.Load(), Proposals: n.stats.proposals.Load(),
		Snapshots: n.stats.snapshots.Load(), SnapshotsInstalled: n.stats.snapshotsInstalled.Load(),
		SnapshotBytes: n.stats.snapshotBytes.Load()}
	if c, ok := n.storage.(StorageCounter); ok {
		st.Storage = c.StorageStats()
	}
	return st
}

// Leader returns the leader this node knows, without waiting.
func (n *Node) Leader() NodeID { return NodeID(n.lead.Load()) }

// IsLeader reports whether this node is the leader, without waiting.
func (n *Node) IsLeader() bool { return StateType(n.state.Load()) == StateLeader }

// StorageError returns, while the log cannot be written, an error
// wrapping ErrStorageFailed and the cause of the last failed write; nil
// once a write succeeds again.
func (n *Node) StorageError() error {
	if p := n.storageErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrStorageFailed, *p)
	}
	return nil
}

// SnapshotError returns the error of the last local snapshot if it
// failed, nil once one succeeds.
func (n *Node) SnapshotError() error {
	if p := n.snapshotErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Failed returns the error that stopped the node, if any.
func (n *Node) Failed() error {
	select {
	case <-n.donec:
		return n.failed
	default:
		return nil
	}
}

// LeaderWatch returns a channel closed at the next change of the leader
// or of this node's role, for what must stop when leadership moves (a
// client blocked on the leader).
func (n *Node) LeaderWatch() <-chan struct{} { return n.leaderWatch() }

func (n *Node) leaderWatch() chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderChanged
}

func (n *Node) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case n.ctrlc <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return n.stoppedErr()
	}
	<-done
	return nil
}

func (n *Node) publish() {
	st := n.core.softState()
	changed := NodeID(n.lead.Load()) != st.Lead || StateType(n.state.Load()) != st.State
	n.lead.Store(uint64(st.Lead))
	n.state.Store(uint32(st.State))
	n.term.Store(n.core.term)
	n.commit.Store(n.core.log.committed)
	n.applied.Store(n.core.log.applied)
	if changed {
		n.leaderMu.Lock()
		close(n.leaderChanged)
		n.leaderChanged = make(chan struct{})
		n.leaderMu.Unlock()
	}
}

func (n *Node) run() {
	defer close(n.donec)
	// The clock's origin comes first, so that each ticker wake-up finds a
	// whole interval passed.
	n.lastTick = n.clock()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	defer n.failAll()
	for {
		if n.readyToHandle() {
			if !n.ready() {
				return
			}
		}
		n.releaseHeldProposals()
		// Take whatever is already queued before waiting, so that one Ready
		// carries as many proposals as possible (group commit).
		select {
		case <-n.propWanted:
			n.onProposals()
			continue
		default:
		}
		if n.readyToHandle() {
			// More is committed than one Ready applies. Messages and ticks
			// go first, so that a long apply backlog does not starve the
			// heartbeats: a leader that hears no quorum for a whole
			// election timeout steps down.
			select {
			case <-ticker.C:
				n.onTick()
			default:
				n.stepQueuedMessages()
			}
			continue
		}
		select {
		case <-n.propWanted:
			n.onProposals()
		case m := <-n.recvc:
			n.stepMessage(m)
			n.stepQueuedMessages()
		case <-n.readWanted:
			if len(n.readRounds) == 0 {
				n.startReadRound()
			}
		case <-ticker.C:
			n.onTick()
		case f := <-n.ctrlc:
			f()
		case <-n.persist.written:
			if !n.onPersisted() {
				return
			}
		case out := <-n.snapDone:
			if !n.onSnapshotDone(out) {
				return
			}
		case <-n.snaps.failedc:
			if !n.onSnapReadsFailed() {
				return
			}
		case <-n.stopc:
			return
		}
	}
}

// readyToHandle reports whether the core has a Ready the driver may take
// now. A Ready that installs a snapshot replaces the log under the writes
// still queued, so it waits until they are done.
func (n *Node) readyToHandle() bool {
	return n.core.HasReady() && (n.persistQueued == 0 || n.core.log.unstable.snapshot == nil) &&
		(n.restored == 0 || !n.clock().Before(n.installRetryAt))
}

// ready handles one Ready; false means the node failed and stops.
func (n *Node) ready() bool { return n.survived(n.handleReady()) }

// onPersisted takes the persist goroutine's reports, then steps the held
// proposals if nothing holds them now, so that they join the Ready the
// reports may have made; false means the node failed and stops.
func (n *Node) onPersisted() bool {
	n.syncLeaseClock()
	if !n.survived(n.handlePersisted()) {
		return false
	}
	n.releaseHeldProposals()
	return true
}

// releaseHeldProposals steps the held proposals once nothing holds them:
// the batch in flight committed, or the node stopped leading (they fail
// with NotLeaderError then, never entered into a log a new leader could
// truncate).
func (n *Node) releaseHeldProposals() {
	if n.propsHeld && !n.holdProposals() {
		n.propsHeld = false
		n.stepProposals()
	}
}

// holdProposals reports whether this leader has a batch in flight: a log
// write not yet reported, or entries not yet committed. A leader that
// cannot commit (no quorum answers) holds them until their requests time
// out, as they would have waited in its log.
func (n *Node) holdProposals() bool {
	return n.core.state == StateLeader && n.storageErr.Load() == nil &&
		(n.persistQueued > 0 || n.core.log.lastIndex() > n.core.log.committed)
}

// onProposals steps the waiting proposals, unless this leader has a
// batch in flight, written or not yet committed: then they wait for it and
// go into one batch with every proposal that arrives meanwhile, so that
// the cluster carries one batch while the next one gathers, as a group
// commit does (uhaha's applier keeps one entry in flight the same way).
// Where a fsync outlasts the network's round trip, as on a LAN, holding
// them costs a write little latency: a follower writes the next append
// only after its own write in flight anyway. Where the round trip is the
// longer, a proposal may wait up to one round trip more than if it went
// out at once; that is the price of fewer, fuller batches. Stepping each
// arrival at once made one Ready, one MsgApp frame per follower (and its
// read, Ready and persist job there) and one persist job per wake-up of
// this loop: four or five per log write under 50 clients; releasing them
// when the leader's own write reported, before the followers' answered,
// left about 14 entries per log write where holding them to the commit
// gives about 18 (SET -c 50, 3 nodes). A proposal arriving at an idle
// leader is stepped at once.
func (n *Node) onProposals() {
	if n.holdProposals() {
		n.propsHeld = true
		return
	}
	n.stepProposals()
}

// survived publishes the state after a step of the loop that returned
// err, or records err as the failure that stops the node.
func (n *Node) survived(err error) bool {
	if err != nil {
		n.failed = fmt.Errorf("%w: %w", ErrStorageFailed, err)
		n.logger.Error("storage failed; node stops", "err", err)
		return false
	}
	n.publish()
	return true
}

// onSnapshotDone records a local snapshot's outcome. A failed one leaves
// the previous snapshot and the log as they were, and is tried again
// after a while.
func (n *Node) onSnapshotDone(out snapshotOutcome) bool {
	n.snapshotting = false
	if out.saved {
		n.snapIndex = out.index
		n.snapBytesMark, n.snapSize = out.appliedBytes, out.size
		n.stats.snapshots.Add(1)
		n.stats.snapshotBytes.Store(out.size)
		if n.cfg.ObserveSnapshot != nil {
			n.cfg.ObserveSnapshot(out.took)
		}
		n.logger.Info("snapshot taken", "index", out.index)
	}
	switch {
	case errors.Is(out.err, ErrSnapOutOfDate):
		// The log holds a snapshot at this index or later already: one
		// from the leader installed meanwhile, or this one, placed by an
		// attempt that failed after. Another at the same index would be
		// refused the same way, so none is due until more is applied.
		n.logger.Info("local snapshot superseded", "index", out.index)
		if out.index > n.snapIndex {
			n.snapIndex, n.snapBytesMark = out.index, out.appliedBytes
		}
	case out.err != nil:
		n.snapRetry = n.nextRetry(n.snapRetry)
		n.snapRetryAt = n.clock().Add(n.snapRetry)
		n.snapshotErr.Store(&out.err)
		if out.saved || out.compactOnly {
			// The snapshot is stored; only the log's compaction is
			// retried, on its own, rather than snapshotting again.
			n.compactPending = out.compactTo
			n.logger.Error("log compaction failed", "to", out.compactTo, "err", out.err, "retry in", n.snapRetry)
		} else {
			n.logger.Error("snapshot failed", "index", out.index, "err", out.err, "retry in", n.snapRetry)
		}
	default:
		n.snapRetry, n.snapRetryAt = 0, time.Time{}
		n.snapshotErr.Store(nil)
		n.compactPending = 0
	}
	return true
}

// onTick counts the time passed. Messages that arrived while the node was
// busy are heard first, before the ticks it missed are counted, so that a
// stalled follower does not campaign against a leader whose heartbeats
// wait in its queue; a leader in lease mode counts them first (see
// syncLeaseClock).
func (n *Node) onTick() {
	n.stepQueuedMessages()
	n.catchUpClock()
	n.publish()
	// A failed snapshot is due again at a time, not at a step.
	n.maybeSnapshot()
}

// stepQueuedMessages steps the messages already queued, a bounded number so
// that the loop gets back to its other work.
func (n *Node) stepQueuedMessages() {
	for range 256 {
		select {
		case m := <-n.recvc:
			n.stepMessage(m)
		default:
			return
		}
	}
}

func (n *Node) stepMessage(m Message) {
	n.syncLeaseClock()
	if err := n.core.Step(m); err != nil {
		n.logger.Debug("step failed", "msg", m.Type, "err", err)
	}
}

// stepProposals hands every waiting batch to the core: the batches of
// normal entries as one MsgProp, each membership change in a MsgProp of its
// own, so that a change refused as pending fails alone.
func (n *Node) stepProposals() {
	n.propMu.Lock()
	batches := n.props
	n.props = n.propsSpare[:0]
	n.propMu.Unlock()
	defer func() {
		clear(batches) // let settled batches be collected
		n.propsSpare = batches[:0]
	}()
	normal := batches[:0:0]
	for _, b := range batches {
		if len(b.ents) == 1 && b.ents[0].Type == EntryConfChange {
			n.stepBatches([]*proposalBatch{b})
		} else {
			normal = append(normal, b)
		}
	}
	n.stepBatches(normal)
}

// stepBatches proposes the entries of batches as one MsgProp and records
// where each result goes.
func (n *Node) stepBatches(batches []*proposalBatch) {
	n.syncLeaseClock()
	total := 0
	for _, b := range batches {
		total += len(b.ents)
	}
	if total == 0 {
		return
	}
	if err := n.StorageError(); err != nil {
		for _, b := range batches {
			for slot := range b.ents {
				b.settle(slot, Result{Err: err})
			}
		}
		return
	}
	ents := make([]Entry, 0, total)
	for _, b := range batches {
		ents = append(ents, b.ents...)
	}
	err := n.core.Step(Message{Type: MsgProp, Entries: ents})
	if n.core.state != StateLeader {
		err = &NotLeaderError{Leader: n.core.lead}
	}
	if err != nil {
		for _, b := range batches {
			for slot := range b.ents {
				b.settle(slot, Result{Err: err})
			}
		}
		return
	}
	// The core numbered ents in place.
	k := 0
	for _, b := range batches {
		for slot := range b.ents {
			idx := ents[k].Index
			if old, ok := n.waiters[idx]; ok {
				// A new leadership overwrote the old proposal's index: its
				// entry was truncated away and will never apply.
				old.batch.settle(old.slot, Result{Err: ErrProposalDropped})
			}
			n.waiters[idx] = waiter{term: ents[k].Term, batch: b, slot: slot}
			k++
		}
	}
}

// catchUpClock ticks the core once per whole tick interval passed since
// lastTick, so that its tick count is the number of intervals since the
// clock's origin, never more: time.Ticker drops the ticks a stopped or
// starved process misses, and leases are counted in ticks. A leader frozen
// past its lease (SIGSTOP, a stalled VM, a long GC) would otherwise wake
// believing one tick had passed and serve reads under a lease a newer
// leader has already broken. Past two election timeouts more ticks change
// nothing, so they are capped: the core's count then runs behind the
// clock by a constant, which every lease measured after it shares, and
// every lease measured before it has run out.
func (n *Node) catchUpClock() {
	ticks := int(n.clock().Sub(n.lastTick) / n.cfg.TickInterval)
	if ticks <= 0 {
		return
	}
	n.lastTick = n.lastTick.Add(time.Duration(ticks) * n.cfg.TickInterval)
	for range min(ticks, 2*n.cfg.Raft.ElectionTick) {
		n.core.Tick()
	}
}

// syncLeaseClock brings a lease-mode leader's tick count up to the clock
// before the core steps anything: any step may release a read under the
// lease (a read round starting, the commit of the term's first entry that
// parked reads wait for, through an acknowledgement, a write report or a
// membership change), and the lease must be judged on the clock as it is
// now, not as it was before a stall. Followers count late ticks after
// their queued messages instead; that only lengthens the promise their
// silence gives the leader.
func (n *Node) syncLeaseClock() {
	if n.cfg.Raft.LeaseRead && n.core.state == StateLeader {
		n.catchUpClock()
	}
}

// startReadRound asks the core to confirm the leadership for every queued
// read with one round. Reads queued during a round wait for the next: a
// round that began before a read arrived cannot vouch for it.
func (n *Node) startReadRound() {
	n.readMu.Lock()
	r := n.nextRead
	n.nextRead = nil
	n.readMu.Unlock()
	if r == nil {
		return
	}
	if n.core.state != StateLeader {
		r.finish(&NotLeaderError{Leader: n.core.lead})
		return
	}
	n.syncLeaseClock()
	n.readSeq++
	ctx := binary.BigEndian.AppendUint64(nil, n.readSeq)
	if err := n.core.Step(Message{Type: MsgReadIndex, Context: ctx}); err != nil || n.core.state != StateLeader {
		r.finish(&NotLeaderError{Leader: n.core.lead})
		return
	}
	n.readRounds[n.readSeq] = r
	n.stats.readRounds.Add(1)
	// No reader joins r once it left nextRead, under readMu.
	n.stats.reads.Add(r.reads)
}

// commitSaveInterval is how often a changed commit index alone is written.
const commitSaveInterval = 200 * time.Millisecond

// persistJob is one Ready's writes, handed to the persist goroutine, and
// the messages that may leave only once they are durable.
type persistJob struct {
	hs   HardState
	ents []Entry
	msgs []Message
	// jobs is how many jobs pushed this one stands for, merged.
	jobs int
}

// persisted reports that writes up to an entry are durable (ok false when
// the jobs carried no entries) and the hard state written (empty when
// none was). fault is the error of the write that failed, nil when the
// last write reported succeeded; reported says that any write reported.
type persisted struct {
	index, term uint64
	ok          bool
	hs          HardState
	fault       error
	reported    bool
}

// persistQueue hands jobs from the run goroutine to the persist goroutine
// and reports back. It never blocks the run goroutine: a slow disk must not
// stop a node from answering heartbeats. Memory stays bounded because the
// queued entries are the core's unstable entries, which the leader's flow
// control and the clients' outstanding requests bound.
type persistQueue struct {
	mu     sync.Mutex
	jobs   []persistJob
	closed bool
	// Reports, accumulated until the run goroutine takes them.
	done    int
	mark    persisted
	work    chan struct{} // capacity 1: jobs are waiting
	written chan struct{} // capacity 1: reports are waiting
}

func newPersistQueue() *persistQueue {
	return &persistQueue{work: make(chan struct{}, 1), written: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (q *persistQueue) push(job persistJob) {
	job.jobs = 1
	q.mu.Lock()
	q.jobs = append(q.jobs, job)
	q.mu.Unlock()
	signal(q.work)
}

// requeue puts back a job whose write failed, ahead of the jobs queued
// since, to be written again with them.
func (q *persistQueue) requeue(job persistJob) {
	q.mu.Lock()
	q.jobs = append([]persistJob{job}, q.jobs...)
	q.mu.Unlock()
}

// sleep waits d, or until the queue is closed; false means it is closed.
func (q *persistQueue) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return false
		}
		select {
		case <-t.C:
			return true
		case <-q.work:
		}
	}
}

func (q *persistQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.work)
}

// take waits for jobs and returns them all, or nil once closed and drained.
func (q *persistQueue) take() []persistJob {
	for {
		jobs, closed := q.takeNow()
		if len(jobs) > 0 || closed {
			return jobs
		}
		<-q.work
	}
}

// takeNow returns the jobs queued, without waiting, and whether the queue
// is closed.
func (q *persistQueue) takeNow() ([]persistJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	return jobs, q.closed
}

// report records that count jobs were written, up to the entry and with
// the hard state in out.
func (q *persistQueue) report(count int, out persisted) {
	q.mu.Lock()
	q.done += count
	if out.ok {
		q.mark.index, q.mark.term, q.mark.ok = out.index, out.term, true
	}
	if !out.hs.IsEmpty() {
		q.mark.hs = out.hs
	}
	q.mark.fault, q.mark.reported = out.fault, true
	q.mu.Unlock()
	signal(q.written)
}

// results returns and resets what was reported since the last call: the
// number of jobs written and the newest durable entry and hard state, or
// the error.
func (q *persistQueue) results() (int, persisted) {
	q.mu.Lock()
	defer q.mu.Unlock()
	done, mark := q.done, q.mark
	q.done, q.mark = 0, persisted{}
	return done, mark
}

// persistLoop writes jobs in order in the background, so the core goes on
// taking proposals and acknowledgements while the disk syncs. Jobs queued
// during one write are merged into the next: one write and one sync for all
// of them (group commit). A write that fails is tried again, with the jobs
// queued meanwhile, after a wait that doubles with each failure.
func (n *Node) persistLoop() {
	defer close(n.persistDone)
	var wait time.Duration
	for {
		jobs := n.persist.take()
		if len(jobs) == 0 {
			return
		}
		// The run loop readied the transport's writers just before this
		// goroutine, onto the same P, and a goroutine in a blocking
		// syscall keeps its P: without the yield a leader's appends wait
		// in that P's queue until its own fsync returns, and the
		// followers' writes run after the leader's instead of beside it.
		runtime.Gosched()
		if n.writeJobs(jobs) {
			wait = 0
			continue
		}
		wait = n.nextRetry(wait)
		if !n.persist.sleep(wait) {
			return
		}
	}
}

// nextRetry returns the wait before the next retry of a failed write,
// after waiting wait before the last (zero: none yet).
func (n *Node) nextRetry(wait time.Duration) time.Duration {
	if wait == 0 {
		return n.cfg.StorageRetry
	}
	return min(2*wait, n.cfg.StorageRetryMax)
}

// writeJobs writes jobs as one, then sends the messages that waited for
// them and reports back; false means the write failed, and the job is
// queued again. Its messages wait with it: nothing it vouches for is
// durable.
func (n *Node) writeJobs(jobs []persistJob) bool {
	job := jobs[0]
	for _, next := range jobs[1:] {
		job = mergeJobs(job, next)
	}
	var out persisted
	if !job.hs.IsEmpty() || len(job.ents) > 0 {
		out.fault = n.storage.Save(job.hs, job.ents, nil)
		if out.fault != nil {
			n.stats.logWriteFailures.Add(1)
			n.persist.requeue(job)
			n.persist.report(0, out)
			return false
		}
		n.stats.logWrites.Add(1)
		n.stats.logEntries.Add(uint64(len(job.ents)))
		if n.cfg.ObserveLogWrite != nil && len(job.ents) > 0 {
			n.cfg.ObserveLogWrite(len(job.ents))
		}
	}
	n.send(job.msgs)
	if k := len(job.ents); k > 0 {
		out.index, out.term, out.ok = job.ents[k-1].Index, job.ents[k-1].Term, true
	}
	out.hs = job.hs
	n.persist.report(job.jobs, out)
	return true
}

// mergeJobs folds b, written after a, into one job: b's entries replace
// a's from b's first index on, as Save would.
func mergeJobs(a, b persistJob) persistJob {
	if !b.hs.IsEmpty() {
		a.hs = b.hs
	}
	if len(b.ents) > 0 {
		if len(a.ents) > 0 && b.ents[0].Index > a.ents[0].Index {
			keep := min(b.ents[0].Index-a.ents[0].Index, uint64(len(a.ents)))
			a.ents = append(a.ents[:keep:keep], b.ents...)
		} else {
			a.ents = b.ents
		}
	}
	a.msgs = append(a.msgs, b.msgs...)
	a.jobs += b.jobs
	return a
}

func (n *Node) handleReady() error {
	rd := n.core.Ready()
	// A message may leave before the writes queued ahead of it only once
	// the term and vote it was sent under are durable: a vote, or a
	// lone voter's appends of the term it just took, sent before a crash
	// forgets them would let the node vote twice or write a different
	// entry at an (index, term) a follower already holds.
	settled := n.core.term == n.durable.Term && n.core.vote == n.durable.Vote
	// A settled leader's appends may go out before its own write (thesis
	// §10.2.1): it counts itself only once the write is done. Everything
	// else waits for the write.
	var later []Message
	if n.core.state == StateLeader && settled {
		early := rd.Messages[:0:0]
		for _, m := range rd.Messages {
			if m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap {
				early = append(early, m)
			} else {
				later = append(later, m)
			}
		}
		n.send(early)
	} else {
		later = rd.Messages
	}
	// Only a new term or vote must be on disk before messages go out. The
	// commit index is learned again from the leader after a restart, so it
	// is written only now and then: enough for a restarted node to re-apply
	// most of its log before it hears from a leader.
	var hs HardState
	termOrVote := !rd.HardState.IsEmpty() &&
		(rd.HardState.Term != n.queued.Term || rd.HardState.Vote != n.queued.Vote)
	now := n.clock()
	commitDue := rd.HardState.Commit > n.queued.Commit && now.Sub(n.commitSaved) >= n.commitSaveEvery
	if termOrVote || commitDue {
		hs = rd.HardState
		n.queued = hs
		n.commitSaved = now
	}
	if settled && rd.Snapshot == nil {
		later = n.sendUnlessAck(later)
	}
	if rd.Snapshot != nil {
		if err := n.installSnapshot(hs, rd, later); err != nil {
			if errors.Is(err, errSnapshotRefused) {
				return n.restartCore(err)
			}
			// Storage refused the snapshot: the Ready stays with the core
			// (its messages too, unsent) and is taken again once the
			// retry is due.
			n.queued = n.durable
			n.installRetry = n.nextRetry(n.installRetry)
			n.installRetryAt = n.clock().Add(n.installRetry)
			n.setStorageError(err)
			return nil
		}
		if n.installRetry != 0 {
			n.installRetry, n.installRetryAt = 0, time.Time{}
			n.setStorageError(nil)
		}
	} else if !hs.IsEmpty() || len(rd.Entries) > 0 || len(later) > 0 {
		n.persist.push(persistJob{hs: hs, ents: rd.Entries, msgs: later})
		n.persistQueued++
	}
	n.apply(rd.CommittedEntries)
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		seq := binary.BigEndian.Uint64(rs.RequestCtx)
		if r, ok := n.readRounds[seq]; ok {
			delete(n.readRounds, seq)
			n.readsApplied = append(n.readsApplied, pendingRead{index: rs.Index, round: r})
		}
	}
	n.core.AcceptReady(rd)
	if rd.Snapshot != nil && len(rd.Entries) > 0 {
		e := rd.Entries[len(rd.Entries)-1]
		n.core.StableTo(e.Index, e.Term)
	}
	n.afterStep()
	return nil
}

// sendUnlessAck sends at once the messages that vouch for no write, and
// returns the MsgAppResps, which must follow the writes queued before them
// (an acknowledgement may cover entries an earlier job is still writing).
// Heartbeat responses going straight out keep ReadIndex rounds short.
func (n *Node) sendUnlessAck(msgs []Message) []Message {
	var now, acks []Message
	for _, m := range msgs {
		if m.Type == MsgAppResp {
			acks = append(acks, m)
		} else {
			now = append(now, m)
		}
	}
	n.send(now)
	return acks
}

// afterStep releases what a change of the core's state allows.
func (n *Node) afterStep() {
	n.releaseReads()
	// Reads waiting for a quorum can never be confirmed once the core is
	// not leader (it dropped their rounds when it stepped down). The step
	// down usually happens in a Step before the Ready is taken, so asking
	// whether the core was leader when the Ready was taken misses it.
	if n.core.state != StateLeader && len(n.readRounds) > 0 {
		n.failReads(&NotLeaderError{Leader: n.core.lead})
	}
	// The next round starts once the last one is settled; on a node
	// that no longer leads it fails its readers at once.
	if len(n.readRounds) == 0 {
		n.startReadRound()
	}
	n.maybeSnapshot()
}

// errSnapshotRefused marks a received snapshot the state machine could
// not restore.
var errSnapshotRefused = errors.New("consensus: received snapshot does not restore")

// installSnapshot restores the state machine from a Ready that carries a
// snapshot and writes the Ready synchronously; the caller has waited for
// every write queued before it. The snapshot is restored before it is made
// durable: one that does not restore (damaged in transit, or spliced from
// two senders) must not replace the log on disk, where it would fail the
// node at every restart.
func (n *Node) installSnapshot(hs HardState, rd Ready, msgs []Message) error {
	if n.restored != rd.Snapshot.Meta.Index {
		if err := n.sm.Restore(bytes.NewReader(rd.Snapshot.Data)); err != nil {
			return fmt.Errorf("%w: index %d: %w", errSnapshotRefused, rd.Snapshot.Meta.Index, err)
		}
		n.restored = rd.Snapshot.Meta.Index
	}
	if err := n.storage.Save(hs, rd.Entries, rd.Snapshot); err != nil {
		n.stats.logWriteFailures.Add(1)
		return err
	}
	n.restored = 0
	if !hs.IsEmpty() {
		n.durable = hs
	}
	n.snapIndex = rd.Snapshot.Meta.Index
	n.snapBytesMark, n.snapSize = n.appliedBytes, uint64(len(rd.Snapshot.Data))
	n.stats.snapshotsInstalled.Add(1)
	n.stats.snapshotBytes.Store(n.snapSize)
	for idx, w := range n.waiters {
		if idx <= rd.Snapshot.Meta.Index {
			w.batch.settle(w.slot, Result{Err: ErrOutcomeUnknown})
			delete(n.waiters, idx)
		}
	}
	if len(msgs) > 0 {
		n.cfg.Transport.Send(msgs)
	}
	return nil
}

// restartCore replaces the core, which accepted a snapshot the state
// machine refused, with one restored from storage, as a restart would:
// nothing of the snapshot was written, the state machine kept its state,
// and the leader sends the snapshot again.
func (n *Node) restartCore(cause error) error {
	n.logger.Error("refused a received snapshot; restarting the core from storage", "err", cause)
	// The new core starts from the last snapshot stored, for the
	// membership it records (replaying a conf change that a newer
	// snapshot already holds is harmless), and skips what the state
	// machine already applied after it.
	applied := n.core.log.applied
	cfg := n.cfg.Raft
	cfg.Applied = n.snapIndex
	core, err := NewRaft(cfg)
	if err != nil {
		return err
	}
	if err := core.skipApplied(applied); err != nil {
		return err
	}
	n.core = core
	// A new core knows nothing of a storage fault that lasts.
	n.core.SetStorageFault(n.storageErr.Load() != nil)
	// Nothing of the refused Ready was written.
	n.queued = n.durable
	n.failReads(&NotLeaderError{Leader: None})
	return nil
}

func (n *Node) handlePersisted() error {
	done, p := n.persist.results()
	n.persistQueued -= done
	if p.reported {
		n.setStorageError(p.fault)
	}
	if !p.hs.IsEmpty() {
		n.durable = p.hs
	}
	if p.ok {
		n.core.StableTo(p.index, p.term)
		n.afterStep()
	}
	return nil
}

// setStorageError records whether the log can be written (err nil) or
// not, and tells the core.
func (n *Node) setStorageError(err error) {
	failing := n.storageErr.Load() != nil
	if err == nil {
		if failing {
			n.storageErr.Store(nil)
			n.core.SetStorageFault(false)
			n.logger.Info("the log is written again; accepting writes")
		}
		return
	}
	n.storageErr.Store(&err)
	if !failing {
		n.logger.Error("cannot write the log; refusing writes and retrying", "err", err)
		n.core.SetStorageFault(true)
	}
}

func (n *Node) apply(ents []Entry) {
	if len(ents) == 0 {
		return
	}
	results := n.sm.Apply(ents)
	for _, e := range ents {
		n.appliedBytes += uint64(len(e.Data))
	}
	for i, e := range ents {
		w, ok := n.waiters[e.Index]
		if !ok {
			continue
		}
		delete(n.waiters, e.Index)
		if w.term != e.Term {
			w.batch.settle(w.slot, Result{Err: ErrProposalDropped})
		} else {
			w.batch.settle(w.slot, Result{Val: results[i]})
		}
	}
}

func (n *Node) releaseReads() {
	applied := n.core.log.applied
	i := 0
	for ; i < len(n.readsApplied) && n.readsApplied[i].index <= applied; i++ {
		n.readsApplied[i].round.finish(nil)
	}
	n.readsApplied = n.readsApplied[i:]
}

// failReads fails the rounds waiting for a quorum: the new leader does not
// know about them. Reads still gathering for the next round fail when it
// starts, if this node still does not lead then.
func (n *Node) failReads(err error) {
	for seq, r := range n.readRounds {
		r.finish(err)
		delete(n.readRounds, seq)
	}
}

func (n *Node) maybeSnapshot() {
	if n.compactPending > 0 && !n.snapshotting && !n.clock().Before(n.snapRetryAt) {
		n.retryCompaction()
		return
	}
	every := n.cfg.SnapshotEntries
	applied := n.core.log.applied
	if every == 0 || n.snapshotting || applied < n.snapIndex+every ||
		(n.appliedBytes-n.snapBytesMark)*100 < n.snapSize*n.cfg.SnapshotLogPercent ||
		n.clock().Before(n.snapRetryAt) || n.restored != 0 {
		// (The state machine holds a received snapshot storage refused,
		// not the applied index.)
		return
	}
	// The log keeps a margin behind the new snapshot for followers that
	// install an older one (see SnapshotCatchUpEntries).
	compactTo := n.snapIndex
	if m := n.cfg.SnapshotCatchUpEntries; m > 0 {
		compactTo = applied - min(applied, m)
	}
	n.snapshotting = true
	write := n.sm.Snapshot()
	conf := n.core.AppliedConf()
	mark := n.appliedBytes
	go func() {
		start := time.Now()
		var size uint64
		err := n.storage.CreateSnapshot(applied, conf, func(w io.Writer) error {
			cw := &countio.Writer{W: w}
			err := write(cw)
			size = uint64(cw.N)
			return err
		})
		saved := err == nil
		if saved && compactTo > 0 {
			err = n.storage.Compact(compactTo)
		}
		if err != nil && !errors.Is(err, ErrSnapOutOfDate) {
			err = fmt.Errorf("%w: %w", ErrStorageFailed, err)
		}
		// Writing the snapshot churned through a copy's worth of buffers;
		// hand the memory back rather than carry it as resident.
		debug.FreeOSMemory()
		n.snapDone <- snapshotOutcome{index: applied, size: size, appliedBytes: mark, took: time.Since(start),
			saved: saved, compactTo: compactTo, err: err}
	}()
}

// retryCompaction compacts the log to compactPending, which a stored
// snapshot allowed but whose compaction failed (a full disk: truncating
// the front copies a segment).
func (n *Node) retryCompaction() {
	n.snapshotting = true
	to, index := n.compactPending, n.snapIndex
	go func() {
		err := n.storage.Compact(to)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrStorageFailed, err)
		}
		n.snapDone <- snapshotOutcome{index: index, compactOnly: true, compactTo: to, err: err}
	}()
}

func (n *Node) failAll() {
	err := n.failed
	if err == nil {
		err = ErrStopped
	}
	for idx, w := range n.waiters {
		w.batch.settle(w.slot, Result{Err: err})
		delete(n.waiters, idx)
	}
	n.failReads(err)
	for _, pr := range n.readsApplied {
		pr.round.finish(err)
	}
	n.readsApplied = nil
	n.readMu.Lock()
	if n.nextRead != nil {
		n.nextRead.finish(err)
		n.nextRead = nil
	}
	n.readMu.Unlock()
	if n.snapshotting {
		<-n.snapDone
	}
	n.snaps.stop()
	n.persist.close()
	<-n.persistDone
}

// snapshotReader reads a stored snapshot's data from its storage a chunk
// at a time, so restoring at start-up never holds it whole.
type snapshotReader struct {
	st          Storage
	index, size uint64
	off         uint64
}

// snapshotReadChunk is how much of a stored snapshot one read takes.
const snapshotReadChunk = 1 << 20

func (r *snapshotReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := min(uint64(len(p)), r.size-r.off, snapshotReadChunk)
	if err := r.st.ReadSnapshotChunk(r.index, r.off, p[:n]); err != nil {
		return 0, err
	}
	r.off += n
	return int(n), nil
}
