package store

import (
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
)

// Policy is a maxmemory-policy: which keys the leader evicts first.
type Policy uint8

// The policies, with Redis's names.
const (
	NoEviction Policy = iota
	AllKeysLRU
	AllKeysLFU
	AllKeysRandom
	VolatileLRU
	VolatileLFU
	VolatileRandom
	VolatileTTL
	numPolicies
)

var policyNames = [numPolicies]string{"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}

func (p Policy) String() string { return policyNames[p] }

// ParsePolicy reads a policy name, ignoring case as Redis's CONFIG SET does.
func ParsePolicy(name string) (Policy, bool) {
	for i, n := range policyNames {
		if eqFold([]byte(name), n) {
			return Policy(i), true
		}
	}
	return 0, false
}

func (p Policy) lru() bool      { return p == AllKeysLRU || p == VolatileLRU }
func (p Policy) lfu() bool      { return p == AllKeysLFU || p == VolatileLFU }
func (p Policy) volatile() bool { return p >= VolatileLRU }

// Redis's LFU parameters (lfu-log-factor, lfu-decay-time in minutes) and the
// counter a new key starts with.
const (
	lfuLogFactor = 10
	lfuDecayMin  = 1
	lfuInitVal   = 5
)

// accessTable is the access history LRU and LFU need: reads do not go through
// the log, so it is local to each node, and only the leader's decides. It is
// indexed by a hash of the key (a key's ord), not per key, so it costs a few
// bytes per key and no allocation per read; keys that share a slot share
// their history, which can only make a cold key look warm, never a hot key
// look cold. A slot is 0 when nothing was recorded, else for LRU the access
// time in lruUnit steps since base, plus one, and for LFU a counter<<24 |
// the minute since base of its last decrement.
type accessTable struct {
	lfu   bool
	base  int64 // Unix ms the table's times count from
	slots []atomic.Uint32
}

const (
	lruUnitShift = 4 // 16 ms: 2^32 units last over two years
	minTableLen  = 1 << 10
)

func newAccessTable(lfu bool, base int64, keys int) *accessTable {
	n := minTableLen
	for n < keys {
		n <<= 1
	}
	return &accessTable{lfu: lfu, base: base, slots: make([]atomic.Uint32, n)}
}

func (t *accessTable) slot(ord uint64) *atomic.Uint32 { return &t.slots[ord&uint64(len(t.slots)-1)] }

// grown doubles the table, so that a key's slot at ord&(2n-1) is the one it
// had at ord&(n-1) or its twin n further on: both inherit its history.
func (t *accessTable) grown() *accessTable {
	g := &accessTable{lfu: t.lfu, base: t.base, slots: make([]atomic.Uint32, 2*len(t.slots))}
	for i := range t.slots {
		v := t.slots[i].Load()
		g.slots[i].Store(v)
		g.slots[i+len(t.slots)].Store(v)
	}
	return g
}

func (t *accessTable) lruStamp(now int64) uint32 {
	if now <= t.base {
		return 1
	}
	return uint32(min((now-t.base)>>lruUnitShift, 1<<32-2)) + 1
}

func (t *accessTable) minute(now int64) uint32 {
	return uint32(max(now-t.base, 0)/60000) & (1<<24 - 1)
}

// touch records an access at now to the key at ord. The LFU counter grows
// logarithmically, with a draw from math/rand: the table is no replicated
// state, so this randomness cannot make replicas disagree.
func (t *accessTable) touch(ord uint64, now int64, written int64) {
	sl := t.slot(ord)
	if !t.lfu {
		if v := t.lruStamp(now); sl.Load() != v {
			sl.Store(v)
		}
		return
	}
	old := sl.Load()
	c := t.counter(old, now, written)
	if c < 255 {
		base := max(int(c)-lfuInitVal, 0)
		if rand.Float64() < 1/float64(base*lfuLogFactor+1) {
			c++
		}
	}
	sl.CompareAndSwap(old, uint32(c)<<24|t.minute(now))
}

// counter is the decayed LFU counter held in slot value v at now; a key
// with no history counts as new at its last write.
func (t *accessTable) counter(v uint32, now, written int64) uint8 {
	c, since := uint32(lfuInitVal), t.minute(written)
	if v != 0 {
		c, since = v>>24, v&(1<<24-1)
	}
	elapsed := (t.minute(now) - since) & (1<<24 - 1)
	periods := elapsed / lfuDecayMin
	if periods >= c {
		return 0
	}
	return uint8(c - periods)
}

// lastAccess is the key's last access as the table knows it, or written
// (its last write) when that is later or nothing was recorded.
func (t *accessTable) lastAccess(ord uint64, written int64) int64 {
	v := t.slot(ord).Load()
	if v == 0 {
		return written
	}
	return max(t.base+int64(v-1)<<lruUnitShift, written)
}

// clockMark is the store's clock when the command numbered seq was applied.
// Marks let a key's version (the seq of its last write) be read as a time:
// the history a new leader starts from, since the log carries each key's
// last write and nothing of its reads.
type clockMark struct {
	seq   uint64
	clock int64
}

const (
	markEveryMs = 100
	maxMarks    = 1 << 12
)

// mark records the clock for the command just applied, every markStep ms
// of the clock (markEveryMs at first); when full, every other mark is
// dropped and the step doubles, so the marks keep covering all history more
// coarsely. The caller holds the write lock.
func (s *Store) mark() {
	if n := len(s.marks); n > 0 && s.clock-s.marks[n-1].clock < s.markStep {
		return
	}
	if len(s.marks) == maxMarks {
		for i := range maxMarks / 2 {
			s.marks[i] = s.marks[2*i]
		}
		s.marks = s.marks[:maxMarks/2]
		s.markStep *= 2
	}
	s.marks = append(s.marks, clockMark{s.seq, s.clock})
}

// writeTime estimates when the command numbered ver was applied. Between
// two marks the clock advanced by less than a step (else there would be a
// mark between them), so ver is placed in proportion within the first step
// after the earlier mark. Versions before the first mark (keys restored from
// a snapshot) all read as its time. The caller holds a lock.
func (s *Store) writeTime(ver uint64) int64 {
	i := sort.Search(len(s.marks), func(i int) bool { return s.marks[i].seq > ver })
	if i == 0 {
		if len(s.marks) == 0 {
			return s.clock
		}
		return s.marks[0].clock
	}
	lo, hi := s.marks[i-1], clockMark{s.seq, s.clock}
	if i < len(s.marks) {
		hi = s.marks[i]
	}
	if hi.seq == lo.seq {
		return lo.clock
	}
	span := min(hi.clock-lo.clock, s.markStep)
	return lo.clock + int64(float64(span)*float64(ver-lo.seq)/float64(hi.seq-lo.seq))
}

// SetPolicy selects the maxmemory policy and the number of keys sampled per
// eviction (maxmemory-samples). Access history is kept only while a
// policy needs it; switching between LRU and LFU starts a fresh one, as
// Redis's data "takes some time to adjust". nowMs is the local clock.
func (s *Store) SetPolicy(p Policy, samples int, nowMs int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy, s.samples = p, max(samples, 1)
	t := s.access.Load()
	switch {
	case !p.lru() && !p.lfu():
		s.access.Store(nil)
	case t == nil || t.lfu != p.lfu():
		s.access.Store(newAccessTable(p.lfu(), s.queryNow(nowMs), s.keysLen()))
		s.idleSet = nil
	}
}

// touch records an access to it, when a policy keeps access history. The
// caller holds a lock; concurrent readers update the table atomically.
func (s *Store) touch(it item, now int64) {
	if t := s.access.Load(); t != nil {
		t.touch(it.ord, now, s.writeTime(it.ver))
	}
}

// growAccess keeps the access table at least as long as the keyspace, so
// that few keys share a slot. The caller holds the write lock.
func (s *Store) growAccess() {
	if t := s.access.Load(); t != nil && s.keysLen() > len(t.slots) {
		s.access.Store(t.grown())
	}
}

// idleMs is how long ago the key was last accessed, by the access history
// when there is one, else since its last write.
func (s *Store) idleMs(it item, now int64) int64 {
	written := s.writeTime(it.ver)
	last := written
	if t := s.access.Load(); t != nil && !t.lfu {
		if r, ok := s.idleSet[it.ord]; ok && r.ver == it.ver {
			written = r.at // restored with IDLETIME and not written since
		}
		last = t.lastAccess(it.ord, written)
	}
	return max(now-last, 0)
}

// freq is the key's LFU counter, decayed to now; only meaningful under an
// LFU policy.
func (s *Store) freq(it item, now int64) uint8 {
	t := s.access.Load()
	if t == nil || !t.lfu {
		return 0
	}
	return t.counter(t.slot(it.ord).Load(), now, s.writeTime(it.ver))
}

// keyMemory is what deleting the item frees, as MemoryBytes counts it.
func keyMemory(it item) int64 {
	n := int64(it.bufCap()) + itemOverhead + allocSlack
	if it.deadline != 0 {
		n += ttlOverhead
	}
	return n
}

// KeyMemory answers MEMORY USAGE: the bytes the key costs, as counted
// against maxmemory, and whether it exists at nowMs.
func (s *Store) KeyMemory(db int, nowMs int64, key []byte) (int64, bool) {
	defer s.lockDB(db)()
	it, ok := s.peek(mode{now: s.queryNow(nowMs)}, probe(key))
	if !ok {
		return 0, false
	}
	return keyMemory(it), true
}

// evictionPoolSize is how many of the best candidates seen are kept while
// choosing, as Redis's EVPOOL_SIZE: sampling a few keys per eviction then
// approximates evicting the best of many.
const evictionPoolSize = 16

type evictionCandidate struct {
	it    item
	score int64 // higher goes first
}

// EvictionCandidates chooses, by the policy, the keys the leader should
// evict to free need bytes, at most maxKeys of them; it returns them and
// what they free. None means there is nothing the policy may evict (no key,
// or no key with a TTL for a volatile policy) or the policy is noeviction.
// nowMs is the local clock, as for Read.
func (s *Store) EvictionCandidates(db int, nowMs int64, need int64, maxKeys int) ([][]byte, int64) {
	defer s.lockDB(db)()
	p := s.policy
	if p == NoEviction || need <= 0 || maxKeys <= 0 {
		return nil, 0
	}
	now := s.queryNow(nowMs)
	var keys [][]byte
	var freed int64
	take := func(it item) bool {
		keys = append(keys, []byte(it.key()))
		freed += keyMemory(it)
		return freed < need && len(keys) < maxKeys
	}
	if p == VolatileTTL {
		// The deadline index is ordered: the keys that expire soonest are
		// found exactly, where Redis samples.
		s.forTTLKeys(func(it item) bool { return take(it) })
		return keys, freed
	}
	population := s.keys.Len()
	if p.volatile() {
		population = s.ttls.Len()
	}
	if population == 0 {
		return nil, 0
	}
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	// Candidates are told apart by their tree order (a hash of the key)
	// rather than the key, which is cheaper; two keys sharing one only
	// make one of them a candidate less.
	chosen := make(map[uint64]bool, maxKeys)
	var pool []evictionCandidate
	for tries := 0; tries < 4*population+64; tries++ {
		for range s.samples {
			it, ok := s.sampleKey(r, p.volatile())
			if !ok || chosen[it.ord] || slices.ContainsFunc(pool, func(c evictionCandidate) bool { return c.it.ord == it.ord }) {
				continue
			}
			pool = append(pool, evictionCandidate{it, s.evictionScore(r, p, it, now)})
		}
		if len(pool) == 0 {
			continue
		}
		slices.SortFunc(pool, func(a, b evictionCandidate) int { return compareInt64(b.score, a.score) })
		pool = pool[:min(len(pool), evictionPoolSize)]
		best := pool[0].it
		pool = pool[1:]
		chosen[best.ord] = true
		if !take(best) || len(chosen) == population {
			break
		}
	}
	return keys, freed
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// evictionScore ranks a candidate: the idlest (LRU), the least frequently
// used and then idlest (LFU), or any (random) goes first.
func (s *Store) evictionScore(r *rand.Rand, p Policy, it item, now int64) int64 {
	switch {
	case p.lru():
		return s.idleMs(it, now)
	case p.lfu():
		return int64(255-s.freq(it, now))<<40 | min(s.idleMs(it, now), 1<<40-1)
	}
	return r.Int64()
}

// sampleKey draws a key at random: any key, or one with a TTL.
func (s *Store) sampleKey(r *rand.Rand, volatile bool) (item, bool) {
	if !volatile {
		return s.keys.GetAt(r.IntN(s.keys.Len()))
	}
	e, _ := s.ttls.GetAt(r.IntN(s.ttls.Len()))
	var found item
	ok := false
	s.keys.Ascend(item{ord: e.ord}, func(it item) bool {
		if it.ord == e.ord && it.deadline == e.deadline {
			found, ok = it, true
		}
		return it.ord == e.ord && !ok
	})
	return found, ok
}

// forTTLKeys calls fn for each key with a TTL, soonest deadline first, until
// fn returns false.
func (s *Store) forTTLKeys(fn func(it item) bool) {
	s.ttls.Scan(func(e ttlEntry) bool {
		more := true
		s.keys.Ascend(item{ord: e.ord}, func(it item) bool {
			if it.ord != e.ord {
				return false
			}
			if it.deadline == e.deadline {
				more = fn(it)
			}
			return more
		})
		return more
	})
}

// evictCmd implements OpEvict. Which keys go is the leader's decision,
// carried by the log, so every replica evicts the same ones.
func (s *Store) evictCmd(keys [][]byte, out []byte) []byte {
	n := 0
	for _, k := range keys {
		if it, ok := s.keys.Get(probe(k)); ok {
			s.remove(it)
			s.evictedKey(it.key())
			n++
		}
	}
	s.evicted.Add(int64(n))
	return appendInt(out, int64(n))
}

// ResetStats zeroes the counters of keys evicted and expired and brings
// the memory peak down to what is used now (CONFIG RESETSTAT).
func (s *Store) ResetStats() {
	s.evicted.Store(0)
	s.expired.Store(0)
	s.peak.Store(s.used.Load())
}

// MemoryStats are the counters INFO reports about memory and key removal.
type MemoryStats struct {
	Used        int64  // MemoryBytes: what maxmemory is compared with
	Peak        int64  // the largest Used since start
	Policy      Policy // the maxmemory policy
	Evicted     int64  // keys evicted since start (applied OpEvicts)
	Expired     int64  // keys deleted at their deadline since start, actively or on access
	KeysWithTTL int    // keys with a deadline, as INFO keyspace's expires=
	// StalePercent is the share of keys with a TTL that are past it but
	// not deleted yet, as INFO's expired_stale_perc.
	StalePercent float64
}

// maxStaleCount bounds the walk that counts expired keys not yet deleted.
const maxStaleCount = 1 << 20

// Stats returns the memory counters; nowMs is the local clock, as for Read.
func (s *Store) Stats(nowMs int64) MemoryStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.queryNow(nowMs)
	st := MemoryStats{Used: s.used.Load(), Peak: s.peak.Load(), Policy: s.policy, Evicted: s.evicted.Load(),
		Expired: s.expired.Load(), KeysWithTTL: s.ttls.Len()}
	stale := 0
	s.ttls.Scan(func(e ttlEntry) bool {
		if e.deadline > now || stale == maxStaleCount {
			return false
		}
		stale++
		return true
	})
	if st.KeysWithTTL > 0 {
		st.StalePercent = 100 * float64(stale) / float64(st.KeysWithTTL)
	}
	return st
}

// setAccess gives a key RESTORE made the access history its IDLETIME or
// FREQ names (-1: not given), as Redis's objectSetLRUOrLFU, when the
// policy keeps that history. The caller holds the write lock.
func (s *Store) setAccess(it item, now, idleSec, freq int64) {
	t := s.access.Load()
	switch {
	case t == nil:
	case t.lfu && freq >= 0:
		t.slot(it.ord).Store(uint32(freq)<<24 | t.minute(now))
	case !t.lfu && idleSec >= 0:
		if len(s.idleSet) >= maxIdleSet {
			clear(s.idleSet) // forgetting only makes such keys look recently written
		}
		if s.idleSet == nil {
			s.idleSet = map[uint64]restoredAccess{}
		}
		s.idleSet[it.ord] = restoredAccess{ver: s.seq, at: now - idleSec*1000}
	}
}

// restoredAccess is the access time RESTORE ... IDLETIME gave the key it
// wrote at version ver.
type restoredAccess struct {
	ver uint64
	at  int64
}

// maxIdleSet bounds Store.idleSet.
const maxIdleSet = 1 << 12
