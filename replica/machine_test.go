package replica

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
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
	tm.machine = NewStateMachine(store.New(), members, &testUsers{}, self, quietLogger(), func() { tm.removed = true }).(*machine)
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
	return consensus.Entry{Term: 1, Index: index, Data: EncodeCommand(nil, stamp, args)}
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

func TestCommandEncodingRoundTrip(t *testing.T) {
	args := [][]byte{[]byte("set"), []byte("key"), {}, []byte(strings.Repeat("v", 300))}
	data := EncodeCommand(nil, 1234567, args)
	kind, _, stamp, got, err := decodeEntry(data)
	if err != nil || kind != KindCommand || stamp != 1234567 || len(got) != len(args) {
		t.Fatalf("decode = %d, %d, %q, %v", kind, stamp, got, err)
	}
	for i := range args {
		if string(got[i]) != string(args[i]) {
			t.Fatalf("arg %d = %q, want %q", i, got[i], args[i])
		}
	}
	for cut := range data {
		if _, _, _, _, err := decodeEntry(data[:cut]); !errors.Is(err, errCorruptEntry) {
			t.Fatalf("decode of %d of %d bytes: %v, want errCorruptEntry", cut, len(data), err)
		}
	}
	for _, bad := range []byte{0, byte(lastKind) + 1, 255} {
		data[0] = bad
		if _, _, _, _, err := decodeEntry(data); !errors.Is(err, errCorruptEntry) {
			t.Fatalf("decode of kind %d: %v, want errCorruptEntry", bad, err)
		}
	}
}

// TestLegacyEntriesApply: internal entries written as commands before the
// kinds ("rkv.evict key...") decode as their kind, so logs and snapshots
// of an earlier version still apply.
func TestLegacyEntriesApply(t *testing.T) {
	for _, tt := range []struct {
		name string
		kind Kind
	}{{"rkv.exec", KindExec}, {"RKV.EXPIRED", KindExpire}, {"rkv.evict", KindEvict}, {"rkv.acl", KindACL}} {
		data := EncodeCommand(nil, 1000, [][]byte{[]byte(tt.name), []byte("a"), []byte("b")})
		kind, _, _, args, err := decodeEntry(data)
		if err != nil || kind != tt.kind || len(args) != 2 || string(args[0]) != "a" {
			t.Errorf("%s: kind %d, args %q, %v; want kind %d, args [a b]", tt.name, kind, args, err, tt.kind)
		}
	}
	st := store.New()
	m := NewStateMachine(st, NewMembers(nil, nil), &testUsers{}, 1, quietLogger(), nil)
	m.Apply([]consensus.Entry{
		{Term: 1, Index: 1, Data: EncodeCommand(nil, 1000, [][]byte{[]byte("set"), []byte("k"), []byte("v")})},
		{Term: 1, Index: 2, Data: EncodeCommand(nil, 1000, [][]byte{[]byte("rkv.evict"), []byte("k")})},
	})
	if got := string(st.Read(1000, [][]byte{[]byte("exists"), []byte("k")}, nil)); got != ":0\r\n" {
		t.Fatalf("after a legacy eviction entry: exists k = %q", got)
	}
}

func TestSnapshotCarriesMembers(t *testing.T) {
	st := store.New()
	st.Apply(1000, [][]byte{[]byte("set"), []byte("a"), []byte("1")}, nil)
	members := NewMembers([]Member{{ID: 1, ClientAddr: "127.0.0.1:1", BusAddr: "127.0.0.1:2"},
		{ID: 4, ClientAddr: "127.0.0.1:7", BusAddr: "127.0.0.1:8"}}, nil)
	m := NewStateMachine(st, members, &testUsers{}, 1, quietLogger(), nil)
	var buf bytes.Buffer
	if err := m.Snapshot()(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	st2 := store.New()
	m2 := NewStateMachine(st2, NewMembers(nil, nil), &testUsers{}, 2, quietLogger(), nil).(*machine)
	if err := m2.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if st2.Digest() != st.Digest() {
		t.Fatal("store digest differs after restore")
	}
	if got, ok := m2.members.Get(4); !ok || got.ClientAddr != "127.0.0.1:7" {
		t.Fatalf("member 4 = %+v, %v", got, ok)
	}
	if err := m2.Restore(bytes.NewReader(data[:len(data)-3])); err == nil {
		t.Fatal("restore of a truncated snapshot succeeded")
	}
	if err := m2.Restore(bytes.NewReader([]byte("garbage"))); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
}

// testUsers is a Users that keeps lines as they come: enough for the
// state machine, whose tests are not about the ACL (resp's are).
type testUsers struct{ lines []string }

func (u *testUsers) ApplyLog(args [][]byte) []byte {
	u.lines = append(u.lines, string(bytes.Join(args, []byte(" "))))
	return []byte("+OK\r\n")
}

func (u *testUsers) SnapshotLines() []string { return slices.Clone(u.lines) }

func (u *testUsers) CheckLine(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return errors.New("a user line holds a line break")
	}
	return nil
}

func (u *testUsers) RestoreLines(lines []string) error {
	u.lines = slices.Clone(lines)
	return nil
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A learner that joined with --learner stays out of AutoPromote, on every
// node and across a snapshot, until it is promoted or removed; one that
// joined without it is promoted as before.
func TestKeptLearner(t *testing.T) {
	a := newTestMachine(1, bootstrapDir(1))
	a.Apply(history())
	if snap := a.snapshot(t); !bytes.HasPrefix(snap, []byte(snapshotMagicV4)) {
		t.Fatalf("snapshot with no learner kept starts %q, want the previous release's %q", snap[:8], snapshotMagicV4)
	}
	a = newTestMachine(1, bootstrapDir(1))
	a.Apply(append(history(),
		confEntry(12, consensus.ConfAddLearner, 6, string(MemberContext(Member{ClientAddr: "127.0.0.1:7006", BusAddr: "127.0.0.1:17006"}, true))),
		confEntry(13, consensus.ConfAddLearner, 7, string(MemberContext(Member{ClientAddr: "127.0.0.1:7007", BusAddr: "127.0.0.1:17007"}, false)))))
	if a.autoPromote(6) || !a.autoPromote(7) {
		t.Fatalf("autoPromote(6) = %v, autoPromote(7) = %v; want 6 kept a learner, 7 promoted", a.autoPromote(6), a.autoPromote(7))
	}
	if got := a.directory()[6]; got.ClientAddr != "127.0.0.1:7006" || got.BusAddr != "127.0.0.1:17006" {
		t.Fatalf("member 6 = %+v, want its addresses without the learner mark", got)
	}
	snap := a.snapshot(t)
	if !bytes.HasPrefix(snap, []byte(snapshotMagic)) {
		t.Fatalf("snapshot with learner 6 kept starts %q, want %q", snap[:8], snapshotMagic)
	}
	b := newTestMachine(2, bootstrapDir(2))
	if err := b.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if b.autoPromote(6) || !b.autoPromote(7) {
		t.Fatal("a restored node does not keep learner 6 as the snapshot's writer did")
	}
	b.Apply([]consensus.Entry{confEntry(14, consensus.ConfPromote, 6, "")})
	if !b.autoPromote(6) {
		t.Fatal("learner 6 still kept after its promotion")
	}
	seeded, err := Seed(snap, bootstrapDir(1))
	if err != nil {
		t.Fatal(err)
	}
	c := newTestMachine(1, bootstrapDir(1))
	if err := c.Restore(bytes.NewReader(seeded)); err != nil || !bytes.HasPrefix(seeded, []byte(snapshotMagicV4)) || len(c.kept) != 0 {
		t.Fatalf("seeded a new group from it: %v, magic %q, kept %v; want the old group's learners dropped", err, seeded[:8], c.kept)
	}
	a.Apply([]consensus.Entry{confEntry(14, consensus.ConfRemove, 6, "")})
	if len(a.kept) != 0 {
		t.Fatalf("kept %v after learner 6 was removed", a.kept)
	}
	if snap := a.snapshot(t); !bytes.HasPrefix(snap, []byte(snapshotMagicV4)) {
		t.Fatalf("snapshot after the kept learner left starts %q, want %q", snap[:8], snapshotMagicV4)
	}
}
