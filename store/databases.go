package store

import "math"

// Redis's numbered databases: every command runs in its client's database
// (the log entry carries it, ApplyOp makes it current); SELECT inside a
// transaction or a script changes it until the entry ends, MOVE, COPY ...
// DB and SWAPDB cross between databases.

var databaseCommands = []*Command{
	def("move", moveCmd),
	def("swapdb", swapdbCmd),
}

// DefaultDatabases is Redis's default for its databases setting.
const DefaultDatabases = 16

// SetDatabases sets how many databases commands may name (Redis's
// databases setting), between 1 and MaxDatabases. Every replica must use
// the same number: a SELECT in a script is judged by it when applied.
// Call it before the store is used.
func (s *Store) SetDatabases(n int) { s.databases = min(max(n, 1), MaxDatabases) }

// Databases returns the number SetDatabases set.
func (s *Store) Databases() int { return s.databases }

// ParseDB parses SELECT's database number: it returns the error reply's
// message when arg does not name a database.
func (s *Store) ParseDB(arg []byte) (db int, errMsg string) { return s.parseDB(arg, "") }

// parseDB parses a database number as Redis's getIntFromObjectOrReply
// does (an integer in the range of a C int), then checks it names a
// database. msg replaces the parse errors when not empty (SWAPDB's).
func (s *Store) parseDB(arg []byte, msg string) (db int, errMsg string) {
	n, errMsg := parseCInt(arg, msg)
	if errMsg == "" && !s.validDB(n) {
		return 0, errDBRange
	}
	return n, errMsg
}

const errDBRange = "ERR DB index is out of range"

func (s *Store) validDB(n int) bool { return n >= 0 && n < s.databases }

// parseCInt parses an integer in the range of a C int as Redis's
// getIntFromObjectOrReply does; msg replaces its errors when not empty.
func parseCInt(arg []byte, msg string) (int, string) {
	n, ok := parseInt(b2s(arg))
	switch {
	case !ok && msg != "":
		return 0, msg
	case !ok:
		return 0, errNotInt
	case n < math.MinInt32 || n > math.MaxInt32:
		if msg != "" {
			return 0, msg
		}
		return 0, "ERR value is out of range, value must between -2147483648 and 2147483647"
	}
	return int(n), ""
}

// selectCmd is SELECT inside a transaction or a script: the commands after
// it address database db until the entry ends. The client's own database
// is the front end's to change.
func (s *Store) selectCmd(args [][]byte, out []byte) []byte {
	if len(args) != 2 {
		return appendArity(out, "select")
	}
	db, msg := s.parseDB(args[1], "")
	if msg != "" {
		return appendErr(out, msg)
	}
	s.selectDB(db)
	return append(out, okReply...)
}

// moveCmd is MOVE key db, Redis's moveCommand: the key, its TTL with it,
// goes to db unless db holds it already.
func moveCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	db, msg := s.parseDB(args[2], "")
	if msg != "" {
		return appendErr(out, msg)
	}
	if db == s.db {
		return appendErr(out, errSameObj)
	}
	it, found := s.get(m, probe(args[1]))
	if !found {
		return append(out, zeroReply...)
	}
	src := s.db
	s.selectDB(db)
	dst := probe(args[1])
	if _, exists := s.get(m, dst); exists {
		s.selectDB(src)
		return append(out, zeroReply...)
	}
	s.selectDB(src)
	moved := s.rekeyed(it, dst, false)
	s.remove(it)
	s.notify(notifyGeneric, "move_from", it.key())
	s.selectDB(db)
	s.put(moved)
	s.notify(notifyGeneric, "move_to", moved.key())
	s.selectDB(src)
	return append(out, oneReply...)
}

// swapdbCmd is SWAPDB, Redis's swapdbCommand. Every key of either
// database counts as deleted now, so a WATCH of one aborts its EXEC, and
// the change is reported whole (Changes.All), as a FLUSHALL is, for the
// front end's blocked clients and caches to look again.
func swapdbCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	a, msg := parseCInt(args[1], "ERR invalid first DB index")
	if msg != "" {
		return appendErr(out, msg)
	}
	b, msg := parseCInt(args[2], "ERR invalid second DB index")
	if msg != "" {
		return appendErr(out, msg)
	}
	if !s.validDB(a) || !s.validDB(b) {
		return appendErr(out, errDBRange)
	}
	if a == b {
		return append(out, okReply...)
	}
	s.ensureDBs(max(a, b) + 1)
	s.markDeleted(a, a, b)
	s.markDeleted(b, a, b)
	*s.space(a), *s.space(b) = *s.space(b), *s.space(a)
	s.changedAll = s.recording
	return append(out, okReply...)
}
