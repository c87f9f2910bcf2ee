package resp

import (
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// router finds the replica that owns a hash slot. One replica owns every
// slot until sharding gives each slot range a Raft group of its own
// (DESIGN.md); then only this table changes.
type router struct {
	slots [store.NumSlots]*replica.Replica
}

func newRouter(rep *replica.Replica) *router {
	rt := &router{}
	for i := range rt.slots {
		rt.slots[i] = rep
	}
	return rt
}

// forSlot is the replica that owns slot.
func (rt *router) forSlot(slot int) *replica.Replica { return rt.slots[slot] }

// forCommand is the replica of the command's first key, the one of slot 0
// for a command without keys.
func (rt *router) forCommand(sc *store.Command, args [][]byte) *replica.Replica {
	return rt.forSlot(commandSlot(sc, args))
}
