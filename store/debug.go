package store

import (
	"bytes"
	"fmt"
)

// DebugObject answers DEBUG OBJECT in Redis's line format: the value's
// encoding, its serialized length (its DUMP body without the type byte;
// rkv writes strings uncompressed, where Redis may compress long ones),
// its LRU clock and idle seconds, and a list's quicklist figures as
// DUMP would write its nodes. ok is false when the key does not exist at
// nowMs.
func (s *Store) DebugObject(db int, nowMs int64, key []byte) (line string, ok bool) {
	defer s.lockDB(db)()
	now := s.queryNow(nowMs)
	it, ok := s.peek(mode{now: now}, probe(key))
	if !ok {
		return "", false
	}
	idle := s.idleMs(it, now) / 1000
	lru := (now/1000 - idle) & (1<<24 - 1)
	extra := ""
	if l, isList := objectValue(it).(*list); isList {
		nodes := listNodes(l)
		size := 0
		for _, n := range nodes {
			size += len(n)
		}
		extra = fmt.Sprintf(" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:%d",
			len(nodes), float64(l.length())/float64(len(nodes)), size)
	}
	return fmt.Sprintf("Value at:%p refcount:1 encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d%s",
		it.ptr, it.encoding(), len(appendRDBValue(nil, it))-1, lru, idle, extra), true
}

// objectValue is the item's container, nil for a string.
func objectValue(it item) container {
	if !it.isObj() {
		return nil
	}
	return it.obj().val
}

// Reload writes the state to a snapshot and loads it back in place (DEBUG
// RELOAD), under the write lock throughout, so that no entry applied in
// between is lost: the state after is the state before, on every replica.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.snapshot()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		return err
	}
	fresh, err := readSnapshot(&buf)
	if err != nil {
		return err
	}
	s.install(fresh)
	return nil
}
