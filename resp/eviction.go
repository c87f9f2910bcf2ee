package resp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// Removing keys: active expiry and eviction. Only the leader decides, and
// it proposes the deletions through the log (replica.KindExpire and replica.KindEvict
// entries), so every replica deletes the same keys. A write that
// would grow memory past maxmemory is never proposed while it is over: it
// waits for the eviction that makes room or, under noeviction (or when
// nothing may be evicted), is refused with OOM before it reaches the log,
// so no replica ever applies what another refused.

const errOOM = "OOM command not allowed when used memory > 'maxmemory'."

// memoryLimits are the node's maxmemory settings, read by every write
// without a lock and changed by CONFIG SET.
type memoryLimits struct {
	maxmemory atomic.Int64 // bytes; 0 means no limit
	policy    atomic.Uint32
	samples   atomic.Int64
}

func (l *memoryLimits) policyNow() store.Policy { return store.Policy(l.policy.Load()) }

// Eviction keeps used memory a little below maxmemory, so that writes
// seldom wait for room: a write that finds memory past half the headroom
// (evictHeadroom of maxmemory) wakes the evictor, which brings it back
// down to the whole headroom while the writes go on; the gap between the
// two makes each round a batch of deletions, not one key per write. It
// proposes its deletions in entries of at most evictEntryKeys keys,
// evictEntries at a time.
const (
	evictHeadroom  = 64 // 1/64 of maxmemory
	evictEntryKeys = 128
	evictEntries   = 8
)

// evictor coordinates the leader's eviction with the writes waiting for room.
type evictor struct {
	wake chan struct{} // a round is wanted
	mu   sync.Mutex
	// room is closed, and replaced, after each batch of deletions and after
	// each round that found nothing to evict (stuck).
	room  chan struct{}
	stuck bool
}

func newEvictor() *evictor {
	return &evictor{wake: make(chan struct{}, 1), room: make(chan struct{})}
}

func (e *evictor) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// signal tells the waiting writes that a batch went through or that
// nothing could be evicted.
func (e *evictor) signal(stuck bool) {
	e.mu.Lock()
	e.stuck = stuck
	close(e.room)
	e.room = make(chan struct{})
	e.mu.Unlock()
}

func (e *evictor) wait() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.room
}

func (e *evictor) isStuck() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stuck
}

// admitWrite reports whether writes that may grow memory (Redis's denyoom
// commands) can be proposed now: memory is under maxmemory, or eviction
// made room within ctx. It is false under noeviction, or when the policy
// finds nothing to evict, while memory is over the limit.
func (s *Server) admitWrite(ctx context.Context) bool {
	limit := s.limits.maxmemory.Load()
	if limit == 0 || !s.node.IsLeader() {
		// A follower proposes nothing: its writes are redirected.
		return true
	}
	used, policy := s.store.MemoryBytes(), s.limits.policyNow()
	if used <= limit {
		if used > limit-limit/(2*evictHeadroom) && policy != store.NoEviction {
			s.evict.kick()
		}
		return true
	}
	if policy == store.NoEviction {
		return false
	}
	for s.store.MemoryBytes() > limit {
		room := s.evict.wait()
		s.evict.kick()
		select {
		case <-room:
		case <-ctx.Done():
			return false
		}
		if s.evict.isStuck() || !s.node.IsLeader() {
			return s.store.MemoryBytes() <= limit
		}
	}
	return true
}

// denyOOM reports whether any of the commands may grow memory.
func denyOOM(scs []*store.Command) bool {
	for _, sc := range scs {
		if sc != nil && sc.DenyOOM() {
			return true
		}
	}
	return false
}

// removalLoop runs round every ExpireInterval, and whenever wake fires,
// until the server closes; it closes done when it returns.
func (s *Server) removalLoop(done chan struct{}, wake <-chan struct{}, round func()) {
	defer close(done)
	t := time.NewTicker(s.cfg.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopLoops:
			return
		case <-wake:
		case <-t.C:
		}
		round()
	}
}

// evictRound is the leader's eviction, woken by a write that found memory
// over the limit or every ExpireInterval: it evicts, batch by batch, until memory is a little below
// maxmemory, this node stops leading, or the policy finds nothing to evict;
// after each batch, and at the end, the writes waiting for room look again.
func (s *Server) evictRound() {
	stuck := false
	for s.node.IsLeader() {
		limit := s.limits.maxmemory.Load()
		target := limit - limit/evictHeadroom
		used := s.store.MemoryBytes()
		if limit == 0 || s.limits.policyNow() == store.NoEviction || used <= target {
			break
		}
		keys, _ := s.store.EvictionCandidates(time.Now().UnixMilli(), used-target, evictEntryKeys*evictEntries)
		if stuck = len(keys) == 0; stuck || !s.proposeDeletions(replica.KindEvict, keys) {
			break
		}
		s.evict.signal(false)
	}
	s.evict.signal(stuck)
}

// proposeDeletions proposes the deletion of keys in entries of kind, of
// at most evictEntryKeys keys each, together; it reports whether all were
// applied.
func (s *Server) proposeDeletions(kind replica.Kind, keys [][]byte) bool {
	stamp := time.Now().UnixMilli()
	var datas [][]byte
	for len(keys) > 0 {
		n := min(len(keys), evictEntryKeys)
		datas = append(datas, replica.EncodeEntry(nil, kind, stamp, keys[:n]))
		keys = keys[n:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	for _, r := range s.node.ProposeMany(ctx, datas) {
		if r.Err != nil {
			return false
		}
	}
	return true
}

// The expire cycle may spend a quarter of each ExpireInterval, as Redis's
// ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC (25%).
const expireBudgetDiv = 4

// expireRound is the leader's active expiry cycle. The deadline index
// gives the expired keys exactly, earliest first (where Redis samples), so
// each cycle deletes the oldest garbage; it keeps going while it finds a
// full batch and its time budget lasts.
func (s *Server) expireRound() {
	if !s.node.IsLeader() {
		return
	}
	end := time.Now().Add(s.cfg.ExpireInterval / expireBudgetDiv)
	for time.Now().Before(end) {
		batch := evictEntryKeys * evictEntries
		keys := s.store.ExpiredSample(time.Now().UnixMilli(), batch)
		if len(keys) == 0 || !s.proposeDeletions(replica.KindExpire, keys) || len(keys) < batch {
			return
		}
	}
}
