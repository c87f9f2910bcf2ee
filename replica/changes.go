package replica

import (
	"sync"
	"sync/atomic"

	"github.com/rkv/rkv/store"
)

// changeFeed hands what each applied entry changed in the keyspace to its
// subscribers (DESIGN.md: what waits for keys to change subscribes here,
// nothing polls). The store records changes only while someone listens.
type changeFeed struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
	// on mirrors len(subs) > 0 for the applier's check per entry.
	on atomic.Bool
}

type subscription struct{ fn func(store.Changes) }

func newChangeFeed() *changeFeed { return &changeFeed{subs: make(map[*subscription]struct{})} }

// Subscribe calls fn with what each entry applied from now on changed, on
// the applier's goroutine, between entries: fn must be quick and must copy
// what it keeps. The returned function ends the subscription.
func (r *Replica) Subscribe(fn func(store.Changes)) (cancel func()) {
	f := r.changes
	sub := &subscription{fn: fn}
	f.mu.Lock()
	f.subs[sub] = struct{}{}
	f.on.Store(true)
	r.store.RecordChanges(true)
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, sub)
		if len(f.subs) == 0 {
			f.on.Store(false)
			r.store.RecordChanges(false)
		}
	}
}

// publish hands st's recorded changes to the subscribers.
func (f *changeFeed) publish(st *store.Store) {
	if f == nil || !f.on.Load() {
		return
	}
	c := st.TakeChanges()
	if len(c.Keys) == 0 && !c.All && len(c.Events) == 0 && len(c.Ready) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		sub.fn(c)
	}
}
