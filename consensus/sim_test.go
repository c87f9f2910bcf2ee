package consensus

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The simulation drives *Raft cores directly through a seeded network that
// drops, duplicates, delays and reorders messages, partitions nodes and
// crashes them, and checks Raft's safety properties after every step. Every
// choice comes from one seeded source, so a failing seed replays exactly.

var (
	simSeeds = flag.Int("sim.seeds", 0, "number of simulation seeds (0: 2000, fewer under -race)")
	simSeed  = flag.Int64("sim.seed", -1, "replay exactly one simulation seed with a verbose trace")
	simSteps = flag.Int("sim.steps", 0, "fault-phase steps per simulation seed (0: default)")
)

const (
	simDefaultSeeds     = 2000
	simRaceSeeds        = 100
	simDefaultSteps     = 50000
	simProgressSteps    = 20000
	simTraceLen         = 80
	simFullCheckEvery   = 50
	simElectionTick     = 10
	simHeartbeatTick    = 2
	simMaxSnapshotChunk = 64
)

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
		t.Logf("sim: seed %d (%d nodes), %d steps", *simSeed, len(s.voters), s.step)
		return
	}
	seeds := *simSeeds
	if seeds <= 0 {
		seeds = simDefaultSeeds
		if raceEnabled {
			seeds = simRaceSeeds
		}
	}
	start := time.Now()
	var (
		next       atomic.Int64
		totalSteps atomic.Int64
		mu         sync.Mutex
		failed     = map[int64]error{}
		stats      simStats
		wg         sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1)
				if seed > int64(seeds) {
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
	t.Logf("sim: %d seeds (3 and 5 nodes), %.2fM steps, %v", seeds, float64(totalSteps.Load())/1e6,
		time.Since(start).Round(time.Second))
	t.Logf("sim: %d acknowledged proposals, %d reads, %d leaders, %d snapshots installed, %d crashes, %d membership changes applied",
		stats.acked, stats.reads, stats.leaders, stats.snapsInstalled, stats.crashes, stats.confChanges)
}

// simFailure is panicked by a failed check and recovered by run.
type simFailure struct{ msg string }

type smState struct {
	applied uint64
	data    []string // applied payloads in order
}

type simNode struct {
	id          NodeID
	st          *MemoryStorage // the node's disk: survives crashes
	r           *Raft          // nil while crashed
	incarnation uint64
	peers       []NodeID // bootstrap peers (nil for the node that joins later)
	sm          smState
	// pending is a Ready whose early messages are out but which is not yet
	// persisted; the core may not be stepped until it is.
	pending    *Ready
	hs         HardState // the hard state on disk, as node.go keeps it
	commitSeen uint64
	stopped    bool // removed from the group and shut down
}

func (n *simNode) live() bool { return n.r != nil && !n.stopped }

func (n *simNode) idle() bool { return n.live() && n.pending == nil }

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

type proposalRec struct {
	node         NodeID
	core         *Raft
	term, index  uint64
	acknowledged bool
}

// simStats counts what a run exercised, to show that the faults happen.
type simStats struct {
	acked, reads, leaders, snapsInstalled, crashes, confChanges int64
}

func (a *simStats) add(b simStats) {
	a.acked += b.acked
	a.reads += b.reads
	a.leaders += b.leaders
	a.snapsInstalled += b.snapsInstalled
	a.crashes += b.crashes
	a.confChanges += b.confChanges
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
	extra   NodeID     // joins as a learner
	net     []Message
	cut     map[[2]NodeID]bool
	preVote bool
	checkQ  bool

	leaders   map[uint64]NodeID
	entries   map[[2]uint64]entryRec
	committed []commitRec  // by index
	applied   []appliedRec // by index
	proposals map[string]*proposalRec
	acked     []string
	reads     map[string]uint64 // request context -> minimum read index
	readDone  map[string]uint64
	maxCommit uint64
	removed   map[NodeID]bool
	seq       int

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
		proposals: map[string]*proposalRec{},
		reads:     map[string]uint64{},
		readDone:  map[string]uint64{},
		removed:   map[NodeID]bool{},
	}
	size := 3
	if seed%2 == 1 {
		size = 5
	}
	s.preVote = s.rng.IntN(4) != 0
	s.checkQ = s.rng.IntN(4) != 0
	for i := 1; i <= size; i++ {
		s.voters = append(s.voters, NodeID(i))
	}
	s.extra = NodeID(size + 1)
	for i := 1; i <= size+1; i++ {
		n := &simNode{id: NodeID(i), st: NewMemoryStorage()}
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
		if m != nil {
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
		if n.r == nil {
			fmt.Fprintf(&b, " n%d down(stopped=%v);", n.id, n.stopped)
			continue
		}
		st := n.r.Status()
		fmt.Fprintf(&b, " n%d %s t%d c%d a%d last%d voters%v learners%v;", n.id, st.State, st.Term,
			st.Commit, st.Applied, n.r.LastIndex(), st.Conf.Voters, st.Conf.Learners)
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
	snap, err := n.st.Snapshot()
	if err != nil {
		s.failf("n%d: snapshot: %v", n.id, err)
	}
	n.sm = smState{applied: snap.Meta.Index, data: decodeSM(snap.Data)}
	n.hs, _, _ = n.st.InitialState()
	n.pending = nil
	n.commitSeen = 0
	r, err := NewRaft(Config{
		ID:               n.id,
		ElectionTick:     simElectionTick,
		HeartbeatTick:    simHeartbeatTick,
		Storage:          n.st,
		Applied:          snap.Meta.Index,
		Peers:            n.peers,
		MaxSizePerMsg:    160,
		MaxInflightMsgs:  4,
		MaxSnapshotChunk: simMaxSnapshotChunk,
		PreVote:          s.preVote,
		CheckQuorum:      s.checkQ,
		AutoPromoteLag:   8,
		Rand:             rand.New(rand.NewPCG(uint64(s.seed), uint64(n.id)<<32|n.incarnation)),
		Logger:           discardLogger,
	})
	if err != nil {
		s.failf("n%d: restart: %v", n.id, err)
	}
	n.r = r
}

func decodeSM(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return strings.Split(string(data), ",")
}

func encodeSM(data []string) []byte { return []byte(strings.Join(data, ",")) }

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

func (s *sim) isLeader(n *simNode) bool { return n.idle() && n.r.state == StateLeader }

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
			err = fmt.Errorf("%w\n%d nodes, prevote=%v checkquorum=%v; last events:\n%s",
				err, len(s.voters), s.preVote, s.checkQ, s.traceString())
		}
	}()
	faults := []simAction{
		{400, s.deliver},
		{100, s.readyAny},
		{100, s.persistAny},
		{150, s.tick},
		{30, s.drop},
		{20, s.duplicate},
		{60, s.propose},
		{20, s.readIndex},
		{4, s.partition},
		{6, s.heal},
		{2, s.crash},
		{8, s.restart},
		{15, s.snapshot},
		{5, s.confChange},
		{5, s.transfer},
	}
	for range faultSteps {
		s.step++
		s.choose(faults)
		s.check()
	}
	s.progress()
	s.finalCheck()
	return nil
}

func (s *sim) send(from *simNode, msgs []Message) {
	for i := range msgs {
		s.net = append(s.net, msgs[i])
	}
}

func (s *sim) deliver() {
	if len(s.net) == 0 {
		return
	}
	i := s.rng.IntN(len(s.net))
	m := s.net[i]
	to := s.node(m.To)
	if to != nil && to.live() && to.pending != nil {
		return // its disk is busy: the message waits
	}
	s.net[i] = s.net[len(s.net)-1]
	s.net = s.net[:len(s.net)-1]
	if to == nil || !to.live() || s.cut[[2]NodeID{m.From, m.To}] {
		s.event("lost", m.To, &m)
		return
	}
	s.event("deliver", m.To, &m)
	_ = to.r.Step(m) // errors are for local proposals only
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

func (s *sim) tick() {
	if n := s.pick((*simNode).idle); n != nil {
		s.event("tick", n.id, nil)
		n.r.Tick()
	}
}

func (s *sim) readyAny() {
	if n := s.pick(func(n *simNode) bool { return n.idle() && n.r.HasReady() }); n != nil {
		s.ready(n)
	}
}

func (s *sim) persistAny() {
	if n := s.pick(func(n *simNode) bool { return n.live() && n.pending != nil }); n != nil {
		s.persist(n)
	}
}

// ready is the first half of a driver's Ready handling: take the Ready and,
// on a leader, send the appends that may leave before the write (node.go).
func (s *sim) ready(n *simNode) {
	rd := n.r.Ready()
	// The core ranges over a map to broadcast; order by recipient so that a
	// run depends on the seed only.
	msgs := slices.Clone(rd.Messages)
	slices.SortStableFunc(msgs, func(a, b Message) int { return cmp.Compare(a.To, b.To) })
	s.recordEntries(n, rd.Entries)
	s.event("ready", n.id, nil)
	var later []Message
	if n.r.state == StateLeader {
		for _, m := range msgs {
			if m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap {
				s.net = append(s.net, m)
			} else {
				later = append(later, m)
			}
		}
	} else {
		later = msgs
	}
	rd.Messages = later
	n.pending = &rd
}

// persist is the second half: write, then send, apply and Advance. A crash
// before it loses the Ready and the messages that needed the write.
func (s *sim) persist(n *simNode) {
	rd := *n.pending
	n.pending = nil
	s.event("persist", n.id, nil)
	if !rd.HardState.IsEmpty() {
		n.hs = rd.HardState
	}
	// As node.go: a commit-only change is not written.
	if rd.MustSync || len(rd.Entries) > 0 || rd.Snapshot != nil {
		if err := n.st.Save(n.hs, rd.Entries, rd.Snapshot); err != nil {
			s.failf("n%d: save: %v", n.id, err)
		}
	}
	if rd.Snapshot != nil {
		s.stats.snapsInstalled++
		n.sm = smState{applied: rd.Snapshot.Meta.Index, data: decodeSM(rd.Snapshot.Data)}
	}
	s.send(n, rd.Messages)
	for _, e := range rd.CommittedEntries {
		s.apply(n, e)
	}
	for _, rs := range rd.ReadStates {
		ctx := string(rs.RequestCtx)
		want, ok := s.reads[ctx]
		if !ok {
			s.failf("n%d: read state for unknown request %q", n.id, ctx)
		}
		if rs.Index < want {
			s.failf("n%d: read %q got index %d, but %d was committed when it was requested", n.id, ctx, rs.Index, want)
		}
		s.readDone[ctx] = rs.Index
		s.stats.reads++
	}
	n.r.Advance(rd)
}

func (s *sim) apply(n *simNode, e Entry) {
	if e.Index != n.sm.applied+1 {
		s.failf("n%d: applies entry %d after %d", n.id, e.Index, n.sm.applied)
	}
	n.sm.applied = e.Index
	data := string(e.Data)
	if e.Index < uint64(len(s.applied)) {
		a := s.applied[e.Index]
		if a.term != e.Term || a.data != data {
			s.failf("state machine safety: n%d applies %d/t%d %q, another node applied t%d %q",
				n.id, e.Index, e.Term, data, a.term, a.data)
		}
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
		n.sm.data = append(n.sm.data, data)
		if p := s.proposals[data]; p != nil && p.core == n.r && p.term == e.Term && p.index == e.Index && !p.acknowledged {
			p.acknowledged = true
			s.stats.acked++
			s.acked = append(s.acked, data)
		}
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
// through Ready.Entries, and two logs that agree on (index, term) agree on
// everything before it exactly when every (index, term) has one content and
// one predecessor term.
func (s *sim) recordEntries(n *simNode, ents []Entry) {
	for _, e := range ents {
		rec := entryRec{typ: e.Type, data: string(e.Data)}
		if e.Index == 1 {
			rec.prevKnown = true
		} else if e.Index-1 >= n.r.log.firstIndex()-1 {
			t, err := n.r.log.term(e.Index - 1)
			rec.prevTerm, rec.prevKnown = t, err == nil && t != 0
		}
		key := [2]uint64{e.Index, e.Term}
		old, ok := s.entries[key]
		if !ok {
			s.entries[key] = rec
			continue
		}
		if old.typ != rec.typ || old.data != rec.data {
			s.failf("log matching: n%d has %d/t%d %q, another log has %q", n.id, e.Index, e.Term, rec.data, old.data)
		}
		if old.prevKnown && rec.prevKnown && old.prevTerm != rec.prevTerm {
			s.failf("log matching: n%d has %d/t%d after term %d, another log after term %d",
				n.id, e.Index, e.Term, rec.prevTerm, old.prevTerm)
		} else if !old.prevKnown && rec.prevKnown {
			s.entries[key] = rec
		}
	}
}

func (s *sim) propose() {
	n := s.pick(s.isLeader)
	if n == nil {
		return
	}
	s.seq++
	p := fmt.Sprintf("p%d", s.seq)
	s.event("propose "+p, n.id, nil)
	if err := n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte(p)}}}); err == nil {
		s.proposals[p] = &proposalRec{node: n.id, core: n.r, term: n.r.term, index: n.r.LastIndex()}
	}
}

func (s *sim) refreshMaxCommit() {
	for _, n := range s.nodes {
		if n.r != nil {
			s.maxCommit = max(s.maxCommit, n.r.log.committed)
		}
	}
}

func (s *sim) requestRead(n *simNode, ctx string) {
	s.refreshMaxCommit()
	s.reads[ctx] = s.maxCommit
	s.event("readindex "+ctx, n.id, nil)
	_ = n.r.Step(Message{Type: MsgReadIndex, Context: []byte(ctx)})
}

func (s *sim) readIndex() {
	if n := s.pick((*simNode).idle); n != nil {
		s.seq++
		s.requestRead(n, fmt.Sprintf("r%d", s.seq))
	}
}

func (s *sim) partition() {
	ids := make([]NodeID, len(s.nodes))
	for i := range s.nodes {
		ids[i] = NodeID(i + 1)
	}
	switch s.rng.IntN(3) {
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
		if l := s.pick(func(n *simNode) bool { return n.live() && n.r.state == StateLeader }); l != nil {
			for _, b := range ids {
				if b != l.id {
					s.cut[[2]NodeID{l.id, b}] = true
					s.cut[[2]NodeID{b, l.id}] = true
				}
			}
			s.event("isolate leader", l.id, nil)
		}
	}
}

func (s *sim) heal() {
	if len(s.cut) > 0 {
		clear(s.cut)
		s.event("heal", 0, nil)
	}
}

func (s *sim) crash() {
	if n := s.pick((*simNode).live); n != nil {
		s.event("crash", n.id, nil)
		s.stats.crashes++
		n.r = nil
		n.pending = nil
		n.sm = smState{}
	}
}

func (s *sim) restart() {
	if n := s.pick(func(n *simNode) bool { return n.r == nil && !n.stopped }); n != nil {
		s.event("restart", n.id, nil)
		s.start(n)
	}
}

// snapshot takes an application snapshot at the applied index and compacts
// the log, so that laggards need InstallSnapshot.
func (s *sim) snapshot() {
	n := s.pick(func(n *simNode) bool {
		if !n.idle() {
			return false
		}
		snap, _ := n.st.Snapshot()
		return n.sm.applied > snap.Meta.Index
	})
	if n == nil {
		return
	}
	if n.r.log.applied != n.sm.applied {
		s.failf("n%d: core applied %d, state machine %d", n.id, n.r.log.applied, n.sm.applied)
	}
	s.event(fmt.Sprintf("snapshot at %d", n.sm.applied), n.id, nil)
	if err := n.st.CreateSnapshot(n.sm.applied, n.r.AppliedConf(), SnapshotBytes(encodeSM(n.sm.data))); err != nil {
		s.failf("n%d: create snapshot: %v", n.id, err)
	}
	// A random catch-up margin of log stays behind the snapshot; without
	// one, laggards need the snapshot at once.
	if margin := uint64(s.rng.IntN(9)); n.sm.applied > margin {
		if err := n.st.Compact(n.sm.applied - margin); err != nil {
			s.failf("n%d: compact: %v", n.id, err)
		}
	}
}

func (s *sim) confChange() {
	n := s.pick(s.isLeader)
	if n == nil {
		return
	}
	conf := n.r.conf
	var cc ConfChange
	switch {
	case !s.removed[s.extra] && !slices.Contains(conf.Voters, s.extra) && !slices.Contains(conf.Learners, s.extra):
		cc = ConfChange{Type: ConfAddLearner, Node: s.extra}
	case len(conf.Voters) >= 4:
		cc = ConfChange{Type: ConfRemove, Node: conf.Voters[s.rng.IntN(len(conf.Voters))]}
	default:
		return
	}
	s.event(fmt.Sprintf("confchange %v %d", cc.Type, cc.Node), n.id, nil)
	_ = n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Type: EntryConfChange, Data: cc.Marshal()}}})
}

func (s *sim) transfer() {
	n := s.pick(s.isLeader)
	if n == nil {
		return
	}
	voters := n.r.conf.Voters
	to := voters[s.rng.IntN(len(voters))]
	s.event(fmt.Sprintf("transfer to %d", to), n.id, nil)
	_ = n.r.Step(Message{Type: MsgTransferLeader, From: to})
}

// check runs the per-step invariants.
func (s *sim) check() {
	for _, n := range s.nodes {
		if n.r == nil {
			continue
		}
		r := n.r
		if r.state == StateLeader {
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
			s.recordCommits(n, n.commitSeen+1, c)
		}
		n.commitSeen = c
	}
	if s.step%simFullCheckEvery == 0 {
		s.checkLogMatching()
	}
}

func (s *sim) recordCommits(n *simNode, lo, hi uint64) {
	r := n.r
	s.maxCommit = max(s.maxCommit, hi)
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
			if l.r != nil && l.r.state == StateLeader && l.r.term > c.obsTerm {
				s.checkLeaderHas(l, i, c)
			}
		}
	}
}

// checkNewLeader checks leader completeness for a leader just elected.
func (s *sim) checkNewLeader(n *simNode) {
	for i := 1; i < len(s.committed); i++ {
		if c := s.committed[i]; c.obsTerm < n.r.term {
			s.checkLeaderHas(n, uint64(i), c)
		}
	}
}

func (s *sim) checkLeaderHas(l *simNode, i uint64, c commitRec) {
	if c.term == 0 || i < l.r.log.firstIndex() {
		return // covered by its snapshot
	}
	if t, err := l.r.log.term(i); err != nil || t != c.term || i > l.r.LastIndex() {
		s.failf("leader completeness: n%d leads term %d with %d/t%d, but %d/t%d was committed by term %d",
			l.id, l.r.term, i, t, i, c.term, c.obsTerm)
	}
}

// checkLogMatching compares every pair of logs directly (the incremental
// check in recordEntries covers every step; this one guards it).
func (s *sim) checkLogMatching() {
	for i, a := range s.nodes {
		for _, b := range s.nodes[i+1:] {
			if a.r == nil || b.r == nil {
				continue
			}
			la, lb := a.r.log, b.r.log
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
// delivery, ticks and disk writes: a leader must emerge, commit a fresh
// proposal on every member and answer a read.
func (s *sim) progress() {
	s.event("progress phase", 0, nil)
	clear(s.cut)
	for _, n := range s.nodes {
		if s.removed[n.id] {
			n.stopped = true
			n.r, n.pending = nil, nil
		} else if n.r == nil {
			s.start(n)
		}
	}
	calm := []simAction{
		{100, s.deliver},
		{10, s.tick},
		{30, s.readyAny},
		{30, s.persistAny},
	}
	var fresh *proposalRec
	var freshPayload, readCtx string
	readAt := 0
	for range simProgressSteps {
		s.step++
		s.choose(calm)
		s.check()
		l := s.pick(s.isLeader)
		if l == nil {
			continue
		}
		if fresh == nil || s.freshLost(l, fresh, freshPayload) {
			if !l.r.committedEntryInCurrentTerm() {
				continue
			}
			s.seq++
			freshPayload = fmt.Sprintf("fresh%d", s.seq)
			if err := l.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte(freshPayload)}}}); err != nil {
				fresh = nil
				continue
			}
			s.event("propose "+freshPayload, l.id, nil)
			fresh = &proposalRec{node: l.id, core: l.r, term: l.r.term, index: l.r.LastIndex()}
			s.proposals[freshPayload] = fresh
			continue
		}
		if !s.appliedEverywhere(l, fresh.index) {
			continue
		}
		if readCtx == "" || (s.readDone[readCtx] == 0 && s.step-readAt > 300) {
			s.seq++
			readCtx = fmt.Sprintf("final%d", s.seq)
			readAt = s.step
			s.requestRead(l, readCtx)
			continue
		}
		if idx := s.readDone[readCtx]; idx != 0 {
			if idx < fresh.index {
				s.failf("final read index %d is below the fresh entry %d", idx, fresh.index)
			}
			s.checkConverged(l)
			return
		}
	}
	l := s.pick(func(n *simNode) bool { return n.live() && n.r.state == StateLeader })
	switch {
	case l == nil:
		s.failf("liveness: no leader %d steps after healing", simProgressSteps)
	case fresh == nil:
		s.failf("liveness: leader n%d never committed in its term %d", l.id, l.r.term)
	case readCtx == "":
		s.failf("liveness: fresh proposal %s at %d not applied on every member", freshPayload, fresh.index)
	default:
		s.failf("liveness: final read %s not answered", readCtx)
	}
}

// freshLost reports whether the fresh proposal can no longer commit: its
// slot was applied with something else, or the current leader (another
// core) does not hold it.
func (s *sim) freshLost(l *simNode, fresh *proposalRec, payload string) bool {
	if fresh.index < uint64(len(s.applied)) && s.applied[fresh.index].set {
		return s.applied[fresh.index].data != payload
	}
	if l.r == fresh.core {
		return false
	}
	t, err := l.r.log.term(fresh.index)
	return err != nil || t != fresh.term
}

// appliedEverywhere reports whether every member in l's configuration is up
// and has applied index i.
func (s *sim) appliedEverywhere(l *simNode, i uint64) bool {
	for _, id := range append(slices.Clone(l.r.conf.Voters), l.r.conf.Learners...) {
		n := s.node(id)
		if n == nil || !n.live() || n.sm.applied < i {
			return false
		}
	}
	return true
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
			s.failf("acknowledged proposal %q (index %d, term %d) lost: not in leader n%d's state machine",
				p, s.proposals[p].index, s.proposals[p].term, l.id)
		}
	}
	for _, id := range append(slices.Clone(l.r.conf.Voters), l.r.conf.Learners...) {
		n := s.node(id)
		if n.sm.applied == l.sm.applied && !slices.Equal(n.sm.data, l.sm.data) {
			s.failf("n%d and leader n%d applied up to %d but their state machines differ", n.id, l.id, n.sm.applied)
		}
	}
}

func (s *sim) finalCheck() {
	s.checkLogMatching()
}

// TestSimDeterministic: a seed replays exactly, so a failure reported by
// TestSim can be debugged with -sim.seed.
func TestSimDeterministic(t *testing.T) {
	for _, seed := range []int64{1, 2} {
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
