package consensus

import "fmt"

// progressState is how the leader is currently replicating to a follower.
type progressState uint8

const (
	// probeState: the leader does not know where the follower's log ends; it
	// sends one MsgApp per heartbeat interval until one is accepted.
	probeState progressState = iota
	// replicateState: the follower is in sync; MsgApps are pipelined up to
	// the inflight limit.
	replicateState
	// snapshotState: the follower needs a snapshot, sent in chunks.
	snapshotState
)

func (s progressState) String() string {
	return [...]string{"probe", "replicate", "snapshot"}[s]
}

// progress is the leader's view of one follower (or of itself).
// Invariant: match < next.
type progress struct {
	match, next uint64
	state       progressState
	// probeSent pauses a probing follower until its next heartbeat response.
	probeSent bool
	inflights inflights
	// recentActive is set by any message from the follower and cleared by
	// each CheckQuorum round.
	recentActive bool
	learner      bool
	// lastAckedSend is the leader tick at which the newest heartbeat this
	// follower answered was sent; leases are measured from it.
	lastAckedSend int64

	// Snapshot being streamed (snapshotState only): its metadata and the
	// size of its data, which the driver reads chunk by chunk.
	snap     *SnapshotMeta
	snapSize uint64
	snapOff  uint64 // offset the follower acknowledged
}

func (pr *progress) String() string {
	return fmt.Sprintf("%s match=%d next=%d inflight=%d", pr.state, pr.match, pr.next, pr.inflights.count)
}

func (pr *progress) resetState(state progressState) {
	pr.probeSent = false
	pr.state = state
	pr.snap = nil
	pr.snapSize = 0
	pr.snapOff = 0
	pr.inflights.reset()
}

func (pr *progress) becomeProbe() {
	if pr.state == snapshotState && pr.snap != nil {
		snapIndex := pr.snap.Index
		pr.resetState(probeState)
		pr.next = max(pr.match+1, snapIndex+1)
		return
	}
	pr.resetState(probeState)
	pr.next = pr.match + 1
}

func (pr *progress) becomeReplicate() {
	pr.resetState(replicateState)
	pr.next = pr.match + 1
}

func (pr *progress) becomeSnapshot(meta *SnapshotMeta, size uint64) {
	pr.resetState(snapshotState)
	pr.snap = meta
	pr.snapSize = size
}

// maybeUpdate records that the follower has index n; it reports whether
// that is news.
func (pr *progress) maybeUpdate(n uint64) bool {
	updated := false
	if pr.match < n {
		pr.match = n
		updated = true
		pr.probeSent = false
	}
	pr.next = max(pr.next, n+1)
	return updated
}

// sentEntries records a MsgApp whose last entry is last.
func (pr *progress) sentEntries(last uint64, n int) {
	switch pr.state {
	case replicateState:
		if n > 0 {
			pr.next = last + 1
			pr.inflights.add(last)
		}
	case probeState:
		pr.probeSent = true
	}
}

// maybeDecrTo handles a rejection of the MsgApp whose preceding index was
// rejected; matchHint is where the follower's log may match.
func (pr *progress) maybeDecrTo(rejected, matchHint uint64) bool {
	if pr.state == replicateState {
		if rejected <= pr.match {
			return false // stale
		}
		pr.next = pr.match + 1
		return true
	}
	if pr.next-1 != rejected {
		return false // stale
	}
	pr.next = max(min(rejected, matchHint+1), pr.match+1)
	pr.probeSent = false
	return true
}

func (pr *progress) isPaused() bool {
	switch pr.state {
	case probeState:
		return pr.probeSent
	case replicateState:
		return pr.inflights.full()
	default:
		return true
	}
}

// inflights is a ring of the last indexes of MsgApps not yet acknowledged,
// bounding how far the leader runs ahead of a follower.
type inflights struct {
	start, count int
	buf          []uint64
}

func newInflights(size int) inflights { return inflights{buf: make([]uint64, size)} }

func (in *inflights) add(last uint64) {
	if in.full() {
		panic("consensus: inflights overflow")
	}
	in.buf[(in.start+in.count)%len(in.buf)] = last
	in.count++
}

// freeLE releases every message whose last index is <= to.
func (in *inflights) freeLE(to uint64) {
	for in.count > 0 && in.buf[in.start] <= to {
		in.start = (in.start + 1) % len(in.buf)
		in.count--
	}
}

func (in *inflights) full() bool { return in.count == len(in.buf) }

func (in *inflights) reset() { in.start, in.count = 0, 0 }
