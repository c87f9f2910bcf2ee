package store

import (
	"math"
	"math/big"
	"strings"
)

// parseInt parses a signed 64-bit decimal exactly as Redis's string2ll: no
// sign but '-', no spaces, no leading zeros, no overflow.
func parseInt(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	i := 0
	neg := s[0] == '-'
	if neg {
		i = 1
	}
	if i >= len(s) || s[i] < '1' || s[i] > '9' {
		return 0, false
	}
	v, ok := parseDigits(s[i:])
	if !ok {
		return 0, false
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// parseCursor parses a SCAN cursor as Redis does with strtoul: an optional
// sign then digits (a minus wraps around), the empty string meaning 0.
func parseCursor(s string) (uint64, bool) {
	if s == "" {
		return 0, true
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	v, ok := parseDigits(s)
	if !ok {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseDigits parses a non-empty run of decimal digits that fits in 64 bits.
func parseDigits(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || v > math.MaxUint64/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v < uint64(c-'0') {
			return 0, false
		}
	}
	return v, true
}

// eqFold reports whether b equals the lower-case ASCII word, ignoring case.
func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// INCRBYFLOAT emulates Redis on x86-64, which computes in 80-bit long double:
// a 64-bit mantissa with round-to-nearest-even and a 15-bit exponent. Doing it
// in software with math/big gives the same digits as Redis in practice and,
// unlike hardware floats, is identical on every replica's CPU.
const (
	ldPrec   = 64
	ldMaxExp = 16384  // 2^16384 overflows long double
	ldMinExp = -16444 // below the smallest subnormal long double
	ldMaxLen = 5 * 1024
)

// parseLongDouble parses like Redis's string2ld (strtold, whole string, no
// leading space, no NaN, no out-of-range). isInf reports an infinity, which
// Redis accepts as input but which can only produce an error in INCRBYFLOAT.
func parseLongDouble(s string, f *big.Float) (isInf, ok bool) {
	if len(s) == 0 || len(s) >= ldMaxLen || strings.ContainsAny(s, "_ \t\n\r\v\f") {
		return false, false
	}
	t := s
	if t[0] == '+' || t[0] == '-' {
		t = t[1:]
	}
	if strings.EqualFold(t, "inf") || strings.EqualFold(t, "infinity") {
		return true, true
	}
	// strtold reads decimal and hexadecimal (0x1.8p3) floats; a binary
	// exponent 'p' is only valid in the latter.
	base := 10
	if len(t) > 2 && t[0] == '0' && t[1]|0x20 == 'x' {
		base = 0
	} else if strings.ContainsAny(t, "pP") {
		return false, false
	}
	f.SetPrec(ldPrec)
	if _, _, err := f.Parse(s, base); err != nil {
		return false, false
	}
	if f.Sign() != 0 {
		if e := f.MantExp(nil); e > ldMaxExp || e < ldMinExp {
			return false, false
		}
	}
	return false, true
}

// formatLongDouble formats like Redis's ld2string in LD_STR_HUMAN mode:
// "%.17Lf" with trailing zeros and a trailing dot removed, "-0" as "0".
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
