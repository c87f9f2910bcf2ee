package resp

import (
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// publishKeyspace delivers an applied entry's keyspace notifications to
// this node's subscribers, as Redis's notifyKeyspaceEvent publishes them:
// to __keyspace@0__:<key> with the event, then to __keyevent@0__:<event>
// with the key. Every node applies every entry, so a subscriber on any
// node receives each event once, in log order. It runs on the applier.
func (s *Server) publishKeyspace(c store.Changes) {
	for _, e := range c.Events {
		if e.Keyspace {
			s.pubsub.deliver(replica.Publish{Channel: []byte("__keyspace@0__:" + e.Key), Message: []byte(e.Name)})
		}
		if e.Keyevent {
			s.pubsub.deliver(replica.Publish{Channel: []byte("__keyevent@0__:" + e.Name), Message: []byte(e.Key)})
		}
	}
}
