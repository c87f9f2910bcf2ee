// Package replica is the replicated state of one Raft group as rkv keeps
// it, apart from any client connection: the state machine the consensus
// driver applies the log to, the log entries it understands, the member
// directory and the snapshot format.
//
// An entry is a kind byte (a client's write command, an EXEC, the keys
// the leader expires or evicts, a change of the ACL users; more kinds
// to come take the next values), the leader's wall-clock stamp, which
// becomes the store's clock, and the kind's arguments; entries of the
// kinds' pseudo-commands an earlier version wrote decode as their kind.
// The state machine applies commands, EXECs, expiry and eviction to a
// store.Store, ACL changes to the Users the front end enforces, and
// membership changes to the Members directory, whose client addresses
// every node needs to name the leader in MOVED replies.
//
// A snapshot holds the members, the users and the store; its bytes
// depend on the replicated state only, so that every node's snapshot of
// one index is the same, and it is restored from a reader, never held
// whole.
//
// Removal is the leader's active expiry and eviction: it proposes the
// deletions as entries, so every replica deletes the same keys, keeps
// used memory under maxmemory, and tells the front end whether a write
// that may grow memory can be proposed (AdmitWrite). The front end (resp)
// still holds the node and builds these values; they become one value per
// Raft group as the replica grows.
package replica
