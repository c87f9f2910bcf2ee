package consensus

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// snapReads holds the snapshot chunks a leader's core asked for until a
// reader fills them from storage and sends them. Reading a chunk of a
// large snapshot may take long, and the run goroutine must go on
// answering heartbeats meanwhile, so it only queues them. Memory stays
// bounded: each follower has at most one chunk being read and one
// waiting, the newest asked for (an older one waiting is dropped, as a
// lossy network would, and the core asks again).
type snapReads struct {
	mu sync.Mutex
	// want is, per follower, the chunk asked for last and not yet taken.
	want map[NodeID]Message
	// busy marks the followers a reader goroutine serves.
	busy map[NodeID]bool
	// failed are the chunks that could not be read, for the run goroutine.
	failed []snapReadFailure
	// failedc (capacity 1) tells the run goroutine that failures wait.
	failedc chan struct{}
	// async starts a reader goroutine per follower; without it chunks
	// wait until taken by hand (the simulation reads them as steps).
	async   bool
	stopped bool
	wg      sync.WaitGroup
}

// snapReadFailure is a chunk that could not be read, and why.
type snapReadFailure struct {
	m   Message
	err error
}

func newSnapReads() *snapReads {
	return &snapReads{want: map[NodeID]Message{}, busy: map[NodeID]bool{}, failedc: make(chan struct{}, 1)}
}

// take returns the chunk waiting for follower to, if any. A reader
// goroutine that finds none is done.
func (q *snapReads) take(to NodeID) (Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.want[to]
	if !ok || q.stopped {
		delete(q.busy, to)
		return Message{}, false
	}
	delete(q.want, to)
	return m, true
}

func (q *snapReads) fail(m Message, err error) {
	q.mu.Lock()
	q.failed = append(q.failed, snapReadFailure{m: m, err: err})
	q.mu.Unlock()
	signal(q.failedc)
}

func (q *snapReads) takeFailed() []snapReadFailure {
	q.mu.Lock()
	defer q.mu.Unlock()
	f := q.failed
	q.failed = nil
	return f
}

// stop drops the chunks waiting and waits for the readers to finish the
// chunk they are reading, so that none sends after the node stopped.
func (q *snapReads) stop() {
	q.mu.Lock()
	q.stopped = true
	clear(q.want)
	q.mu.Unlock()
	q.wg.Wait()
}

// send hands msgs to the transport, but for the snapshot chunks, which
// wait for a reader to fill them.
func (n *Node) send(msgs []Message) {
	if slices.ContainsFunc(msgs, func(m Message) bool { return m.Type == MsgSnap }) {
		rest := make([]Message, 0, len(msgs))
		for _, m := range msgs {
			if m.Type == MsgSnap {
				n.queueSnapChunk(m)
			} else {
				rest = append(rest, m)
			}
		}
		msgs = rest
	}
	if len(msgs) > 0 {
		n.cfg.Transport.Send(msgs)
	}
}

// queueSnapChunk queues the chunk m asks for, starting a reader for its
// follower if none runs.
func (n *Node) queueSnapChunk(m Message) {
	q := n.snaps
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return
	}
	q.want[m.To] = m
	if q.async && !q.busy[m.To] {
		q.busy[m.To] = true
		q.wg.Add(1)
		go n.snapReader(m.To)
	}
}

// snapReader reads and sends the chunks asked for follower to until none
// waits.
func (n *Node) snapReader(to NodeID) {
	defer n.snaps.wg.Done()
	for {
		m, ok := n.snaps.take(to)
		if !ok {
			return
		}
		n.readSnapChunk(m)
	}
}

// readSnapChunk fills the chunk m asks for from storage and sends it, or
// reports to the run goroutine that it could not be read.
func (n *Node) readSnapChunk(m Message) {
	m, err := fillSnapChunk(n.storage, m)
	if err != nil {
		n.snaps.fail(m, err)
		return
	}
	n.cfg.Transport.Send([]Message{m})
}

// fillSnapChunk reads the chunk a leader's MsgSnap names, SnapLen bytes
// at SnapOffset of the snapshot at Snapshot.Index, from st into SnapData.
func fillSnapChunk(st Storage, m Message) (Message, error) {
	buf := make([]byte, m.SnapLen)
	if err := st.ReadSnapshotChunk(m.Snapshot.Index, m.SnapOffset, buf); err != nil {
		return m, fmt.Errorf("consensus: reading %d bytes at %d of snapshot %d: %w", m.SnapLen, m.SnapOffset, m.Snapshot.Index, err)
	}
	m.SnapData = buf
	return m, nil
}

// onSnapReadsFailed tells the core about the chunks that could not be
// read: a follower being sent a snapshot that storage replaced gets the
// current one. Any other read error is a storage failure; false means the
// node failed and stops.
func (n *Node) onSnapReadsFailed() bool {
	for _, f := range n.snaps.takeFailed() {
		if !errors.Is(f.err, ErrSnapOutOfDate) {
			return n.survived(f.err)
		}
		n.logger.Info("snapshot replaced while being sent; sending the current one",
			"to", f.m.To, "index", f.m.Snapshot.Index)
		n.core.ReportSnapshotReplaced(f.m.To, f.m.Snapshot.Index)
	}
	return n.survived(nil)
}
