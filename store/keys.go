package store

import (
	"bytes"
	"math"

	"github.com/tidwall/redcon"
)

var keyCommands = []*Command{
	def("copy", copyCmd),
	def("dbsize", dbsizeCmd),
	def("del", delCmd),
	def("exists", existsCmd),
	def("expire", expireCmd),
	def("expireat", expireatCmd),
	def("expiretime", expiretimeCmd),
	def("flushall", flushCmd),
	def("flushdb", flushCmd),
	def("keys", keysCmd),
	def("object", objectCmd),
	def("persist", persistCmd),
	def("pexpire", pexpireCmd),
	def("pexpireat", pexpireatCmd),
	def("pexpiretime", pexpiretimeCmd),
	def("pttl", pttlCmd),
	def("randomkey", randomkeyCmd),
	def("rename", renameCmd),
	def("renamenx", renamenxCmd),
	def("scan", scanCmd),
	def("touch", existsCmd),
	def("ttl", ttlCmd),
	def("type", typeCmd),
	def("unlink", delCmd),
}

// Generic keyspace commands.

func delCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	n := 0
	for _, k := range args[1:] {
		if it, ok := s.get(m, probe(k)); ok {
			s.remove(it)
			n++
		}
	}
	return appendInt(out, int64(n))
}

// existsCmd serves EXISTS and TOUCH: a key named twice counts twice.
func existsCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	n := 0
	for _, k := range args[1:] {
		if _, ok := s.get(m, probe(k)); ok {
			n++
		}
	}
	return appendInt(out, int64(n))
}

// Conditions of EXPIRE and friends.
const (
	expNX = 1 << iota
	expXX
	expGT
	expLT
)

func expireCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return expireGeneric(s, m, args, out, m.now, true, "expire")
}

func pexpireCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return expireGeneric(s, m, args, out, m.now, false, "pexpire")
}

func expireatCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return expireGeneric(s, m, args, out, 0, true, "expireat")
}

func pexpireatCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return expireGeneric(s, m, args, out, 0, false, "pexpireat")
}

// expireGeneric follows Redis 7.0's expireGenericCommand: options first, then
// the time (with overflow checks), then the key. A deadline not in the future
// deletes the key and still replies 1.
func expireGeneric(s *Store, m mode, args [][]byte, out []byte, base int64, seconds bool, name string) []byte {
	flags := 0
	for _, a := range args[3:] {
		switch {
		case eqFold(a, "nx"):
			flags |= expNX
		case eqFold(a, "xx"):
			flags |= expXX
		case eqFold(a, "gt"):
			flags |= expGT
		case eqFold(a, "lt"):
			flags |= expLT
		default:
			// Formatted as addReplyErrorFormat does: the argument is a C
			// string, and CR or LF become spaces so a client's bytes can
			// never end the error line early and inject a reply.
			out = append(out, "-ERR Unsupported option "...)
			for _, c := range cString(a) {
				if c == '\r' || c == '\n' {
					c = ' '
				}
				out = append(out, c)
			}
			return append(out, '\r', '\n')
		}
	}
	if flags&expNX != 0 && flags&(expXX|expGT|expLT) != 0 {
		return appendErr(out, "ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if flags&expGT != 0 && flags&expLT != 0 {
		return appendErr(out, "ERR GT and LT options at the same time are not compatible")
	}
	when, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			return appendExpireErr(out, name)
		}
		when *= 1000
	}
	if when > math.MaxInt64-base {
		return appendExpireErr(out, name)
	}
	when += base
	it, found := s.get(m, probe(args[1]))
	if !found {
		return append(out, zeroReply...)
	}
	cur := it.deadline
	switch {
	case flags&expNX != 0 && cur != 0,
		flags&expXX != 0 && cur == 0,
		flags&expGT != 0 && (cur == 0 || when <= cur),
		flags&expLT != 0 && cur != 0 && when >= cur:
		return append(out, zeroReply...)
	}
	if when <= m.now {
		s.remove(it)
	} else {
		it.deadline = when
		s.put(it)
	}
	return append(out, oneReply...)
}

func ttlCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return ttlGeneric(s, m, args, out, false, false)
}

func pttlCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return ttlGeneric(s, m, args, out, true, false)
}

func expiretimeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return ttlGeneric(s, m, args, out, false, true)
}

func pexpiretimeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return ttlGeneric(s, m, args, out, true, true)
}

// ttlGeneric follows Redis's ttlGenericCommand: -2 for no key, -1 for no
// TTL, seconds rounded to the nearest.
func ttlGeneric(s *Store, m mode, args [][]byte, out []byte, ms, abs bool) []byte {
	it, found := s.get(m, probe(args[1]))
	if !found {
		return appendInt(out, -2)
	}
	if it.deadline == 0 {
		return appendInt(out, -1)
	}
	t := it.deadline
	if !abs {
		t = max(t-m.now, 0)
	}
	if !ms {
		// t >= 0 here, and unsigned arithmetic keeps t+500 from
		// overflowing for a deadline near MaxInt64: the answer Redis gives
		// (its compiler does the same, knowing t is not negative).
		t = int64((uint64(t) + 500) / 1000)
	}
	return appendInt(out, t)
}

func persistCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, found := s.get(m, probe(args[1]))
	if !found || it.deadline == 0 {
		return append(out, zeroReply...)
	}
	it.deadline = 0
	s.put(it)
	return append(out, oneReply...)
}

func typeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, found := s.get(m, probe(args[1]))
	if !found {
		return append(out, "+none\r\n"...)
	}
	out = append(out, '+')
	out = append(out, it.kind().String()...)
	return append(out, '\r', '\n')
}

// objectCmd serves OBJECT ENCODING, REFCOUNT, IDLETIME, FREQ and HELP.
// IDLETIME and FREQ answer from this node's access history (see
// accessTable): on the leader, the one eviction decides by. Without an LRU
// policy no reads are recorded and IDLETIME counts from the last write.
func objectCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	sub := args[1]
	if eqFold(sub, "help") && len(args) == 2 {
		help := []string{
			"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ENCODING <key>",
			"    Return the kind of internal representation used in order to store the value",
			"    associated with a <key>.",
			"FREQ <key>",
			"    Return the access frequency index of the <key>. The returned integer is",
			"    proportional to the logarithm of the recent access frequency of the key.",
			"IDLETIME <key>",
			"    Return the idle time of the <key>, that is the approximated number of",
			"    seconds elapsed since the last access to the key.",
			"REFCOUNT <key>",
			"    Return the number of references of the value associated with the specified",
			"    <key>.",
			"HELP",
			"    Print this help.",
		}
		out = redcon.AppendArray(out, len(help))
		for _, h := range help {
			out = append(out, '+')
			out = append(out, h...)
			out = append(out, '\r', '\n')
		}
		return out
	}
	if len(args) != 3 || !(eqFold(sub, "encoding") || eqFold(sub, "refcount") || eqFold(sub, "idletime") || eqFold(sub, "freq")) {
		out = append(out, "-ERR unknown subcommand or wrong number of arguments for '"...)
		out = append(out, cString(sub)...)
		return append(out, "'. Try OBJECT HELP.\r\n"...)
	}
	it, found := s.peek(m, probe(args[2]))
	if !found {
		return append(out, nullReply...)
	}
	switch {
	case eqFold(sub, "encoding"):
		return appendBulk(out, it.encoding())
	case eqFold(sub, "refcount"):
		return append(out, oneReply...)
	case eqFold(sub, "idletime"):
		if s.policy.lfu() {
			return appendErr(out, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		}
		return appendInt(out, s.idleMs(it, m.now)/1000)
	}
	if !s.policy.lfu() {
		return appendErr(out, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	}
	return appendInt(out, int64(s.freq(it, m.now)))
}

// encoding is OBJECT ENCODING's answer for the item, as Redis 7.0 would
// choose it for a string: raw once APPEND grew it (a buffer with spare
// room, as Redis's appended sds), else int for a canonical 64-bit integer,
// embstr up to 44 bytes, raw beyond.
func (it *item) encoding() string {
	if it.isObj() {
		return it.obj().val.encoding()
	}
	if it.klen&spareFlag != 0 {
		return "raw"
	}
	v := it.val()
	if _, ok := parseInt(v); ok {
		return "int"
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

func keysCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	pat := b2s(args[1])
	all := pat == "*"
	var keys []string // alias the buffers; only used while the lock is held
	s.keys.Scan(func(it item) bool {
		if !it.expired(m.now) && (all || globMatch(pat, it.key())) {
			keys = append(keys, it.key())
		}
		return true
	})
	return appendKeys(out, keys)
}

func appendKeys(out []byte, keys []string) []byte {
	out = redcon.AppendArray(out, len(keys))
	for _, k := range keys {
		out = appendBulk(out, k)
	}
	return out
}

// scanCmd walks the tree from the cursor, which is the ord of the next key
// to visit, as scanFrom does.
func scanCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	cursor, ok := parseCursor(b2s(args[1]))
	if !ok {
		return appendErr(out, errCursor)
	}
	count, pat, typ, errMsg := parseScanOpts(args[2:], true)
	if errMsg != "" {
		return appendErr(out, errMsg)
	}
	var keys []string
	next := scanFrom(s.keys, item{ord: cursor}, func(it item) uint64 { return it.ord }, count, func(it item) {
		if it.expired(m.now) ||
			pat != nil && !globMatch(b2s(pat), it.key()) ||
			typ != nil && !eqFold(typ, it.kind().String()) {
			return
		}
		keys = append(keys, it.key())
	})
	return appendKeys(appendScanCursor(out, next), keys)
}

// randomkeyCmd picks random positions; keys past their deadline are skipped,
// up to a bound like Redis's, so a keyspace of expired keys answers nil.
// Applied from the log (inside EXEC) it draws from the log's randomness, so
// every replica answers the same.
func randomkeyCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	n := s.keys.Len()
	r := s.random(m)
	for range 100 {
		if n == 0 {
			break
		}
		it, _ := s.keys.GetAt(r.IntN(n))
		if !it.expired(m.now) {
			return appendBulk(out, it.key())
		}
	}
	return append(out, nullReply...)
}

func dbsizeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return appendInt(out, int64(s.keys.Len()))
}

// flushCmd serves FLUSHDB (the current database) and FLUSHALL (every
// one); ASYNC and SYNC are accepted and equivalent, since dropping the
// trees is O(1) and the GC frees the rest.
func flushCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) > 2 || len(args) == 2 && !eqFold(args[1], "sync") && !eqFold(args[1], "async") {
		return appendErr(out, errSyntax)
	}
	if eqFold(args[0], "flushdb") {
		s.resetDB(s.db)
	} else {
		s.reset()
	}
	return append(out, okReply...)
}

func renameCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return renameGeneric(s, m, args, out, false)
}

func renamenxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return renameGeneric(s, m, args, out, true)
}

// renameGeneric follows Redis's renameGenericCommand; the TTL moves with the
// value.
func renameGeneric(s *Store, m mode, args [][]byte, out []byte, nx bool) []byte {
	it, found := s.get(m, probe(args[1]))
	if !found {
		return appendErr(out, errNoKey)
	}
	if bytes.Equal(args[1], args[2]) {
		if nx {
			return append(out, zeroReply...)
		}
		return append(out, okReply...)
	}
	dst := probe(args[2])
	if _, exists := s.get(m, dst); exists && nx {
		return append(out, zeroReply...)
	}
	moved := s.rekeyed(it, dst, false)
	s.remove(it)
	s.put(moved)
	if nx {
		return append(out, oneReply...)
	}
	return append(out, okReply...)
}

// copyCmd follows Redis 7.0's copyCommand.
func copyCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	replace := false
	db := s.db
	for j := 3; j < len(args); j++ {
		switch {
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "db") && j+1 < len(args):
			n, msg := s.parseDB(args[j+1], "")
			if msg != "" {
				return appendErr(out, msg)
			}
			db = n
			j++
		default:
			return appendErr(out, errSyntax)
		}
	}
	if db == s.db && bytes.Equal(args[1], args[2]) {
		return appendErr(out, errSameObj)
	}
	it, found := s.get(m, probe(args[1]))
	if !found {
		return append(out, zeroReply...)
	}
	src := s.db
	defer s.selectDB(src)
	s.selectDB(db)
	dst := probe(args[2])
	if _, exists := s.get(m, dst); exists && !replace {
		return append(out, zeroReply...)
	}
	s.put(s.rekeyed(it, dst, true))
	return append(out, oneReply...)
}

// copyTarget is the database a COPY's DB option names, ok false without one.
func copyTarget(s *Store, args [][]byte) (db int, ok bool) {
	for j := 3; j+1 < len(args); j++ {
		if eqFold(args[j], "db") {
			db, msg := s.parseDB(args[j+1], "")
			return db, msg == ""
		}
	}
	return 0, false
}

// rekeyed returns the value of it under the key dst (a probe), with it's
// deadline. A copy gets a container of its own; a rename moves the
// container, still shared with any snapshot that holds it.
func (s *Store) rekeyed(it item, dst item, copy bool) item {
	if !it.isObj() && it.klen&spareFlag != 0 {
		// Redis copies a raw string as a raw one, whatever it holds.
		moved, _ := rawItem(dst, it.deadline, int(it.vlen), it.val())
		return moved
	}
	if !it.isObj() {
		return newItem(dst.ord, dst.key(), it.deadline, it.val())
	}
	o := it.obj()
	val, gen := o.val, o.gen
	if copy {
		val, gen = val.clone(), s.snapGen
	}
	moved := s.newObjItem(dst, val)
	moved.obj().gen = gen
	moved.deadline = it.deadline
	use := val.memUsage()
	moved.obj().charged = use
	return moved
}
