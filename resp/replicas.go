package resp

// min-replicas-to-write: as on a Redis master, the leader refuses writes
// with NOREPLICAS while fewer followers than that are good. A follower is
// good while the leader replicates to it (Raft's replicate state: it
// acknowledged the last appends), rather than by a lag in seconds;
// min-replicas-max-lag is kept for CONFIG GET and clients that set it.
// The log's majority already makes every acknowledged write durable on
// most nodes; this setting asks for more, and for it on a single node.

import (
	"github.com/rkv/rkv/replica"
)

const errNoReplicas = "NOREPLICAS Not enough good replicas to write."

// noReplicas reports whether the leader of rep must refuse writes for
// want of good followers.
func (s *Server) noReplicas(rep *replica.Replica) bool {
	want := s.minReplicas.Load()
	if want <= 0 || !rep.Node().IsLeader() {
		return false
	}
	st := rep.Node().Status()
	good := int64(0)
	for id, pr := range st.Progress {
		if id != st.ID && !pr.Learner && pr.State == "replicate" {
			good++
		}
	}
	return good < want
}
