package store

import (
	"math"
	"math/big"
	"strconv"

	"github.com/tidwall/redcon"
)

var stringCommands = []*Command{
	def("append", appendCmd),
	def("decr", decrCmd),
	def("decrby", decrbyCmd),
	def("get", getCmd),
	def("getdel", getdelCmd),
	def("getex", getexCmd),
	def("getrange", getrangeCmd),
	def("getset", getsetCmd),
	def("incr", incrCmd),
	def("incrby", incrbyCmd),
	def("incrbyfloat", incrbyfloatCmd),
	def("mget", mgetCmd),
	def("mset", msetCmd),
	def("msetnx", msetnxCmd),
	def("psetex", psetexCmd),
	def("set", setCmd),
	def("setex", setexCmd),
	def("setnx", setnxCmd),
	def("setrange", setrangeCmd),
	def("strlen", strlenCmd),
	def("substr", getrangeCmd),
}

// String commands. Each runs under the store's lock (write lock for writes)
// and appends exactly one RESP reply.

var (
	okReply   = []byte("+OK\r\n")
	nullReply = []byte("$-1\r\n")
	emptyBulk = []byte("$0\r\n\r\n")
	zeroReply = []byte(":0\r\n")
	oneReply  = []byte(":1\r\n")
	// Shared by the container types' files.
	emptyArray = []byte("*0\r\n")
	nullArray  = []byte("*-1\r\n")
)

func appendInt(out []byte, n int64) []byte { return redcon.AppendInt(out, n) }

func appendBulk(out []byte, s string) []byte { return redcon.AppendBulkString(out, s) }

// Options of SET and GETEX, as Redis's OBJ_* flags.
const (
	optNX = 1 << iota
	optXX
	optGET
	optKEEPTTL
	optPERSIST
	optEX
	optPX
	optEXAT
	optPXAT
)

// parseSetOpts mirrors Redis's parseExtendedStringArgumentsOrReply, including
// which repetitions and combinations it accepts.
func parseSetOpts(args [][]byte, isSet bool) (flags int, expire []byte, ok bool) {
	const ttlOpts = optEX | optPX | optEXAT | optPXAT
	for j := 0; j < len(args); j++ {
		a := args[j]
		hasNext := j+1 < len(args)
		switch {
		case isSet && eqFold(a, "nx") && flags&optXX == 0:
			flags |= optNX
		case isSet && eqFold(a, "xx") && flags&optNX == 0:
			flags |= optXX
		case isSet && eqFold(a, "get"):
			flags |= optGET
		case isSet && eqFold(a, "keepttl") && flags&(optPERSIST|ttlOpts) == 0:
			flags |= optKEEPTTL
		case !isSet && eqFold(a, "persist") && flags&(optKEEPTTL|ttlOpts) == 0:
			flags |= optPERSIST
		case hasNext && eqFold(a, "ex") && flags&(optKEEPTTL|optPERSIST|ttlOpts&^optEX) == 0:
			flags |= optEX
			expire, j = args[j+1], j+1
		case hasNext && eqFold(a, "px") && flags&(optKEEPTTL|optPERSIST|ttlOpts&^optPX) == 0:
			flags |= optPX
			expire, j = args[j+1], j+1
		case hasNext && eqFold(a, "exat") && flags&(optKEEPTTL|optPERSIST|ttlOpts&^optEXAT) == 0:
			flags |= optEXAT
			expire, j = args[j+1], j+1
		case hasNext && eqFold(a, "pxat") && flags&(optKEEPTTL|optPERSIST|ttlOpts&^optPXAT) == 0:
			flags |= optPXAT
			expire, j = args[j+1], j+1
		default:
			return 0, nil, false
		}
	}
	return flags, expire, true
}

// deadlineOf turns an EX/PX/EXAT/PXAT argument into an absolute deadline as
// Redis's getExpireMillisecondsOrReply does; errMsg is empty on success and
// badExpire reports that the error is "invalid expire time".
func deadlineOf(arg []byte, flags int, now int64) (ms int64, errMsg string, badExpire bool) {
	ms, ok := parseInt(b2s(arg))
	if !ok {
		return 0, errNotInt, false
	}
	seconds := flags&(optEX|optEXAT) != 0
	if ms <= 0 || seconds && ms > math.MaxInt64/1000 {
		return 0, "", true
	}
	if seconds {
		ms *= 1000
	}
	if flags&(optEX|optPX) != 0 {
		if ms > math.MaxInt64-now {
			return 0, "", true
		}
		ms += now
	}
	if ms <= 0 {
		return 0, "", true
	}
	return ms, "", false
}

// deadlineReply is deadlineOf for command cmd: on an error it returns
// false with the error reply appended to out.
func deadlineReply(out, arg []byte, flags int, now int64, cmd string) (int64, []byte, bool) {
	d, msg, bad := deadlineOf(arg, flags, now)
	switch {
	case bad:
		return 0, appendExpireErr(out, cmd), false
	case msg != "":
		return 0, appendErr(out, msg), false
	}
	return d, out, true
}

// setValue stores key (probe p) with the concatenated value and deadline,
// replacing any previous value. A deadline already reached deletes the key.
func (s *Store) setValue(m mode, p item, deadline int64, vals ...string) {
	if deadline != 0 && deadline <= m.now {
		// Redis stores the key and then finds it expired: a change that
		// aborts a WATCH on it even when there was no key before.
		s.deleted[deletedBucket(s.db, p.ord)] = s.seq
		if it, ok := s.keys.Get(p); ok {
			s.remove(it)
		}
		return
	}
	s.put(newItem(p.ord, p.key(), deadline, vals...))
}

// getString finds the live string at p; wrong reports a key of another type,
// for which the caller answers WRONGTYPE.
func (s *Store) getString(m mode, p item) (it item, found, wrong bool) {
	it, found = s.get(m, p)
	return it, found, found && it.isObj()
}

func getCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, ok, wrong := s.getString(m, probe(args[1]))
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !ok:
		return append(out, nullReply...)
	}
	return appendBulk(out, it.val())
}

func setCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	flags, exp, ok := parseSetOpts(args[3:], true)
	if !ok {
		return appendErr(out, errSyntax)
	}
	var deadline int64
	if exp != nil {
		var ok bool
		if deadline, out, ok = deadlineReply(out, exp, flags, m.now, "set"); !ok {
			return out
		}
	}
	p := probe(args[1])
	if flags&(optNX|optXX|optGET|optKEEPTTL) == 0 {
		s.setValue(m, p, deadline, b2s(args[2]))
		return append(out, okReply...)
	}
	old, found, wrong := s.getString(m, p)
	if wrong && flags&optGET != 0 {
		return appendErr(out, errWrongType)
	}
	if flags&optGET != 0 {
		if found {
			out = appendBulk(out, old.val())
		} else {
			out = append(out, nullReply...)
		}
	}
	if flags&optNX != 0 && found || flags&optXX != 0 && !found {
		if flags&optGET == 0 {
			out = append(out, nullReply...)
		}
		return out
	}
	if flags&optKEEPTTL != 0 && found {
		deadline = old.deadline
	}
	s.setValue(m, p, deadline, b2s(args[2]))
	if flags&optGET == 0 {
		out = append(out, okReply...)
	}
	return out
}

func setnxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	p := probe(args[1])
	if _, found := s.get(m, p); found {
		return append(out, zeroReply...)
	}
	s.setValue(m, p, 0, b2s(args[2]))
	return append(out, oneReply...)
}

func setexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return setexGeneric(s, m, args, out, optEX, "setex")
}

func psetexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return setexGeneric(s, m, args, out, optPX, "psetex")
}

func setexGeneric(s *Store, m mode, args [][]byte, out []byte, unit int, name string) []byte {
	d, out, ok := deadlineReply(out, args[2], unit, m.now, name)
	if !ok {
		return out
	}
	s.setValue(m, probe(args[1]), d, b2s(args[3]))
	return append(out, okReply...)
}

func getsetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	p := probe(args[1])
	old, found, wrong := s.getString(m, p)
	if wrong {
		return appendErr(out, errWrongType)
	}
	if found {
		out = appendBulk(out, old.val())
	} else {
		out = append(out, nullReply...)
	}
	s.setValue(m, p, 0, b2s(args[2]))
	return out
}

func getdelCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, ok, wrong := s.getString(m, probe(args[1]))
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !ok {
		return append(out, nullReply...)
	}
	out = appendBulk(out, it.val())
	s.remove(it)
	return out
}

func getexCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	flags, exp, ok := parseSetOpts(args[2:], false)
	if !ok {
		return appendErr(out, errSyntax)
	}
	// Redis 7.0's getexCommand looks the key up before it reads the time,
	// so a missing key answers nil even when the time is invalid.
	it, found, wrong := s.getString(m, probe(args[1]))
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found {
		return append(out, nullReply...)
	}
	var deadline int64
	if exp != nil {
		var ok bool
		if deadline, out, ok = deadlineReply(out, exp, flags, m.now, "getex"); !ok {
			return out
		}
	}
	out = appendBulk(out, it.val())
	switch {
	case exp != nil && deadline <= m.now:
		s.remove(it)
	case exp != nil:
		it.deadline = deadline
		s.put(it)
	case flags&optPERSIST != 0 && it.deadline != 0:
		it.deadline = 0
		s.put(it)
	}
	return out
}

func mgetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	out = redcon.AppendArray(out, len(args)-1)
	for _, k := range args[1:] {
		if it, ok, wrong := s.getString(m, probe(k)); ok && !wrong {
			out = appendBulk(out, it.val())
		} else {
			out = append(out, nullReply...)
		}
	}
	return out
}

func msetCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args)%2 == 0 {
		return appendArity(out, "mset")
	}
	for i := 1; i < len(args); i += 2 {
		s.setValue(m, probe(args[i]), 0, b2s(args[i+1]))
	}
	return append(out, okReply...)
}

func msetnxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args)%2 == 0 {
		return appendArity(out, "msetnx")
	}
	for i := 1; i < len(args); i += 2 {
		if _, found := s.get(m, probe(args[i])); found {
			return append(out, zeroReply...)
		}
	}
	for i := 1; i < len(args); i += 2 {
		s.setValue(m, probe(args[i]), 0, b2s(args[i+1]))
	}
	return append(out, oneReply...)
}

func incrCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return incrBy(s, m, args[1], 1, out)
}

func decrCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return incrBy(s, m, args[1], -1, out)
}

func incrbyCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	n, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	return incrBy(s, m, args[1], n, out)
}

func decrbyCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	n, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if n == math.MinInt64 {
		return appendErr(out, errDecrOverfl)
	}
	return incrBy(s, m, args[1], -n, out)
}

// incrBy adds delta to the integer at key, keeping its TTL as Redis does.
func incrBy(s *Store, m mode, key []byte, delta int64, out []byte) []byte {
	p := probe(key)
	old, found, wrong := s.getString(m, p)
	if wrong {
		return appendErr(out, errWrongType)
	}
	var v int64
	if found {
		var ok bool
		if v, ok = parseInt(old.val()); !ok {
			return appendErr(out, errNotInt)
		}
	}
	if delta < 0 && v < math.MinInt64-delta || delta > 0 && v > math.MaxInt64-delta {
		return appendErr(out, errOverflow)
	}
	v += delta
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], v, 10)
	s.put(newItem(p.ord, p.key(), old.deadline, b2s(digits)))
	return appendInt(out, v)
}

func incrbyfloatCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	p := probe(args[1])
	old, found, wrong := s.getString(m, p)
	if wrong {
		return appendErr(out, errWrongType)
	}
	var v, incr big.Float
	var vInf bool
	v.SetPrec(ldPrec)
	if found {
		var ok bool
		if vInf, ok = parseLongDouble(old.val(), &v); !ok {
			return appendErr(out, errNotFloat)
		}
	}
	incrInf, ok := parseLongDouble(b2s(args[2]), &incr)
	if !ok {
		return appendErr(out, errNotFloat)
	}
	if vInf || incrInf {
		return appendErr(out, errNaN)
	}
	v.Add(&v, &incr)
	if v.Sign() != 0 && v.MantExp(nil) > ldMaxExp {
		return appendErr(out, errNaN)
	}
	str := formatLongDouble(&v)
	s.put(newItem(p.ord, p.key(), old.deadline, str))
	return appendBulk(out, str)
}

func appendCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	p := probe(args[1])
	add := args[2]
	old, found, wrong := s.getString(m, p)
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found {
		s.put(newItem(p.ord, p.key(), 0, b2s(add)))
		return appendInt(out, int64(len(add)))
	}
	total := int(old.vlen) + len(add)
	if total > maxBulk {
		return appendErr(out, errTooBig)
	}
	// Appending nothing still counts as a change (Redis signals the key,
	// which aborts a WATCH on it), so the item is stored again either way;
	// and Redis leaves the string raw even then.
	if old.appendInPlace(add) {
		s.put(old)
	} else {
		it, v := rawItem(p, old.deadline, total, old.val())
		copy(v[old.vlen:], add)
		s.put(it)
	}
	return appendInt(out, int64(total))
}

func strlenCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, _, wrong := s.getString(m, probe(args[1]))
	if wrong {
		return appendErr(out, errWrongType)
	}
	return appendInt(out, int64(it.vlen))
}

// getrangeCmd follows Redis 7.0's getrangeCommand index arithmetic.
func getrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	start, ok1 := parseInt(b2s(args[2]))
	end, ok2 := parseInt(b2s(args[3]))
	if !ok1 || !ok2 {
		return appendErr(out, errNotInt)
	}
	it, found, wrong := s.getString(m, probe(args[1]))
	if wrong {
		return appendErr(out, errWrongType)
	}
	if !found {
		return append(out, emptyBulk...)
	}
	if start < 0 && end < 0 && start > end {
		return append(out, emptyBulk...)
	}
	n := int64(it.vlen)
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return append(out, emptyBulk...)
	}
	return appendBulk(out, it.val()[start:end+1])
}

func setrangeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	off, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if off < 0 {
		return appendErr(out, errOffset)
	}
	val := args[3]
	p := probe(args[1])
	old, _, wrong := s.getString(m, p)
	if wrong {
		return appendErr(out, errWrongType)
	}
	if len(val) == 0 {
		return appendInt(out, int64(old.vlen))
	}
	// Compared without adding: off+len could overflow and pass the check.
	if off > maxBulk-int64(len(val)) {
		return appendErr(out, errTooBig)
	}
	// A fresh buffer even when the length does not change: the old bytes
	// may be shared with a snapshot being written.
	n := max(int(old.vlen), int(off)+len(val))
	it, v := rawItem(p, old.deadline, n, old.val())
	copy(v[off:], val)
	s.put(it)
	return appendInt(out, int64(n))
}
