package consensus

import (
	"testing"
	"time"
)

// TestBugLeaseJudgedOnStaleTicks: a new leader in lease mode parks reads
// until its no-op commits. When the acknowledgements that commit it were
// stepped after a stall of the run loop, before the missed ticks were
// counted, the parked read was answered under a lease that had run out
// during the stall, while another leader could have been elected.
func TestBugLeaseJudgedOnStaleTicks(t *testing.T) {
	n, tr := newDriverNode(t, 1, peers3, NewMemoryStorage(), func(c *Config) {
		c.LeaseRead, c.CheckQuorum = true, true
	})
	settle(t, n)
	n.stepMessage(Message{Type: MsgHup})
	settle(t, n)
	for _, from := range []NodeID{2, 3} {
		n.stepMessage(Message{From: from, To: 1, Type: MsgVoteResp, Term: n.core.term})
	}
	settle(t, n)
	if n.core.state != StateLeader {
		t.Fatalf("node 1 is %v, want leader", n.core.state)
	}
	noop := n.core.LastIndex()
	// A quorum answers a heartbeat: the lease holds.
	tr.msgs = nil
	tickOnce(n)
	settle(t, n)
	beats := tr.sent(MsgHeartbeat)
	if len(beats) == 0 {
		t.Fatal("leader sent no heartbeat on its tick")
	}
	for _, b := range beats {
		n.stepMessage(Message{From: b.To, To: 1, Type: MsgHeartbeatResp, Term: b.Term, Index: b.Index})
	}
	if !n.core.leaseValid() {
		t.Fatal("lease not valid after a quorum answered a heartbeat")
	}
	read := n.joinRead()
	n.startReadRound()
	settle(t, n)
	if done(read.done) {
		t.Fatalf("read answered (%v) before the term's no-op committed", read.err)
	}
	// The loop stalls for ten seconds; then the no-op's acknowledgements,
	// queued meanwhile, are stepped before the next tick.
	now := n.clock().Add(10 * time.Second)
	n.clock = func() time.Time { return now }
	for _, from := range []NodeID{2, 3} {
		n.stepMessage(Message{From: from, To: 1, Type: MsgAppResp, Term: n.core.term, Index: noop})
	}
	settle(t, n)
	if done(read.done) && read.err == nil {
		t.Fatal("read answered under a lease that ran out during the stall")
	}
}
