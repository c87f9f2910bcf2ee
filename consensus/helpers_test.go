package consensus

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// testNode is a core with the MemoryStorage that plays its disk and the
// entries it has applied.
type testNode struct {
	r          *Raft
	st         *MemoryStorage
	applied    []Entry
	readStates []ReadState
}

type cfgOpt func(*Config)

func withPreVote(c *Config)     { c.PreVote = true }
func withCheckQuorum(c *Config) { c.CheckQuorum = true }

// newTestConfig returns a config with election 10 and heartbeat 1 ticks and
// a fixed random source, so that tests are deterministic.
func newTestConfig(id NodeID, st Storage, opts ...cfgOpt) Config {
	c := Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: st,
		Rand: rand.New(rand.NewPCG(uint64(id), 7)), Logger: discardLogger}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// newTestNode bootstraps node id of a new group of peers.
func newTestNode(t testing.TB, id NodeID, peers []NodeID, opts ...cfgOpt) *testNode {
	t.Helper()
	st := NewMemoryStorage()
	c := newTestConfig(id, st, opts...)
	c.Peers = peers
	r, err := NewRaft(c)
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{r: r, st: st}
	n.readyAll() // persist, then apply, the bootstrap entries
	return n
}

// newTestNodeWithLog starts node id with a persisted log whose entry i+1
// has term terms[i], the given hard state term, and membership peers. The
// membership is set directly, as if a snapshot had carried it, so that the
// log can be any shape.
func newTestNodeWithLog(t testing.TB, id NodeID, peers []NodeID, terms []uint64, term uint64, opts ...cfgOpt) *testNode {
	t.Helper()
	st := NewMemoryStorage()
	ents := make([]Entry, len(terms))
	for i, tm := range terms {
		ents[i] = Entry{Index: uint64(i + 1), Term: tm}
	}
	if err := st.Save(HardState{Term: term}, ents, nil); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(newTestConfig(id, st, opts...))
	if err != nil {
		t.Fatal(err)
	}
	r.conf = ConfState{Voters: slices.Clone(peers)}
	r.appliedConf = r.conf.Clone()
	r.becomeFollower(r.term, None)
	return &testNode{r: r, st: st}
}

// ready handles one Ready as the driver does (persist, apply, Advance) and
// returns its messages, ordered by recipient for determinism.
func (n *testNode) ready() []Message {
	if !n.r.HasReady() {
		return nil
	}
	rd := n.r.Ready()
	hs, _, _ := n.st.InitialState()
	if !rd.HardState.IsEmpty() {
		hs = rd.HardState
	}
	if err := n.st.Save(hs, rd.Entries, rd.Snapshot); err != nil {
		panic(err)
	}
	if rd.Snapshot != nil {
		n.applied = nil
	}
	n.applied = append(n.applied, rd.CommittedEntries...)
	n.readStates = append(n.readStates, rd.ReadStates...)
	msgs := slices.Clone(rd.Messages)
	slices.SortStableFunc(msgs, func(a, b Message) int { return cmp.Compare(a.To, b.To) })
	n.r.Advance(rd)
	return n.fillSnapChunks(msgs)
}

// fillSnapChunks reads the snapshot chunks among msgs from storage, as
// the driver's readers do, and reports a replaced snapshot to the core.
func (n *testNode) fillSnapChunks(msgs []Message) []Message {
	out := msgs[:0]
	for _, m := range msgs {
		if m.Type == MsgSnap {
			var err error
			if m, err = fillSnapChunk(n.st, m); errors.Is(err, ErrSnapOutOfDate) {
				n.r.ReportSnapshotReplaced(m.To, m.Snapshot.Index)
				continue
			} else if err != nil {
				panic(err)
			}
		}
		out = append(out, m)
	}
	return out
}

// readyAll repeats ready until the core has nothing more to do.
func (n *testNode) readyAll() []Message {
	var msgs []Message
	for n.r.HasReady() {
		msgs = append(msgs, n.ready()...)
	}
	return msgs
}

// network delivers messages between test nodes synchronously, persisting
// every Ready on the way, until no message is left (etcd's network).
type network struct {
	t     testing.TB
	nodes map[NodeID]*testNode
	// cut drops messages from [0] to [1]; drop drops by type; hook may
	// drop a message by returning false.
	cut  map[[2]NodeID]bool
	drop map[MessageType]bool
	hook func(Message) bool
	// sent records every message delivered, for assertions.
	sent []Message
}

func newNetwork(t testing.TB, ids []NodeID, opts ...cfgOpt) *network {
	nw := &network{t: t, nodes: map[NodeID]*testNode{}, cut: map[[2]NodeID]bool{}, drop: map[MessageType]bool{}}
	for _, id := range ids {
		nw.nodes[id] = newTestNode(t, id, ids, opts...)
	}
	return nw
}

func (nw *network) ids() []NodeID {
	ids := make([]NodeID, 0, len(nw.nodes))
	for id := range nw.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// send steps msgs into their recipients and keeps delivering what follows.
// A message with To == None is stepped into From (a local message).
func (nw *network) send(msgs ...Message) {
	for len(msgs) > 0 {
		m := msgs[0]
		msgs = msgs[1:]
		to := m.To
		if to == None {
			to = m.From
		}
		n := nw.nodes[to]
		if n == nil || nw.cut[[2]NodeID{m.From, to}] || nw.drop[m.Type] || (nw.hook != nil && !nw.hook(m)) {
			continue
		}
		nw.sent = append(nw.sent, m)
		_ = n.r.Step(m)
		msgs = append(msgs, n.readyAll()...)
	}
}

// flush delivers whatever the nodes have pending.
func (nw *network) flush() {
	for _, id := range nw.ids() {
		nw.send(nw.nodes[id].readyAll()...)
	}
}

// campaign makes id start an election and runs the network until quiet.
func (nw *network) campaign(id NodeID) {
	nw.send(Message{From: id, Type: MsgHup})
}

func (nw *network) propose(id NodeID, data string) error {
	n := nw.nodes[id]
	err := n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte(data)}}})
	nw.send(n.readyAll()...)
	return err
}

func (nw *network) isolate(id NodeID) {
	for other := range nw.nodes {
		if other != id {
			nw.cut[[2]NodeID{id, other}] = true
			nw.cut[[2]NodeID{other, id}] = true
		}
	}
}

func (nw *network) heal() {
	clear(nw.cut)
	clear(nw.drop)
	nw.hook = nil
}

// tick ticks id n times, delivering what each tick produces.
func (nw *network) tick(id NodeID, n int) {
	for range n {
		nw.nodes[id].r.Tick()
		nw.send(nw.nodes[id].readyAll()...)
	}
}

func (nw *network) leader() NodeID {
	for _, id := range nw.ids() {
		if nw.nodes[id].r.state == StateLeader {
			return id
		}
	}
	return None
}

// takeMsgs returns and clears the messages a core has queued, without
// persisting anything (for single-core tests).
func takeMsgs(r *Raft) []Message {
	msgs := r.msgs
	r.msgs = nil
	slices.SortStableFunc(msgs, func(a, b Message) int { return cmp.Compare(a.To, b.To) })
	return msgs
}

// logTerms returns the terms of the entries in the core's log from its first
// index on.
func logTerms(r *Raft) []uint64 {
	var terms []uint64
	for i := r.log.firstIndex(); i <= r.log.lastIndex(); i++ {
		t, err := r.log.term(i)
		if err != nil {
			panic(err)
		}
		terms = append(terms, t)
	}
	return terms
}

// Advance tells the core that rd has been persisted, sent and applied. It
// is AcceptReady followed by StableTo for rd's entries.
func (r *Raft) Advance(rd Ready) {
	r.AcceptReady(rd)
	if n := len(rd.Entries); n > 0 {
		e := rd.Entries[n-1]
		r.StableTo(e.Index, e.Term)
	}
}

// LastIndex returns the index of the last entry in the log.
func (r *Raft) LastIndex() uint64 { return r.log.lastIndex() }

// Term returns the current term, without waiting.
func (n *Node) Term() uint64 { return n.term.Load() }

// Applied returns the applied index, without waiting.
func (n *Node) Applied() uint64 { return n.applied.Load() }

// waiting returns the followers with a chunk waiting, in order.
func (q *snapReads) waiting() []NodeID {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]NodeID, 0, len(q.want))
	for id := range q.want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
