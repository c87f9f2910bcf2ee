package replica

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// Removing keys: active expiry and eviction. Only the leader decides, and
// it proposes the deletions through the log (replica.KindExpire and replica.KindEvict
// entries), so every replica deletes the same keys. A write that
// would grow memory past maxmemory is never proposed while it is over: it
// waits for the eviction that makes room or, under noeviction (or when
// nothing may be evicted), is refused with OOM before it reaches the log,
// so no replica ever applies what another refused.

// Removal is the leader's active expiry and eviction for one replica, and
// the maxmemory limits they keep; on a follower its loops find nothing to
// do.
type Removal struct {
	node  *consensus.Node
	store *store.Store
	cfg   RemovalConfig

	maxmemory atomic.Int64 // bytes; 0 means no limit
	policy    atomic.Uint32
	samples   atomic.Int64
	evict     *evictor
	// expirePaused stops the expire cycle (DEBUG SET-ACTIVE-EXPIRE 0).
	expirePaused atomic.Bool
	// latency is told how long each expire or eviction cycle took.
	latency atomic.Pointer[func(event string, d time.Duration)]

	startOnce, stopOnce sync.Once
	started             atomic.Bool
	stop                chan struct{}
	expireDone          chan struct{}
	evictDone           chan struct{}
}

// RemovalConfig sets the loops' pace and the starting limits.
type RemovalConfig struct {
	// ExpireInterval is how often the leader looks for expired keys, and
	// for keys to evict when no write asked (0: 100 ms).
	ExpireInterval time.Duration
	// RequestTimeout bounds the proposal of one round's deletions (0: 10 s).
	RequestTimeout time.Duration
	// MaxMemory is maxmemory in bytes (0: no limit).
	MaxMemory int64
	Policy    store.Policy
	// Samples is maxmemory-samples (0: 5).
	Samples int
}

// newRemoval returns the removal of node's store st; Start starts it.
func newRemoval(node *consensus.Node, st *store.Store, cfg RemovalConfig) *Removal {
	if cfg.ExpireInterval <= 0 {
		cfg.ExpireInterval = 100 * time.Millisecond
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Samples <= 0 {
		cfg.Samples = 5
	}
	r := &Removal{node: node, store: st, cfg: cfg, evict: newEvictor(),
		stop: make(chan struct{}), expireDone: make(chan struct{}), evictDone: make(chan struct{})}
	r.maxmemory.Store(cfg.MaxMemory)
	r.policy.Store(uint32(cfg.Policy))
	r.samples.Store(int64(cfg.Samples))
	st.SetPolicy(cfg.Policy, cfg.Samples, time.Now().UnixMilli())
	return r
}

// Start starts the expiry and eviction loops.
func (r *Removal) Start() {
	r.startOnce.Do(func() {
		r.started.Store(true)
		go r.removalLoop(r.expireDone, nil, r.expireRound)
		go r.removalLoop(r.evictDone, r.evict.wake, r.evictRound)
	})
}

// Stop stops the loops and waits for them.
func (r *Removal) Stop() {
	r.stopOnce.Do(func() {
		close(r.stop)
		if r.started.Load() {
			<-r.expireDone
			<-r.evictDone
		}
	})
}

// MaxMemory is the maxmemory limit in bytes, 0 for none.
func (r *Removal) MaxMemory() int64 { return r.maxmemory.Load() }

// SetMaxMemory changes maxmemory (CONFIG SET) and lets eviction look.
func (r *Removal) SetMaxMemory(n int64) {
	r.maxmemory.Store(n)
	r.evict.kick()
}

// Policy is the maxmemory policy.
func (r *Removal) Policy() store.Policy { return store.Policy(r.policy.Load()) }

// SetPolicy changes the maxmemory policy and lets eviction look.
func (r *Removal) SetPolicy(p store.Policy) {
	r.policy.Store(uint32(p))
	r.store.SetPolicy(p, int(r.samples.Load()), time.Now().UnixMilli())
	r.evict.kick()
}

// Samples is maxmemory-samples.
func (r *Removal) Samples() int64 { return r.samples.Load() }

// SetSamples changes maxmemory-samples.
func (r *Removal) SetSamples(n int64) {
	r.samples.Store(n)
	r.store.SetPolicy(r.Policy(), int(n), time.Now().UnixMilli())
}

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

// AdmitWrite reports whether writes that may grow memory (Redis's denyoom
// commands) can be proposed now: memory is under maxmemory, or eviction
// made room within ctx. It is false under noeviction, or when the policy
// finds nothing to evict, while memory is over the limit.
func (r *Removal) AdmitWrite(ctx context.Context) bool {
	limit := r.maxmemory.Load()
	if limit == 0 || !r.node.IsLeader() {
		// A follower proposes nothing: its writes are redirected.
		return true
	}
	used, policy := r.store.MemoryBytes(), r.Policy()
	if used <= limit {
		if used > limit-limit/(2*evictHeadroom) && policy != store.NoEviction {
			r.evict.kick()
		}
		return true
	}
	if policy == store.NoEviction {
		return false
	}
	for r.store.MemoryBytes() > limit {
		room := r.evict.wait()
		r.evict.kick()
		select {
		case <-room:
		case <-ctx.Done():
			return false
		}
		if r.evict.isStuck() || !r.node.IsLeader() {
			return r.store.MemoryBytes() <= limit
		}
	}
	return true
}

// removalLoop runs round every ExpireInterval, and whenever wake fires,
// until the server closes; it closes done when it returns.
func (r *Removal) removalLoop(done chan struct{}, wake <-chan struct{}, round func()) {
	defer close(done)
	t := time.NewTicker(r.cfg.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
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
func (r *Removal) evictRound() {
	stuck := false
	start := time.Now()
	for r.node.IsLeader() {
		limit := r.maxmemory.Load()
		target := limit - limit/evictHeadroom
		used := r.store.MemoryBytes()
		if limit == 0 || r.Policy() == store.NoEviction || used <= target {
			break
		}
		db, keys := r.evictionCandidates(used - target)
		if stuck = len(keys) == 0; stuck {
			break
		}
		ok := r.proposeDeletions(KindEvict, db, keys)
		r.cycleTook("eviction-cycle", start)
		if !ok {
			break
		}
		r.evict.signal(false)
	}
	r.evict.signal(stuck)
}

// proposeDeletions proposes the deletion of keys in entries of kind, of
// at most evictEntryKeys keys each, together; it reports whether all were
// applied.
func (r *Removal) proposeDeletions(kind Kind, db int, keys [][]byte) bool {
	stamp := time.Now().UnixMilli()
	var datas [][]byte
	for len(keys) > 0 {
		n := min(len(keys), evictEntryKeys)
		datas = append(datas, EncodeEntryDB(nil, kind, db, stamp, keys[:n]))
		keys = keys[n:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.RequestTimeout)
	defer cancel()
	for _, r := range r.node.ProposeMany(ctx, datas) {
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
func (r *Removal) expireRound() {
	if !r.node.IsLeader() || r.expirePaused.Load() {
		return
	}
	start := time.Now()
	end := start.Add(r.cfg.ExpireInterval / expireBudgetDiv)
	batch := evictEntryKeys * evictEntries
	for _, db := range r.store.UsedDBs() {
		for time.Now().Before(end) {
			keys := r.store.ExpiredSample(db, time.Now().UnixMilli(), batch)
			if len(keys) == 0 {
				break
			}
			ok := r.proposeDeletions(KindExpire, db, keys)
			r.cycleTook("expire-cycle", start)
			if !ok {
				return
			}
			if len(keys) < batch {
				break
			}
		}
	}
}

// evictionCandidates finds keys to evict to free need bytes, in the first
// database, in order, where the policy finds any: Redis pools candidates
// from every database, rkv takes them a database at a time.
func (r *Removal) evictionCandidates(need int64) (db int, keys [][]byte) {
	for _, db := range r.store.UsedDBs() {
		keys, _ := r.store.EvictionCandidates(db, time.Now().UnixMilli(), need, evictEntryKeys*evictEntries)
		if len(keys) > 0 {
			return db, keys
		}
	}
	return 0, nil
}

// SetLatencyMonitor sets what is told the duration of each expire and
// eviction cycle that deleted keys ("expire-cycle", "eviction-cycle").
func (r *Removal) SetLatencyMonitor(fn func(event string, d time.Duration)) { r.latency.Store(&fn) }

func (r *Removal) cycleTook(event string, since time.Time) {
	if fn := r.latency.Load(); fn != nil {
		(*fn)(event, time.Since(since))
	}
}

// SetActiveExpire turns the leader's active expiry on or off (DEBUG
// SET-ACTIVE-EXPIRE); keys past their deadline stay hidden either way.
func (r *Removal) SetActiveExpire(on bool) { r.expirePaused.Store(!on) }
