package store

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
)

// An EXEC becomes one OpExec entry, whose arguments are
//
//	<nwatch> (<key> <seq> <live>)... <ncmd> (<argc> <arg>...)...
//
// where live is 1 or 0, followed by @<db> for a key of a database other
// than 0.
//
// ApplyOp aborts it with a null array when a watched key changed after the
// leader took its WatchMark; otherwise it runs every queued command, as
// Apply would, at the entry's stamp and position, and replies with one
// array of their replies. Nothing else runs in between, so the transaction
// is atomic on every replica.

// WatchMark is what WATCH records of a key on the leader: the store's seq
// when it looked, and whether the key was live then.
type WatchMark struct {
	Key  []byte
	DB   int
	Seq  uint64
	Live bool
}

// Watch returns the mark of key in database db at nowMs (the local wall
// clock, raised to the store's clock if behind, as for Read). The caller
// makes the read linearizable (a ReadIndex round on the leader) before
// calling it.
func (s *Store) Watch(db int, nowMs int64, key []byte) WatchMark {
	defer s.lockDB(db)()
	it, found := s.keys.Get(probe(key))
	return WatchMark{Key: bytes.Clone(key), DB: db, Seq: s.seq, Live: found && !it.expired(s.queryNow(nowMs))}
}

// ExecArgs builds the arguments of the OpExec that runs cmds (each a command's
// arguments, its name first) under the watch marks.
func ExecArgs(marks []WatchMark, cmds [][][]byte) [][]byte {
	n := 2 + 3*len(marks) + len(cmds)
	for _, c := range cmds {
		n += len(c)
	}
	args := make([][]byte, 0, n)
	args = append(args, strconv.AppendInt(nil, int64(len(marks)), 10))
	for _, w := range marks {
		live := []byte("0")
		if w.Live {
			live = []byte("1")
		}
		if w.DB != 0 {
			live = strconv.AppendInt(append(live, '@'), int64(w.DB), 10)
		}
		args = append(args, w.Key, strconv.AppendUint(nil, w.Seq, 10), live)
	}
	args = append(args, strconv.AppendInt(nil, int64(len(cmds)), 10))
	for _, c := range cmds {
		args = append(args, strconv.AppendInt(nil, int64(len(c)), 10))
		args = append(args, c...)
	}
	return args
}

const errBadExec = "ERR malformed EXEC entry"

// execCmd implements OpExec. A malformed entry (only a bug could
// propose one) is refused whole, alike on every replica.
func (s *Store) execCmd(m mode, args [][]byte, out []byte) []byte {
	marks, cmds, ok := decodeExec(args)
	if !ok {
		return appendErr(out, errBadExec)
	}
	db := s.db
	for _, w := range marks {
		s.selectDB(w.DB)
		broken := s.watchBroken(m, w)
		s.selectDB(db)
		if broken {
			return append(out, nullArray...)
		}
	}
	out = redcon.AppendArray(out, len(cmds))
	for _, c := range cmds {
		if sp, ok := command.Lookup(c[0]); ok && sp.Runs == command.AsScript && s.scripts != nil {
			sm := m
			sm.script = true
			// A script's SELECT lasts until it ends, as in Redis.
			db := s.db
			out = s.scripts(m.now, func(args [][]byte, out []byte) []byte { return s.dispatch(sm, args, out) }, c, out)
			s.selectDB(db)
			continue
		}
		out = s.dispatch(m, c, out)
	}
	return out
}

// watchBroken reports whether the key of w may have changed since the mark
// was taken: written since (its ver), deleted since (its bucket's mark,
// which FLUSHALL sets too), or live then and gone or expired now.
func (s *Store) watchBroken(m mode, w WatchMark) bool {
	p := probe(w.Key)
	if s.deleted[deletedBucket(s.db, p.ord)] > w.Seq {
		return true
	}
	it, found := s.keys.Get(p)
	if found && it.ver > w.Seq {
		return true
	}
	return w.Live && (!found || it.expired(m.now))
}

// decodeExec parses the arguments of an OpExec.
func decodeExec(args [][]byte) (marks []WatchMark, cmds [][][]byte, ok bool) {
	count := func() (int, bool) {
		if len(args) == 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(b2s(args[0]), 10, 31)
		args = args[1:]
		return int(n), err == nil
	}
	nw, ok := count()
	if !ok || nw > len(args)/3 {
		return nil, nil, false
	}
	marks = make([]WatchMark, nw)
	for i := range marks {
		seq, err := strconv.ParseUint(b2s(args[1]), 10, 64)
		live, inDB, hasDB := strings.Cut(string(args[2]), "@")
		db, dbErr := 0, error(nil)
		if hasDB {
			db, dbErr = strconv.Atoi(inDB)
		}
		if err != nil || live != "0" && live != "1" || dbErr != nil || db < 0 || db >= MaxDatabases {
			return nil, nil, false
		}
		marks[i] = WatchMark{Key: args[0], DB: db, Seq: seq, Live: live == "1"}
		args = args[3:]
	}
	nc, ok := count()
	if !ok || nc > len(args) {
		return nil, nil, false
	}
	cmds = make([][][]byte, nc)
	for i := range cmds {
		argc, ok := count()
		if !ok || argc == 0 || argc > len(args) {
			return nil, nil, false
		}
		cmds[i], args = args[:argc], args[argc:]
	}
	return marks, cmds, len(args) == 0
}
