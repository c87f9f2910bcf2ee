package replica

import (
	"strconv"
	"sync"
)

// Pub/Sub messages go through the log (KindPublish, KindSPublish), so that
// every node applies each one once and in log order, and hands it to its
// own subscribers there: a subscriber on a follower receives what one on
// the leader does, also across a change of leader. The front end listens
// here (OnPublish) as it listens for changed keys (changes.go); nothing
// here knows a connection.

// Publish is one applied PUBLISH or SPUBLISH.
type Publish struct {
	// Shard is set for SPUBLISH: only shard channel subscribers get it.
	Shard            bool
	Channel, Message []byte
}

// EncodePublish lays out a PUBLISH, or with shard an SPUBLISH, for the log.
func EncodePublish(stampMs int64, shard bool, channel, message []byte) []byte {
	kind := KindPublish
	if shard {
		kind = KindSPublish
	}
	return EncodeEntry(nil, kind, stampMs, [][]byte{channel, message})
}

// publishFeed hands applied publishes to their listeners.
type publishFeed struct {
	mu   sync.Mutex
	subs map[*publishSub]struct{}
	// from is the first index delivered. Entries committed before this
	// process started precede every subscription it can have; replaying
	// them after a restart would give new subscribers old messages.
	from uint64
}

type publishSub struct{ fn func(Publish) int }

// OnPublish calls fn with each PUBLISH and SPUBLISH applied from now on,
// on the applier's goroutine, between entries: fn must not block and must
// copy what it keeps. It returns how many clients received the message;
// the sum over the listeners is the entry's reply, so the node that
// proposed it answers with its own count. The returned function ends the
// subscription.
func (r *Replica) OnPublish(fn func(Publish) int) (cancel func()) {
	f := r.publishes
	sub := &publishSub{fn: fn}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[*publishSub]struct{})
	}
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.subs, sub)
		f.mu.Unlock()
	}
}

// deliver applies a KindPublish or KindSPublish entry at index and returns
// its reply, the number of receivers.
func (f *publishFeed) deliver(index uint64, shard bool, args [][]byte) []byte {
	if len(args) != 2 {
		return []byte("-ERR corrupt publish entry\r\n")
	}
	n := 0
	if index >= f.from {
		p := Publish{Shard: shard, Channel: args[0], Message: args[1]}
		f.mu.Lock()
		for sub := range f.subs {
			n += sub.fn(p)
		}
		f.mu.Unlock()
	}
	reply := append([]byte{':'}, strconv.Itoa(n)...)
	return append(reply, '\r', '\n')
}
