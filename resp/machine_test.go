package resp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// memberEvent is one call of a directory's onChange.
type memberEvent struct {
	id      consensus.NodeID
	bus     string
	removed bool
}

// testMachine is a machine with its own store and directory, recording what
// the directory tells the transport after construction.
type testMachine struct {
	*machine
	events  []memberEvent
	removed bool
}

func newTestMachine(self consensus.NodeID, dir []Member) *testMachine {
	tm := &testMachine{}
	members := NewMembers(dir, func(mem Member, removed bool) {
		tm.events = append(tm.events, memberEvent{mem.ID, mem.BusAddr, removed})
	})
	tm.events = nil // NewMembers reported the initial members
	tm.machine = NewStateMachine(store.New(), members, nil, self, quietLogger(), func() { tm.removed = true }).(*machine)
	return tm
}

func (tm *testMachine) snapshot(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tm.Snapshot()(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// directory returns the member directory by id.
func (tm *testMachine) directory() map[consensus.NodeID]Member {
	out := map[consensus.NodeID]Member{}
	for _, mem := range tm.members.All() {
		out[mem.ID] = mem
	}
	return out
}

func confEntry(index uint64, typ consensus.ConfChangeType, id consensus.NodeID, ctx string) consensus.Entry {
	cc := consensus.ConfChange{Type: typ, Node: id, Context: []byte(ctx)}
	return consensus.Entry{Term: 1, Index: index, Type: consensus.EntryConfChange, Data: cc.Marshal()}
}

func commandEntry(index uint64, stamp int64, cmd string) consensus.Entry {
	var args [][]byte
	for _, f := range strings.Fields(cmd) {
		args = append(args, []byte(f))
	}
	return consensus.Entry{Term: 1, Index: index, Data: encodeCommand(nil, stamp, args)}
}

// history is a log: the bootstrap of members 1-3, writes, member 4 joining
// and 5 joining then leaving.
func history() []consensus.Entry {
	return []consensus.Entry{
		confEntry(1, consensus.ConfPromote, 1, ""),
		confEntry(2, consensus.ConfPromote, 2, ""),
		confEntry(3, consensus.ConfPromote, 3, ""),
		{Term: 1, Index: 4},
		commandEntry(5, 1000, "set a 1"),
		confEntry(6, consensus.ConfAddLearner, 4, "127.0.0.1:7004 127.0.0.1:17004"),
		confEntry(7, consensus.ConfPromote, 4, ""),
		confEntry(8, consensus.ConfAddLearner, 5, "127.0.0.1:7005 127.0.0.1:17005"),
		commandEntry(9, 2000, "set b 2 px 100000"),
		confEntry(10, consensus.ConfRemove, 5, ""),
		commandEntry(11, 3000, "set c 3"),
	}
}

// Each node of the bootstrap configuration is configured with its own
// routes: its real bus for itself, a proxy for each peer (as the fault
// proxies of integration/ set them up).
func bootstrapDir(self consensus.NodeID) []Member {
	var dir []Member
	for id := consensus.NodeID(1); id <= 3; id++ {
		bus := fmt.Sprintf("127.0.0.1:1700%d", id)
		if id != self {
			bus = fmt.Sprintf("127.0.0.1:%d800%d", self, id)
		}
		dir = append(dir, Member{ID: id, ClientAddr: fmt.Sprintf("127.0.0.1:700%d", id), BusAddr: bus})
	}
	return dir
}

// Two nodes that applied the same entries write the same snapshot bytes,
// whatever their routes to each other: a follower may assemble a snapshot
// from chunks of two leaders' snapshots of one index. A node that restored
// the snapshot writes it again unchanged.
func TestSnapshotBytesDeterministic(t *testing.T) {
	a, b := newTestMachine(1, bootstrapDir(1)), newTestMachine(2, bootstrapDir(2))
	a.Apply(history())
	b.Apply(history())
	want := a.snapshot(t)
	for range 10 { // the directory is a map: try several iteration orders
		if got := b.snapshot(t); !bytes.Equal(got, want) {
			t.Fatalf("snapshots of one index differ between nodes:\n%q\n%q", got, want)
		}
	}
	c := newTestMachine(3, bootstrapDir(3))
	if err := c.Restore(bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if got := c.snapshot(t); !bytes.Equal(got, want) {
		t.Fatalf("snapshot after restoring it differs:\n%q\n%q", got, want)
	}
	more := []consensus.Entry{
		confEntry(12, consensus.ConfAddLearner, 6, "127.0.0.1:7006 127.0.0.1:17006"),
		commandEntry(13, 4000, "del a"),
	}
	for _, m := range []*testMachine{a, b, c} {
		m.Apply(more)
	}
	want = a.snapshot(t)
	for _, m := range []*testMachine{b, c} {
		if got := m.snapshot(t); !bytes.Equal(got, want) {
			t.Fatalf("node %d: snapshot differs after more entries:\n%q\n%q", m.self, got, want)
		}
	}
}

// After Restore the directory is the snapshot's: members it lacks are
// removed as a ConfRemove removes them (the transport is told), members it
// adds are routed by their replicated bus address, members already known
// keep this node's route, and this node keeps its own entry.
func TestRestoreReplacesDirectory(t *testing.T) {
	sender := newTestMachine(1, bootstrapDir(1))
	sender.Apply(history()) // members 1-4; 5 joined and left
	snap := sender.snapshot(t)

	t.Run("lagging member", func(t *testing.T) {
		// Node 2 saw 5 join but not leave, nor 4 join, before the log was
		// compacted.
		dir := append(bootstrapDir(2), Member{ID: 5, ClientAddr: "127.0.0.1:7005", BusAddr: "127.0.0.1:17005"})
		m := newTestMachine(2, dir)
		if err := m.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		want := map[consensus.NodeID]Member{}
		for _, mem := range bootstrapDir(2) {
			want[mem.ID] = mem
		}
		want[4] = Member{ID: 4, ClientAddr: "127.0.0.1:7004", BusAddr: "127.0.0.1:17004"}
		if got := m.directory(); !maps.Equal(got, want) {
			t.Errorf("directory after restore = %v, want %v", got, want)
		}
		slices.SortFunc(m.events, func(x, y memberEvent) int { return int(x.id) - int(y.id) })
		if wantEv := []memberEvent{{4, "127.0.0.1:17004", false}, {5, "127.0.0.1:17005", true}}; !slices.Equal(m.events, wantEv) {
			t.Errorf("transport told %v, want %v", m.events, wantEv)
		}
		if m.removed {
			t.Error("restore reported this node removed")
		}
	})

	t.Run("joiner not yet in the snapshot", func(t *testing.T) {
		// A snapshot taken before node 7's ConfAddLearner does not list
		// it; it stays a member of its own directory.
		self := Member{ID: 7, ClientAddr: "127.0.0.1:7007", BusAddr: "127.0.0.1:17007"}
		m := newTestMachine(7, append(bootstrapDir(7), self))
		if err := m.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		if got, ok := m.members.Get(7); !ok || got != self {
			t.Errorf("own entry after restore = %+v, %v; want %+v", got, ok, self)
		}
		if len(m.directory()) != 5 || m.removed {
			t.Errorf("directory %v, removed %v; want members 1-4 and 7, not removed", m.directory(), m.removed)
		}
	})
}

// A snapshot that does not decode leaves the store and the directory as
// they were, so the driver can go on with the old state, and tells the
// transport nothing.
func TestRestoreIsAtomic(t *testing.T) {
	sender := newTestMachine(1, bootstrapDir(1))
	sender.Apply(history())
	snap := sender.snapshot(t)

	dir := append(bootstrapDir(2), Member{ID: 5, ClientAddr: "127.0.0.1:7005", BusAddr: "127.0.0.1:17005"})
	m := newTestMachine(2, dir)
	m.Apply([]consensus.Entry{commandEntry(1, 500, "set old 1"), commandEntry(2, 500, "set a x")})
	digest, before := m.store.Digest(), m.directory()
	check := func(name string, bad []byte) {
		t.Helper()
		if err := m.Restore(bytes.NewReader(bad)); err == nil {
			t.Fatalf("%s: restore succeeded", name)
		}
		if m.store.Digest() != digest || !maps.Equal(m.directory(), before) || len(m.events) != 0 {
			t.Fatalf("%s: a failed restore changed the state (transport told %v)", name, m.events)
		}
	}
	for cut := range len(snap) {
		check("truncated", snap[:cut])
	}
	for _, i := range []int{len(snap) - 1, len(snap) - 10, len(snap) - 30} {
		bad := bytes.Clone(snap)
		bad[i] ^= 0x40
		check("flipped byte", bad)
	}
	if err := m.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("restore of the intact snapshot after failures: %v", err)
	}
	if m.store.Digest() != sender.store.Digest() {
		t.Fatal("store differs from the sender's after restore")
	}
}

// A snapshot of the first format (written before snapshots carried
// advertised bus addresses) still restores: its writer's routes reach
// members this node does not know, but none is taken for an advertised
// address, which would make this node's snapshots differ from its peers'.
func TestRestoreV1Snapshot(t *testing.T) {
	st := store.New()
	st.Apply(1000, [][]byte{[]byte("set"), []byte("a"), []byte("1")}, nil)
	data := []byte(snapshotMagicV1)
	data = binary.AppendUvarint(data, 2)
	for _, mem := range []Member{{1, "127.0.0.1:7001", "127.0.0.1:17001"}, {4, "127.0.0.1:7004", "127.0.0.1:17004"}} {
		data = binary.AppendUvarint(data, uint64(mem.ID))
		data = appendString(data, mem.ClientAddr)
		data = appendString(data, mem.BusAddr)
	}
	var body bytes.Buffer
	if _, err := st.Snapshot().WriteTo(&body); err != nil {
		t.Fatal(err)
	}
	data = append(data, body.Bytes()...)

	m := newTestMachine(2, []Member{{1, "127.0.0.1:7001", "127.0.0.1:28001"}, {2, "127.0.0.1:7002", "127.0.0.1:17002"}})
	if err := m.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	want := map[consensus.NodeID]Member{
		1: {1, "127.0.0.1:7001", "127.0.0.1:28001"},
		2: {2, "127.0.0.1:7002", "127.0.0.1:17002"},
		4: {4, "127.0.0.1:7004", "127.0.0.1:17004"},
	}
	if got := m.directory(); !maps.Equal(got, want) || m.store.Digest() != st.Digest() {
		t.Fatalf("directory after restore = %v, want %v (store equal: %v)", got, want, m.store.Digest() == st.Digest())
	}
	if len(m.advertised) != 0 {
		t.Errorf("advertised after a v1 restore = %v, want none", m.advertised)
	}
}
