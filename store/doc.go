// Package store is rkv's replicated state machine: the keyspace of Redis
// strings with their TTLs, the commands that read and change it, and its
// snapshots.
//
// # Determinism
//
// Every write command reaches Store.Apply through the Raft log, in the same
// order on every replica, and must leave every replica in the same state.
// So Apply depends only on its arguments and the current state: no wall
// clock, no randomness, no map iteration. Store.Digest hashes the state so
// tests and operators can check that replicas agree.
//
// # Time
//
// Each log entry carries the leader's wall-clock stamp. The store's clock is
// the largest stamp applied so far (it never goes back, even across a leader
// change to a node whose clock is behind). Relative TTLs (EX, PX, EXPIRE...)
// become absolute deadlines on that clock when applied, so every replica
// stores the same deadline.
//
// # Expiry
//
// A key is gone once the clock reaches its deadline (deadline <= now; Redis
// waits one millisecond more for lookups, but one rule for lookups, EXPIRE
// and active expiry is simpler to reason about). In
// Apply such a key is treated as missing and deleted when a command touches
// it: deterministic, because the clock is. Store.Read, which runs on any
// replica at its local wall clock, hides such keys and never deletes them;
// it and Store.ExpiredSample judge at the local clock raised to the store's
// clock when behind, so a node whose clock is behind the leader that stamped
// the log never sees an expired key again. Only the leader expires
// actively: Store.ExpiredSample lists keys whose deadline has passed,
// earliest first, and the leader proposes them as
// ExpiredCommand, which deletes each key only if it is still expired when the
// entry is applied (a key set again in between survives).
//
// # Layout
//
// Keys live in one copy-on-write B-tree ordered by (slot, hash, key): keys
// of a cluster slot are contiguous, and a SCAN cursor is simply the position
// (slot and hash) of the next key. Each key is a 32-byte item whose key and
// value share one allocation. A second B-tree indexes deadlines for active
// expiry.
//
// # Snapshots
//
// Store.Snapshot clones the tree in O(1); the clone is written with
// Snapshot.WriteTo on any goroutine while Apply goes on. The format is a
// magic string, the clock, the record count, the records (key, value,
// deadline) in tree order and a CRC-32C of everything; Store.Restore
// rejects anything else with ErrCorrupt and leaves the state untouched.
//
// # Concurrency
//
// Apply, Snapshot and Restore take the store's write lock; Read and the
// other queries take its read lock.
package store
