package store

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/tidwall/redcon"
)

var hllCommands = []*Command{
	def("pfadd", pfaddCmd),
	def("pfcount", pfcountCmd),
	def("pfdebug", pfdebugCmd),
	def("pfmerge", pfmergeCmd),
	def("pfselftest", pfselftestCmd),
}

// getHLL finds the live HLL at p; msg is the error to answer when the key
// holds anything else.
func (s *Store) getHLL(m mode, p item) (it item, found bool, msg string) {
	it, found = s.get(m, p)
	switch {
	case !found:
		return it, false, ""
	case it.isObj():
		return it, true, errWrongType
	case !isHLL(it.val()):
		return it, true, errNotHLL
	}
	return it, true, ""
}

// putHLL stores the HLL b at p with the deadline the key had. Redis's
// HLLs are raw strings, which OBJECT ENCODING reports even when short
// enough to be embstr; an item says raw by a buffer with spare room.
func (s *Store) putHLL(p item, deadline int64, b []byte) {
	n := len(p.key()) + len(b)
	if len(b) > 44 {
		s.put(buildItem(p.ord, p.key(), deadline, n, n, b2s(b)))
		return
	}
	// The flag even when spareCap(n) is n, as rawItem sets it.
	it, v := rawItem(p, deadline, len(b), "")
	copy(v, b)
	s.put(it)
}

func pfaddCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	p := probe(args[1])
	it, found, msg := s.getHLL(m, p)
	if msg != "" {
		return appendErr(out, msg)
	}
	b, updated := newHLL(), 1
	if found {
		b, updated = []byte(it.val()), 0
	}
	for _, ele := range args[2:] {
		var r int
		if b, r = hllAdd(b, ele, s.enc.hllSparse()); r < 0 {
			// Redis has changed the registers of the elements before
			// in place, and keeps them.
			if updated > 0 {
				s.putHLL(p, it.deadline, b)
			} else if found {
				s.unshare(it)
			}
			return appendErr(out, errCorruptHLL)
		}
		updated += r
	}
	if updated == 0 {
		// Redis unshares an existing HLL before adding to it.
		if found {
			s.unshare(it)
		}
		return append(out, zeroReply...)
	}
	hllInvalidate(b)
	s.putHLL(p, it.deadline, b)
	return append(out, oneReply...)
}

// pfcountCmd estimates the union of several HLLs, or one HLL's
// cardinality, which Redis caches in the value though PFCOUNT is flagged
// read-only. rkv keeps Redis's bytes: the command table runs PFCOUNT
// through the log (command/where.go), so every replica writes the same
// cache at the same point of the log. A read run (a read-only script)
// answers from the cache when valid and otherwise computes without
// storing.
func pfcountCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if len(args) > 2 {
		var regs [hllRegisters]uint8
		for _, key := range args[1:] {
			it, found, msg := s.getHLL(m, probe(key))
			switch {
			case msg != "":
				return appendErr(out, msg)
			case found && !hllMergeInto(&regs, s2b(it.val())):
				return appendErr(out, errCorruptHLL)
			}
		}
		h := rawHisto(&regs)
		return appendInt(out, int64(hllEstimate(&h)))
	}
	p := probe(args[1])
	it, found, msg := s.getHLL(m, p)
	switch {
	case msg != "":
		return appendErr(out, msg)
	case !found:
		return append(out, zeroReply...)
	}
	v := it.val()
	if v[15]&0x80 == 0 {
		// Redis unshares the value before it looks at the cache.
		if m.write {
			s.unshare(it)
		}
		return appendInt(out, int64(binary.LittleEndian.Uint64(s2b(v[8:16]))))
	}
	h, invalid := hllHisto(s2b(v))
	if invalid {
		return appendErr(out, errCorruptHLL)
	}
	card := hllEstimate(&h)
	if m.write {
		b := []byte(v)
		binary.LittleEndian.PutUint64(b[8:16], card)
		s.putHLL(p, it.deadline, b)
	}
	return appendInt(out, int64(card))
}

func pfmergeCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	var regs [hllRegisters]uint8
	dense := false
	// The destination is a source too, as in Redis.
	for _, key := range args[1:] {
		it, found, msg := s.getHLL(m, probe(key))
		switch {
		case msg != "":
			return appendErr(out, msg)
		case !found:
			continue
		}
		v := s2b(it.val())
		dense = dense || v[4] == hllDense
		if !hllMergeInto(&regs, v) {
			return appendErr(out, errCorruptHLL)
		}
	}
	p := probe(args[1])
	it, found := s.get(m, p)
	b := newHLL()
	if found {
		b = []byte(it.val())
	}
	if dense {
		var ok bool
		if b, ok = hllToDense(b); !ok {
			return appendErr(out, errCorruptHLL)
		}
	}
	for i, v := range regs {
		if v != 0 {
			b, _ = hllSet(b, i, v, s.enc.hllSparse())
		}
	}
	hllInvalidate(b)
	s.putHLL(p, it.deadline, b)
	return append(out, okReply...)
}

func pfdebugCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	sub := args[1]
	p := probe(args[2])
	it, found, msg := s.getHLL(m, p)
	switch {
	case !found:
		return appendErr(out, "ERR The specified key does not exist")
	case msg != "":
		return appendErr(out, msg)
	}
	// Redis unshares the value before it looks at the subcommand.
	if m.write {
		s.unshare(it)
	}
	v := s2b(it.val())
	switch {
	case eqFold(sub, "getreg"), eqFold(sub, "todense"):
		converted := v[4] == hllSparse
		d, ok := hllToDense(v)
		if !ok {
			return appendErr(out, errCorruptHLL)
		}
		if converted {
			s.putHLL(p, it.deadline, d)
		}
		if eqFold(sub, "todense") {
			if converted {
				return append(out, oneReply...)
			}
			return append(out, zeroReply...)
		}
		out = redcon.AppendArray(out, hllRegisters)
		for i := range hllRegisters {
			out = appendInt(out, int64(denseGet(d[hllHdrSize:], i)))
		}
		return out
	case eqFold(sub, "decode"):
		if v[4] != hllSparse {
			return appendErr(out, "ERR HLL encoding is not sparse")
		}
		return redcon.AppendBulk(out, hllDecode(v))
	case eqFold(sub, "encoding"):
		if v[4] == hllDense {
			return append(out, "+dense\r\n"...)
		}
		return append(out, "+sparse\r\n"...)
	}
	return appendErr(out, "ERR Unknown PFDEBUG subcommand '"+string(cString(sub))+"'")
}

// hllDecode lists a sparse HLL's opcodes as PFDEBUG DECODE does:
// "z:<len>", "Z:<len>" and "v:<value>,<len>", separated by spaces.
func hllDecode(b []byte) []byte {
	var d []byte
	for p := hllHdrSize; p < len(b); {
		if len(d) > 0 {
			d = append(d, ' ')
		}
		switch op := b[p]; {
		case spIsZero(op):
			d = strconv.AppendInt(append(d, "z:"...), int64(spZeroLen(op)), 10)
			p++
		case spIsXZero(op):
			d = strconv.AppendInt(append(d, "Z:"...), int64(spXZeroLen(b, p)), 10)
			p += 2
		default:
			d = strconv.AppendInt(append(d, "v:"...), int64(spValValue(op)), 10)
			d = strconv.AppendInt(append(d, ','), int64(spValLen(op)), 10)
			p++
		}
	}
	return d
}

// pfselftestCmd checks, as Redis's PFSELFTEST, that dense registers keep
// what is written to them without touching their neighbours, and that the
// estimates of a dense and a sparse HLL fed the same ten million elements
// agree and stay within six standard errors. It reads no key and writes
// nothing; its random values come from a fixed seed, so it behaves the
// same on every run and every node.
func pfselftestCmd(s *Store, _ mode, _ [][]byte, out []byte) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	regs := make([]byte, hllDenseSize-hllHdrSize)
	var want [hllRegisters]uint8
	for range 1000 {
		for i := range want {
			want[i] = uint8(rng.IntN(hllRegisterMax + 1))
			denseSet(regs, i, want[i])
		}
		for i, w := range want {
			if got := denseGet(regs, i); got != w {
				return appendErr(out, "ERR TESTFAILED Register "+strconv.Itoa(i)+" should be "+
					strconv.Itoa(int(w))+" but is "+strconv.Itoa(int(got)))
			}
		}
	}
	dense := make([]byte, hllDenseSize)
	copy(dense, "HYLL")
	sparse := newHLL()
	relerr := 1.04 / math.Sqrt(hllRegisters)
	seed := rng.Uint64()
	var ele [8]byte
	checkpoint := 1
	for j := 1; j <= 10000000; j++ {
		binary.LittleEndian.PutUint64(ele[:], uint64(j)^seed)
		index, count := hllPatLen(ele[:])
		denseRaise(dense[hllHdrSize:], index, count)
		sparse, _ = hllSet(sparse, index, count, s.enc.hllSparse())
		if j != checkpoint {
			continue
		}
		if j < s.enc.hllSparse()/2 && sparse[4] != hllSparse {
			return appendErr(out, "ERR TESTFAILED sparse encoding not used")
		}
		hd, _ := hllHisto(dense)
		hs, _ := hllHisto(sparse)
		card := hllEstimate(&hd)
		if card != hllEstimate(&hs) {
			return appendErr(out, "ERR TESTFAILED dense/sparse disagree")
		}
		maxerr := uint64(math.Ceil(relerr * 6 * float64(checkpoint)))
		if j == 10 {
			// Collisions make a larger error likely enough at 10.
			maxerr = 1
		}
		abserr := int64(checkpoint) - int64(card)
		if abserr < 0 {
			abserr = -abserr
		}
		if abserr > int64(maxerr) {
			return appendErr(out, "ERR TESTFAILED Too big error. card:"+strconv.Itoa(checkpoint)+
				" abserr:"+strconv.FormatInt(abserr, 10))
		}
		checkpoint *= 10
	}
	return append(out, okReply...)
}
