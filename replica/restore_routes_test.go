package replica

import (
	"bytes"
	"testing"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// TestRestoreKeepsLocalBusRoutes: a snapshot carries the bus addresses of
// the node that wrote it, including its own listening address and its
// routes to peers. Installing it on a node that reaches those peers
// another way (each --cluster list may name its own proxy or NAT address)
// must not replace the installing node's routes, or its traffic would
// bypass them (found by the fault proxies of integration/: after a
// snapshot install, a follower dialed the leader's bus directly, so
// partitions no longer cut it off).
func TestRestoreKeepsLocalBusRoutes(t *testing.T) {
	st := store.New()
	sender := NewMembers([]Member{
		{ID: 1, ClientAddr: "127.0.0.1:7001", BusAddr: "127.0.0.1:17001"}, // its own bus
		{ID: 2, ClientAddr: "127.0.0.1:7002", BusAddr: "127.0.0.1:27002"}, // its route to 2
		{ID: 3, ClientAddr: "127.0.0.1:7003", BusAddr: "127.0.0.1:27003"},
	}, nil)
	m := NewStateMachine(st, sender, &testUsers{}, 1, quietLogger(), nil)
	// 4 joins later, advertising its bus in its conf change.
	m.Apply([]consensus.Entry{confEntry(1, consensus.ConfAddLearner, 4, "127.0.0.1:7004 127.0.0.1:17004")})
	var buf bytes.Buffer
	if err := m.Snapshot()(&buf); err != nil {
		t.Fatal(err)
	}

	var dialed []Member
	local := NewMembers([]Member{
		{ID: 1, ClientAddr: "127.0.0.1:7001", BusAddr: "127.0.0.1:37001"},
		{ID: 2, ClientAddr: "127.0.0.1:7002", BusAddr: "127.0.0.1:17002"},
		{ID: 3, ClientAddr: "127.0.0.1:7003", BusAddr: "127.0.0.1:37003"},
	}, func(mem Member, removed bool) { dialed = append(dialed, mem) })
	dialed = nil // NewMembers reported the initial members
	m2 := NewStateMachine(store.New(), local, &testUsers{}, 2, quietLogger(), nil)
	if err := m2.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uint64]string{1: "127.0.0.1:37001", 2: "127.0.0.1:17002", 3: "127.0.0.1:37003", 4: "127.0.0.1:17004"} {
		got, ok := local.Get(consensus.NodeID(id))
		if !ok || got.BusAddr != want {
			t.Errorf("after restore, member %d = %+v, %v; want bus %s", id, got, ok, want)
		}
	}
	if len(dialed) != 1 || dialed[0].ID != 4 {
		t.Errorf("restore re-routed %+v; want only the new member 4", dialed)
	}
}
