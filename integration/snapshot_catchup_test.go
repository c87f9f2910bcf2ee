package integration

// Regression test for the repeated-snapshot catch-up found by the fault
// tests: a follower needed 5 to 8 installs of a 3 MB snapshot because the
// leader's log moved on during each transfer and the leader compacted past
// the snapshot the follower had just installed. The leader now keeps a
// catch-up margin of log behind each snapshot (--snapshot-catchup-entries).

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// catchUpEntries is the margin the test's cluster keeps behind each
// snapshot. A follower that installs snapshot S needs the leader's log from
// S+1, which is gone only once the leader takes a snapshot past
// S+catchUpEntries. Between the leader picking S and the follower asking
// for S+1 lie: what S was already behind the leader's applied index (at
// most one interval, 500 entries, plus the writes while the next snapshot
// is written), and the transfer: the follower's restart after the kill,
// three 1 MiB chunks through the fault proxy and the restore, about 0.15 s
// measured, 0.2 s with a CPU hog, in which the eight clients write some
// 300 entries. 20000 is over twenty times that sum, so neither load nor a
// slow machine can outrun it; it costs the snapshot fault only filler
// writes to get the follower behind the leader's log in the first place.
const catchUpEntries = 20000

// TestSnapshotCatchUpUnderLoad: the snapshot fault (a follower cut off
// until the leader's log no longer holds what it needs, killed on the
// first frame of a 3 MB snapshot) followed by the membership fault (a
// follower down while a node joins, another down while it is removed)
// under the checker's client load. A node that needs a snapshot installs
// exactly one and goes on from the log: the cut-off follower and the
// joiner one each, and no node more than one in either fault.
func TestSnapshotCatchUpUnderLoad(t *testing.T) {
	r := newRunner(t, 3, 1, "--snapshot-catchup-entries", strconv.Itoa(catchUpEntries))
	installs := func() map[int]int {
		n := map[int]int{}
		for _, nd := range r.fc.nodes {
			n[nd.id] = strings.Count(readFileString(nd.logPath), "restored snapshot")
		}
		return n
	}
	r.runPhase(step{kind: "snapshot-kill", hold: 3 * time.Second, arg: 10})
	afterKill := installs()
	var installed []int
	for id, n := range afterKill {
		if n > 0 {
			installed = append(installed, id)
		}
		if n > 1 {
			t.Errorf("node %d installed %d snapshots after being cut off; want exactly one", id, n)
		}
	}
	if len(installed) != 1 {
		t.Errorf("nodes %v installed a snapshot in the snapshot fault; want exactly the cut-off follower", installed)
	}
	r.runPhase(step{kind: "membership", hold: 3 * time.Second, arg: 11})
	for id, n := range installs() {
		before, founder := afterKill[id]
		switch n -= before; {
		case !founder && n != 1:
			t.Errorf("joining node %d installed %d snapshots; want exactly one", id, n)
		case n > 1:
			t.Errorf("node %d installed %d snapshots in the membership fault; want at most one", id, n)
		}
	}
}
