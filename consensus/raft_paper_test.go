package consensus

import (
	"errors"
	"slices"
	"testing"
)

// Tests named after the section of the Raft paper (Ongaro & Ousterhout,
// "In Search of an Understandable Consensus Algorithm") or of Ongaro's
// thesis whose rule they check.

var peers3 = []NodeID{1, 2, 3}

// elect makes n's core leader by stepping a campaign and the votes of every
// other voter, without PreVote.
func elect(t *testing.T, n *testNode) {
	t.Helper()
	r := n.r
	if err := r.Step(Message{Type: MsgHup}); err != nil {
		t.Fatal(err)
	}
	for _, v := range r.conf.Voters {
		if v != r.id && r.state != StateLeader {
			_ = r.Step(Message{From: v, To: r.id, Type: MsgVoteResp, Term: r.term})
		}
	}
	if r.state != StateLeader {
		t.Fatalf("n%d: state %v after winning every vote", r.id, r.state)
	}
}

// commitNoop persists the leader's no-op and acknowledges it from every
// follower, so that the leader has committed in its term.
func commitNoop(t *testing.T, n *testNode) {
	t.Helper()
	n.readyAll()
	for _, v := range n.r.conf.Voters {
		if v != n.r.id {
			_ = n.r.Step(Message{From: v, To: n.r.id, Type: MsgAppResp, Term: n.r.term, Index: n.r.LastIndex()})
		}
	}
	n.readyAll()
	if !n.r.committedEntryInCurrentTerm() {
		t.Fatalf("no-op not committed: commit %d last %d", n.r.log.committed, n.r.LastIndex())
	}
}

func msgsOfType(msgs []Message, typ MessageType) []Message {
	var out []Message
	for _, m := range msgs {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

func TestFollowerUpdateTermFromMessage_5_1(t *testing.T) {
	testUpdateTermFromMessage(t, StateFollower)
}

func TestCandidateUpdateTermFromMessage_5_1(t *testing.T) {
	testUpdateTermFromMessage(t, StateCandidate)
}

func TestLeaderUpdateTermFromMessage_5_1(t *testing.T) {
	testUpdateTermFromMessage(t, StateLeader)
}

// testUpdateTermFromMessage: a server that sees a larger term adopts it and
// reverts to follower (§5.1), whatever message carries it.
func testUpdateTermFromMessage(t *testing.T, state StateType) {
	for _, typ := range []MessageType{MsgApp, MsgHeartbeat, MsgVoteResp, MsgAppResp} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newTestNode(t, 1, peers3)
			switch state {
			case StateCandidate:
				_ = n.r.Step(Message{Type: MsgHup})
			case StateLeader:
				elect(t, n)
			}
			_ = n.r.Step(Message{From: 2, To: 1, Type: typ, Term: 5, Index: 3, LogTerm: 1})
			if n.r.term != 5 || n.r.state != StateFollower {
				t.Fatalf("term %d state %v, want 5 follower", n.r.term, n.r.state)
			}
			wantLead := None
			if typ == MsgApp || typ == MsgHeartbeat {
				wantLead = 2
			}
			if n.r.lead != wantLead {
				t.Fatalf("lead = %d, want %d", n.r.lead, wantLead)
			}
		})
	}
}

// TestRejectStaleTermMessage_5_1: a request with a stale term is rejected;
// with CheckQuorum or PreVote the stale leader is told the newer term so it
// steps down.
func TestRejectStaleTermMessage_5_1(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  []cfgOpt
		wresp bool
	}{
		{"plain", nil, false},
		{"checkquorum", []cfgOpt{withCheckQuorum}, true},
		{"prevote", []cfgOpt{withPreVote}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, 1, peers3, tt.opts...)
			_ = n.r.Step(Message{From: 2, To: 1, Type: MsgHeartbeat, Term: 3})
			takeMsgs(n.r)
			_ = n.r.Step(Message{From: 3, To: 1, Type: MsgApp, Term: 2, Index: 3, LogTerm: 1, Commit: 3,
				Entries: []Entry{{Term: 2, Index: 4, Data: []byte("x")}}})
			if n.r.term != 3 || n.r.lead != 2 || n.r.LastIndex() != 3 {
				t.Fatalf("stale MsgApp changed state: term %d lead %d last %d", n.r.term, n.r.lead, n.r.LastIndex())
			}
			msgs := takeMsgs(n.r)
			if got := len(msgs) == 1 && msgs[0].Type == MsgAppResp && msgs[0].Term == 3 && msgs[0].To == 3; got != tt.wresp {
				t.Fatalf("messages %v, want a term-3 MsgAppResp to 3: %v", msgs, tt.wresp)
			}
		})
	}
}

func TestStartAsFollower_5_2(t *testing.T) {
	n := newTestNode(t, 1, peers3)
	if n.r.state != StateFollower || n.r.lead != None || n.r.term != 1 {
		t.Fatalf("state %v lead %d term %d, want follower, none, 1", n.r.state, n.r.lead, n.r.term)
	}
}

// TestLeaderBcastBeat_5_2: a leader sends heartbeats to every follower each
// heartbeat interval, carrying no commit index a follower might not hold.
func TestLeaderBcastBeat_5_2(t *testing.T) {
	n := newTestNode(t, 1, peers3)
	elect(t, n)
	takeMsgs(n.r)
	n.r.Tick() // HeartbeatTick is 1
	hbs := msgsOfType(takeMsgs(n.r), MsgHeartbeat)
	if len(hbs) != 2 || hbs[0].To != 2 || hbs[1].To != 3 {
		t.Fatalf("heartbeats %v, want one to 2 and one to 3", hbs)
	}
	for _, m := range hbs {
		if m.Term != n.r.term || m.Commit != 0 {
			t.Fatalf("heartbeat %v: want term %d, commit 0 (followers' match is unknown)", m, n.r.term)
		}
	}
}

func TestFollowerStartElection_5_2(t *testing.T) {
	testNonleaderStartElection(t, StateFollower)
}

func TestCandidateStartNewElection_5_2(t *testing.T) {
	testNonleaderStartElection(t, StateCandidate)
}

// testNonleaderStartElection: with no word from a leader for an election
// timeout, a follower (or a candidate whose election went nowhere) starts an
// election: new term, vote for itself, RequestVote to every other voter.
func testNonleaderStartElection(t *testing.T, state StateType) {
	n := newTestNode(t, 1, peers3)
	if state == StateCandidate {
		_ = n.r.Step(Message{Type: MsgHup})
	}
	term := n.r.term
	takeMsgs(n.r)
	for range 2 * n.r.cfg.ElectionTick {
		n.r.Tick()
	}
	if n.r.state != StateCandidate || n.r.term != term+1 || n.r.vote != 1 {
		t.Fatalf("state %v term %d vote %d, want candidate %d 1", n.r.state, n.r.term, n.r.vote, term+1)
	}
	votes := msgsOfType(takeMsgs(n.r), MsgVote)
	if len(votes) != 2 || votes[0].To != 2 || votes[1].To != 3 || votes[0].Term != term+1 {
		t.Fatalf("vote requests %v, want term %d to 2 and 3", votes, term+1)
	}
}

// TestLeaderElectionInOneRoundRPC_5_2: a candidate wins with a majority,
// loses with a majority of rejections, and waits otherwise.
func TestLeaderElectionInOneRoundRPC_5_2(t *testing.T) {
	for _, tt := range []struct {
		size  int
		votes map[NodeID]bool
		want  StateType
	}{
		{1, nil, StateLeader},
		{3, map[NodeID]bool{2: true, 3: true}, StateLeader},
		{3, map[NodeID]bool{2: true}, StateLeader},
		{5, map[NodeID]bool{2: true, 3: true, 4: true, 5: true}, StateLeader},
		{5, map[NodeID]bool{2: true, 3: true}, StateLeader},
		{3, map[NodeID]bool{2: false, 3: false}, StateFollower},
		{5, map[NodeID]bool{2: false, 3: false, 4: false}, StateFollower},
		{5, map[NodeID]bool{2: true, 3: false, 4: false, 5: false}, StateFollower},
		{3, nil, StateCandidate},
		{5, map[NodeID]bool{2: true}, StateCandidate},
		{5, map[NodeID]bool{2: false, 3: false}, StateCandidate},
	} {
		var ids []NodeID
		for i := 1; i <= tt.size; i++ {
			ids = append(ids, NodeID(i))
		}
		n := newTestNode(t, 1, ids)
		_ = n.r.Step(Message{Type: MsgHup})
		for _, id := range ids[1:] {
			if granted, ok := tt.votes[id]; ok {
				_ = n.r.Step(Message{From: id, To: 1, Type: MsgVoteResp, Term: n.r.term, Reject: !granted})
			}
		}
		if n.r.state != tt.want {
			t.Errorf("size %d votes %v: state %v, want %v", tt.size, tt.votes, n.r.state, tt.want)
		}
	}
}

// TestFollowerVote_5_2: a server votes for at most one candidate per term,
// first come first served.
func TestFollowerVote_5_2(t *testing.T) {
	for _, tt := range []struct {
		vote, from NodeID
		wreject    bool
	}{
		{None, 2, false},
		{None, 3, false},
		{2, 2, false},
		{3, 3, false},
		{2, 3, true},
		{3, 2, true},
	} {
		n := newTestNode(t, 1, peers3)
		n.r.vote = tt.vote
		_ = n.r.Step(Message{From: tt.from, To: 1, Type: MsgVote, Term: 1, Index: 3, LogTerm: 1})
		msgs := takeMsgs(n.r)
		if len(msgs) != 1 || msgs[0].Type != MsgVoteResp || msgs[0].To != tt.from || msgs[0].Reject != tt.wreject {
			t.Errorf("vote %d, request from %d: %v, want reject=%v", tt.vote, tt.from, msgs, tt.wreject)
		}
	}
}

// TestCandidateFallback_5_2: a candidate that hears from a leader of its
// term or a later one returns to follower.
func TestCandidateFallback_5_2(t *testing.T) {
	for _, term := range []uint64{2, 3} {
		n := newTestNode(t, 1, peers3)
		_ = n.r.Step(Message{Type: MsgHup})
		if n.r.term != 2 {
			t.Fatalf("candidate term %d, want 2", n.r.term)
		}
		_ = n.r.Step(Message{From: 2, To: 1, Type: MsgApp, Term: term, Index: 3, LogTerm: 1})
		if n.r.state != StateFollower || n.r.term != term || n.r.lead != 2 {
			t.Errorf("MsgApp of term %d: state %v term %d lead %d, want follower %d 2", term, n.r.state, n.r.term, n.r.lead, term)
		}
	}
}

func TestFollowerElectionTimeoutRandomized_5_2(t *testing.T) {
	testNonleaderElectionTimeoutRandomized(t, StateFollower)
}

func TestCandidateElectionTimeoutRandomized_5_2(t *testing.T) {
	testNonleaderElectionTimeoutRandomized(t, StateCandidate)
}

// testNonleaderElectionTimeoutRandomized: election timeouts are drawn from
// [ElectionTick, 2*ElectionTick) so that split votes are rare.
func testNonleaderElectionTimeoutRandomized(t *testing.T, state StateType) {
	n := newTestNode(t, 1, peers3)
	et := n.r.cfg.ElectionTick
	seen := map[int]bool{}
	for range 200 {
		n.r.becomeFollower(n.r.term+1, None)
		if state == StateCandidate {
			n.r.becomeCandidate()
		}
		term := n.r.term
		ticks := 0
		for n.r.term == term {
			n.r.Tick()
			ticks++
			if ticks > 2*et {
				t.Fatalf("no election after %d ticks", ticks)
			}
		}
		if ticks < et {
			t.Fatalf("election after %d ticks, below ElectionTick %d", ticks, et)
		}
		seen[ticks] = true
	}
	if len(seen) < et/2 {
		t.Fatalf("only %d distinct timeouts in 200 elections: %v", len(seen), seen)
	}
}

// TestLeaderStartReplication_5_3: a leader appends a proposal to its log and
// sends it to every follower with the preceding entry's index and term.
func TestLeaderStartReplication_5_3(t *testing.T) {
	n := newTestNode(t, 1, peers3)
	elect(t, n)
	commitNoop(t, n)
	li := n.r.LastIndex()
	takeMsgs(n.r)
	if err := n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if n.r.LastIndex() != li+1 {
		t.Fatalf("last index %d, want %d", n.r.LastIndex(), li+1)
	}
	want := []Entry{{Term: n.r.term, Index: li + 1, Data: []byte("x")}}
	apps := msgsOfType(takeMsgs(n.r), MsgApp)
	if len(apps) != 2 {
		t.Fatalf("MsgApps %v, want 2", apps)
	}
	for i, m := range apps {
		if m.To != NodeID(i+2) || m.Index != li || m.LogTerm != n.r.term || m.Commit != li ||
			!slices.EqualFunc(m.Entries, want, entryEqual) {
			t.Fatalf("MsgApp %v %v, want prev %d/t%d commit %d entries %v", m, m.Entries, li, n.r.term, li, want)
		}
	}
	if got := n.r.log.unstableEntries(); !slices.EqualFunc(got, want, entryEqual) {
		t.Fatalf("unstable %v, want %v", got, want)
	}
}

func entryEqual(a, b Entry) bool {
	return a.Term == b.Term && a.Index == b.Index && a.Type == b.Type && string(a.Data) == string(b.Data)
}

// TestLeaderCommitEntry_5_3: once an entry is on a majority, the leader
// commits and applies it, and tells the followers in later MsgApps.
func TestLeaderCommitEntry_5_3(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.campaign(1)
	if err := nw.propose(1, "x"); err != nil {
		t.Fatal(err)
	}
	li := nw.nodes[1].r.LastIndex()
	for _, id := range peers3 {
		n := nw.nodes[id]
		if n.r.log.committed != li {
			t.Errorf("n%d commit %d, want %d", id, n.r.log.committed, li)
		}
		if last := n.applied[len(n.applied)-1]; string(last.Data) != "x" || last.Index != li {
			t.Errorf("n%d last applied %v, want x at %d", id, last, li)
		}
	}
}

// TestLeaderAcknowledgeCommit_5_3: an entry is committed once the leader
// (having persisted it) and a majority of followers hold it.
func TestLeaderAcknowledgeCommit_5_3(t *testing.T) {
	for _, tt := range []struct {
		size      int
		acceptors []NodeID
		wcommit   bool
	}{
		{1, nil, true},
		{3, nil, false},
		{3, []NodeID{2}, true},
		{3, []NodeID{2, 3}, true},
		{5, nil, false},
		{5, []NodeID{2}, false},
		{5, []NodeID{2, 3}, true},
		{5, []NodeID{2, 3, 4, 5}, true},
	} {
		var ids []NodeID
		for i := 1; i <= tt.size; i++ {
			ids = append(ids, NodeID(i))
		}
		n := newTestNode(t, 1, ids)
		elect(t, n)
		commitNoop(t, n)
		li := n.r.LastIndex()
		_ = n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte("x")}}})
		n.readyAll()
		for _, id := range tt.acceptors {
			_ = n.r.Step(Message{From: id, To: 1, Type: MsgAppResp, Term: n.r.term, Index: li + 1})
		}
		if got := n.r.log.committed > li; got != tt.wcommit {
			t.Errorf("size %d acceptors %v: committed %v, want %v", tt.size, tt.acceptors, got, tt.wcommit)
		}
	}
}

// TestLeaderCommitPrecedingEntries_5_3: committing an entry of its term
// commits every entry before it, including those of earlier terms.
func TestLeaderCommitPrecedingEntries_5_3(t *testing.T) {
	for _, terms := range [][]uint64{{}, {2}, {1, 1}, {1, 2}} {
		n := newTestNodeWithLog(t, 1, peers3, terms, 2)
		elect(t, n)
		_ = n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte("x")}}})
		n.readyAll()
		li := n.r.LastIndex()
		for _, id := range []NodeID{2, 3} {
			_ = n.r.Step(Message{From: id, To: 1, Type: MsgAppResp, Term: n.r.term, Index: li})
		}
		n.readyAll()
		if n.r.log.committed != li || len(n.applied) != int(li) {
			t.Errorf("log %v: commit %d, %d applied; want all %d", terms, n.r.log.committed, len(n.applied), li)
		}
		for i, e := range n.applied[:len(terms)] {
			if e.Term != terms[i] {
				t.Errorf("log %v: applied %v at %d, want term %d", terms, e, i+1, terms[i])
			}
		}
	}
}

// TestFollowerCommitEntry_5_3: a follower commits (and applies) up to the
// leader's commit index, as far as its log goes.
func TestFollowerCommitEntry_5_3(t *testing.T) {
	ents := []Entry{{Term: 2, Index: 4, Data: []byte("a")}, {Term: 2, Index: 5, Data: []byte("b")}}
	for _, tt := range []struct {
		commit, want uint64
	}{
		{4, 4},
		{5, 5},
		{9, 5}, // never beyond what it holds
	} {
		n := newTestNode(t, 1, peers3)
		_ = n.r.Step(Message{From: 2, To: 1, Type: MsgApp, Term: 2, Index: 3, LogTerm: 1, Commit: tt.commit, Entries: ents})
		n.readyAll()
		if n.r.log.committed != tt.want {
			t.Errorf("leader commit %d: commit %d, want %d", tt.commit, n.r.log.committed, tt.want)
		}
		if last := n.applied[len(n.applied)-1]; last.Index != tt.want {
			t.Errorf("leader commit %d: applied up to %d, want %d", tt.commit, last.Index, tt.want)
		}
	}
}

// TestFollowerCheckMsgApp_5_3: a follower accepts a MsgApp only if its log
// holds the preceding entry, and on rejection hints where logs may match.
func TestFollowerCheckMsgApp_5_3(t *testing.T) {
	for _, tt := range []struct {
		logTerm, index uint64
		wreject        bool
		windex         uint64
		whint, whterm  uint64
	}{
		{0, 0, false, 0, 0, 0},
		{1, 1, false, 1, 0, 0},
		{2, 2, false, 2, 0, 0},
		{1, 2, true, 2, 1, 1}, // term mismatch at 2: look at 1
		{3, 3, true, 3, 2, 2}, // beyond the log: its last entry
	} {
		n := newTestNodeWithLog(t, 1, peers3, []uint64{1, 2}, 2)
		_ = n.r.Step(Message{From: 2, To: 1, Type: MsgApp, Term: 2, Index: tt.index, LogTerm: tt.logTerm})
		msgs := takeMsgs(n.r)
		if len(msgs) != 1 {
			t.Fatalf("%+v: messages %v", tt, msgs)
		}
		m := msgs[0]
		if m.Type != MsgAppResp || m.Reject != tt.wreject || m.Index != tt.windex || m.RejectHint != tt.whint || m.HintTerm != tt.whterm {
			t.Errorf("prev %d/t%d: got %v hint %d/t%d, want reject=%v index %d hint %d/t%d",
				tt.index, tt.logTerm, m, m.RejectHint, m.HintTerm, tt.wreject, tt.windex, tt.whint, tt.whterm)
		}
	}
}

// TestFollowerAppendEntries_5_3: a follower deletes conflicting entries and
// everything after them, and appends the new ones.
func TestFollowerAppendEntries_5_3(t *testing.T) {
	for _, tt := range []struct {
		index, logTerm uint64
		ents           []Entry
		want           []uint64
	}{
		{2, 2, []Entry{{Term: 3, Index: 3}}, []uint64{1, 2, 3}},
		{1, 1, []Entry{{Term: 3, Index: 2}, {Term: 4, Index: 3}}, []uint64{1, 3, 4}},
		{0, 0, []Entry{{Term: 1, Index: 1}}, []uint64{1, 2}},
		{0, 0, []Entry{{Term: 3, Index: 1}}, []uint64{3}},
		{1, 1, nil, []uint64{1, 2}},
	} {
		n := newTestNodeWithLog(t, 1, peers3, []uint64{1, 2}, 2)
		_ = n.r.Step(Message{From: 2, To: 1, Type: MsgApp, Term: 4, Index: tt.index, LogTerm: tt.logTerm, Entries: tt.ents})
		if got := logTerms(n.r); !slices.Equal(got, tt.want) {
			t.Errorf("append %v after %d/t%d: log %v, want %v", tt.ents, tt.index, tt.logTerm, got, tt.want)
		}
		n.readyAll()
		if got := logTerms(n.r); !slices.Equal(got, tt.want) {
			t.Errorf("append %v after %d/t%d: log %v once persisted, want %v", tt.ents, tt.index, tt.logTerm, got, tt.want)
		}
	}
}

// TestLeaderSyncFollowerLog_5_3: a new leader brings every follower log of
// figure 7 to its own, whatever entries the follower lacks or has extra.
func TestLeaderSyncFollowerLog_5_3(t *testing.T) {
	leaderLog := []uint64{1, 1, 1, 4, 4, 5, 5, 6, 6, 6}
	for _, tt := range []struct {
		name string
		log  []uint64
	}{
		{"a", []uint64{1, 1, 1, 4, 4, 5, 5, 6, 6}},
		{"b", []uint64{1, 1, 1, 4}},
		{"c", []uint64{1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}},
		{"d", []uint64{1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}},
		{"e", []uint64{1, 1, 1, 4, 4, 4, 4}},
		{"f", []uint64{1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nw := &network{t: t, nodes: map[NodeID]*testNode{
				1: newTestNodeWithLog(t, 1, peers3, leaderLog, 8),
				2: newTestNodeWithLog(t, 2, peers3, tt.log, 7),
			}, cut: map[[2]NodeID]bool{}, drop: map[MessageType]bool{}}
			// Node 3 is down but voted for 1; the follower may refuse.
			_ = nw.nodes[1].r.Step(Message{Type: MsgHup})
			_ = nw.nodes[1].r.Step(Message{From: 3, To: 1, Type: MsgVoteResp, Term: 9})
			nw.flush()
			if nw.leader() != 1 {
				t.Fatalf("leader %d, want 1", nw.leader())
			}
			if err := nw.propose(1, "x"); err != nil {
				t.Fatal(err)
			}
			lt, ft := logTerms(nw.nodes[1].r), logTerms(nw.nodes[2].r)
			if !slices.Equal(lt, ft) {
				t.Fatalf("follower log %v, leader log %v", ft, lt)
			}
			if c := nw.nodes[2].r.log.committed; c != nw.nodes[1].r.LastIndex() {
				t.Fatalf("follower commit %d, want %d", c, nw.nodes[1].r.LastIndex())
			}
		})
	}
}

// TestVoteRequest_5_4_1: a vote request carries the candidate's last index
// and term.
func TestVoteRequest_5_4_1(t *testing.T) {
	for _, terms := range [][]uint64{{1}, {1, 2}, {1, 1, 3}} {
		n := newTestNodeWithLog(t, 1, peers3, terms, 3)
		_ = n.r.Step(Message{Type: MsgHup})
		votes := msgsOfType(takeMsgs(n.r), MsgVote)
		if len(votes) != 2 {
			t.Fatalf("vote requests %v", votes)
		}
		for _, m := range votes {
			if m.Index != uint64(len(terms)) || m.LogTerm != terms[len(terms)-1] || m.Term != 4 {
				t.Errorf("log %v: %v, want last %d/t%d term 4", terms, m, len(terms), terms[len(terms)-1])
			}
		}
	}
}

// TestVoter_5_4_1: a voter denies its vote to a candidate whose log is less
// up to date than its own (last term, then length).
func TestVoter_5_4_1(t *testing.T) {
	for _, tt := range []struct {
		log            []uint64
		logTerm, index uint64
		wreject        bool
	}{
		{[]uint64{1}, 1, 1, false},
		{[]uint64{1}, 1, 2, false},
		{[]uint64{1, 1}, 1, 1, true},
		{[]uint64{1, 1}, 1, 2, false},
		{[]uint64{1, 1}, 1, 3, false},
		{[]uint64{2}, 1, 1, true},
		{[]uint64{2}, 1, 2, true},
		{[]uint64{2}, 2, 1, false},
		{[]uint64{1, 2}, 1, 3, true},
		{[]uint64{1, 2}, 2, 1, true},
		{[]uint64{1, 2}, 2, 2, false},
		{[]uint64{1, 2}, 3, 1, false},
	} {
		n := newTestNodeWithLog(t, 1, peers3, tt.log, 2)
		_ = n.r.Step(Message{From: 2, To: 1, Type: MsgVote, Term: 3, Index: tt.index, LogTerm: tt.logTerm})
		msgs := takeMsgs(n.r)
		if len(msgs) != 1 || msgs[0].Type != MsgVoteResp || msgs[0].Reject != tt.wreject {
			t.Errorf("log %v, candidate %d/t%d: %v, want reject=%v", tt.log, tt.index, tt.logTerm, msgs, tt.wreject)
		}
	}
}

// TestLeaderOnlyCommitsLogFromCurrentTerm_5_4_2: a leader counts replicas
// only for entries of its own term (figure 8).
func TestLeaderOnlyCommitsLogFromCurrentTerm_5_4_2(t *testing.T) {
	for _, tt := range []struct {
		index, wcommit uint64
	}{
		{1, 0}, // term 1: not counted
		{2, 0}, // term 2: not counted
		{3, 3}, // the leader's no-op, of term 3
	} {
		n := newTestNodeWithLog(t, 1, peers3, []uint64{1, 2}, 2)
		elect(t, n)
		n.readyAll()
		_ = n.r.Step(Message{From: 2, To: 1, Type: MsgAppResp, Term: n.r.term, Index: tt.index})
		if n.r.log.committed != tt.wcommit {
			t.Errorf("follower holds up to %d: commit %d, want %d", tt.index, n.r.log.committed, tt.wcommit)
		}
	}
}

// TestPreVoteRejoin_9_6: with PreVote, a partitioned node does not raise
// its term, so rejoining does not depose the leader; without it, it does.
func TestPreVoteRejoin_9_6(t *testing.T) {
	for _, tt := range []struct {
		preVote     bool
		wTermBumped bool
	}{
		{true, false},
		{false, true},
	} {
		var opts []cfgOpt
		if tt.preVote {
			opts = append(opts, withPreVote)
		}
		nw := newNetwork(t, peers3, opts...)
		nw.campaign(1)
		term := nw.nodes[1].r.term
		nw.isolate(3)
		_ = nw.propose(1, "x") // so that the rejoining node's log is behind
		nw.tick(3, 5*nw.nodes[3].r.cfg.ElectionTick)
		if bumped := nw.nodes[3].r.term > term; bumped != tt.wTermBumped {
			t.Fatalf("prevote=%v: isolated node's term %d (leader's %d)", tt.preVote, nw.nodes[3].r.term, term)
		}
		nw.heal()
		nw.tick(3, 2*nw.nodes[3].r.cfg.ElectionTick)
		stillLeads := nw.nodes[1].r.state == StateLeader && nw.nodes[1].r.term == term
		if stillLeads == tt.wTermBumped {
			t.Fatalf("prevote=%v: after rejoining, n1 %v term %d (was leader of %d)", tt.preVote, nw.nodes[1].r.state, nw.nodes[1].r.term, term)
		}
	}
}

// TestCheckQuorumLeaderStepsDown_6_2: with CheckQuorum a leader that hears
// from no quorum for an election timeout steps down.
func TestCheckQuorumLeaderStepsDown_6_2(t *testing.T) {
	for _, checkQuorum := range []bool{true, false} {
		var opts []cfgOpt
		if checkQuorum {
			opts = append(opts, withCheckQuorum)
		}
		nw := newNetwork(t, peers3, opts...)
		nw.campaign(1)
		nw.isolate(1)
		// The first check may still count what it heard before the
		// partition; the second cannot.
		nw.tick(1, 2*nw.nodes[1].r.cfg.ElectionTick)
		if leads := nw.nodes[1].r.state == StateLeader; leads == checkQuorum {
			t.Fatalf("checkquorum=%v: isolated leader state %v", checkQuorum, nw.nodes[1].r.state)
		}
	}
}

// TestCheckQuorumIgnoresVotesInLease_6_2: with CheckQuorum a follower that
// hears from its leader ignores vote requests (a disruptive server cannot
// depose it).
func TestCheckQuorumIgnoresVotesInLease_6_2(t *testing.T) {
	nw := newNetwork(t, peers3, withCheckQuorum)
	nw.campaign(1)
	term := nw.nodes[1].r.term
	_ = nw.nodes[2].r.Step(Message{From: 3, To: 2, Type: MsgVote, Term: term + 1, Index: 100, LogTerm: term})
	if nw.nodes[2].r.term != term || len(nw.nodes[2].r.msgs) != 0 {
		t.Fatalf("follower in lease: term %d (want %d), messages %v", nw.nodes[2].r.term, term, nw.nodes[2].r.msgs)
	}
}

func leaseConfig(c *Config) {
	c.CheckQuorum = true
	c.LeaseRead = true
}

// TestLeaseRead_6_4_1: with LeaseRead a leader answers ReadIndex without a
// heartbeat round while a quorum acknowledged a heartbeat within the lease;
// after that it falls back to a round.
func TestLeaseRead_6_4_1(t *testing.T) {
	nw := newNetwork(t, peers3, leaseConfig)
	for _, n := range nw.nodes {
		n.r.ticks = int64(n.r.cfg.ElectionTick) // past the restart quiet time
	}
	nw.campaign(1)
	nw.tick(1, 1) // a heartbeat round acknowledged by both followers
	l := nw.nodes[1].r
	_ = l.Step(Message{Type: MsgReadIndex, Context: []byte("a")})
	if len(l.readStates) != 1 || len(msgsOfType(l.msgs, MsgHeartbeat)) != 0 {
		t.Fatalf("in lease: read states %v, messages %v; want an immediate answer", l.readStates, l.msgs)
	}
	nw.nodes[1].readyAll()
	nw.isolate(1)
	nw.tick(1, l.cfg.ElectionTick-l.cfg.LeaseMargin)
	if l.state != StateLeader {
		t.Fatal("leader stepped down too early")
	}
	_ = l.Step(Message{Type: MsgReadIndex, Context: []byte("b")})
	hbs := msgsOfType(l.msgs, MsgHeartbeat)
	if len(l.readStates) != 0 || len(hbs) != 2 || string(hbs[0].Context) != "b" {
		t.Fatalf("lease expired: read states %v, heartbeats %v; want a heartbeat round", l.readStates, hbs)
	}
}

// TestReadIndexWaitsForCommitInTerm_6_4: a new leader answers ReadIndex only
// after committing an entry of its term, and one heartbeat quorum answers
// every read waiting before it.
func TestReadIndexWaitsForCommitInTerm_6_4(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.drop[MsgAppResp] = true
	nw.campaign(1)
	l := nw.nodes[1]
	if l.r.state != StateLeader || l.r.committedEntryInCurrentTerm() {
		t.Fatalf("leader %v, committed in term %v", l.r.state, l.r.committedEntryInCurrentTerm())
	}
	for _, ctx := range []string{"a", "b"} {
		_ = l.r.Step(Message{Type: MsgReadIndex, Context: []byte(ctx)})
	}
	nw.flush()
	if len(l.readStates) != 0 {
		t.Fatalf("read answered before the no-op committed: %v", l.readStates)
	}
	nw.heal()
	nw.tick(1, 1)
	if len(l.readStates) != 2 || l.readStates[0].Index != l.r.log.committed || l.readStates[1].Index != l.r.log.committed {
		t.Fatalf("read states %v, want a and b at %d", l.readStates, l.r.log.committed)
	}

	// Batching: reads a and b wait for acknowledgements; the round of b
	// answers both.
	l.readStates = nil
	nw.hook = func(m Message) bool { return m.Type != MsgHeartbeatResp }
	for _, ctx := range []string{"c", "d"} {
		_ = l.r.Step(Message{Type: MsgReadIndex, Context: []byte(ctx)})
	}
	nw.flush()
	if len(l.readStates) != 0 {
		t.Fatalf("read answered without acknowledgements: %v", l.readStates)
	}
	nw.heal()
	before := len(nw.sent)
	nw.tick(1, 1)
	var ctxs []string
	for _, rs := range l.readStates {
		ctxs = append(ctxs, string(rs.RequestCtx))
	}
	if !slices.Equal(ctxs, []string{"c", "d"}) {
		t.Fatalf("read states %v, want c and d", ctxs)
	}
	for _, m := range nw.sent[before:] {
		if m.Type == MsgHeartbeat && string(m.Context) != "d" {
			t.Fatalf("heartbeat %v carries %q: one round for the newest read should do", m, m.Context)
		}
	}
}

// TestFollowerReadIndex_6_4: a follower forwards ReadIndex to the leader and
// gets the leader's commit index back.
func TestFollowerReadIndex_6_4(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.campaign(1)
	_ = nw.propose(1, "x")
	_ = nw.nodes[2].r.Step(Message{Type: MsgReadIndex, Context: []byte("f")})
	nw.flush()
	rs := nw.nodes[2].readStates
	if len(rs) != 1 || string(rs[0].RequestCtx) != "f" || rs[0].Index != nw.nodes[1].r.log.committed {
		t.Fatalf("follower read states %v, want f at %d", rs, nw.nodes[1].r.log.committed)
	}
}

// TestLeaderTransfer_3_10: the leader brings the transferee up to date, then
// sends MsgTimeoutNow; the transferee wins at once. Proposals are refused
// while the transfer is under way.
func TestLeaderTransfer_3_10(t *testing.T) {
	nw := newNetwork(t, peers3, withPreVote, withCheckQuorum)
	nw.campaign(1)
	nw.isolate(3)
	for _, d := range []string{"a", "b"} {
		_ = nw.propose(1, d)
	}
	nw.heal()
	nw.drop[MsgTimeoutNow] = true
	_ = nw.nodes[1].r.Step(Message{Type: MsgTransferLeader, From: 3})
	nw.flush()
	if err := nw.nodes[1].r.Step(Message{Type: MsgProp, Entries: []Entry{{Data: []byte("c")}}}); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("proposal during transfer: %v, want ErrProposalDropped", err)
	}
	if nw.nodes[3].r.LastIndex() != nw.nodes[1].r.LastIndex() {
		t.Fatalf("transferee not caught up: last %d, leader %d", nw.nodes[3].r.LastIndex(), nw.nodes[1].r.LastIndex())
	}
	nw.heal()
	nw.sent = nil
	// The transfer is retried and this time TimeoutNow arrives.
	nw.nodes[1].r.leadTransferee = None
	_ = nw.nodes[1].r.Step(Message{Type: MsgTransferLeader, From: 3})
	nw.flush()
	if nw.leader() != 3 {
		t.Fatalf("leader %d after transfer, want 3 (sent %v)", nw.leader(), nw.sent)
	}
	if len(nw.sent) == 0 || nw.sent[0].Type != MsgTimeoutNow {
		t.Fatalf("first message %v, want MsgTimeoutNow to a caught-up transferee", nw.sent)
	}
}

// TestFastBackoff_5_3: a follower's rejection hint lets the leader skip a
// whole conflicting term in one round trip instead of one entry per trip.
func TestFastBackoff_5_3(t *testing.T) {
	nw := &network{t: t, nodes: map[NodeID]*testNode{
		1: newTestNodeWithLog(t, 1, peers3, []uint64{1, 1, 1, 3, 3, 3, 3, 3, 3, 3}, 4),
		2: newTestNodeWithLog(t, 2, peers3, []uint64{1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 4),
	}, cut: map[[2]NodeID]bool{}, drop: map[MessageType]bool{}}
	_ = nw.nodes[1].r.Step(Message{Type: MsgHup})
	_ = nw.nodes[1].r.Step(Message{From: 3, To: 1, Type: MsgVoteResp, Term: 5})
	nw.flush()
	rejects := 0
	for _, m := range nw.sent {
		if m.Type == MsgAppResp && m.Reject {
			rejects++
		}
	}
	if rejects != 1 {
		t.Fatalf("%d rejections, want 1", rejects)
	}
	if lt, ft := logTerms(nw.nodes[1].r), logTerms(nw.nodes[2].r); !slices.Equal(lt, ft) {
		t.Fatalf("follower log %v, leader log %v", ft, lt)
	}
}

// TestSnapshotChunks_7: a follower assembles a chunked snapshot in order,
// answers an out-of-order chunk with the offset it expects, and installs the
// snapshot after the last chunk.
func TestSnapshotChunks_7(t *testing.T) {
	n := newTestNode(t, 3, peers3)
	meta := SnapshotMeta{Index: 10, Term: 2, Conf: ConfState{Voters: peers3}}
	data := []byte("0123456789")
	chunk := func(off, end uint64) Message {
		return Message{From: 1, To: 3, Type: MsgSnap, Term: 2, Snapshot: &meta, SnapOffset: off,
			SnapData: data[off:end], SnapDone: end == uint64(len(data))}
	}
	for _, tt := range []struct {
		m      Message
		wtype  MessageType
		windex uint64
	}{
		{chunk(4, 8), MsgSnapResp, 0}, // not started: ask for the start
		{chunk(0, 4), MsgSnapResp, 4},
		{chunk(8, 10), MsgSnapResp, 4}, // a lost chunk: ask for it again
		{chunk(0, 4), MsgSnapResp, 4},  // a duplicate
		{chunk(4, 8), MsgSnapResp, 8},
		{chunk(8, 10), MsgAppResp, 10}, // done: installed
	} {
		_ = n.r.Step(tt.m)
		msgs := takeMsgs(n.r)
		if len(msgs) != 1 || msgs[0].Type != tt.wtype || msgs[0].Index != tt.windex {
			t.Fatalf("chunk at %d: %v, want %v index %d", tt.m.SnapOffset, msgs, tt.wtype, tt.windex)
		}
		if tt.wtype == MsgSnapResp && msgs[0].Commit != meta.Index {
			t.Fatalf("chunk at %d: %v does not name snapshot %d", tt.m.SnapOffset, msgs[0], meta.Index)
		}
	}
	rd := n.r.Ready()
	if rd.Snapshot == nil || string(rd.Snapshot.Data) != string(data) || rd.Snapshot.Meta.Index != 10 {
		t.Fatalf("Ready snapshot %v, want the assembled one", rd.Snapshot)
	}
}

// TestSnapshotLostChunkResent_7: a leader resends a lost chunk (on the next
// heartbeat response) and the laggard installs the snapshot.
func TestSnapshotLostChunkResent_7(t *testing.T) {
	nw := newNetwork(t, peers3, func(c *Config) { c.MaxSnapshotChunk = 4 })
	nw.campaign(1)
	l := nw.nodes[1]
	nw.isolate(3)
	for _, d := range []string{"a", "b", "c"} {
		_ = nw.propose(1, d)
	}
	data := []byte("0123456789")
	if err := l.st.CreateSnapshot(l.r.log.applied, l.r.AppliedConf(), SnapshotBytes(data)); err != nil {
		t.Fatal(err)
	}
	if err := l.st.Compact(l.r.log.applied); err != nil {
		t.Fatal(err)
	}
	nw.heal()
	sentAt4, dropped := 0, false
	nw.hook = func(m Message) bool {
		if m.Type == MsgSnap && m.SnapOffset == 4 {
			sentAt4++
			if !dropped {
				dropped = true
				return false
			}
		}
		return true
	}
	nw.tick(1, 3)
	if sentAt4 < 2 {
		t.Fatalf("chunk at 4 sent %d times, want a resend", sentAt4)
	}
	f := nw.nodes[3]
	snap, _ := f.st.Snapshot()
	if string(snap.Data) != string(data) || f.r.log.committed != l.r.log.committed {
		t.Fatalf("follower snapshot %q commit %d, want %q and %d", snap.Data, f.r.log.committed, data, l.r.log.committed)
	}
}

func proposeConf(t *testing.T, nw *network, id NodeID, cc ConfChange) {
	t.Helper()
	if err := nw.nodes[id].r.Step(Message{Type: MsgProp, Entries: []Entry{{Type: EntryConfChange, Data: cc.Marshal()}}}); err != nil {
		t.Fatal(err)
	}
	nw.flush()
}

// TestLearner_4_2_1: a learner receives the log but neither campaigns nor
// counts in elections, and the leader promotes it once it has caught up.
func TestLearner_4_2_1(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.nodes[4] = newTestNode(t, 4, nil)
	nw.campaign(1)
	nw.cut[[2]NodeID{1, 4}] = true // keep it from catching up for now
	proposeConf(t, nw, 1, ConfChange{Type: ConfAddLearner, Node: 4})
	if !slices.Contains(nw.nodes[1].r.conf.Learners, 4) {
		t.Fatalf("conf %v, want learner 4", nw.nodes[1].r.conf)
	}
	nw.heal()
	// Heartbeats let the learner catch up; the leader then promotes it.
	nw.tick(1, 5)
	for _, id := range []NodeID{1, 2, 3, 4} {
		if conf := nw.nodes[id].r.conf; !slices.Contains(conf.Voters, 4) || len(conf.Learners) != 0 {
			t.Fatalf("n%d conf %v, want 4 promoted", id, conf)
		}
	}
}

// TestLearnerNoVote_4_2_1: a candidate neither asks a learner for its vote
// nor counts it.
func TestLearnerNoVote_4_2_1(t *testing.T) {
	n := newTestNodeWithLog(t, 1, peers3, []uint64{1}, 1)
	n.r.conf.Learners = []NodeID{4}
	_ = n.r.Step(Message{Type: MsgHup})
	if reqs := msgsOfType(takeMsgs(n.r), MsgVote); len(reqs) != 2 || reqs[0].To != 2 || reqs[1].To != 3 {
		t.Fatalf("vote requests %v, want 2 and 3 only", reqs)
	}
	_ = n.r.Step(Message{From: 4, To: 1, Type: MsgVoteResp, Term: n.r.term})
	if n.r.state == StateLeader {
		t.Fatal("a learner's vote made a leader")
	}
	_ = n.r.Step(Message{From: 2, To: 1, Type: MsgVoteResp, Term: n.r.term})
	if n.r.state != StateLeader {
		t.Fatalf("state %v with votes of 1 and 2, want leader", n.r.state)
	}
}

// TestLearnerDoesNotCampaign_4_2_1: a learner never starts an election.
func TestLearnerDoesNotCampaign_4_2_1(t *testing.T) {
	n := newTestNodeWithLog(t, 4, peers3, []uint64{1}, 1)
	n.r.conf.Learners = []NodeID{4}
	for range 10 * n.r.cfg.ElectionTick {
		n.r.Tick()
	}
	_ = n.r.Step(Message{Type: MsgHup})
	if n.r.state != StateFollower || len(n.r.msgs) != 0 {
		t.Fatalf("learner state %v messages %v", n.r.state, n.r.msgs)
	}
}

// TestRemovedLeaderStepsDown_4_2_2: a leader that applies its own removal
// steps down, and the remaining voters elect a new leader.
func TestRemovedLeaderStepsDown_4_2_2(t *testing.T) {
	nw := newNetwork(t, peers3)
	nw.campaign(1)
	proposeConf(t, nw, 1, ConfChange{Type: ConfRemove, Node: 1})
	if st := nw.nodes[1].r.state; st == StateLeader {
		t.Fatal("removed leader still leads")
	}
	for _, id := range []NodeID{2, 3} {
		if conf := nw.nodes[id].r.conf; !slices.Equal(conf.Voters, []NodeID{2, 3}) {
			t.Fatalf("n%d conf %v, want voters 2 and 3", id, conf)
		}
	}
	nw.tick(2, 2*nw.nodes[2].r.cfg.ElectionTick)
	if l := nw.leader(); l != 2 && l != 3 {
		t.Fatalf("leader %d, want 2 or 3", l)
	}
}

// TestOneConfChangeAtATime_4_1: a leader refuses a second membership change
// while one is not yet applied.
func TestOneConfChangeAtATime_4_1(t *testing.T) {
	n := newTestNode(t, 1, peers3)
	elect(t, n)
	commitNoop(t, n)
	prop := func(node NodeID) error {
		cc := ConfChange{Type: ConfAddLearner, Node: node}
		return n.r.Step(Message{Type: MsgProp, Entries: []Entry{{Type: EntryConfChange, Data: cc.Marshal()}}})
	}
	if err := prop(4); err != nil {
		t.Fatal(err)
	}
	if err := prop(5); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("second change: %v, want ErrConfChangePending", err)
	}
}

// TestLeaseRestartGrantsNoEarlyVote_6_4_1: with leases, a node that just
// started may have acknowledged a leader's heartbeat before it crashed, a
// promise it no longer remembers; it grants no vote until an election
// timeout has passed, so the old leader's lease has run out first.
func TestLeaseRestartGrantsNoEarlyVote_6_4_1(t *testing.T) {
	n := newTestNodeWithLog(t, 2, peers3, []uint64{1}, 1, leaseConfig)
	vote := Message{From: 3, To: 2, Type: MsgVote, Term: 2, Index: 1, LogTerm: 1}
	_ = n.r.Step(vote)
	if n.r.term != 1 || len(n.r.msgs) != 0 {
		t.Fatalf("just started: term %d, messages %v; want the vote ignored", n.r.term, n.r.msgs)
	}
	for range n.r.cfg.ElectionTick {
		n.r.Tick()
	}
	takeMsgs(n.r)
	_ = n.r.Step(vote)
	if resp := msgsOfType(takeMsgs(n.r), MsgVoteResp); len(resp) != 1 || resp[0].Reject {
		t.Fatalf("after an election timeout: %v, want the vote granted", resp)
	}
}
