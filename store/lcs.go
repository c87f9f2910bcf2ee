package store

import "github.com/tidwall/redcon"

// lcsCmd is LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as
// Redis 7.0's lcsCommand: the classic dynamic-programming table, then a
// walk back from its corner that yields the subsequence and, for IDX, the
// matching ranges from the last to the first.
func lcsCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	a, _, wrongA := s.getString(m, probe(args[1]))
	b, _, wrongB := s.getString(m, probe(args[2]))
	if wrongA || wrongB {
		return appendErr(out, "ERR The specified keys must contain string values")
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(args); j++ {
		switch opt := args[j]; {
		case eqFold(opt, "idx"):
			getIdx = true
		case eqFold(opt, "len"):
			getLen = true
		case eqFold(opt, "withmatchlen"):
			withLen = true
		case eqFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(b2s(args[j+1]))
			if !ok {
				return appendErr(out, errNotInt)
			}
			minLen = max(n, 0)
			j++
		default:
			return appendErr(out, errSyntax)
		}
	}
	if getLen && getIdx {
		return appendErr(out, "ERR If you want both the length and indexes, please just use IDX.")
	}
	x, y := a.val(), b.val()
	// Redis refuses a table of 4-byte cells larger than proto-max-bulk-len.
	if cells := uint64(len(x)+1) * uint64(len(y)+1); cells*4 > maxBulk {
		return appendErr(out, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
	}
	w := len(y) + 1
	t := make([]uint32, (len(x)+1)*w) // t[i*w+j] is the LCS length of x[:i] and y[:j]
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			switch {
			case x[i-1] == y[j-1]:
				t[i*w+j] = t[(i-1)*w+j-1] + 1
			default:
				t[i*w+j] = max(t[(i-1)*w+j], t[i*w+j-1])
			}
		}
	}
	total := t[len(x)*w+len(y)]
	if getLen {
		return appendInt(out, int64(total))
	}
	seq := make([]byte, total)
	var ranges []byte
	nranges := 0
	// The current range, open when aStart != len(x), grows backwards.
	aStart, aEnd, bStart, bEnd := len(x), 0, 0, 0
	k := int(total)
	for i, j := len(x), len(y); i > 0 && j > 0; {
		emit := false
		if x[i-1] == y[j-1] {
			seq[k-1] = x[i-1]
			switch {
			case aStart == len(x):
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			case aStart == i && bStart == j:
				aStart--
				bStart--
			default:
				// Redis closes the range here and drops this match from
				// the ranges: its walk does not open a new one for it.
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			k, i, j = k-1, i-1, j-1
		} else {
			if t[(i-1)*w+j] > t[i*w+j-1] {
				i--
			} else {
				j--
			}
			emit = aStart != len(x)
		}
		if !emit {
			continue
		}
		if n := int64(aEnd - aStart + 1); getIdx && (minLen == 0 || n >= minLen) {
			ranges = appendLCSRange(ranges, aStart, aEnd, bStart, bEnd, withLen)
			nranges++
		}
		aStart = len(x)
	}
	if !getIdx {
		return appendBulk(out, b2s(seq))
	}
	out = redcon.AppendArray(out, 4)
	out = appendBulk(out, "matches")
	out = redcon.AppendArray(out, nranges)
	out = append(out, ranges...)
	out = appendBulk(out, "len")
	return appendInt(out, int64(total))
}

// appendLCSRange appends one match of LCS IDX: the ranges in both strings and,
// with WITHMATCHLEN, its length.
func appendLCSRange(out []byte, aStart, aEnd, bStart, bEnd int, withLen bool) []byte {
	n := 2
	if withLen {
		n = 3
	}
	out = redcon.AppendArray(out, n)
	out = redcon.AppendArray(out, 2)
	out = appendInt(out, int64(aStart))
	out = appendInt(out, int64(aEnd))
	out = redcon.AppendArray(out, 2)
	out = appendInt(out, int64(bStart))
	out = appendInt(out, int64(bEnd))
	if withLen {
		out = appendInt(out, int64(aEnd-aStart+1))
	}
	return out
}
