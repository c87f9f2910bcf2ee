package integration

// Regression test for the repeated-snapshot catch-up found by the fault
// tests: a follower needed 5 to 8 installs of a 3 MB snapshot because the
// leader's transport kept redialing the restarted follower with a backoff
// of up to 2 s, so each transfer took seconds while the log moved on.

import (
	"strings"
	"testing"
	"time"
)

// TestSnapshotCatchUpUnderLoad: the snapshot fault (a follower cut off
// until it needs a 3 MB snapshot, killed on the first chunk) followed by
// the membership fault (a follower down while a node joins; it comes back
// needing a snapshot too) under the checker's client load. Every node
// should catch up with a snapshot or two, not chase a log that a slow
// transfer lets run away.
func TestSnapshotCatchUpUnderLoad(t *testing.T) {
	r := newRunner(t, 3, 1)
	r.runPhase(step{kind: "snapshot-kill", hold: 3 * time.Second, arg: 10})
	r.runPhase(step{kind: "membership", hold: 3 * time.Second, arg: 11})
	for _, nd := range r.fc.nodes {
		if n := strings.Count(readFileString(nd.logPath), "restored snapshot"); n > 3 {
			t.Errorf("node %d installed %d snapshots to catch up; want at most 3 over both faults", nd.id, n)
		}
	}
}
