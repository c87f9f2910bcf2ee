package consensus

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The simulation runs real Nodes, node.go's driver with its persist queue,
// its rule for which messages may leave before a write and its
// acknowledgement of proposals and reads, step by step and without their
// goroutines. Each node's disk takes the queued writes only when the
// simulation chooses, so messages are stepped while writes are in flight,
// and a crash loses every write still queued. The network drops,
// duplicates, delays, reorders and replays messages (as a transport may
// after a reconnect), partitions nodes and corrupts snapshot chunks. A
// leader's snapshot chunks are read from its disk in steps of their own,
// as its reader goroutines do, so snapshots are taken and replaced while
// a transfer waits for them.
// Groups start with 1 to 5 voters; spare nodes join as learners (in half
// the seeds the last one stays a learner, AutoPromote refusing it) and
// members are removed (a leader and one of two voters too), so the
// membership passes through other sizes. A node may crash in the middle of
// a disk write (after the write, before the messages that waited for it
// leave, or after they left), its run loop may stall while its clock goes
// on (as SIGSTOP or a long pause does), and each seed saves the commit
// index at its own pace, so restarts find it of every age. Every choice
// comes from one seeded source, so a failing seed replays exactly.
// Checked on every step: one leader per term, log matching, leader
// completeness, state-machine safety, that a leader commits only an entry
// of its own term, that no vote or message of a term leaves a node before
// that term (and vote) is on its disk, that an acknowledged proposal got
// its own entry's result, and that a read returns a state holding every
// write acknowledged before it started; at the end, that no acknowledged
// write was lost, that the group makes progress once healed and, with
// PreVote and CheckQuorum, that a voter cut off from a stable leader and
// brought back does not move its term. A node's disk may fill up for a
// while: its log writes (entries, hard state, a received snapshot) fail
// and are retried until it is freed, and the checks above hold
// throughout.

var (
	simSeeds = flag.Int("sim.seeds", 0, "number of simulation seeds (0: 2000, fewer under -race)")
	simSeed  = flag.Int64("sim.seed", -1, "replay exactly one simulation seed with a verbose trace")
	simSteps = flag.Int("sim.steps", 0, "fault-phase steps per simulation seed (0: default)")
	simFirst = flag.Int64("sim.first", 1, "first simulation seed, to run a new seed range")
)

const (
	simDefaultSeeds     = 2000
	simRaceSeeds        = 100
	simDefaultSteps     = 30000
	simProgressSteps    = 30000
	simTraceLen         = 80
	simFullCheckEvery   = 50
	simElectionTick     = 10
	simHeartbeatTick    = 2
	simMaxSnapshotChunk = 64
	simTickInterval     = 100 * time.Millisecond
	simSpares           = 2
	simReplayHistory    = 64
)

// simSizes are the initial voter counts, chosen by seed; spare nodes then
// join as learners, so a lone voter with learners is covered too.
var simSizes = []int{1, 1, 2, 3, 4, 5}

var discardLogger = slog.New(slog.DiscardHandler)

func TestSim(t *testing.T) {
	steps := *simSteps
	if steps <= 0 {
		steps = simDefaultSteps
	}
	if *simSeed >= 0 {
		s := newSim(*simSeed, t.Logf)
		if err := s.run(steps); err != nil {
			t.Fatalf("seed %d: %v\nreplay with: go test ./consensus -run TestSim -sim.seed=%d", *simSeed, err, *simSeed)
		}
		t.Logf("sim: seed %d (%d voters), %d steps", *simSeed, len(s.voters), s.step)
		return
	}
	seeds := *simSeeds
	if seeds <= 0 {
		seeds = simDefaultSeeds
		if raceEnabled {
			seeds = simRaceSeeds
		}
	}
	first := *simFirst
	start := time.Now()
	var (
		next       atomic.Int64
		totalSteps atomic.Int64
		mu         sync.Mutex
		failed     = map[int64]error{}
		stats      simStats
		wg         sync.WaitGroup
	)
	next.Store(first - 1)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1)
				if seed >= first+int64(seeds) {
					return
				}
				mu.Lock()
				stop := len(failed) >= 3
				mu.Unlock()
				if stop {
					return
				}
				s := newSim(seed, nil)
				err := s.run(steps)
				totalSteps.Add(int64(s.step))
				mu.Lock()
				stats.add(s.stats)
				if err != nil {
					failed[seed] = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	keys := make([]int64, 0, len(failed))
	for k := range failed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, seed := range keys {
		t.Errorf("seed %d: %v\nreplay with: go test ./consensus -run TestSim -sim.seed=%d", seed, failed[seed], seed)
	}
	t.Logf("sim: seeds %d..%d (1 to 5 voters, %d spares), %.2fM steps, %v", first, first+int64(seeds)-1,
		simSpares, float64(totalSteps.Load())/1e6, time.Since(start).Round(time.Second))
	t.Logf("sim: %d acknowledged proposals, %d linearizable reads checked, %d leaders, %d snapshots installed, "+
		"%d refused, %d transfers of a replaced snapshot restarted, %d crashes with %d writes lost (%d inside a write), "+
		"%d membership changes applied, %d messages replayed, %d stalls, %d term stability checks, %d lease stall checks, "+
		"%d full disks with %d failed writes (%d of a received snapshot)",
		stats.acked, stats.reads, stats.leaders, stats.snapsInstalled, stats.snapsRefused, stats.snapsReplaced,
		stats.crashes, stats.writesLost, stats.jobCrashes, stats.confChanges, stats.replayed, stats.stalls,
		stats.termChecks, stats.leaseStalls, stats.fullDisks, stats.failedWrites, stats.installsRefused)
}

// simFailure is panicked by a failed check and recovered by run.
type simFailure struct{ msg string }

// simSM is a node's state machine: the payloads applied, in order. Its
// snapshots carry a route of their own node and incarnation and separate
// the payloads with a character of their own, so that two nodes'
// snapshots of one index differ in their bytes throughout, as rkv's may,
// and one spliced from two of them is bytes that no node wrote.
type simSM struct {
	s       *sim
	node    *simNode
	route   string
	applied uint64
	data    []string
	has     map[string]bool
	// ackedHeld is how many of s.acked, from the start, data holds.
	ackedHeld int
}

func newSimSM(s *sim, n *simNode) *simSM {
	return &simSM{s: s, node: n, route: fmt.Sprintf("n%d.%d", n.id, n.incarnation), has: map[string]bool{}}
}

func (m *simSM) Apply(ents []Entry) []any {
	out := make([]any, len(ents))
	for i, e := range ents {
		m.s.apply(m, e)
		out[i] = string(e.Data)
	}
	return out
}

func (m *simSM) Snapshot() SnapshotWriter {
	sep := simSeparators[int(m.node.id+NodeID(m.node.incarnation))%len(simSeparators)]
	data := []byte(fmt.Sprintf("%s|%s|%d|%s", m.route, sep, m.applied, strings.Join(m.data, sep)))
	m.s.written[crc32.ChecksumIEEE(data)] = true
	return SnapshotBytes(data)
}

var simSeparators = []string{",", ";", ":", "/"}

// Restore replaces the state only once the whole snapshot has decoded. It
// refuses bytes that no node wrote, as rkv's checksums do; only a chunk
// the network damaged may cause them, never the reassembly of chunks.
func (m *simSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if !m.s.written[crc32.ChecksumIEEE(b)] {
		if !slices.ContainsFunc(m.s.damaged, func(chunk string) bool { return strings.Contains(string(b), chunk) }) {
			m.s.failf("n%d received a snapshot that no node wrote, and no chunk was damaged in transit: spliced?", m.node.id)
		}
		return errors.New("sim: damaged snapshot")
	}
	fields := strings.SplitN(string(b), "|", 4)
	applied, err := strconv.ParseUint(fields[2], 10, 64)
	if err != nil {
		m.s.failf("n%d: a snapshot some node wrote does not decode: %v", m.node.id, err)
	}
	var data []string
	if fields[3] != "" {
		data = strings.Split(fields[3], fields[1])
	}
	m.applied, m.data = applied, data
	m.has = make(map[string]bool, len(data))
	for _, p := range data {
		m.has[p] = true
	}
	m.ackedHeld = 0
	if m.node.node != nil { // not the restore at start
		m.s.stats.snapsInstalled++
	}
	return nil
}

// simDisk is a node's disk: what was saved survives a crash. It records
// every entry saved for the log matching check. While full, every Save
// fails and changes nothing, as wal's do.
type simDisk struct {
	*MemoryStorage
	s    *sim
	id   NodeID
	full bool
}

var errSimDiskFull = errors.New("sim: no space left on device")

// simCrash is panicked to crash a node in the middle of a persist job,
// and recovered by writeAny.
type simCrash struct{}

// Crash points inside a persist job (see writeAny).
const (
	crashNowhere = iota
	crashAfterSave
	crashAfterSend
)

func (d *simDisk) Save(hs HardState, ents []Entry, snap *Snapshot) error {
	if d.full {
		d.s.stats.failedWrites++
		if snap != nil {
			d.s.stats.installsRefused++
		}
		return errSimDiskFull
	}
	if err := d.MemoryStorage.Save(hs, ents, snap); err != nil {
		return err
	}
	d.s.recordEntries(d.MemoryStorage, ents)
	if d.s.jobCrash == crashAfterSave && d.s.jobNode == d.id {
		panic(simCrash{})
	}
	return nil
}

type simTransport struct{ s *sim }

// Send queues msgs on the network in recipient order: the core ranges over
// a map to broadcast, and a run must depend on the seed only. A message of
// a term leaves only once that term is on the sender's disk, and a vote
// only once the vote is (or a later term, which forbids voting again).
func (t simTransport) Send(msgs []Message) {
	s := t.s
	msgs = slices.Clone(msgs)
	slices.SortStableFunc(msgs, func(a, b Message) int { return cmp.Compare(a.To, b.To) })
	for _, m := range msgs {
		if m.Term == 0 || m.Type == MsgPreVote || m.Type == MsgPreVoteResp {
			continue
		}
		hs, _, _ := s.node(m.From).disk.InitialState()
		if hs.Term < m.Term {
			s.failf("n%d sent %v before term %d was on its disk (it holds term %d)", m.From, m, m.Term, hs.Term)
		}
		if m.Type == MsgVoteResp && !m.Reject && hs.Term == m.Term && hs.Vote != m.To {
			s.failf("n%d granted its vote in term %d to n%d before the vote was on its disk (it holds a vote for n%d)",
				m.From, m.Term, m.To, hs.Vote)
		}
	}
	s.net = append(s.net, msgs...)
	if s.jobCrash == crashAfterSend && len(msgs) > 0 && msgs[0].From == s.jobNode {
		panic(simCrash{})
	}
}

type simNode struct {
	id          NodeID
	disk        *simDisk
	node        *Node // nil while crashed
	sm          *simSM
	incarnation uint64
	peers       []NodeID // bootstrap peers (nil for spares, which join)
	now         time.Time
	clockTicks  int // ticks of its clock, also while crashed
	commitSeen  uint64
	// ledTerm is the term n led at the last check, 0 if it did not lead.
	ledTerm uint64
	stopped bool // removed from the group and shut down
	// stalledUntil is the clock tick until which the node's loop does
	// nothing while its clock goes on; 0: running.
	stalledUntil int
}

// running reports whether n's loop runs: it is up and not stalled.
func (n *simNode) running() bool { return n.live() && n.stalledUntil == 0 }

func (n *simNode) live() bool { return n.node != nil && !n.stopped }

// writing reports whether writes are queued for n's disk, which a stall
// of the process stops too.
func (n *simNode) writing() bool { return n.running() && len(n.node.persist.jobs) > 0 }

func (n *simNode) core() *Raft { return n.node.core }

type entryRec struct {
	typ       EntryType
	data      string
	prevTerm  uint64
	prevKnown bool
}

type commitRec struct {
	term    uint64 // 0: not known (compacted when observed)
	obsTerm uint64 // the observer's term: the entry was committed in a term <= it
}

type appliedRec struct {
	term uint64
	data string
	set  bool
}

// simProposal is a client waiting for a proposal on one incarnation.
type simProposal struct {
	payload     string
	node        *simNode
	incarnation uint64
	batch       *proposalBatch
}

// simRead is a client waiting for a linearizable read; every write
// acknowledged before it started (s.acked[:ackedBefore]) must be in the
// state it reads.
type simRead struct {
	node        *simNode
	incarnation uint64
	round       *readRound
	ackedBefore int
}

// simStats counts what a run exercised, to show that the faults happen.
type simStats struct {
	acked, reads, leaders, snapsInstalled, snapsRefused, snapsReplaced, crashes, writesLost, confChanges, replayed int64
	jobCrashes, stalls, termChecks, leaseStalls, fullDisks, failedWrites, installsRefused                          int64
}

func (a *simStats) add(b simStats) {
	a.acked += b.acked
	a.reads += b.reads
	a.leaders += b.leaders
	a.snapsInstalled += b.snapsInstalled
	a.snapsRefused += b.snapsRefused
	a.snapsReplaced += b.snapsReplaced
	a.crashes += b.crashes
	a.writesLost += b.writesLost
	a.confChanges += b.confChanges
	a.replayed += b.replayed
	a.jobCrashes += b.jobCrashes
	a.stalls += b.stalls
	a.termChecks += b.termChecks
	a.leaseStalls += b.leaseStalls
	a.fullDisks += b.fullDisks
	a.failedWrites += b.failedWrites
	a.installsRefused += b.installsRefused
}

type simEvent struct {
	step int
	what string
	node NodeID
	m    *Message
}

type sim struct {
	seed    int64
	rng     *rand.Rand
	logf    func(string, ...any) // verbose trace, nil when quiet
	step    int
	nodes   []*simNode // nodes[id-1]
	voters  []NodeID   // initial voters
	net     []Message
	history []Message // recently delivered, for replays
	cut     map[[2]NodeID]bool
	// damaged holds every snapshot chunk damaged in transit; written the
	// checksums of every snapshot a node wrote.
	damaged []string
	written map[uint32]bool
	preVote bool
	checkQ  bool
	lease   bool
	// commitSaveEvery is the nodes' commit save interval for this seed.
	commitSaveEvery time.Duration
	// jobCrash is where the persist job jobNode's disk is writing now
	// crashes it.
	jobCrash int
	jobNode  NodeID
	// healed is set once the progress phase begins: no more faults.
	healed bool

	leaders   map[uint64]NodeID
	entries   map[[2]uint64]entryRec
	committed []commitRec  // by index
	applied   []appliedRec // by index
	appliedAt map[string]uint64
	clients   []*simProposal
	reads     []*simRead
	acked     []string
	removed   map[NodeID]bool
	// keptLearner is the spare that AutoPromote never promotes; None in
	// seeds where every learner is promoted.
	keptLearner NodeID
	seq         int

	stats simStats

	trace     [simTraceLen]simEvent
	traceNext int
}

func newSim(seed int64, logf func(string, ...any)) *sim {
	s := &sim{
		seed:      seed,
		rng:       rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		logf:      logf,
		cut:       map[[2]NodeID]bool{},
		leaders:   map[uint64]NodeID{},
		entries:   map[[2]uint64]entryRec{},
		committed: []commitRec{{}},
		applied:   []appliedRec{{set: true}},
		appliedAt: map[string]uint64{},
		written:   map[uint32]bool{},
		removed:   map[NodeID]bool{},
	}
	size := simSizes[int(seed)%len(simSizes)]
	s.preVote = s.rng.IntN(4) != 0
	s.checkQ = s.rng.IntN(4) != 0
	s.lease = s.checkQ && s.rng.IntN(3) == 0
	s.commitSaveEvery = []time.Duration{0, commitSaveInterval, time.Second, time.Hour}[s.rng.IntN(4)]
	for i := 1; i <= size; i++ {
		s.voters = append(s.voters, NodeID(i))
	}
	// Decided apart from rng, so that the seeds' other choices stay as
	// they were.
	if seed/int64(len(simSizes))%2 == 1 {
		s.keptLearner = NodeID(size + simSpares)
	}
	for i := 1; i <= size+simSpares; i++ {
		n := &simNode{id: NodeID(i), disk: &simDisk{MemoryStorage: NewMemoryStorage(), s: s, id: NodeID(i)},
			now: time.Unix(1e9, 0)}
		if i <= size {
			n.peers = s.voters
		}
		s.nodes = append(s.nodes, n)
		s.start(n)
	}
	return s
}

func (s *sim) failf(format string, args ...any) {
	panic(simFailure{fmt.Sprintf("step %d: ", s.step) + fmt.Sprintf(format, args...)})
}

func (s *sim) event(what string, node NodeID, m *Message) {
	if s.logf != nil {
		if m != nil && m.Snapshot != nil {
			s.logf("%6d %s n%d %v snap=%d/t%d off=%d len=%d done=%v", s.step, what, node, *m, m.Snapshot.Index, m.Snapshot.Term, m.SnapOffset, len(m.SnapData), m.SnapDone)
		} else if m != nil {
			s.logf("%6d %s n%d %v", s.step, what, node, *m)
		} else {
			s.logf("%6d %s n%d", s.step, what, node)
		}
		return
	}
	s.trace[s.traceNext%simTraceLen] = simEvent{step: s.step, what: what, node: node, m: m}
	s.traceNext++
}

func (s *sim) traceString() string {
	var b strings.Builder
	for i := max(0, s.traceNext-simTraceLen); i < s.traceNext; i++ {
		e := s.trace[i%simTraceLen]
		if e.m != nil {
			fmt.Fprintf(&b, "  %6d %s n%d %v\n", e.step, e.what, e.node, *e.m)
		} else {
			fmt.Fprintf(&b, "  %6d %s n%d\n", e.step, e.what, e.node)
		}
	}
	fmt.Fprintf(&b, "  nodes:")
	for _, n := range s.nodes {
		if n.node == nil {
			fmt.Fprintf(&b, " n%d down(stopped=%v);", n.id, n.stopped)
			continue
		}
		st := n.core().Status()
		fmt.Fprintf(&b, " n%d %s t%d c%d a%d last%d voters%v learners%v queued%d;", n.id, st.State, st.Term,
			st.Commit, st.Applied, n.core().LastIndex(), st.Conf.Voters, st.Conf.Learners, n.node.persistQueued)
	}
	return b.String()
}

func (s *sim) node(id NodeID) *simNode {
	if id == None || int(id) > len(s.nodes) {
		return nil
	}
	return s.nodes[id-1]
}

// start (re)starts n from its disk, as a process would after a crash.
func (s *sim) start(n *simNode) {
	n.incarnation++
	n.sm = newSimSM(s, n)
	n.commitSeen = 0
	n.ledTerm = 0
	node, err := newNode(NodeConfig{
		Raft: Config{
			ID:               n.id,
			ElectionTick:     simElectionTick,
			HeartbeatTick:    simHeartbeatTick,
			Peers:            n.peers,
			MaxSizePerMsg:    160,
			MaxInflightMsgs:  4,
			MaxSnapshotChunk: simMaxSnapshotChunk,
			PreVote:          s.preVote,
			CheckQuorum:      s.checkQ,
			LeaseRead:        s.lease,
			AutoPromoteLag:   8,
			AutoPromote:      func(id NodeID) bool { return id != s.keptLearner },
			Rand:             rand.New(rand.NewPCG(uint64(s.seed), uint64(n.id)<<32|n.incarnation)),
			Logger:           discardLogger,
		},
		Storage:      n.disk,
		Transport:    simTransport{s: s},
		StateMachine: n.sm,
		TickInterval: simTickInterval,
		Logger:       discardLogger,
	})
	if err != nil {
		s.failf("n%d: restart: %v", n.id, err)
	}
	node.clock = func() time.Time { return n.now }
	node.lastTick = n.now
	node.commitSaveEvery = s.commitSaveEvery
	n.node = node
	n.stalledUntil = 0
}

// pick returns a random element of the nodes f accepts, or nil.
func (s *sim) pick(f func(*simNode) bool) *simNode {
	var cands []*simNode
	for _, n := range s.nodes {
		if f(n) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[s.rng.IntN(len(cands))]
}

// isLeader is what a client of n sees: the role n last published.
func (s *sim) isLeader(n *simNode) bool { return n.live() && n.node.IsLeader() }

type simAction struct {
	weight int
	do     func()
}

func (s *sim) choose(actions []simAction) {
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	x := s.rng.IntN(total)
	for _, a := range actions {
		if x < a.weight {
			a.do()
			return
		}
		x -= a.weight
	}
}

func (s *sim) run(faultSteps int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if f, ok := p.(simFailure); ok {
				err = errors.New(f.msg)
			} else {
				err = fmt.Errorf("step %d: panic: %v\n%s", s.step, p, debug.Stack())
			}
			err = fmt.Errorf("%w\n%d voters, prevote=%v checkquorum=%v lease=%v; last events:\n%s",
				err, len(s.voters), s.preVote, s.checkQ, s.lease, s.traceString())
		}
	}()
	faults := []simAction{
		{400, s.deliver},
		{100, s.readyAny},
		{60, s.writeAny},
		{60, s.persistedAny},
		{60, s.readSnapChunk},
		{20, s.snapReadFailedAny},
		{150, s.tick},
		{30, s.drop},
		{20, s.duplicate},
		{5, s.duplicateVote},
		{5, s.replay},
		{60, s.propose},
		{40, s.wakeProposals},
		{20, s.readIndex},
		{20, s.wakeReads},
		{4, s.partition},
		{6, s.heal},
		{2, s.crash},
		{2, s.crashWriting},
		{30, s.crashVoting},
		{8, s.restart},
		{1, s.stall},
		{2, s.hup},
		{15, s.snapshot},
		{5, s.confChange},
		{5, s.transfer},
		{3, s.corruptSnapshot},
		{2, s.fillDisk},
		{4, s.freeDisk},
	}
	for range faultSteps {
		s.step++
		s.choose(faults)
		s.check()
	}
	s.progress()
	s.checkLogMatching()
	return nil
}

func (s *sim) deliver() {
	if len(s.net) == 0 {
		return
	}
	i := s.rng.IntN(len(s.net))
	m := s.net[i]
	if s.stalled(m.To) {
		return // it waits in the socket
	}
	s.net[i] = s.net[len(s.net)-1]
	s.net = s.net[:len(s.net)-1]
	s.deliverMsg("deliver", m)
}

func (s *sim) deliverMsg(what string, m Message) {
	to := s.node(m.To)
	if to == nil || !to.live() || s.cut[[2]NodeID{m.From, m.To}] {
		s.event("lost", m.To, &m)
		return
	}
	s.event(what, m.To, &m)
	if len(s.history) == simReplayHistory {
		s.history = s.history[1:]
	}
	s.history = append(s.history, m)
	to.node.stepMessage(m)
	if (m.Type == MsgVote || m.Type == MsgPreVote) && s.rng.IntN(4) == 0 {
		s.net = append(s.net, m) // the transport resends it after a reconnect
	}
}

func (s *sim) drop() {
	if len(s.net) == 0 {
		return
	}
	i := s.rng.IntN(len(s.net))
	m := s.net[i]
	s.event("drop", m.To, &m)
	s.net[i] = s.net[len(s.net)-1]
	s.net = s.net[:len(s.net)-1]
}

func (s *sim) duplicate() {
	if len(s.net) == 0 {
		return
	}
	m := s.net[s.rng.IntN(len(s.net))]
	s.event("duplicate", m.To, &m)
	s.net = append(s.net, m)
}

// duplicateVote duplicates a vote request in flight: a second answer must
// not go out before the first is durable.
func (s *sim) duplicateVote() {
	var votes []int
	for i, m := range s.net {
		if m.Type == MsgVote || m.Type == MsgPreVote {
			votes = append(votes, i)
		}
	}
	if len(votes) > 0 {
		m := s.net[votes[s.rng.IntN(len(votes))]]
		s.event("duplicate", m.To, &m)
		s.net = append(s.net, m)
	}
}

// replay delivers again a message delivered a while ago, as a transport
// that resends its queue after a reconnect does.
func (s *sim) replay() {
	if len(s.history) == 0 {
		return
	}
	m := s.history[s.rng.IntN(len(s.history))]
	if s.stalled(m.To) {
		return
	}
	s.stats.replayed++
	s.deliverMsg("replay", m)
}

// stalled reports whether node id is up with its loop stalled.
func (s *sim) stalled(id NodeID) bool {
	n := s.node(id)
	return n != nil && n.live() && n.stalledUntil != 0
}

// stall stops a node's loop, a leader's more often than not, for up to
// five election timeouts of its clock, which goes on: as SIGSTOP, a
// stalled VM or a long pause does. Clients may still queue requests on
// it; when it resumes, whatever it steps first must see the time passed.
func (s *sim) stall() {
	n := s.pick(func(n *simNode) bool { return n.running() && n.core().state == StateLeader })
	if n == nil || s.rng.IntN(3) == 0 {
		n = s.pick((*simNode).running)
	}
	if n == nil {
		return
	}
	n.stalledUntil = n.clockTicks + 1 + s.rng.IntN(5*simElectionTick)
	if s.lease && n.core().state == StateLeader {
		// Long enough, mostly, for the others to elect a leader that
		// acknowledges writes the stalled one must not read past.
		n.stalledUntil += simElectionTick
	}
	s.stats.stalls++
	s.event(fmt.Sprintf("stall until tick %d", n.stalledUntil), n.id, nil)
}

// resume does what a loop woken after a stall does first: its select
// finds every case ready and takes one at random, so a read round, a
// queued message or a write report may come before the ticker's tick.
func (s *sim) resume(n *simNode) {
	var msgs []int
	for i, m := range s.net {
		if m.To == n.id && !s.cut[[2]NodeID{m.From, m.To}] {
			msgs = append(msgs, i)
		}
	}
	ready := []simAction{{1, n.node.onTick}}
	if n.node.nextRead != nil && len(n.node.readRounds) == 0 {
		ready = append(ready, simAction{1, n.node.startReadRound})
	}
	if len(msgs) > 0 {
		ready = append(ready, simAction{1, func() {
			i := msgs[s.rng.IntN(len(msgs))]
			m := s.net[i]
			s.net = slices.Delete(s.net, i, i+1)
			s.deliverMsg("deliver", m)
		}})
	}
	if len(n.node.persist.written) > 0 {
		ready = append(ready, simAction{1, func() {
			<-n.node.persist.written
			if !n.node.onPersisted() {
				s.failf("n%d: %v", n.id, n.node.failed)
			}
		}})
	}
	s.choose(ready)
}

// hup makes a voter campaign now, as CLUSTER FAILOVER does, so that
// elections overlap more often than timeouts alone make them.
func (s *sim) hup() {
	if n := s.pick(func(n *simNode) bool { return n.running() && n.core().promotable() }); n != nil {
		s.event("hup", n.id, nil)
		n.node.stepMessage(Message{Type: MsgHup})
	}
}

// corruptSnapshot damages one snapshot chunk in flight: the receiver must
// refuse the snapshot, keep its state and fetch it again.
func (s *sim) corruptSnapshot() {
	var snaps []int
	for i, m := range s.net {
		if m.Type == MsgSnap && len(m.SnapData) > 0 {
			snaps = append(snaps, i)
		}
	}
	if len(snaps) == 0 {
		return
	}
	i := snaps[s.rng.IntN(len(snaps))]
	m := s.net[i]
	m.SnapData = slices.Clone(m.SnapData)
	m.SnapData[s.rng.IntN(len(m.SnapData))] ^= 0x20
	s.net[i] = m
	s.damaged = append(s.damaged, string(m.SnapData))
	s.event("corrupt snapshot chunk", m.To, &m)
}

// tick advances one node's clock by a tick. Leases assume that clocks
// drift apart by less than their margin, so in lease mode no clock gets
// more than a tick ahead of the slowest; otherwise they run at any rate.
func (s *sim) tick() {
	n := s.pick((*simNode).live)
	if s.lease {
		slowest := -1
		for _, m := range s.nodes {
			if !m.stopped && (slowest < 0 || m.clockTicks < slowest) {
				slowest = m.clockTicks
			}
		}
		n = s.pick(func(m *simNode) bool { return !m.stopped && m.clockTicks <= slowest+1 })
	}
	if n == nil {
		return
	}
	n.clockTicks++
	n.now = n.now.Add(simTickInterval)
	if n.node == nil {
		return
	}
	if n.stalledUntil != 0 {
		if n.clockTicks >= n.stalledUntil {
			n.stalledUntil = 0
			s.event("resume", n.id, nil)
			s.resume(n)
		}
		return
	}
	s.event("tick", n.id, nil)
	n.node.onTick()
}

func (s *sim) readyAny() {
	if n := s.pick(func(n *simNode) bool { return n.running() && n.node.readyToHandle() }); n != nil {
		s.event("ready", n.id, nil)
		refused := n.node.core
		if !n.node.ready() {
			s.failf("n%d: %v", n.id, n.node.failed)
		}
		if n.node.core != refused {
			s.stats.snapsRefused++
		}
	}
}

// writeAny lets one node's disk write everything queued for it, as the
// persist goroutine does, and send what waited for the write. Now and then
// the node crashes in the middle: after the write, before the messages
// that waited for it leave, or just after they left.
func (s *sim) writeAny() {
	n := s.pick((*simNode).writing)
	if n == nil {
		return
	}
	jobs, _ := n.node.persist.takeNow()
	s.jobNode, s.jobCrash = n.id, crashNowhere
	if x := s.rng.IntN(20); x < 2 && !s.healed {
		s.jobCrash = crashAfterSave + x
	}
	s.event(fmt.Sprintf("write %d jobs (crash point %d)", len(jobs), s.jobCrash), n.id, nil)
	defer func() {
		s.jobNode, s.jobCrash = None, crashNowhere
		if p := recover(); p != nil {
			if _, ok := p.(simCrash); !ok {
				panic(p)
			}
			s.stats.jobCrashes++
			s.crashNode(n)
		}
	}()
	if !n.node.writeJobs(jobs) && !n.disk.full {
		s.failf("n%d: write failed", n.id)
	}
}

// persistedAny has one node's loop take its disk's reports.
func (s *sim) persistedAny() {
	n := s.pick(func(n *simNode) bool { return n.running() && len(n.node.persist.written) > 0 })
	if n == nil {
		return
	}
	<-n.node.persist.written
	s.event("persisted", n.id, nil)
	if !n.node.onPersisted() {
		s.failf("n%d: %v", n.id, n.node.failed)
	}
}

// readSnapChunk has one node read a snapshot chunk its core asked for
// from its disk and send it, as its reader goroutine does.
func (s *sim) readSnapChunk() {
	n := s.pick(func(n *simNode) bool { return n.running() && len(n.node.snaps.waiting()) > 0 })
	if n == nil {
		return
	}
	ids := n.node.snaps.waiting()
	m, _ := n.node.snaps.take(ids[s.rng.IntN(len(ids))])
	s.event("read snapshot chunk", n.id, &m)
	n.node.readSnapChunk(m)
}

// snapReadFailedAny has one node's loop take the reports of chunks that
// could not be read: the snapshot was replaced since the core asked.
func (s *sim) snapReadFailedAny() {
	n := s.pick(func(n *simNode) bool { return n.running() && len(n.node.snaps.failedc) > 0 })
	if n == nil {
		return
	}
	<-n.node.snaps.failedc
	s.stats.snapsReplaced += int64(len(n.node.snaps.failed))
	s.event("snapshot chunks unreadable", n.id, nil)
	if !n.node.onSnapReadsFailed() {
		s.failf("n%d: %v", n.id, n.node.failed)
	}
}

func (s *sim) apply(m *simSM, e Entry) {
	n := m.node
	if e.Index != m.applied+1 {
		s.failf("n%d: applies entry %d after %d", n.id, e.Index, m.applied)
	}
	m.applied = e.Index
	data := string(e.Data)
	if e.Index < uint64(len(s.applied)) {
		a := s.applied[e.Index]
		if a.set && (a.term != e.Term || a.data != data) {
			s.failf("state machine safety: n%d applies %d/t%d %q, another node applied t%d %q",
				n.id, e.Index, e.Term, data, a.term, a.data)
		}
		s.applied[e.Index] = appliedRec{term: e.Term, data: data, set: true}
	} else {
		for uint64(len(s.applied)) < e.Index {
			s.applied = append(s.applied, appliedRec{})
		}
		s.applied = append(s.applied, appliedRec{term: e.Term, data: data, set: true})
	}
	switch e.Type {
	case EntryNormal:
		if len(e.Data) == 0 {
			return
		}
		m.data = append(m.data, data)
		m.has[data] = true
		s.appliedAt[data] = e.Index
	case EntryConfChange:
		cc, err := UnmarshalConfChange(e.Data)
		if err != nil {
			s.failf("n%d: entry %d: %v", n.id, e.Index, err)
		}
		if e.Index > uint64(len(s.voters)) {
			s.stats.confChanges++ // not the bootstrap
		}
		if cc.Type == ConfRemove {
			s.removed[cc.Node] = true
		}
	}
}

// recordEntries checks log matching incrementally: every entry enters a log
// through a Save, and two logs that agree on (index, term) agree on
// everything before it exactly when every (index, term) has one content and
// one predecessor term.
func (s *sim) recordEntries(st *MemoryStorage, ents []Entry) {
	for _, e := range ents {
		rec := entryRec{typ: e.Type, data: string(e.Data)}
		if e.Index == 1 {
			rec.prevKnown = true
		} else if t, err := st.Term(e.Index - 1); err == nil && t != 0 {
			rec.prevTerm, rec.prevKnown = t, true
		}
		key := [2]uint64{e.Index, e.Term}
		old, ok := s.entries[key]
		if !ok {
			s.entries[key] = rec
			continue
		}
		if old.typ != rec.typ || old.data != rec.data {
			s.failf("log matching: %d/t%d is %q in one log and %q in another", e.Index, e.Term, rec.data, old.data)
		}
		if old.prevKnown && rec.prevKnown && old.prevTerm != rec.prevTerm {
			s.failf("log matching: %d/t%d follows term %d in one log and term %d in another",
				e.Index, e.Term, rec.prevTerm, old.prevTerm)
		} else if !old.prevKnown && rec.prevKnown {
			s.entries[key] = rec
		}
	}
}

// propose is a client's write: it asks a node that says it leads, and
// waits for the outcome.
func (s *sim) propose() {
	n := s.pick(s.isLeader)
	if n == nil {
		return
	}
	s.seq++
	p := fmt.Sprintf("p%d", s.seq)
	s.event("propose "+p, n.id, nil)
	b := n.node.enqueueProposal([]Entry{{Data: []byte(p)}})
	s.clients = append(s.clients, &simProposal{payload: p, node: n, incarnation: n.incarnation, batch: b})
}

// wakeProposals has one node's loop take the proposals queued for it.
func (s *sim) wakeProposals() {
	if n := s.pick(func(n *simNode) bool { return n.running() && len(n.node.props) > 0 }); n != nil {
		s.event("step proposals", n.id, nil)
		n.node.stepProposals()
	}
}

func (s *sim) readIndex() {
	n := s.pick(s.isLeader)
	if n == nil {
		return
	}
	s.event("read", n.id, nil)
	s.reads = append(s.reads, &simRead{node: n, incarnation: n.incarnation, round: n.node.joinRead(), ackedBefore: len(s.acked)})
}

// wakeReads has one node's loop start the read round its readers wait for.
func (s *sim) wakeReads() {
	n := s.pick(func(n *simNode) bool { return n.running() && n.node.nextRead != nil && len(n.node.readRounds) == 0 })
	if n != nil {
		s.event("start read round", n.id, nil)
		n.node.startReadRound()
	}
}

func done(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// checkClients settles the clients whose answer came: an acknowledged
// proposal must carry its own entry's result, and a read must see every
// write acknowledged before it started. Clients of a node that crashed
// learn nothing.
func (s *sim) checkClients() {
	s.clients = slices.DeleteFunc(s.clients, func(c *simProposal) bool {
		if c.node.node == nil || c.node.incarnation != c.incarnation {
			return true
		}
		if !done(c.batch.done) {
			return false
		}
		if r := c.batch.results[0]; r.Err == nil {
			if r.Val != c.payload {
				s.failf("n%d acknowledged %s with the result of %v", c.node.id, c.payload, r.Val)
			}
			s.acked = append(s.acked, c.payload)
			s.stats.acked++
		}
		return true
	})
	s.reads = slices.DeleteFunc(s.reads, func(r *simRead) bool {
		if r.node.node == nil || r.node.incarnation != r.incarnation {
			return true
		}
		if !done(r.round.done) {
			return false
		}
		if r.round.err == nil {
			s.checkRead(r.node, r.ackedBefore)
			s.stats.reads++
		}
		return true
	})
}

// checkRead checks that n's state holds the first want acknowledged writes.
func (s *sim) checkRead(n *simNode, want int) {
	m := n.sm
	for m.ackedHeld < len(s.acked) && m.has[s.acked[m.ackedHeld]] {
		m.ackedHeld++
	}
	if m.ackedHeld < want {
		p := s.acked[m.ackedHeld]
		s.failf("linearizability: a read on n%d (applied %d) misses %s, acknowledged at index %d before the read began",
			n.id, m.applied, p, s.appliedAt[p])
	}
}

func (s *sim) partition() {
	ids := make([]NodeID, len(s.nodes))
	for i := range s.nodes {
		ids[i] = NodeID(i + 1)
	}
	switch s.rng.IntN(4) {
	case 0: // symmetric split into two sides
		side := make([]bool, len(ids))
		for i := range side {
			side[i] = s.rng.IntN(2) == 0
		}
		for i, a := range ids {
			for j, b := range ids {
				if side[i] != side[j] {
					s.cut[[2]NodeID{a, b}] = true
				}
			}
		}
		s.event(fmt.Sprintf("partition %v", side), 0, nil)
	case 1: // one way
		a, b := ids[s.rng.IntN(len(ids))], ids[s.rng.IntN(len(ids))]
		if a != b {
			s.cut[[2]NodeID{a, b}] = true
			s.event(fmt.Sprintf("cut %d->%d", a, b), 0, nil)
		}
	case 2: // isolate the leader
		if l := s.pick(func(n *simNode) bool { return n.live() && n.core().state == StateLeader }); l != nil {
			for _, b := range ids {
				if b != l.id {
					s.cut[[2]NodeID{l.id, b}] = true
					s.cut[[2]NodeID{b, l.id}] = true
				}
			}
			s.event("isolate leader", l.id, nil)
		}
	case 3: // learners hear the leader, but it does not hear them
		if l := s.pick(func(n *simNode) bool { return n.live() && n.core().state == StateLeader }); l != nil {
			for _, id := range l.core().conf.Learners {
				s.cut[[2]NodeID{id, l.id}] = true
			}
			s.event("mute learners", l.id, nil)
		}
	}
}

// fillDisk fills a node's disk: its writes fail until freeDisk.
func (s *sim) fillDisk() {
	if n := s.pick(func(n *simNode) bool { return !n.stopped && !n.disk.full }); n != nil {
		s.event("disk full", n.id, nil)
		s.stats.fullDisks++
		n.disk.full = true
	}
}

func (s *sim) freeDisk() {
	if n := s.pick(func(n *simNode) bool { return n.disk.full }); n != nil {
		s.event("disk freed", n.id, nil)
		n.disk.full = false
	}
}

func (s *sim) heal() {
	if len(s.cut) > 0 {
		clear(s.cut)
		s.event("heal", 0, nil)
	}
}

// crash stops a node at once: the writes still queued for its disk are
// lost, and so are the messages that waited for them.
func (s *sim) crash() {
	if n := s.pick((*simNode).live); n != nil {
		s.crashNode(n)
	}
}

func (s *sim) crashNode(n *simNode) {
	s.event("crash", n.id, nil)
	s.stats.crashes++
	s.stats.writesLost += int64(len(n.node.persist.jobs))
	n.node = nil
}

// crashWriting crashes a node while writes are queued for its disk.
func (s *sim) crashWriting() {
	if n := s.pick((*simNode).writing); n != nil {
		s.crashNode(n)
	}
}

// crashVoting crashes a node while a new term or vote of its is queued
// for its disk, the window in which it must not have vouched for it.
func (s *sim) crashVoting() {
	n := s.pick(func(n *simNode) bool {
		if !n.live() {
			return false
		}
		d := n.node.durable
		return slices.ContainsFunc(n.node.persist.jobs, func(j persistJob) bool {
			return !j.hs.IsEmpty() && (j.hs.Term != d.Term || j.hs.Vote != d.Vote)
		})
	})
	if n != nil {
		s.crashNode(n)
	}
}

func (s *sim) restart() {
	if n := s.pick(func(n *simNode) bool { return n.node == nil && !n.stopped }); n != nil {
		s.event("restart", n.id, nil)
		s.start(n)
	}
}

// snapshot takes an application snapshot at the applied index, as the
// node's maybeSnapshot does, so that laggards need InstallSnapshot.
func (s *sim) snapshot() {
	n := s.pick(func(n *simNode) bool {
		if !n.running() || n.node.restored != 0 {
			return false // the state machine holds a snapshot the disk refused
		}
		snap, _ := n.disk.Snapshot()
		return n.sm.applied > snap.Meta.Index
	})
	if n == nil {
		return
	}
	if n.core().log.applied != n.sm.applied {
		s.failf("n%d: core applied %d, state machine %d", n.id, n.core().log.applied, n.sm.applied)
	}
	s.event(fmt.Sprintf("snapshot at %d", n.sm.applied), n.id, nil)
	if err := n.disk.CreateSnapshot(n.sm.applied, n.core().AppliedConf(), n.sm.Snapshot()); err != nil {
		s.failf("n%d: create snapshot: %v", n.id, err)
	}
	// A random catch-up margin of log stays behind the snapshot; without
	// one, laggards need the snapshot at once.
	if margin := uint64(s.rng.IntN(9)); n.sm.applied > margin {
		if err := n.disk.Compact(n.sm.applied - margin); err != nil {
			s.failf("n%d: compact: %v", n.id, err)
		}
	}
}

// runningLeader reports whether n says it leads and its loop runs.
func (s *sim) runningLeader(n *simNode) bool { return s.isLeader(n) && n.running() }

func (s *sim) confChange() {
	n := s.pick(s.runningLeader)
	if n == nil {
		return
	}
	conf := n.core().conf
	var cc ConfChange
	members := append(slices.Clone(conf.Voters), conf.Learners...)
	for _, spare := range s.nodes[len(s.voters):] {
		if !s.removed[spare.id] && !slices.Contains(members, spare.id) {
			cc = ConfChange{Type: ConfAddLearner, Node: spare.id}
			break
		}
	}
	if cc.Node == None {
		if len(members) < 2 || s.rng.IntN(2) == 0 {
			return
		}
		// Any member, the leader and one of two voters too; the core
		// refuses to remove a lone voter.
		cc = ConfChange{Type: ConfRemove, Node: members[s.rng.IntN(len(members))]}
	}
	s.event(fmt.Sprintf("confchange %v %d in %v+%v", cc.Type, cc.Node, conf.Voters, conf.Learners), n.id, nil)
	// Stepped at once, so that the membership it was chosen for is the
	// one it changes.
	n.node.enqueueProposal([]Entry{{Type: EntryConfChange, Data: cc.Marshal()}})
	n.node.stepProposals()
}

func (s *sim) transfer() {
	n := s.pick(s.runningLeader)
	if n == nil {
		return
	}
	voters := n.core().conf.Voters
	to := voters[s.rng.IntN(len(voters))]
	s.event(fmt.Sprintf("transfer to %d", to), n.id, nil)
	_ = n.core().Step(Message{Type: MsgTransferLeader, From: to})
}

// check runs the per-step invariants.
func (s *sim) check() {
	for _, n := range s.nodes {
		if n.node == nil {
			continue
		}
		r := n.core()
		if s.keptLearner != None && r.isVoter(s.keptLearner) {
			s.failf("n%d counts n%d a voter, which AutoPromote keeps a learner", n.id, s.keptLearner)
		}
		// A leader counts once the term and vote it won are on its disk:
		// until then it can neither send nor commit anything, and a crash
		// makes it as if it never campaigned (a lone voter takes office
		// before its write).
		if hs, _, _ := n.disk.InitialState(); r.state == StateLeader && hs.Term == r.term && hs.Vote == n.id {
			if l, ok := s.leaders[r.term]; !ok {
				s.leaders[r.term] = n.id
				s.stats.leaders++
				s.checkNewLeader(n)
			} else if l != n.id {
				s.failf("election safety: n%d and n%d both lead term %d", l, n.id, r.term)
			}
		}
		c := r.log.committed
		if c > n.commitSeen {
			if t, _ := r.log.term(c); r.state == StateLeader && n.ledTerm == r.term && t != r.term {
				s.failf("n%d, leader of term %d, committed %d/t%d: a leader commits only entries of its term (§5.4.2)",
					n.id, r.term, c, t)
			}
			s.recordCommits(n, n.commitSeen+1, c)
		}
		n.commitSeen = c
		n.ledTerm = 0
		if r.state == StateLeader {
			n.ledTerm = r.term
		}
	}
	s.checkClients()
	if s.step%simFullCheckEvery == 0 {
		s.checkLogMatching()
	}
}

func (s *sim) recordCommits(n *simNode, lo, hi uint64) {
	r := n.core()
	for i := lo; i <= hi; i++ {
		t, err := r.log.term(i)
		if err != nil || i < r.log.firstIndex()-1 {
			t = 0
		}
		if i >= uint64(len(s.committed)) {
			s.committed = append(s.committed, commitRec{term: t, obsTerm: r.term})
		} else {
			c := &s.committed[i]
			if c.term != 0 && t != 0 && c.term != t {
				s.failf("n%d commits %d/t%d, but %d/t%d was committed before", n.id, i, t, i, c.term)
			}
			if c.term == 0 {
				c.term = t
			}
			c.obsTerm = min(c.obsTerm, r.term)
		}
		// Leaders of later terms must already hold it.
		c := s.committed[i]
		for _, l := range s.nodes {
			if l.node != nil && l.core().state == StateLeader && l.core().term > c.obsTerm {
				s.checkLeaderHas(l, i, c)
			}
		}
	}
}

// checkNewLeader checks leader completeness for a leader just elected.
func (s *sim) checkNewLeader(n *simNode) {
	for i := 1; i < len(s.committed); i++ {
		if c := s.committed[i]; c.obsTerm < n.core().term {
			s.checkLeaderHas(n, uint64(i), c)
		}
	}
}

func (s *sim) checkLeaderHas(l *simNode, i uint64, c commitRec) {
	r := l.core()
	if c.term == 0 || i < r.log.firstIndex() {
		return // covered by its snapshot
	}
	if t, err := r.log.term(i); err != nil || t != c.term || i > r.LastIndex() {
		s.failf("leader completeness: n%d leads term %d with %d/t%d, but %d/t%d was committed by term %d",
			l.id, r.term, i, t, i, c.term, c.obsTerm)
	}
}

// checkLogMatching compares every pair of logs directly (the incremental
// check in recordEntries covers every write; this one guards it).
func (s *sim) checkLogMatching() {
	for i, a := range s.nodes {
		for _, b := range s.nodes[i+1:] {
			if a.node == nil || b.node == nil {
				continue
			}
			la, lb := a.core().log, b.core().log
			lo := max(la.firstIndex(), lb.firstIndex())
			hi := min(la.lastIndex(), lb.lastIndex())
			j := hi
			for ; j >= lo; j-- {
				ta, _ := la.term(j)
				tb, _ := lb.term(j)
				if ta == tb {
					break
				}
			}
			for k := lo; k <= j && j >= lo; k++ {
				ta, _ := la.term(k)
				tb, _ := lb.term(k)
				if ta != tb {
					s.failf("log matching: n%d and n%d agree on %d/t%d but differ at %d (t%d vs t%d)",
						a.id, b.id, j, ta, k, ta, tb)
				}
			}
		}
	}
}

// progress heals everything, restarts crashed members and runs only
// delivery, ticks, disk writes and the loops' wake-ups: a leader must
// emerge, commit a fresh proposal on every member and answer a read.
func (s *sim) progress() {
	s.event("progress phase", 0, nil)
	s.healed = true
	clear(s.cut)
	for _, n := range s.nodes {
		n.stalledUntil = 0
		n.disk.full = false
		if s.removed[n.id] {
			n.stopped = true
			n.node = nil
		} else if n.node == nil {
			s.start(n)
		}
	}
	calm := []simAction{
		{100, s.deliver},
		{10, s.tick},
		{30, s.readyAny},
		{30, s.writeAny},
		{30, s.persistedAny},
		{30, s.readSnapChunk},
		{10, s.snapReadFailedAny},
		{10, s.wakeProposals},
		{10, s.wakeReads},
	}
	var fresh *simProposal
	var read *simRead
	for range simProgressSteps {
		s.step++
		s.choose(calm)
		s.check()
		l := s.pick(s.isLeader)
		switch {
		case l == nil:
		case fresh == nil || (done(fresh.batch.done) && fresh.batch.results[0].Err != nil) || fresh.node.node != l.node:
			if !l.core().committedEntryInCurrentTerm() {
				continue
			}
			s.seq++
			p := fmt.Sprintf("fresh%d", s.seq)
			s.event("propose "+p, l.id, nil)
			fresh = &simProposal{payload: p, node: l, incarnation: l.incarnation, batch: l.node.enqueueProposal([]Entry{{Data: []byte(p)}})}
			s.clients = append(s.clients, fresh)
			read = nil
		case !done(fresh.batch.done) || !s.appliedEverywhere(l, s.appliedAt[fresh.payload]):
		case read == nil || read.node != l || (done(read.round.done) && read.round.err != nil):
			s.event("final read", l.id, nil)
			read = &simRead{node: l, incarnation: l.incarnation, round: l.node.joinRead(), ackedBefore: len(s.acked)}
			s.reads = append(s.reads, read)
		case done(read.round.done):
			if !l.sm.has[fresh.payload] {
				s.failf("final read on n%d misses the fresh entry %s", l.id, fresh.payload)
			}
			s.checkConverged(l)
			s.checkTermStable(l)
			s.checkLeaseStall(l)
			return
		}
	}
	l := s.pick(s.isLeader)
	switch {
	case l == nil:
		s.failf("liveness: no leader %d steps after healing", simProgressSteps)
	case fresh == nil:
		s.failf("liveness: leader n%d never committed in its term %d", l.id, l.core().term)
	case read == nil:
		s.failf("liveness: fresh proposal %s not applied on every member", fresh.payload)
	default:
		s.failf("liveness: final read not answered")
	}
}

// checkTermStable cuts a voter off from the stable leader l for several
// election timeouts and brings it back, with every clock ticking in step
// and the network and disks quick: with PreVote and CheckQuorum neither the
// leader nor its term may change, since the voter's pre-votes bump no term
// and the others, hearing l, refuse them.
func (s *sim) checkTermStable(l *simNode) {
	voters := l.core().conf.Voters
	if !s.preVote || !s.checkQ || len(voters) < 3 {
		return
	}
	others := slices.DeleteFunc(slices.Clone(voters), func(id NodeID) bool { return id == l.id })
	f := others[s.rng.IntN(len(others))]
	term := l.core().term
	s.stats.termChecks++
	s.event(fmt.Sprintf("term stability: cut off n%d from leader of term %d", f, term), l.id, nil)
	for _, n := range s.nodes {
		if n.id != f {
			s.cut[[2]NodeID{f, n.id}] = true
			s.cut[[2]NodeID{n.id, f}] = true
		}
	}
	const rounds = 4 * simElectionTick
	for i := range 2 * rounds {
		if i == rounds {
			s.heal()
		}
		s.syncRound()
		if !s.isLeader(l) || l.core().term != term {
			s.failf("term churn: n%d, cut off for %d ticks and brought back, moved leader n%d of term %d to %s of term %d",
				f, rounds, l.id, term, l.core().state, l.core().term)
		}
	}
	if r := s.node(f).core(); r.term != term || r.lead != l.id {
		s.failf("term stability: n%d is at term %d following n%d after the heal, want term %d following n%d", f, r.term, r.lead, term, l.id)
	}
}

// checkLeaseStall stalls the lease-mode leader l until the others have
// elected a leader that acknowledged a write, has a client read on l after
// that, and resumes l as its loop would after a pause: the read must not
// be served from l's state without the write, whatever l's loop takes
// first.
func (s *sim) checkLeaseStall(l *simNode) {
	if !s.lease || len(l.core().conf.Voters) < 3 {
		return
	}
	s.stats.leaseStalls++
	term := l.core().term
	l.stalledUntil = math.MaxInt
	s.event("lease stall", l.id, nil)
	var g *simNode
	for range 10 * simElectionTick {
		s.syncRound()
		g = s.pick(func(n *simNode) bool {
			return n.running() && n.core().state == StateLeader && n.core().term > term && n.core().committedEntryInCurrentTerm()
		})
		if g != nil {
			break
		}
	}
	if g == nil {
		s.failf("liveness: no leader elected while leader n%d of term %d stalled", l.id, term)
	}
	s.seq++
	p := fmt.Sprintf("lease%d", s.seq)
	s.event("propose "+p, g.id, nil)
	w := &simProposal{payload: p, node: g, incarnation: g.incarnation, batch: g.node.enqueueProposal([]Entry{{Data: []byte(p)}})}
	s.clients = append(s.clients, w)
	for i := 0; !done(w.batch.done); i++ {
		if i == 10*simElectionTick {
			s.failf("liveness: n%d never acknowledged %s", g.id, p)
		}
		s.syncRound()
	}
	if w.batch.results[0].Err != nil {
		return
	}
	s.event("read after "+p, l.id, nil)
	read := &simRead{node: l, incarnation: l.incarnation, round: l.node.joinRead(), ackedBefore: len(s.acked)}
	s.reads = append(s.reads, read)
	l.stalledUntil = 0
	s.event("resume", l.id, nil)
	s.resume(l)
	for i := 0; !done(read.round.done) && i < 10*simElectionTick; i++ {
		s.syncRound()
	}
}

// syncRound ticks every clock once and then runs the network, the disks
// and the loops (but stalled ones) until nothing is left to do.
func (s *sim) syncRound() {
	s.step++
	for _, n := range s.nodes {
		if n.stopped {
			continue
		}
		n.clockTicks++
		n.now = n.now.Add(simTickInterval)
		if n.running() {
			n.node.onTick()
		}
	}
	for range 10000 {
		busy := false
		for _, n := range s.nodes {
			if !n.running() {
				continue
			}
			if len(n.node.props) > 0 {
				busy = true
				n.node.stepProposals()
			}
			for _, id := range n.node.snaps.waiting() {
				busy = true
				m, _ := n.node.snaps.take(id)
				n.node.readSnapChunk(m)
			}
			if len(n.node.snaps.failedc) > 0 {
				busy = true
				<-n.node.snaps.failedc
				if !n.node.onSnapReadsFailed() {
					s.failf("n%d: %v", n.id, n.node.failed)
				}
			}
			if n.node.readyToHandle() {
				busy = true
				if !n.node.ready() {
					s.failf("n%d: %v", n.id, n.node.failed)
				}
			}
			if jobs, _ := n.node.persist.takeNow(); len(jobs) > 0 {
				busy = true
				if !n.node.writeJobs(jobs) {
					s.failf("n%d: write failed", n.id)
				}
			}
			if len(n.node.persist.written) > 0 {
				busy = true
				<-n.node.persist.written
				if !n.node.onPersisted() {
					s.failf("n%d: %v", n.id, n.node.failed)
				}
			}
		}
		msgs := s.net
		s.net = nil
		for _, m := range msgs {
			if s.stalled(m.To) {
				s.net = append(s.net, m)
				continue
			}
			busy = true
			s.deliverMsg("deliver", m)
		}
		s.check()
		if !busy {
			return
		}
	}
}

// appliedEverywhere reports whether every member in l's configuration is up
// and has applied index i.
func (s *sim) appliedEverywhere(l *simNode, i uint64) bool {
	conf := l.core().conf
	for _, id := range append(slices.Clone(conf.Voters), conf.Learners...) {
		n := s.node(id)
		if n == nil || !n.live() || n.sm.applied < i {
			return false
		}
	}
	return i > 0
}

// checkConverged checks that every member's state machine holds the same
// payloads, once each, including every acknowledged proposal.
func (s *sim) checkConverged(l *simNode) {
	seen := make(map[string]bool, len(l.sm.data))
	for _, p := range l.sm.data {
		if seen[p] {
			s.failf("n%d applied %q twice", l.id, p)
		}
		seen[p] = true
	}
	for _, p := range s.acked {
		if !seen[p] {
			s.failf("acknowledged proposal %q (index %d) lost: not in leader n%d's state machine", p, s.appliedAt[p], l.id)
		}
	}
	conf := l.core().conf
	for _, id := range append(slices.Clone(conf.Voters), conf.Learners...) {
		n := s.node(id)
		if n.sm.applied == l.sm.applied && !slices.Equal(n.sm.data, l.sm.data) {
			s.failf("n%d and leader n%d applied up to %d but their state machines differ", n.id, l.id, n.sm.applied)
		}
	}
}

// TestSimDeterministic: a seed replays exactly, so a failure reported by
// TestSim can be debugged with -sim.seed.
func TestSimDeterministic(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		var runs [2]*sim
		for i := range runs {
			runs[i] = newSim(seed, nil)
			if err := runs[i].run(3000); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		a, b := runs[0], runs[1]
		if a.step != b.step || a.stats != b.stats || !slices.Equal(a.acked, b.acked) || a.traceString() != b.traceString() {
			t.Fatalf("seed %d ran differently: %d vs %d steps, stats %+v vs %+v", seed, a.step, b.step, a.stats, b.stats)
		}
	}
}
