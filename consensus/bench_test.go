package consensus

import (
	"testing"
)

// BenchmarkStepMsgApp measures a follower taking one MsgApp of 16 entries
// of 100 bytes and handing it out through Ready/Advance: the core's share
// of the replication hot path.
func BenchmarkStepMsgApp(b *testing.B) {
	st := NewMemoryStorage()
	r, err := NewRaft(newTestConfig(2, st, func(c *Config) { c.Peers = []NodeID{1, 2, 3} }))
	if err != nil {
		b.Fatal(err)
	}
	drain := func() {
		for r.HasReady() {
			rd := r.Ready()
			if err := st.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
				b.Fatal(err)
			}
			r.Advance(rd)
		}
	}
	drain()
	data := make([]byte, 100)
	const batch = 16
	term := uint64(2)
	b.ReportAllocs()
	b.SetBytes(batch * 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		last := r.LastIndex()
		ents := make([]Entry, batch)
		for j := range ents {
			ents[j] = Entry{Term: term, Index: last + 1 + uint64(j), Data: data}
		}
		lastTerm, _ := r.log.term(last)
		if err := r.Step(Message{Type: MsgApp, From: 1, To: 2, Term: term, Index: last,
			LogTerm: lastTerm, Commit: last, Entries: ents}); err != nil {
			b.Fatal(err)
		}
		drain()
	}
}

// BenchmarkLeaderPropose measures a leader appending a proposal of 16
// entries and taking its followers' acknowledgements up to commitment.
func BenchmarkLeaderPropose(b *testing.B) {
	st := NewMemoryStorage()
	r, err := NewRaft(newTestConfig(1, st, func(c *Config) { c.Peers = []NodeID{1, 2, 3} }))
	if err != nil {
		b.Fatal(err)
	}
	var msgs []Message
	drain := func() {
		for r.HasReady() {
			rd := r.Ready()
			if err := st.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, rd.Messages...)
			r.Advance(rd)
		}
	}
	drain()
	_ = r.Step(Message{Type: MsgHup})
	drain()
	for _, id := range []NodeID{2, 3} {
		_ = r.Step(Message{Type: MsgVoteResp, From: id, To: 1, Term: r.term})
	}
	drain()
	data := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ents := make([]Entry, 16)
		for j := range ents {
			ents[j].Data = data
		}
		if err := r.Step(Message{Type: MsgProp, Entries: ents}); err != nil {
			b.Fatal(err)
		}
		msgs = msgs[:0]
		drain()
		last := r.LastIndex()
		for _, id := range []NodeID{2, 3} {
			_ = r.Step(Message{Type: MsgAppResp, From: id, To: 1, Term: r.term, Index: last})
		}
		drain()
		if r.log.committed != last {
			b.Fatalf("commit %d, want %d", r.log.committed, last)
		}
	}
}
