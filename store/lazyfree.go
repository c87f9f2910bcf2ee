package store

// Lazy freeing: values released off the apply path, as Redis's lazyfree.c.

import (
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
)

// LazyFree is a set of Redis's lazyfree-lazy-* settings: the deletions,
// beside UNLINK and FLUSHALL/FLUSHDB ASYNC, whose values are released in
// the background (SetLazyFree). A local setting of the node, like Redis's:
// what a command replies and leaves in the keyspace is the same either
// way, only where the memory is given back differs.
type LazyFree uint32

// The lazyfree-lazy-* settings, in the order CONFIG lists them.
const (
	LazyEviction  LazyFree = 1 << iota // keys OpEvict deletes
	LazyExpire                         // keys deleted at their deadline
	LazyServerDel                      // values a write replaces or deletes as a side effect (RENAME, SET, RESTORE REPLACE...)
	LazyUserDel                        // DEL, as if it were UNLINK
	LazyUserFlush                      // FLUSHALL and FLUSHDB without SYNC or ASYNC
	// lazyAlways is UNLINK's and FLUSH ... ASYNC's: no setting is needed.
	lazyAlways LazyFree = 1 << 31
)

// lazyfreeThreshold is Redis's LAZYFREE_THRESHOLD: a value whose free
// effort is at most this is released at once, the hand-off costing more
// than it saves.
const lazyfreeThreshold = 64

// freeEffort is Redis 7.0's lazyfreeGetFreeEffort for c: about how many
// allocations freeing it takes. Compact encodings are one allocation; a
// list counts its chunks (Redis's quicklist nodes), a hashtable or
// skiplist its elements, a stream its nodes and, per consumer group, the
// group and as many pending entries as the first group has.
func freeEffort(c container) int {
	switch v := c.(type) {
	case *list:
		return len(v.live())
	case *setValue:
		if v.ht != nil {
			return v.ht.Len()
		}
	case *zset:
		if v.big != nil {
			return v.big.byScore.Len()
		}
	case *hashHT:
		return v.tree.Len()
	case *stream:
		n := v.nodes.Len()
		if len(v.groups) > 0 {
			n += len(v.groups) * (1 + v.groups[0].pel.Len())
		}
		return n
	}
	return 1
}

// SetLazyFree turns the lazyfree-lazy-* settings l on or off.
func (s *Store) SetLazyFree(l LazyFree, on bool) {
	for {
		old := s.lazyMode.Load()
		next := old &^ uint32(l)
		if on {
			next |= uint32(l)
		}
		if s.lazyMode.CompareAndSwap(old, next) {
			return
		}
	}
}

// LazyFree returns the lazyfree-lazy-* settings that are yes.
func (s *Store) LazyFree() LazyFree { return LazyFree(s.lazyMode.Load()) }

// lazy tells whether a deletion for cause (one of the settings, or
// lazyAlways) releases its value in the background.
func (s *Store) lazy(cause LazyFree) bool {
	return cause == lazyAlways || s.LazyFree()&cause != 0
}

// release gives up the value of it, which the keyspace no longer holds,
// deleted for cause. A costly one goes to the lazyfree goroutine (see
// lazyfreer), or, when cause's setting is no, is freed here, on the apply
// path, as Redis's synchronous free: its memory is back before the next
// command, and the command (or expire cycle) pays the time it takes. The
// caller holds the write lock.
func (s *Store) release(it item, cause LazyFree) {
	if !it.isObj() {
		return
	}
	o := it.obj()
	if freeEffort(o.val) <= lazyfreeThreshold {
		return
	}
	if !s.lazy(cause) {
		s.freeNow(o.charged)
		return
	}
	s.lazyPending.Add(1)
	lazyfree.push(lazyJob{st: s, n: 1, bytes: o.charged, hold: o})
}

// freeNow counts bytes of a costly value released on the apply path and
// collects at once when worthCollecting says so, which bounds the
// collection's work (marking what stays live) by what it gives back.
func (s *Store) freeNow(bytes int64) {
	s.syncReleased += bytes
	if worthCollecting(s.syncReleased, s.memoryBytes()) {
		s.syncReleased = 0
		debug.FreeOSMemory()
	}
}

// releaseKeyspace gives up a database a flush replaced, in the
// background whatever its size, as Redis's emptyDbAsync: each of its keys
// counts as an object.
func (s *Store) releaseKeyspace(ks keyspace) {
	n := int64(ks.keys.Len())
	s.lazyPending.Add(n)
	lazyfree.push(lazyJob{st: s, n: n, bytes: ks.memory(), hold: ks})
}

// LazyFreeStats returns the values handed to the background and not
// released yet, and those it released since the start or the last
// ResetStats (INFO's lazyfree_pending_objects and lazyfreed_objects).
func (s *Store) LazyFreeStats() (pending, freed int64) {
	return s.lazyPending.Load(), s.lazyFreed.Load()
}

// lazyJob is a release handed to the lazyfree goroutine: hold is what
// the keyspace gave up (a value's object, or a flushed database),
// counting n objects and bytes of st's memory accounting.
type lazyJob struct {
	st    *Store
	n     int64
	bytes int64
	hold  any
}

// minCollect is the fewest bytes released since the last collection
// worth starting one for.
const minCollect = 32 << 20

// lazyfreer is the process's lazyfree goroutine, one for all stores as
// Redis has one lazyfree thread.
//
// Go's collector frees a value once nothing references it, so deleting
// even a million-member set from the keyspace costs the apply path only
// its O(log n) removal from the tree. What Redis's background freeing
// buys beside that, its memory back soon after the value goes without a
// command waiting for it, the collector gives only at its next cycle,
// which the pacer starts once the heap has grown by about as much as was
// live at the last one: until then the value's memory stays held, and
// the larger the value the longer. So the values whose free effort
// passes lazyfreeThreshold are held here until released (pending); then,
// when what was released since the last collection is at least
// minCollect and at least the keyspace that stays live, the goroutine
// runs a collection and returns the freed memory to the system. That
// marks what stays live, which is less than what it gives back, on this
// goroutine and the collector's, never on the apply path, which only
// queues the job.
type lazyfreer struct {
	mu       sync.Mutex
	queue    []lazyJob
	wake     chan struct{}
	start    sync.Once
	released int64 // bytes released since the last collection; the goroutine's own
}

var lazyfree = &lazyfreer{wake: make(chan struct{}, 1)}

// push queues job and wakes the goroutine, starting it on first use.
func (l *lazyfreer) push(job lazyJob) {
	l.start.Do(func() { go l.run() })
	l.mu.Lock()
	l.queue = append(l.queue, job)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *lazyfreer) run() {
	for range l.wake {
		for {
			l.mu.Lock()
			jobs := l.queue
			l.queue = nil
			l.mu.Unlock()
			if len(jobs) == 0 {
				break
			}
			l.releaseAll(jobs)
		}
	}
}

// releaseAll drops the last references to what jobs hold, counts them
// released, and collects when it is worth it (see lazyfreer).
func (l *lazyfreer) releaseAll(jobs []lazyJob) {
	var stores []*Store
	for i := range jobs {
		j := &jobs[i]
		l.released += j.bytes
		j.hold = nil
		j.st.lazyPending.Add(-j.n)
		j.st.lazyFreed.Add(j.n)
		if !slices.Contains(stores, j.st) {
			stores = append(stores, j.st)
		}
	}
	var live int64
	for _, st := range stores {
		live += st.used.Load()
	}
	if worthCollecting(l.released, live) {
		l.released = 0
		debug.FreeOSMemory()
	}
}

// worthCollecting tells whether a collection is worth starting now that
// released bytes were released since the last one and live bytes stay
// in the keyspaces of the stores released from.
func worthCollecting(released, live int64) bool {
	return released >= minCollect && released >= live
}

// lazyCounters are a store's lazyfree counters; atomic, as the
// goroutine updates them without the store's lock.
type lazyCounters struct {
	lazyMode    atomic.Uint32 // the LazyFree settings
	lazyPending atomic.Int64  // objects queued and not yet released
	lazyFreed   atomic.Int64  // objects released since start or ResetStats
	// syncReleased is the bytes of costly values freed on the apply path
	// since its last collection (freeNow); under the write lock.
	syncReleased int64
}
