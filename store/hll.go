package store

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// A HyperLogLog is a string value in Redis's own layout, byte for byte, so
// that GET and SET (and DUMP files' strings) move it between Redis and rkv
// and every estimate equals Redis's:
//
//	"HYLL" | encoding (0 dense, 1 sparse) | 3 zero bytes | cached cardinality
//	(8 bytes little endian, the top bit set when invalid) | registers
//
// Dense registers are 16384 6-bit counters packed from the least
// significant bit of each byte. Sparse registers are run-length opcodes:
// ZERO 00xxxxxx (1-64 zero registers), XZERO 01xxxxxx yyyyyyyy (1-16384
// zero registers) and VAL 1vvvvvxx (1-4 registers of value 1-32).
//
// One departure, for corrupt values only: when an XZERO opcode is cut off
// at the end of the string, Redis reads the byte after the string (its
// sds terminator) as the opcode's second byte, and an edit of that opcode
// can leave that byte non-zero in memory, outside the value, where no
// replica or RDB file sees it. rkv always reads zero there, so that the
// value alone decides every result.
const (
	hllP             = 14
	hllQ             = 64 - hllP
	hllRegisters     = 1 << hllP
	hllRegisterMax   = 63
	hllHdrSize       = 16
	hllDenseSize     = hllHdrSize + (hllRegisters*6+7)/8
	hllDense         = 0
	hllSparse        = 1
	hllSparseValMax  = 32
	hllSparseValLen  = 4
	hllSparseZeroMax = 64
	hllSparseXZMax   = 16384
	// hllDefaultSparseMax is Redis's default hll-sparse-max-bytes.
	hllDefaultSparseMax = 3000
)

// Redis's errors for a string that is not an HLL and for a corrupt one.
const (
	errNotHLL     = "WRONGTYPE Key is not a valid HyperLogLog string value."
	errCorruptHLL = "INVALIDOBJ Corrupted HLL object detected"
)

// isHLL reports whether v passes Redis's isHLLObjectOrReply: a header with
// the magic and a known encoding, and the exact size when dense. Sparse
// opcodes are checked only as they are read.
func isHLL(v string) bool {
	return len(v) >= hllHdrSize && v[:4] == "HYLL" && v[4] <= hllSparse &&
		(v[4] != hllDense || len(v) == hllDenseSize)
}

// newHLL is an empty HLL as Redis creates one: sparse, one XZERO opcode per
// 16384 registers, a valid cached cardinality of zero.
func newHLL() []byte {
	b := make([]byte, hllHdrSize, hllHdrSize+2)
	copy(b, "HYLL")
	b[4] = hllSparse
	return append(b, 0x40|byte((hllSparseXZMax-1)>>8), byte((hllSparseXZMax-1)&0xff))
}

// hllMurmur is MurmurHash64A as Redis uses it: words read little endian
// whatever the machine, seed 0xadc83b19.
func hllMurmur(key []byte) uint64 {
	const m = 0xc6a4a7935bd1e995
	const r = 47
	h := uint64(0xadc83b19) ^ uint64(len(key))*m
	n := len(key) &^ 7
	for i := 0; i < n; i += 8 {
		k := binary.LittleEndian.Uint64(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	if tail := key[n:]; len(tail) > 0 {
		for i := len(tail) - 1; i >= 0; i-- {
			h ^= uint64(tail[i]) << (8 * i)
		}
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// hllPatLen is the register an element hashes to and the length of the
// 000..1 run that follows the index bits (1 to Q+1).
func hllPatLen(ele []byte) (index int, count uint8) {
	h := hllMurmur(ele)
	index = int(h & (hllRegisters - 1))
	h >>= hllP
	h |= 1 << hllQ
	return index, uint8(bits.TrailingZeros64(h) + 1)
}

// denseGet reads register i of packed 6-bit registers; the byte after the
// last register reads as zero, as the NUL that ends Redis's sds does.
func denseGet(regs []byte, i int) uint8 {
	byteAt, fb := i*6/8, uint(i*6&7)
	b0 := uint(regs[byteAt])
	var b1 uint
	if byteAt+1 < len(regs) {
		b1 = uint(regs[byteAt+1])
	}
	return uint8((b0>>fb | b1<<(8-fb)) & hllRegisterMax)
}

// denseSet writes register i of packed 6-bit registers to v (at most 63).
func denseSet(regs []byte, i int, v uint8) {
	byteAt, fb := i*6/8, uint(i*6&7)
	regs[byteAt] &^= byte(hllRegisterMax << fb)
	regs[byteAt] |= byte(uint(v) << fb)
	if byteAt+1 < len(regs) {
		regs[byteAt+1] &^= byte(hllRegisterMax >> (8 - fb))
		regs[byteAt+1] |= byte(uint(v) >> (8 - fb))
	}
}

// denseRaise sets register i to count when that is larger, reporting
// whether it did.
func denseRaise(regs []byte, i int, count uint8) bool {
	if count <= denseGet(regs, i) {
		return false
	}
	denseSet(regs, i, count)
	return true
}

// Sparse opcodes.
func spIsZero(b byte) bool  { return b&0xc0 == 0 }
func spIsXZero(b byte) bool { return b&0xc0 == 0x40 }
func spIsVal(b byte) bool   { return b&0x80 != 0 }
func spZeroLen(b byte) int  { return int(b&0x3f) + 1 }
func spValValue(b byte) int { return int(b>>2&0x1f) + 1 }
func spValLen(b byte) int   { return int(b&3) + 1 }
func spVal(v, n int) byte   { return byte((v-1)<<2|(n-1)) | 0x80 }
func spZero(n int) byte     { return byte(n - 1) }

// spXZeroLen reads the XZERO opcode at p; a second byte past the end
// reads as zero, as the NUL ending Redis's sds does, so that a truncated
// opcode is handled as Redis handles it.
func spXZeroLen(b []byte, p int) int {
	lo := 0
	if p+1 < len(b) {
		lo = int(b[p+1])
	}
	return (int(b[p]&0x3f)<<8 | lo) + 1
}

func appendXZero(b []byte, n int) []byte {
	return append(b, byte((n-1)>>8)|0x40, byte((n-1)&0xff))
}

// hllInvalidate sets the invalid bit of the cached cardinality.
func hllInvalidate(b []byte) { b[15] |= 0x80 }

// hllToDense converts a sparse HLL to dense, keeping the header (cached
// cardinality included); a dense one comes back as it is. ok is false for
// sparse opcodes that do not cover exactly the 16384 registers.
func hllToDense(b []byte) ([]byte, bool) {
	if b[4] == hllDense {
		return b, true
	}
	d := make([]byte, hllDenseSize)
	copy(d, b[:hllHdrSize])
	d[4] = hllDense
	regs := d[hllHdrSize:]
	idx := 0
	for p := hllHdrSize; p < len(b); {
		switch op := b[p]; {
		case spIsZero(op):
			idx += spZeroLen(op)
			p++
		case spIsXZero(op):
			idx += spXZeroLen(b, p)
			p += 2
		default:
			n, v := spValLen(op), spValValue(op)
			if n+idx > hllRegisters {
				return b, false
			}
			for ; n > 0; n-- {
				denseSet(regs, idx, uint8(v))
				idx++
			}
			p++
		}
	}
	if idx != hllRegisters {
		return b, false
	}
	return d, true
}

// hllSet raises register index to count in the HLL b, as Redis's
// hllDenseSet and hllSparseSet do, promoting a sparse HLL to dense when
// count does not fit a VAL opcode or the value would outgrow maxSparse
// bytes. It returns the value (b or a new slice), 1 when a register
// changed, 0 when none did, -1 when b is a corrupt sparse HLL.
func hllSet(b []byte, index int, count uint8, maxSparse int) ([]byte, int) {
	if b[4] == hllDense {
		if denseRaise(b[hllHdrSize:], index, count) {
			return b, 1
		}
		return b, 0
	}
	if count > hllSparseValMax {
		return hllPromote(b, index, count)
	}
	// Step 1: find the opcode covering index, and the one before it.
	first, span, p, prev := 0, 0, hllHdrSize, -1
	for p < len(b) {
		oplen := 1
		switch op := b[p]; {
		case spIsZero(op):
			span = spZeroLen(op)
		case spIsVal(op):
			span = spValLen(op)
		default:
			span = spXZeroLen(b, p)
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= len(b) {
		return b, -1
	}
	op := b[p]
	isZero, isXZero := spIsZero(op), spIsXZero(op)
	var runlen int
	switch {
	case isZero:
		runlen = spZeroLen(op)
	case isXZero:
		runlen = spXZeroLen(b, p)
	default:
		runlen = spValLen(op)
	}
	// Step 2: the trivial updates in place, else the opcode split in
	// up to three (XZERO-VAL-XZERO at most, five bytes).
	switch {
	case !isZero && !isXZero && spValValue(op) >= int(count):
		return b, 0
	case !isXZero && runlen == 1:
		b[p] = spVal(int(count), 1)
	default:
		var seq [5]byte
		n := sparseSplit(seq[:0], op, isZero || isXZero, index, first, first+span-1, int(count))
		oldlen := 1
		if isXZero {
			oldlen = 2
		}
		delta := len(n) - oldlen
		if delta > 0 && len(b)+delta > maxSparse {
			return hllPromote(b, index, count)
		}
		// Step 3: put the new sequence in place of the old opcode. The
		// length is the old one plus delta even when a truncated XZERO
		// at the end had only one byte, which cuts the sequence short
		// exactly as Redis's in-place edit does.
		nb := make([]byte, 0, len(b)+len(n))
		nb = append(append(nb, b[:p]...), n...)
		if p+oldlen < len(b) {
			nb = append(nb, b[p+oldlen:]...)
		}
		b = nb[:len(b)+delta]
	}
	b = sparseMergeVals(b, prev)
	hllInvalidate(b)
	return b, 1
}

// sparseSplit appends to seq the opcodes that replace op (covering
// registers first..last) once register index holds count.
func sparseSplit(seq []byte, op byte, zero bool, index, first, last, count int) []byte {
	run := func(n int) []byte {
		if !zero {
			return append(seq, spVal(spValValue(op), n))
		}
		if n > hllSparseZeroMax {
			return appendXZero(seq, n)
		}
		return append(seq, spZero(n))
	}
	if index != first {
		seq = run(index - first)
	}
	seq = append(seq, spVal(count, 1))
	if index != last {
		seq = run(last - index)
	}
	return seq
}

// sparseMergeVals joins adjacent VAL opcodes of equal value whose lengths
// fit one opcode, looking at up to five opcodes from prev (or the first):
// Redis's step 4, which decides the bytes the HLL ends with.
func sparseMergeVals(b []byte, prev int) []byte {
	p := hllHdrSize
	if prev >= 0 {
		p = prev
	}
	for scan := 5; p < len(b) && scan > 0; {
		scan--
		switch {
		case spIsXZero(b[p]):
			p += 2
			continue
		case spIsZero(b[p]):
			p++
			continue
		}
		if p+1 < len(b) && spIsVal(b[p+1]) {
			v1, v2 := spValValue(b[p]), spValValue(b[p+1])
			if n := spValLen(b[p]) + spValLen(b[p+1]); v1 == v2 && n <= hllSparseValLen {
				b[p+1] = spVal(v1, n)
				b = append(b[:p], b[p+1:]...)
				continue
			}
		}
		p++
	}
	return b
}

// hllPromote converts a sparse HLL to dense and then sets the register,
// which must raise it.
func hllPromote(b []byte, index int, count uint8) ([]byte, int) {
	d, ok := hllToDense(b)
	if !ok {
		return b, -1
	}
	denseRaise(d[hllHdrSize:], index, count)
	return d, 1
}

// hllAdd adds one element to the HLL b (see hllSet).
func hllAdd(b, ele []byte, maxSparse int) ([]byte, int) {
	index, count := hllPatLen(ele)
	return hllSet(b, index, count, maxSparse)
}

// hllHisto is the register histogram of an HLL; invalid reports sparse
// opcodes that do not cover exactly the 16384 registers. Values past
// Q+1, which only a corrupt dense HLL holds, are counted but unused, as
// in Redis.
func hllHisto(b []byte) (h [64]int, invalid bool) {
	if b[4] == hllDense {
		regs := b[hllHdrSize:]
		for i := range hllRegisters {
			h[denseGet(regs, i)]++
		}
		return h, false
	}
	idx := 0
	for p := hllHdrSize; p < len(b); {
		switch op := b[p]; {
		case spIsZero(op):
			n := spZeroLen(op)
			idx += n
			h[0] += n
			p++
		case spIsXZero(op):
			n := spXZeroLen(b, p)
			idx += n
			h[0] += n
			p += 2
		default:
			n := spValLen(op)
			idx += n
			h[spValValue(op)] += n
			p++
		}
	}
	return h, idx != hllRegisters
}

// hllMergeInto raises max[i] to each register of the HLL b; false for a
// corrupt sparse HLL.
func hllMergeInto(max *[hllRegisters]uint8, b []byte) bool {
	if b[4] == hllDense {
		regs := b[hllHdrSize:]
		for i := range max {
			if v := denseGet(regs, i); v > max[i] {
				max[i] = v
			}
		}
		return true
	}
	i := 0
	for p := hllHdrSize; p < len(b); {
		switch op := b[p]; {
		case spIsZero(op):
			i += spZeroLen(op)
			p++
		case spIsXZero(op):
			i += spXZeroLen(b, p)
			p += 2
		default:
			n, v := spValLen(op), uint8(spValValue(op))
			if n+i > hllRegisters {
				return false
			}
			for ; n > 0; n-- {
				if v > max[i] {
					max[i] = v
				}
				i++
			}
			p++
		}
	}
	return i == hllRegisters
}

// rawHisto is the histogram of registers held one per byte.
func rawHisto(max *[hllRegisters]uint8) (h [64]int) {
	for _, v := range max {
		h[v&63]++
	}
	return h
}

// hllEstimate is Redis's estimate from a register histogram (Ertl's
// improved estimator, arXiv:1702.01284), with the same floating-point
// steps so that the result is the same to the unit.
func hllEstimate(h *[64]int) uint64 {
	const m = float64(hllRegisters)
	const alphaInf = 0.721347520444481703680
	z := m * hllTau((m-float64(h[hllQ+1]))/m)
	for j := hllQ; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += m * hllSigma(float64(h[0])/m)
	return uint64(math.Round(alphaInf * m * m / z))
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += float64(x * y) // no fused multiply-add: every replica rounds alike
		y += y
		if prev == z {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if prev == z {
			return z / 3
		}
	}
}
