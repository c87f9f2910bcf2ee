package store

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"github.com/tidwall/redcon"
)

// The bitmap commands treat a string value as an array of bits, the most
// significant bit of the first byte being bit 0, as Redis 7.0's bitops.c.

var bitmapCommands = []*Command{
	def("bitcount", bitcountCmd),
	def("bitfield", bitfieldCmd),
	def("bitfield_ro", bitfieldROCmd),
	def("bitop", bitopCmd),
	def("bitpos", bitposCmd),
	def("getbit", getbitCmd),
	def("lcs", lcsCmd),
	def("setbit", setbitCmd),
}

const (
	errBitOffset    = "ERR bit offset is not an integer or out of range"
	errBitValue     = "ERR bit is not an integer or out of range"
	errBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)

// parseBitOffset parses a bit offset as getBitOffsetFromArgument: when
// width > 0, "#n" means n*width (the multiplication wraps as Redis's
// does). The offset's byte must lie within proto-max-bulk-len.
func parseBitOffset(arg []byte, width int) (uint64, bool) {
	s := b2s(arg)
	hash := width > 0 && len(s) > 0 && s[0] == '#'
	if hash {
		s = s[1:]
	}
	n, ok := parseInt(s)
	if !ok {
		return 0, false
	}
	if hash {
		n *= int64(width)
	}
	if n < 0 || n>>3 >= maxBulk {
		return 0, false
	}
	return uint64(n), true
}

// editBits gives edit the value of the string at p, copied into a fresh
// buffer zero-padded to at least size bytes, as lookupStringForBitCommand:
// a missing key is created. edit reports whether it changed a bit. The key
// is stored as changed when it was created, grew or edit changed it;
// otherwise only its encoding becomes raw, as Redis unshares the value
// without signalling a change. wrong reports a key of another type.
func (s *Store) editBits(m mode, p item, size int, edit func(v []byte) bool) (wrong bool) {
	old, found, wrong := s.getString(m, p)
	if wrong {
		return true
	}
	n := max(int(old.vlen), size)
	it, v := rawItem(p, old.deadline, n, old.val())
	if edit(v) || !found || n != int(old.vlen) {
		s.put(it)
		return false
	}
	s.unshare(old)
	return false
}

// unshare makes the string item old raw, as Redis's dbUnshareStringValue
// does before a command writes a string in place, whether or not it then
// writes: only the encoding changes, so the key does not count as changed.
func (s *Store) unshare(old item) {
	if old.klen&spareFlag != 0 {
		return
	}
	it, _ := rawItem(old, old.deadline, int(old.vlen), old.val())
	it.ver = old.ver
	s.keys.Set(it)
	s.bytes += int64(it.bufCap() - old.bufCap())
}

// rawItem makes an item for the key of p holding n bytes, val followed by
// zeros, which the caller may change through v until the item is stored.
// Its encoding is raw, as Redis's strings written in place (SETBIT,
// SETRANGE) or built unencoded (BITOP) are, whatever their content: the
// buffer gets spare room as APPEND's does, and the flag even when the
// capacity fits exactly.
func rawItem(p item, deadline int64, n int, val string) (it item, v []byte) {
	total := p.keyLen() + n
	it = buildItem(p.ord, p.key(), deadline, total, spareCap(total), val)
	it.klen |= spareFlag
	return it, unsafe.Slice((*byte)(unsafe.Add(it.ptr, it.keyLen())), n)
}

func setbitCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	off, ok := parseBitOffset(args[2], 0)
	if !ok {
		return appendErr(out, errBitOffset)
	}
	on, ok := parseInt(b2s(args[3]))
	if !ok || on&^1 != 0 {
		return appendErr(out, errBitValue)
	}
	var was byte
	wrong := s.editBits(m, probe(args[1]), int(off>>3)+1, func(v []byte) bool {
		mask := byte(0x80) >> (off & 7)
		was = v[off>>3] & mask
		if on == 1 {
			v[off>>3] |= mask
		} else {
			v[off>>3] &^= mask
		}
		return (was != 0) != (on == 1)
	})
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case was != 0:
		return append(out, oneReply...)
	}
	return append(out, zeroReply...)
}

func getbitCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	off, ok := parseBitOffset(args[2], 0)
	if !ok {
		return appendErr(out, errBitOffset)
	}
	it, _, wrong := s.getString(m, probe(args[1]))
	if wrong {
		return appendErr(out, errWrongType)
	}
	v := it.val()
	if off>>3 < uint64(len(v)) && v[off>>3]&(0x80>>(off&7)) != 0 {
		return append(out, oneReply...)
	}
	return append(out, zeroReply...)
}

// bitRange resolves BITCOUNT's and BITPOS's start and end (in bytes, or in
// bits when isBit) against a value of n bytes, as Redis does: negative
// indexes count from the end, then both are clamped into the value. It
// returns the byte range and, in bit mode, the masks of the bits of its
// first and last byte that lie outside the range.
func bitRange(start, end int64, n int, isBit bool) (first, last int64, headOut, tailOut byte) {
	total := int64(n)
	if isBit {
		total <<= 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	if isBit && start <= end {
		headOut = ^byte(0xff >> (start & 7))
		tailOut = byte(1<<(7-(end&7))) - 1
		start >>= 3
		end >>= 3
	}
	return start, end, headOut, tailOut
}

// popcount counts the set bits of v.
func popcount(v string) int64 {
	var n int
	for len(v) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(v), 8)))
		v = v[8:]
	}
	for i := 0; i < len(v); i++ {
		n += bits.OnesCount8(v[i])
	}
	return int64(n)
}

func bitcountCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	it, found, wrong := s.getString(m, probe(args[1]))
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return append(out, zeroReply...)
	}
	v := it.val()
	switch len(args) {
	case 2:
		return appendInt(out, popcount(v))
	case 4, 5:
	default:
		return appendErr(out, errSyntax)
	}
	start, ok1 := parseInt(b2s(args[2]))
	end, ok2 := parseInt(b2s(args[3]))
	if !ok1 || !ok2 {
		return appendErr(out, errNotInt)
	}
	if start < 0 && end < 0 && start > end {
		return append(out, zeroReply...)
	}
	isBit := false
	if len(args) == 5 {
		switch {
		case eqFold(args[4], "bit"):
			isBit = true
		case !eqFold(args[4], "byte"):
			return appendErr(out, errSyntax)
		}
	}
	first, last, headOut, tailOut := bitRange(start, end, len(v), isBit)
	if first > last {
		return append(out, zeroReply...)
	}
	n := popcount(v[first:last+1]) - int64(bits.OnesCount8(v[first]&headOut)) - int64(bits.OnesCount8(v[last]&tailOut))
	return appendInt(out, n)
}

// firstBit is Redis's redisBitpos on v with the bits of headOut in its
// first byte and of tailOut in its last treated as not sought: the
// position of the first bit equal to bit, or, when there is none, -1 for
// a 1 and len(v)*8 for a 0 (as if the value went on with zeros).
func firstBit(v string, bit int, headOut, tailOut byte) int64 {
	skip := byte(0)
	if bit == 0 {
		skip = 0xff
	}
	for i := 0; i < len(v); {
		c := v[i]
		if i == 0 {
			c = maskOut(c, headOut, bit)
		}
		if i == len(v)-1 {
			c = maskOut(c, tailOut, bit)
		}
		if c != skip {
			return int64(i)*8 + int64(bits.LeadingZeros8(c^skip))
		}
		i++
		if i < len(v)-1 {
			i += sameBytes(v[i:len(v)-1], skip)
		}
	}
	if bit == 1 {
		return -1
	}
	return int64(len(v)) * 8
}

// sameBytes is the length of the run of bytes equal to b that v starts
// with, compared a word at a time.
func sameBytes(v string, b byte) int {
	w := uint64(b) * 0x0101010101010101
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(v[i:]), 8)) != w {
			break
		}
	}
	for ; i < len(v) && v[i] == b; i++ {
	}
	return i
}

// maskOut sets the bits of out in c to the value BITPOS does not seek.
func maskOut(c, out byte, bit int) byte {
	if bit == 1 {
		return c &^ out
	}
	return c | out
}

func bitposCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	bit, ok := parseInt(b2s(args[2]))
	if !ok {
		return appendErr(out, errNotInt)
	}
	if bit != 0 && bit != 1 {
		return appendErr(out, "ERR The bit argument must be 1 or 0.")
	}
	it, found, wrong := s.getString(m, probe(args[1]))
	switch {
	case wrong:
		return appendErr(out, errWrongType)
	case !found:
		return appendInt(out, -bit)
	case len(args) > 6:
		return appendErr(out, errSyntax)
	}
	v := it.val()
	first, last := int64(0), int64(len(v))-1
	var headOut, tailOut byte
	endGiven := len(args) >= 5
	if len(args) >= 4 {
		start, ok := parseInt(b2s(args[3]))
		if !ok {
			return appendErr(out, errNotInt)
		}
		isBit := false
		if len(args) == 6 {
			switch {
			case eqFold(args[5], "bit"):
				isBit = true
			case !eqFold(args[5], "byte"):
				return appendErr(out, errSyntax)
			}
		}
		end := int64(len(v)) - 1
		if isBit {
			end = int64(len(v))<<3 + 7
		}
		if endGiven {
			if end, ok = parseInt(b2s(args[4])); !ok {
				return appendErr(out, errNotInt)
			}
		}
		first, last, headOut, tailOut = bitRange(start, end, len(v), isBit)
	}
	if first > last {
		return appendInt(out, -1)
	}
	pos := firstBit(v[first:last+1], int(bit), headOut, tailOut)
	if endGiven && bit == 0 && pos == (last-first+1)*8 {
		return appendInt(out, -1)
	}
	if pos != -1 {
		pos += first << 3
	}
	return appendInt(out, pos)
}

func bitopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	op := args[1]
	if !eqFold(op, "and") && !eqFold(op, "or") && !eqFold(op, "xor") && !eqFold(op, "not") {
		return appendErr(out, errSyntax)
	}
	not := eqFold(op, "not")
	if not && len(args) != 4 {
		return appendErr(out, "ERR BITOP NOT must be called with a single source key.")
	}
	srcs := make([]string, 0, len(args)-3)
	maxLen := 0
	for _, k := range args[3:] {
		it, _, wrong := s.getString(m, probe(k))
		if wrong {
			return appendErr(out, errWrongType)
		}
		srcs = append(srcs, it.val())
		maxLen = max(maxLen, len(it.val()))
	}
	p := probe(args[2])
	if maxLen == 0 {
		if it, found := s.get(m, p); found {
			s.remove(it)
		}
		return append(out, zeroReply...)
	}
	// Redis stores BITOP's result unencoded: raw, whatever its content.
	it, res := rawItem(p, 0, maxLen, srcs[0])
	switch {
	case not:
		for i := range res {
			res[i] = ^res[i]
		}
	case eqFold(op, "and"):
		for _, src := range srcs[1:] {
			for i := range res {
				if i < len(src) {
					res[i] &= src[i]
				} else {
					res[i] = 0
				}
			}
		}
	default:
		xor := eqFold(op, "xor")
		for _, src := range srcs[1:] {
			for i := 0; i < len(src); i++ {
				if xor {
					res[i] ^= src[i]
				} else {
					res[i] |= src[i]
				}
			}
		}
	}
	s.put(it)
	return appendInt(out, int64(maxLen))
}

// Overflow behaviours of BITFIELD's SET and INCRBY.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD command.
type bitfieldOp struct {
	op       byte // 'g', 's' or 'i'
	overflow int
	signed   bool
	width    int
	offset   uint64
	arg      int64 // SET's value, INCRBY's increment
}

// parseBitfieldType parses i1..i64 or u1..u63.
func parseBitfieldType(arg []byte) (signed bool, width int, ok bool) {
	a := cString(arg)
	if len(a) == 0 || a[0] != 'i' && a[0] != 'u' {
		return false, 0, false
	}
	signed = a[0] == 'i'
	n, ok := parseInt(b2s(a[1:]))
	if !ok || n < 1 || signed && n > 64 || !signed && n > 63 {
		return false, 0, false
	}
	return signed, int(n), true
}

// parseBitfield parses BITFIELD's operations as bitfieldGeneric does. On
// an error it returns the reply's text.
func parseBitfield(args [][]byte) (ops []bitfieldOp, errMsg string) {
	overflow := overflowWrap
	for j := 2; j < len(args); j++ {
		rest := len(args) - j - 1
		var op bitfieldOp
		switch a := args[j]; {
		case eqFold(a, "get") && rest >= 2:
			op.op = 'g'
		case eqFold(a, "set") && rest >= 3:
			op.op = 's'
		case eqFold(a, "incrby") && rest >= 3:
			op.op = 'i'
		case eqFold(a, "overflow") && rest >= 1:
			j++
			switch t := args[j]; {
			case eqFold(t, "wrap"):
				overflow = overflowWrap
			case eqFold(t, "sat"):
				overflow = overflowSat
			case eqFold(t, "fail"):
				overflow = overflowFail
			default:
				return nil, "ERR Invalid OVERFLOW type specified"
			}
			continue
		default:
			return nil, errSyntax
		}
		var ok bool
		if op.signed, op.width, ok = parseBitfieldType(args[j+1]); !ok {
			return nil, errBitfieldType
		}
		if op.offset, ok = parseBitOffset(args[j+2], op.width); !ok {
			return nil, errBitOffset
		}
		if op.op != 'g' {
			if op.arg, ok = parseInt(b2s(args[j+3])); !ok {
				return nil, errNotInt
			}
			j++
		}
		op.overflow = overflow
		ops = append(ops, op)
		j += 2
	}
	return ops, ""
}

func bitfieldCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return bitfield(s, m, args, out, false)
}

func bitfieldROCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return bitfield(s, m, args, out, true)
}

func bitfield(s *Store, m mode, args [][]byte, out []byte, readOnly bool) []byte {
	ops, msg := parseBitfield(args)
	if msg != "" {
		return appendErr(out, msg)
	}
	var top uint64 // the highest bit a SET or INCRBY writes
	writes := false
	for _, op := range ops {
		if op.op != 'g' {
			writes = true
			top = max(top, op.offset+uint64(op.width)-1)
		}
	}
	p := probe(args[1])
	if !writes {
		it, _, wrong := s.getString(m, p)
		if wrong {
			return appendErr(out, errWrongType)
		}
		out = redcon.AppendArray(out, len(ops))
		for _, op := range ops {
			out = appendInt(out, getField(it.val(), op))
		}
		return out
	}
	if readOnly {
		return appendErr(out, "ERR BITFIELD_RO only supports the GET subcommand")
	}
	reply := redcon.AppendArray(nil, len(ops))
	wrong := s.editBits(m, p, int(top>>3)+1, func(v []byte) bool {
		changed := false
		for _, op := range ops {
			if op.op == 'g' {
				reply = appendInt(reply, getField(b2s(v), op))
				continue
			}
			var c bool
			reply, c = applyField(v, op, reply)
			changed = changed || c
		}
		return changed
	})
	if wrong {
		return appendErr(out, errWrongType)
	}
	return append(out, reply...)
}

// getField reads the field of op from v, zeros past its end.
func getField(v string, op bitfieldOp) int64 {
	var buf [9]byte
	b := op.offset >> 3
	if b < uint64(len(v)) {
		copy(buf[:], v[b:])
	}
	u := getBits(buf[:], op.offset&7, op.width)
	if op.signed {
		return signExtend(u, op.width)
	}
	return int64(u)
}

// applyField runs a SET or INCRBY on v, which holds the whole field, and
// appends its reply; it reports whether the field's bits changed.
func applyField(v []byte, op bitfieldOp, reply []byte) ([]byte, bool) {
	old := getBits(v, op.offset, op.width)
	var next, ret uint64
	var overflow bool
	if op.signed {
		oldv := signExtend(old, op.width)
		var n int64
		if op.op == 'i' {
			n, overflow = signedField(oldv, op.arg, op.width, op.overflow)
			ret = uint64(n)
		} else {
			n, overflow = signedField(op.arg, 0, op.width, op.overflow)
			ret = uint64(oldv)
		}
		next = uint64(n)
	} else {
		if op.op == 'i' {
			next, overflow = unsignedField(old, op.arg, op.width, op.overflow)
			ret = next
		} else {
			next, overflow = unsignedField(uint64(op.arg), 0, op.width, op.overflow)
			ret = old
		}
	}
	if overflow && op.overflow == overflowFail {
		return append(reply, nullReply...), false
	}
	setBits(v, op.offset, op.width, next)
	return appendInt(reply, int64(ret)), getBits(v, op.offset, op.width) != old
}

// getBits reads width bits at bit offset off of p, most significant first.
func getBits(p []byte, off uint64, width int) uint64 {
	var u uint64
	for range width {
		u = u<<1 | uint64(p[off>>3]>>(7-off&7)&1)
		off++
	}
	return u
}

// setBits writes the low width bits of u at bit offset off of p.
func setBits(p []byte, off uint64, width int, u uint64) {
	for j := width - 1; j >= 0; j-- {
		mask := byte(0x80) >> (off & 7)
		if u>>j&1 != 0 {
			p[off>>3] |= mask
		} else {
			p[off>>3] &^= mask
		}
		off++
	}
}

func signExtend(u uint64, width int) int64 {
	if width < 64 && u&(1<<(width-1)) != 0 {
		u |= math.MaxUint64 << width
	}
	return int64(u)
}

// unsignedField adds incr to value within a width-bit unsigned field, as
// Redis's checkUnsignedBitfieldOverflow decides and limits it.
func unsignedField(value uint64, incr int64, width, overflow int) (uint64, bool) {
	limit := uint64(1)<<width - 1
	maxIncr, minIncr := int64(limit-value), int64(-value)
	var sat uint64
	switch {
	case value > limit || incr > 0 && incr > maxIncr:
		sat = limit
	case incr < 0 && incr < minIncr:
		sat = 0
	default:
		return value + uint64(incr), false
	}
	if overflow == overflowSat {
		return sat, true
	}
	return (value + uint64(incr)) & limit, true
}

// signedField is unsignedField for a signed field, as Redis's
// checkSignedBitfieldOverflow (whose wrapped arithmetic Go's matches).
func signedField(value, incr int64, width, overflow int) (int64, bool) {
	limit := int64(math.MaxInt64)
	if width < 64 {
		limit = 1<<(width-1) - 1
	}
	low := -limit - 1
	maxIncr := int64(uint64(limit) - uint64(value))
	minIncr := low - value
	var sat int64
	switch {
	case value > limit || width != 64 && incr > maxIncr || value >= 0 && incr > 0 && incr > maxIncr:
		sat = limit
	case value < low || width != 64 && incr < minIncr || value < 0 && incr < 0 && incr < minIncr:
		sat = low
	default:
		return value + incr, false
	}
	if overflow == overflowSat {
		return sat, true
	}
	return signExtend(uint64(value+incr)&(math.MaxUint64>>(64-width)), width), true
}
