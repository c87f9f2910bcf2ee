package store

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/btree"
)

// Op is the kind of a write the store applies from the log: a client's
// command, or one of the writes only the leader decides, which no client
// can name (Lookup knows none of them).
type Op uint8

const (
	// OpCommand is a client's write command: its name, then its
	// arguments.
	OpCommand Op = iota + 1
	// OpExec is an EXEC: watch marks and the queued commands (ExecArgs).
	OpExec
	// OpExpire is active expiry: keys the leader found past their
	// deadline. Each is deleted only if it still is by the store's clock;
	// the reply is the number deleted.
	OpExpire
	// OpEvict makes room under maxmemory: the keys the leader chose, all
	// deleted; the reply is the number deleted.
	OpEvict
	// OpConfig changes encoding settings (CONFIG SET
	// hash-max-listpack-entries...): pairs of a name and a decimal value.
	OpConfig
)

// Store is the replicated keyspace.
//
// Concurrency: Apply, Snapshot and Restore take the write lock; Read and the
// other query methods take the read lock, so reads run concurrently with each
// other and serialize with writes. A Snapshot's WriteTo needs no lock.
type Store struct {
	mu sync.RWMutex
	// keyspace is the current database's: the one the command being run
	// addresses, database 0 outside one (see selectDB).
	keyspace
	// db is the current database's number; dbs holds every database's
	// keyspace but the current one's entry, which is stale while it is
	// current (space reads through it).
	db  int
	dbs []keyspace
	// databases is how many databases commands may name (SetDatabases).
	databases int
	clock     int64 // largest stamp applied: the replicated "now"

	// seq counts the commands applied: a replicated clock of changes that
	// items' ver fields and WATCH are measured on.
	seq uint64
	// deleted holds, per bucket of key hashes, the seq of the last deletion
	// of a key in it: a key that is gone carries no ver, and a WATCH on it
	// must still see that it was there in between. Replicated like seq.
	deleted *[deletedBuckets]uint64
	// enc are the encoding settings (encodings.go), replicated like seq.
	enc encodings

	// snapGen counts snapshots taken: objects of an older generation may be
	// shared with one (see writable).
	snapGen uint64
	// rngSrc and rng are the log's deterministic randomness, seeded for the
	// command at rngSeq (see random).
	rngSeq uint64
	rngSrc *rand.PCG
	rng    *rand.Rand

	// used is MemoryBytes as of the last command applied, readable
	// without the lock by the write path's maxmemory check.
	used, peak atomic.Int64
	// evicted and expired count the keys OpEvict and expiry deleted
	// on this node since it started; being applied from the log, they are
	// the same on every replica that applied the same entries.
	evicted, expired atomic.Int64
	// lazyCounters are the lazyfree settings and counters (lazyfree.go).
	lazyCounters
	// hits and misses count the lookups of keys by the queries this node
	// served itself (INFO's keyspace_hits and keyspace_misses); lookups
	// inside an entry of the log run on every replica and are not counted,
	// as a Redis replica does not count the commands its primary sends.
	hits, misses atomic.Int64

	// policy and samples are this node's maxmemory-policy and
	// maxmemory-samples (SetPolicy); access is the access history the
	// policy needs (LRU or LFU), nil for the others.
	policy  Policy
	samples int
	access  atomic.Pointer[accessTable]
	// idleSet holds the keys RESTORE ... IDLETIME gave an access time,
	// by ord: until such a key is written again, that time stands for
	// its last write. Local like the table; guarded by mu.
	idleSet map[uint64]restoredAccess
	// marks map versions to times (see clockMark). Local, derived from
	// the log, never in snapshots.
	marks    []clockMark
	markStep int64
	// dirty counts the keys written and deleted on this node since it
	// started: INFO's rdb_changes_since_last_save is its growth since the
	// last SAVE. Local, never in snapshots.
	dirty atomic.Uint64

	// recordChanges asks for the keys each entry changes (RecordChanges);
	// recording is its value for the entry being applied, changedKeys and
	// changedAll what that entry changed so far (TakeChanges).
	// scripts runs the scripts a transaction holds (SetScriptRunner).
	scripts ScriptRunner

	recordChanges atomic.Bool
	recording     bool
	changedKeys   []string
	changedDBs    []int
	readyKeys     []string
	readyDBs      []int
	changedAll    bool
	// touches are what the running command did to keys and events the
	// keyspace notifications of the entry so far (notify.go), recorded
	// only while notify-keyspace-events asks for some.
	touches []touch
	events  []Event
	// xaddTrimmed is set by an XADD whose trimming removed entries: it
	// notifies "xtrim" after "xadd".
	xaddTrimmed bool
}

// keyspace is one of Redis's numbered databases.
type keyspace struct {
	keys  *btree.BTreeG[item]     // every key, ordered by (ord, key)
	ttls  *btree.BTreeG[ttlEntry] // one entry per distinct (deadline, ord) of keys with a TTL
	slots *[NumSlots]uint32       // keys per cluster slot
	bytes int64                   // sum of item buffer sizes
}

// memory approximates the heap the database holds, for MemoryBytes.
func (ks *keyspace) memory() int64 {
	return keyspaceOverhead + ks.bytes + int64(ks.keys.Len())*(itemOverhead+allocSlack) + int64(ks.ttls.Len())*ttlOverhead
}

func newKeyspace() keyspace {
	return keyspace{keys: btree.NewBTreeGOptions(less, btree.Options{NoLocks: true}),
		ttls: btree.NewBTreeGOptions(ttlLess, btree.Options{NoLocks: true}), slots: new([NumSlots]uint32)}
}

// MaxDatabases bounds the database numbers the store accepts; the front
// end's databases setting picks how many clients may use.
const MaxDatabases = 1 << 12

// selectDB makes database db current, creating it when new. Commands in
// another database than 0 run under the write lock (even reads), because
// which keyspace is current is the store's state while they run; every
// lock holder makes database 0 current again before it unlocks, so the
// read lock's holders always find database 0 current.
func (s *Store) selectDB(db int) {
	if db == s.db {
		return
	}
	s.ensureDBs(db + 1)
	s.dbs[s.db] = s.keyspace
	s.keyspace, s.db = s.dbs[db], db
}

// space returns database db's keyspace, nil when it was never used.
func (s *Store) space(db int) *keyspace {
	switch {
	case db == s.db:
		return &s.keyspace
	case db < len(s.dbs):
		return &s.dbs[db]
	}
	return nil
}

// ensureDBs creates databases up to n-1 that do not exist yet.
func (s *Store) ensureDBs(n int) {
	for len(s.dbs) < n {
		s.dbs = append(s.dbs, newKeyspace())
	}
}

// numDBs is the number of databases that were ever used, at least 1
// (selectDB makes s.dbs hold the current one).
func (s *Store) numDBs() int { return max(len(s.dbs), 1) }

// deletedBuckets is the size of Store.deleted: enough that a WATCH is
// rarely aborted by the deletion of an unrelated key, small in snapshots.
const deletedBuckets = 4096

// New returns an empty store.
func New() *Store {
	s := &Store{deleted: new([deletedBuckets]uint64), rngSrc: rand.NewPCG(0, 0), samples: 5, markStep: markEveryMs,
		databases: DefaultDatabases,
		enc:       defaultEncodings()}
	s.rng = rand.New(s.rngSrc)
	s.reset()
	s.used.Store(s.memoryBytes())
	s.peak.Store(s.used.Load())
	return s
}

// reset empties the keyspace; every key it held counts as deleted now,
// so that a WATCH of a key that did not exist survives a FLUSHALL, as in
// Redis. Marking stops once every bucket is marked: past a few tens of
// thousands of keys, that is all of them.
func (s *Store) reset() {
	for db := range s.numDBs() {
		if s.space(db) != nil {
			s.resetDB(db)
		}
	}
}

// resetDB empties database db (FLUSHDB), as reset does all of them.
func (s *Store) resetDB(db int) {
	s.markDeleted(db, db)
	if ks := s.space(db); ks.keys != nil {
		s.dirty.Add(uint64(ks.keys.Len()))
	}
	*s.space(db) = newKeyspace()
	s.changedAll = s.recording
}

// markDeleted counts every key of database db as deleted now in each of
// the databases in, for WATCH: db itself for a flush, both databases for
// a SWAPDB, after which the key is in the other.
func (s *Store) markDeleted(db int, in ...int) {
	ks := s.space(db)
	if ks.keys == nil {
		return
	}
	marked := 0
	ks.keys.Scan(func(it item) bool {
		for _, d := range in {
			if b := deletedBucket(d, it.ord); s.deleted[b] != s.seq {
				s.deleted[b] = s.seq
				marked++
			}
		}
		return marked < deletedBuckets
	})
}

// deletedBucket is the bucket of Store.deleted of the key at ord in
// database db: one key name falls in different buckets in different
// databases, so that a deletion in one never aborts a WATCH of the same
// name in another.
func deletedBucket(db int, ord uint64) int {
	return int((ord + uint64(db)*0x9e3779b9) % deletedBuckets)
}

// mode is how a command runs: at which time, and whether it may change state.
// A read-only run hides keys past their deadline; a write run deletes them,
// which is deterministic because now is then the replicated clock.
type mode struct {
	now   int64
	write bool
	// script is set for the commands a script runs.
	script bool
}

// Apply executes a command from the Raft log at the leader's stamp stampMs
// (Unix ms) and appends its RESP reply to out. The store's clock becomes
// max(clock, stampMs); relative TTLs become deadlines on that clock, and
// keys past their deadline by it are treated as missing and deleted. Read-only
// commands are accepted too.
func (s *Store) Apply(stampMs int64, args [][]byte, out []byte) []byte {
	return s.ApplyOp(OpCommand, 0, stampMs, args, out)
}

// ApplyOp applies an entry of kind op from the Raft log, as Apply does a
// client's command, in database db; args are op's arguments.
func (s *Store) ApplyOp(op Op, db int, stampMs int64, args [][]byte, out []byte) []byte {
	if op == OpCommand && len(args) == 0 {
		return append(out, "-ERR empty command\r\n"...)
	}
	if db < 0 || db >= MaxDatabases {
		return append(out, "-ERR DB index is out of range\r\n"...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.beginEntry(stampMs)
	defer s.applied()
	s.selectDB(db)
	defer s.selectDB(0)
	switch op {
	case OpExpire:
		return s.expiredCmd(m, args, out)
	case OpEvict:
		return s.evictCmd(args, out)
	case OpExec:
		return s.execCmd(m, args, out)
	case OpConfig:
		return s.configCmd(args, out)
	}
	return s.dispatch(m, args, out)
}

// beginEntry starts applying an entry stamped stampMs: it advances the
// clock and seq and returns the entry's write run. The caller holds the
// write lock and calls applied after the entry.
func (s *Store) beginEntry(stampMs int64) mode {
	if stampMs > s.clock {
		s.clock = stampMs
	}
	s.seq++
	s.mark()
	s.recording = s.recordChanges.Load()
	s.changedKeys, s.changedDBs, s.changedAll = s.changedKeys[:0], s.changedDBs[:0], false
	s.touches, s.events = s.touches[:0], s.events[:0]
	return mode{now: s.clock, write: true}
}

// applied brings what is derived from the keyspace up to date after a
// command. The caller holds the write lock.
func (s *Store) applied() {
	used := s.memoryBytes()
	s.used.Store(used)
	if used > s.peak.Load() {
		s.peak.Store(used)
	}
	s.growAccess()
}

// dispatch runs a client command in a write run: an EXEC's commands go
// through it one by one, exactly as Apply runs a command alone.
func (s *Store) dispatch(m mode, args [][]byte, out []byte) []byte {
	cmd, ok := Lookup(args[0])
	if !ok {
		if eqFold(args[0], "select") {
			return s.selectCmd(args, out)
		}
		return appendUnknown(out, args)
	}
	if !cmd.ArityOK(len(args)) {
		return appendArity(out, cmd.Name)
	}
	if !s.notifying() {
		return cmd.exec(s, m, args, out)
	}
	from, start := len(s.touches), len(out)
	out = cmd.exec(s, m, args, out)
	s.notifyCommand(args, out[start:], from)
	return out
}

// Read executes a read-only command against the current state at nowMs (the
// local wall clock, raised to the store's clock if behind) and appends the
// RESP reply. Keys past their deadline are hidden, never deleted. A write
// command is refused with an error: running it here would make this replica
// diverge.
func (s *Store) Read(nowMs int64, args [][]byte, out []byte) []byte {
	return s.ReadDB(0, nowMs, args, out)
}

// ReadDB is Read in database db.
func (s *Store) ReadDB(db int, nowMs int64, args [][]byte, out []byte) []byte {
	if len(args) == 0 {
		return append(out, "-ERR empty command\r\n"...)
	}
	if db == 0 {
		// Not through lockDB: its function value would cost every read
		// an allocation.
		s.mu.RLock()
		defer s.mu.RUnlock()
	} else {
		defer s.lockDB(db)()
	}
	return s.read(mode{now: s.queryNow(nowMs)}, args, out, "' must go through the log")
}

// lockDB takes the lock a query of database db needs and makes db
// current; the function it returns undoes both. Database 0 is current
// under the read lock; another one needs the write lock (see selectDB).
func (s *Store) lockDB(db int) (unlock func()) {
	if db == 0 {
		s.mu.RLock()
		return s.mu.RUnlock
	}
	s.mu.Lock()
	s.selectDB(db)
	return func() {
		s.selectDB(0)
		s.mu.Unlock()
	}
}

// ReadEach serves several read commands of database db at one point in
// time, under one lock (a read-only transaction served locally), calling
// reply with each one's reply, which it must not keep.
func (s *Store) ReadEach(db int, nowMs int64, cmds [][][]byte, reply func(i int, out []byte)) {
	defer s.lockDB(db)()
	m := mode{now: s.queryNow(nowMs)}
	var out []byte
	for i, args := range cmds {
		out = s.read(m, args, out[:0], "' must go through the log")
		reply(i, out)
	}
}

// read runs a command in the read run m, refusing a write command with
// an error ending in refusal. The caller holds the read lock.
func (s *Store) read(m mode, args [][]byte, out []byte, refusal string) []byte {
	cmd, ok := Lookup(args[0])
	switch {
	case !ok && m.script && eqFold(args[0], "select"):
		// ReadScript holds the write lock.
		return s.selectCmd(args, out)
	case !ok:
		return appendUnknown(out, args)
	case !cmd.ArityOK(len(args)):
		return appendArity(out, cmd.Name)
	case cmd.Writes() && !cmd.Has("readonly"):
		// A command Redis flags read-only that rkv runs through the log
		// only to keep a cache in the value (PFCOUNT) may still run
		// here, where it leaves the cache alone.
		return append(append(append(out, "-ERR write command '"...), cmd.Name...), refusal+"\r\n"...)
	}
	return cmd.exec(s, m, args, out)
}

// queryNow is the time a query outside the log judges expiry at: the local
// wall clock nowMs, raised to the store's clock when behind it. A node whose
// clock is behind the leader that stamped the entries (after a failover, or
// on a follower) must not see keys that already expired come back. The
// caller holds the lock.
func (s *Store) queryNow(nowMs int64) int64 { return max(nowMs, s.clock) }

// get finds the live item for the probe p and records the access. In a
// write run an expired item is deleted on the way.
func (s *Store) get(m mode, p item) (item, bool) {
	it, ok := s.peek(m, p)
	if ok {
		s.touch(it, m.now)
	}
	if !m.write {
		if ok {
			s.hits.Add(1)
		} else {
			s.misses.Add(1)
		}
	}
	return it, ok
}

// peek is get without recording an access, for commands that look at a key
// without using it (OBJECT, MEMORY USAGE), as Redis's LOOKUP_NOTOUCH.
func (s *Store) peek(m mode, p item) (item, bool) {
	it, ok := s.keys.Get(p)
	if !ok {
		return it, false
	}
	if it.expired(m.now) {
		if m.write {
			s.removeAs(it, LazyExpire)
			s.expiredKey(it.key())
			s.expired.Add(1)
		}
		return item{}, false
	}
	return it, true
}

// put inserts or replaces an item, keeping the indexes and counters in step;
// the key counts as changed by the current command.
func (s *Store) put(it item) {
	it.ver = s.seq
	s.changedKey(&it)
	prev, replaced := s.keys.Set(it)
	if replaced {
		s.touched(it.key(), touchWrite)
	} else {
		s.touched(it.key(), touchNew)
	}
	s.bytes += int64(it.bufCap())
	if replaced {
		s.bytes -= int64(prev.bufCap())
		if prev.ptr != it.ptr {
			s.release(prev, LazyServerDel)
		}
		if prev.deadline == it.deadline {
			return
		}
		s.unindexTTL(prev)
	} else {
		s.slots[it.ord>>50]++
	}
	if it.deadline != 0 {
		s.ttls.Set(ttlEntry{it.deadline, it.ord})
	}
}

// remove deletes a present item, releasing its value as a write's side
// effect does (LazyServerDel).
func (s *Store) remove(it item) { s.removeAs(it, LazyServerDel) }

// removeAs deletes a present item, releasing its value as a deletion for
// cause does.
func (s *Store) removeAs(it item, cause LazyFree) {
	s.detach(it)
	s.release(it, cause)
}

// detach deletes a present item whose value lives on elsewhere (RENAME
// moves it), or is released by the caller.
func (s *Store) detach(it item) {
	s.changedKey(&it)
	s.touched(it.key(), touchRemove)
	s.keys.Delete(it)
	s.deleted[deletedBucket(s.db, it.ord)] = s.seq
	s.slots[it.ord>>50]--
	s.bytes -= int64(it.bufCap())
	s.unindexTTL(it)
}

// unindexTTL drops the TTL entry of an item that left the tree or changed
// deadline, unless another key with the same ord still has that deadline.
func (s *Store) unindexTTL(old item) {
	if old.deadline == 0 {
		return
	}
	shared := false
	s.keys.Ascend(item{ord: old.ord}, func(it item) bool {
		shared = it.ord == old.ord && it.deadline == old.deadline
		return it.ord == old.ord && !shared
	})
	if !shared {
		s.ttls.Delete(ttlEntry{old.deadline, old.ord})
	}
}

// expiredCmd implements OpExpire.
func (s *Store) expiredCmd(m mode, keys [][]byte, out []byte) []byte {
	n := 0
	for _, k := range keys {
		if it, ok := s.keys.Get(probe(k)); ok && it.expired(m.now) {
			s.removeAs(it, LazyExpire)
			s.expiredKey(it.key())
			n++
		}
	}
	s.expired.Add(int64(n))
	return appendInt(out, int64(n))
}

// ExpiredSample returns up to max keys expired at nowMs (the local wall
// clock, raised to the store's clock if behind, as for Read), for the
// leader to propose with OpExpire. Rather than sampling at random as
// Redis does, it walks the deadline index from the earliest, so the work is
// bounded by max and the oldest garbage goes first.
func (s *Store) ExpiredSample(db int, nowMs int64, max int) [][]byte {
	if max <= 0 {
		return nil
	}
	defer s.lockDB(db)()
	now := s.queryNow(nowMs)
	var keys [][]byte
	s.forTTLKeys(func(it item) bool {
		if it.deadline > now {
			return false
		}
		keys = append(keys, []byte(it.key()))
		return len(keys) < max
	})
	return keys
}

// Len returns the number of keys, including those past their deadline that
// are not deleted yet (as Redis's DBSIZE does).
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keysLen()
}

// eachDB calls fn with every database that was ever used, in order.
func (s *Store) eachDB(fn func(db int, ks *keyspace)) {
	for db := range s.numDBs() {
		if ks := s.space(db); ks != nil && ks.keys != nil {
			fn(db, ks)
		}
	}
}

// keysLen is the number of keys in every database. The caller holds the
// lock.
func (s *Store) keysLen() int {
	n := 0
	s.eachDB(func(_ int, ks *keyspace) { n += ks.keys.Len() })
	return n
}

// UsedDBs lists the databases that hold keys, in order.
func (s *Store) UsedDBs() []int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var dbs []int
	s.eachDB(func(db int, ks *keyspace) {
		if ks.keys.Len() > 0 {
			dbs = append(dbs, db)
		}
	})
	return dbs
}

// DBInfo is one database's line of INFO keyspace.
type DBInfo struct {
	DB, Keys, Expires int
}

// Keyspace describes the databases that hold keys, in order.
func (s *Store) Keyspace() []DBInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var dbs []DBInfo
	s.eachDB(func(db int, ks *keyspace) {
		if n := ks.keys.Len(); n > 0 {
			dbs = append(dbs, DBInfo{DB: db, Keys: n, Expires: ks.ttls.Len()})
		}
	})
	return dbs
}

// Digest hashes the whole logical state (clock, seq, deletion marks, and
// every key with its type, value, deadline and version, in tree order) so
// replicas can be compared. It is O(n).
func (s *Store) Digest() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := xxhash.New()
	var b [binary.MaxVarintLen64 * 4]byte
	d.Write(binary.LittleEndian.AppendUint64(b[:0], uint64(s.clock)))
	d.Write(binary.LittleEndian.AppendUint64(b[:0], s.seq))
	for _, v := range s.deleted {
		d.Write(binary.AppendUvarint(b[:0], v))
	}
	d.Write(s.enc.appendChanged(b[:0]))
	s.eachDB(func(db int, ks *keyspace) {
		if ks.keys.Len() > 0 {
			d.Write(binary.AppendUvarint(b[:0], uint64(db)))
			s.digestKeys(d, ks)
		}
	})
	return d.Sum64()
}

// digestKeys hashes every key of ks into d, for Digest.
func (s *Store) digestKeys(d *xxhash.Digest, ks *keyspace) {
	var b [binary.MaxVarintLen64 * 4]byte
	ks.keys.Scan(func(it item) bool {
		h := append(b[:0], recordKind(&it))
		h = binary.AppendUvarint(h, uint64(it.keyLen()))
		h = binary.AppendVarint(h, it.deadline)
		h = binary.AppendUvarint(h, it.ver)
		d.Write(h)
		d.WriteString(it.key())
		if !it.isObj() {
			d.Write(binary.AppendUvarint(b[:0], uint64(it.vlen)))
			d.WriteString(it.val())
			return true
		}
		it.obj().val.encode(func(e []byte) {
			d.Write(binary.AppendUvarint(b[:0], uint64(len(e))))
			d.Write(e)
		})
		return true
	})
}

// Fixed costs: the deletion marks, and each database's per-slot key
// counts; storeOverhead is what an empty store (database 0 alone) holds.
const (
	marksOverhead    = int64(unsafe.Sizeof([deletedBuckets]uint64{}))
	keyspaceOverhead = int64(unsafe.Sizeof([NumSlots]uint32{}))
	storeOverhead    = marksOverhead + keyspaceOverhead
)

// Approximate per-entry overheads: an item in a B-tree node at typical fill,
// a TTL index entry likewise, and the allocator's rounding of a buffer.
const (
	itemOverhead = 56
	ttlOverhead  = 24
	allocSlack   = 8
)

// MemoryBytes approximates the heap used by the keyspace, as of the last
// command applied: what maxmemory bounds. A value released in the
// background (lazyfree.go) no longer counts, as it is no longer the
// keyspace's. It takes no lock.
func (s *Store) MemoryBytes() int64 { return s.used.Load() }

func (s *Store) memoryBytes() int64 {
	used := marksOverhead
	s.eachDB(func(_ int, ks *keyspace) { used += ks.memory() })
	return used
}
