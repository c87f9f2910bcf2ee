package resp

import (
	"strconv"

	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// publishKeyspace delivers an applied entry's keyspace notifications to
// this node's subscribers, as Redis's notifyKeyspaceEvent publishes them:
// to __keyspace@<db>__:<key> with the event, then to __keyevent@<db>__:<event>
// with the key. Every node applies every entry, so a subscriber on any
// node receives each event once, in log order. It runs on the applier.
func (s *Server) publishKeyspace(c store.Changes) {
	for _, e := range c.Events {
		db := strconv.Itoa(e.DB)
		if e.Keyspace {
			s.pubsub.deliver(replica.Publish{Channel: []byte("__keyspace@" + db + "__:" + e.Key), Message: []byte(e.Name)})
		}
		if e.Keyevent {
			s.pubsub.deliver(replica.Publish{Channel: []byte("__keyevent@" + db + "__:" + e.Name), Message: []byte(e.Key)})
		}
	}
}
