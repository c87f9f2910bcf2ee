package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// ForceNewCluster rewrites the log of node id, stopped, so that it restarts
// as the only voter of its group (etcd's --force-new-cluster): for a group
// that lost a majority of its voters for good and can elect no one. It
// returns the members it removed.
//
// Every entry the log holds is kept, committed or not, and becomes
// committed: the commit index a node saves lags what it knew, so entries
// beyond it may have been acknowledged to clients, and keeping them all
// loses none of those; the price is that an entry no quorum ever held (a
// write whose client got an error or no answer) may be kept too. After
// them come conf entries that promote id if it was a learner and remove
// every other member, in a term above any the log or the hard state
// knows, so that nothing an old member still holds can win over them.
func ForceNewCluster(st LogStore, id NodeID) ([]NodeID, error) {
	meta, _, err := st.SnapshotMeta()
	if err != nil {
		return nil, err
	}
	// The core rebuilds the membership in use from the snapshot's and
	// every conf entry after it, as at any restart.
	r, err := NewRaft(Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: st, Applied: meta.Index,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	last := r.log.lastIndex()
	if last == 0 {
		return nil, errors.New("consensus: the log is empty: there is nothing to recover")
	}
	if !r.isVoter(id) && !r.isLearner(id) {
		return nil, fmt.Errorf("consensus: node %d is not a member of the group its log describes (voters %v, learners %v)",
			id, r.conf.Voters, r.conf.Learners)
	}
	term := max(r.term, r.log.lastTerm()) + 1
	var ents []Entry
	if r.isLearner(id) {
		ents = append(ents, Entry{Type: EntryConfChange, Data: ConfChange{Type: ConfPromote, Node: id}.Marshal()})
	}
	var removed []NodeID
	for _, m := range append(slices.Clone(r.conf.Voters), r.conf.Learners...) {
		if m != id {
			removed = append(removed, m)
			ents = append(ents, Entry{Type: EntryConfChange, Data: ConfChange{Type: ConfRemove, Node: m}.Marshal()})
		}
	}
	slices.Sort(removed)
	for i := range ents {
		ents[i].Term, ents[i].Index = term, last+1+uint64(i)
	}
	hs := HardState{Term: term, Commit: last + uint64(len(ents))}
	if err := st.Save(hs, ents, nil); err != nil {
		return nil, err
	}
	return removed, nil
}
