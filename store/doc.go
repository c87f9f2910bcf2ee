// Package store is rkv's replicated state machine: the keyspace of Redis
// values (strings, hashes, lists, sets, sorted sets, streams) with their
// TTLs, the commands that read and change it, transactions, and snapshots.
//
// # Determinism
//
// Every write command reaches Store.Apply through the Raft log, in the same
// order on every replica, and must leave every replica in the same state.
// So Apply depends only on its arguments and the current state: no wall
// clock, no map iteration, and no randomness but Store.random's, which in
// Apply is seeded by the command's position in the log and its stamp: the
// members SPOP removes are decided by the log, identically on every
// replica, never by a replica's own dice. Store.Digest hashes the state so
// tests and operators can check that replicas agree.
//
// # Versions and WATCH
//
// Store.seq counts the commands applied; each key's ver is the seq of the
// command that last changed it, and Store.deleted keeps, per bucket of key
// hashes, the seq of the last deletion. Both are replicated state (in
// snapshots and the digest). WATCH records the seq at which the leader read
// a key; the EXEC entry carries it, and Apply aborts the transaction when
// the key's ver or its bucket's deletion mark is later, or when a key live
// then is gone (expiry counts as a change). So every replica decides each
// EXEC alike. A deletion of another key of the same bucket in between also
// aborts: a spurious abort, which clients retry, never a missed change.
//
// # Scripts
//
// A Lua script that may write is replicated as the script itself, not as
// its effects: the log carries the EVAL (an EVALSHA as its body) or the
// FCALL, and every replica runs it at apply through Store.ApplyScript, its
// commands all inside one entry (one seq, one clock, one seeding of the
// log's randomness), under the write lock. So its reads and writes take
// effect at one point of the log, as a transaction's do, and a
// check-then-write script (a lock's release) can never act on a value
// another client changed in between. This is RedisRaft's choice, taken
// over the other one (the leader runs the script and the log carries its
// effects, conditioned like EXEC on the versions of every key it read)
// because it needs no re-run on conflict, so a hot key's scripts (a rate
// limiter's counter) never starve each other, and a script's throughput is
// that of any write. What it costs is determinism, which the script
// package provides: no clock but the entry's (TIME inside a script is the
// store's clock), math.random seeded from the entry, table iteration in
// insertion order, and a bound counted in Lua instructions rather than
// seconds, so that a looping script ends at the same instruction
// everywhere. For the same reason a script run from the log cannot be
// killed (a kill would land at a different point on each replica); the
// leader first runs a script alone under the read lock (Store.ReadScript)
// up to its first write, where SCRIPT KILL can still end it, and
// read-only scripts (EVAL_RO, FCALL_RO, no-writes) run only that way. A script
// queued in MULTI runs inside the EXEC entry through the ScriptRunner the
// replica sets.
//
// # Time
//
// Each log entry carries the leader's wall-clock stamp. The store's clock is
// the largest stamp applied so far (it never goes back, even across a leader
// change to a node whose clock is behind). Relative TTLs (EX, PX, EXPIRE...)
// become absolute deadlines on that clock when applied, so every replica
// stores the same deadline. So do the times a stream's consumer groups
// keep (an entry's delivery, a consumer's last sight, XCLAIM's IDLE);
// XPENDING and XINFO measure idle times from their query time.
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
// earliest first, and the leader proposes them as an
// OpExpire entry, which deletes each key only if it is still expired when the
// entry is applied (a key set again in between survives).
//
// # Layout
//
// Keys live in one copy-on-write B-tree ordered by (slot, hash, key): keys
// of a cluster slot are contiguous, and a SCAN cursor is simply the position
// (slot and hash) of the next key. Each key is a 40-byte item; a string's
// key and value share one allocation, any other type's item points to an
// object holding the key and a container (one file per type implements
// it). A second B-tree indexes deadlines for active expiry.
//
// # Databases
//
// Each of Redis's numbered databases is a keyspace of its own: its two
// trees, its slot counts and its bytes. Every log entry names the
// database of the client that sent it (database 0 entries are laid out as
// before databases existed), and a WATCH mark its key's. While an entry
// is applied, its database is the store's current keyspace, the fields
// every command reads (Store.keys...), so no command needs to know
// databases; SELECT inside a transaction or a script, MOVE, COPY ... DB
// and SWAPDB switch it. Outside an entry database 0 is current, so reads
// of it keep the read lock and run in parallel; a read of another
// database must switch, and so takes the write lock. That trades the
// parallel reads of databases other than 0, which cluster clients never
// use, for leaving every command unaware of databases.
//
// # Encoding settings
//
// The thresholds of the compact encodings (hash-max-listpack-entries and
// the others, encodings.go) decide when a value converts and so what
// OBJECT ENCODING answers: they are replicated state, changed only by an
// OpConfig entry (CONFIG SET through the log), in snapshots and the
// digest. A value converts when a write takes it past them, never back
// when they rise, as in Redis (hll-sparse-max-bytes likewise decides when
// a HyperLogLog turns dense); list-max-listpack-size and
// list-compress-depth are kept and reported, Redis 7.0's lists being
// quicklists whatever they say.
//
// # Snapshots
//
// Store.Snapshot clones the tree in O(1); the clone is written with
// Snapshot.WriteTo on any goroutine while Apply goes on. Containers are
// not copied then: each object records the snapshot generation it was made
// in, and the first write to an object of an older generation clones it
// (Store.writable), so the snapshot keeps the value it saw, untouched, and
// only values written while a snapshot is taken are copied, once each.
// Large containers are B-trees or chunked, whose clone is O(1) or
// proportional to the number of chunks, copy-on-write below that. The format is a
// magic string, the clock, seq, the record count, the deletion marks, the
// encoding settings that differ from their defaults, the records (type, key, deadline, version, then the value as its container
// lists it) in tree order and a CRC-32C of everything; Store.Restore
// rejects anything else with ErrCorrupt and leaves the state untouched.
//
// # DUMP and RESTORE
//
// DUMP writes a value in Redis 7.0's RDB encoding (dump.go, dumpstream.go,
// listpack.go; sealed by internal/rdb, the one package of the project
// besides the command table that store imports: a leaf of RDB encodings
// the script package shares), and RESTORE reads every encoding
// Redis 7.0 writes, so values move between rkv and Redis both ways. A
// RESTORE is a write like any other: the payload is in the log entry, a
// relative TTL counts from the entry's stamp, and a malformed payload is
// refused alike on every replica. A stream is rebuilt through its snapshot
// encoding, so its loader checks it, with Redis's listpack nodes kept as
// they were (the "~" trimming model needs them).
//
// # Lazy freeing
//
// A deleted value leaves the keyspace and its memory accounting on the
// apply path, the same on every replica; only its release is local.
// UNLINK, FLUSHALL/FLUSHDB ASYNC and the deletions the lazyfree-lazy-*
// settings name hand a value whose free effort passes Redis's threshold
// (or a whole flushed keyspace) to a background goroutine, which holds
// it until released and has the memory returned when what it released
// outweighs what stays live (lazyfree.go). The other deletions of such a
// value count its bytes and collect on the apply path by the same rule,
// as Redis frees synchronously: memory back before the next command, the
// deletion (or expire cycle) paying for it. INFO counts the values
// pending and released, as Redis's lazyfree_pending_objects and
// lazyfreed_objects.
//
// # Concurrency
//
// Apply, Snapshot and Restore take the store's write lock; Read and the
// other queries take its read lock, but for databases other than 0 (see
// Databases) and scripts run outside the log (ReadScript: a script may
// SELECT), which take the write lock.
package store
