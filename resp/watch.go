package resp

import (
	"sync"
	"sync/atomic"

	"github.com/rkv/rkv/store"
)

// WATCH learns of changes as Redis's touchWatchedKey does: each entry the
// replica applies reports the keys it changed, and a transaction watching
// one of them since before the change is marked broken, so that its EXEC
// answers the abort at once instead of proposing an entry the log would
// abort anyway. The log's check (store.WatchMark) stays the authority: a
// change reported too late to mark a transaction still aborts it when the
// EXEC applies, and nothing is marked that the log would not abort.

// watchSession is one connection's watches, from its first WATCH to the
// EXEC, DISCARD, UNWATCH, RESET or close that ends them.
type watchSession struct{ broken atomic.Bool }

// watchRegistry finds the sessions watching a key.
type watchRegistry struct {
	mu sync.Mutex
	// byKey holds, per key, each session watching it with the store seq
	// of its mark.
	byKey map[dbKey]map[*watchSession]uint64
	// watching counts the registered keys, so that the applier takes the
	// lock only when someone watches.
	watching atomic.Int64
}

func newWatchRegistry() *watchRegistry {
	return &watchRegistry{byKey: make(map[dbKey]map[*watchSession]uint64)}
}

// dbKey is a key in its database.
type dbKey struct {
	db  int
	key string
}

// add registers the session's mark of a key.
func (w *watchRegistry) add(ws *watchSession, mark store.WatchMark) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wk := dbKey{mark.DB, string(mark.Key)}
	sessions := w.byKey[wk]
	if sessions == nil {
		sessions = make(map[*watchSession]uint64)
		w.byKey[wk] = sessions
	}
	sessions[ws] = mark.Seq
	w.watching.Add(1)
}

// forget removes the session's marks.
func (w *watchRegistry) forget(ws *watchSession, marks []store.WatchMark) {
	if ws == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range marks {
		wk := dbKey{m.DB, string(m.Key)}
		sessions := w.byKey[wk]
		if _, ok := sessions[ws]; !ok {
			continue
		}
		delete(sessions, ws)
		w.watching.Add(-1)
		if len(sessions) == 0 {
			delete(w.byKey, wk)
		}
	}
}

// changed marks broken the sessions that watched a changed key before the
// change. It runs on the replica's applier, between entries.
func (w *watchRegistry) changed(c store.Changes) {
	if w.watching.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	breakOlder := func(sessions map[*watchSession]uint64) {
		for ws, seq := range sessions {
			if seq < c.Seq {
				ws.broken.Store(true)
			}
		}
	}
	if c.All {
		// Which watched keys existed is the store's to judge: the EXEC
		// goes to the log, which aborts it if one did.
		return
	}
	for i, k := range c.Keys {
		breakOlder(w.byKey[dbKey{c.DBs[i], k}])
	}
}
