// Package replica is one Raft group as rkv runs it, apart from any client
// connection: a Replica owns the group's consensus node, the store its log
// is applied to, the state machine, the member directory, the ACL users it
// replicates and the leader's expiry and eviction. Start builds and starts
// them; the front end holds Replicas and routes keys to them.
//
// An entry is a kind byte (a client's write command, an EXEC, the keys
// the leader expires or evicts, a change of the ACL users, a script, a
// PUBLISH, a change of the encoding settings; more kinds to come take the
// next values), the leader's wall-clock stamp, which
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
// that may grow memory can be proposed (AdmitWrite).
//
// After each entry the store changed, the subscribers (Subscribe) learn
// which keys it wrote or deleted, or that the whole keyspace was replaced:
// what waits on keys (WATCH now; blocking pops, client tracking and
// keyspace notifications) listens there instead of polling. The store
// records the keys only while someone subscribes. A PUBLISH is an entry
// of its own kind, and the front end's Pub/Sub hears each one as it is
// applied (OnPublish), on every node, and counts its receivers for the
// entry's reply.
//
// The ACL model (users, rules, checks) stays with the front end, which
// enforces it at the connection (DESIGN.md: security sits before a command
// reaches a replica); the replica holds it through the Users interface
// only to apply and snapshot its changes, since the users are one per
// cluster, not one per Raft group, once there are several.
package replica
