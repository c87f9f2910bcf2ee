package resp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestContexts hands out the contexts that bound how long a read or a
// write waits for the cluster. A context with a timer of its own for every
// request cost 3% of a node's CPU under SET and GET -c 50 (the timer is
// added to and removed from the runtime's heap, and the context and its
// channel are allocated, for a wait that almost never times out), so
// requests starting within timeout/sharedSpan of each other share one:
// each waits at least timeout - timeout/sharedSpan and at most timeout.
type requestContexts struct {
	timeout time.Duration
	mu      sync.Mutex // serializes renewals
	cur     atomic.Pointer[sharedContext]
}

// sharedSpan is how many contexts one timeout is divided among.
const sharedSpan = 16

// sharedContext is a context handed out until renewAt. Its cancel is not
// called: the context ends by itself at its deadline, which releases it.
type sharedContext struct {
	ctx     context.Context
	cancel  context.CancelFunc
	renewAt time.Time
}

// get returns a context whose deadline is at most timeout away.
func (r *requestContexts) get() context.Context {
	now := time.Now()
	if c := r.cur.Load(); c != nil && now.Before(c.renewAt) {
		return c.ctx
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.cur.Load(); c != nil && now.Before(c.renewAt) {
		return c.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(r.timeout))
	r.cur.Store(&sharedContext{ctx: ctx, cancel: cancel, renewAt: now.Add(r.timeout / sharedSpan)})
	return ctx
}
