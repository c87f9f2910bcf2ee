package store

// LastStreamIDs returns, for XREAD BLOCK's "$", the last ID each stream
// generated ("0-0" for a key that holds none), read at nowMs as Read reads.
func (s *Store) LastStreamIDs(db int, nowMs int64, keys [][]byte) []string {
	defer s.lockDB(db)()
	m := mode{now: s.queryNow(nowMs)}
	out := make([]string, len(keys))
	for i, k := range keys {
		id := streamID{}
		if _, c, found, wrong := s.getKind(m, probe(k), kindStream); found && !wrong {
			id = c.(*stream).lastID
		}
		out[i] = string(appendRawStreamID(nil, id))
	}
	return out
}
