package store

// Changes is what one applied entry changed in the keyspace, for what
// waits on keys to change (WATCH today; blocking pops, client tracking and
// keyspace notifications as they come).
type Changes struct {
	// Seq is the store's seq after the entry: a WatchMark taken at a
	// smaller Seq is broken by these changes.
	Seq uint64
	// Keys are the keys written or deleted, a key possibly more than
	// once. The slice and the strings (which alias the store's buffers)
	// are valid only until the next entry is applied: a receiver that
	// keeps one copies it.
	Keys []string
	// DBs are the databases of Keys, DBs[i] that of Keys[i].
	DBs []int
	// All: the whole keyspace was replaced or emptied (FLUSHALL, a
	// snapshot restored); Keys are then incomplete.
	All bool
	// Events are the keyspace notifications of the entry, in order
	// (notify.go); valid, like Keys, until the next entry.
	Events []Event
	// Ready are keys whose blocked clients must look again though the
	// key did not change as WATCH sees it (XGROUP DESTROY, as Redis's
	// signalKeyAsReady); valid, like Keys, until the next entry.
	Ready []string
	// ReadyDBs are the databases of Ready, as DBs are of Keys.
	ReadyDBs []int
}

// Dirty returns how many key writes and deletions this node applied since
// it started, a flush counting each key it removed.
func (s *Store) Dirty() uint64 { return s.dirty.Load() }

// RecordChanges turns on or off the recording that TakeChanges returns;
// off, the write path records nothing.
func (s *Store) RecordChanges(on bool) { s.recordChanges.Store(on) }

// TakeChanges returns what the entry applied last changed and forgets it.
// The caller is the applier, between entries.
func (s *Store) TakeChanges() Changes {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Changes{Seq: s.seq, Keys: s.changedKeys, DBs: s.changedDBs, All: s.changedAll, Events: s.events,
		Ready: s.readyKeys, ReadyDBs: s.readyDBs}
	s.changedKeys, s.changedDBs, s.changedAll = s.changedKeys[:0], s.changedDBs[:0], false
	s.events, s.readyKeys, s.readyDBs = s.events[:0], s.readyKeys[:0], s.readyDBs[:0]
	return c
}

// readyKey records a key whose blocked clients must look again. The
// caller holds the write lock.
func (s *Store) readyKey(key string) {
	if s.recording {
		s.readyKeys = append(s.readyKeys, key)
		s.readyDBs = append(s.readyDBs, s.db)
	}
}

// changedKey records a key the current entry writes or deletes. The
// caller holds the write lock.
func (s *Store) changedKey(it *item) {
	s.dirty.Add(1)
	if s.recording {
		s.changedKeys = append(s.changedKeys, it.key())
		s.changedDBs = append(s.changedDBs, s.db)
	}
}
