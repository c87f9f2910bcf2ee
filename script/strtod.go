package script

import (
	"math"
	"strconv"
	"strings"
)

// strtod reads the longest prefix of s C's strtod reads: a sign, then hex
// ("0x", with a fraction and a binary exponent), inf or infinity, nan, or a decimal with an optional exponent. It
// returns the value and the bytes read, 0 if none.
func strtod(s string) (float64, int) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	neg := i > 0 && s[0] == '-'
	sign := func(f float64) float64 {
		if neg {
			return -f
		}
		return f
	}
	lower := strings.ToLower(s[i:])
	switch {
	case strings.HasPrefix(lower, "infinity"):
		return sign(math.Inf(1)), i + 8
	case strings.HasPrefix(lower, "inf"):
		return sign(math.Inf(1)), i + 3
	case strings.HasPrefix(lower, "nan"):
		return math.NaN(), i + 3
	case strings.HasPrefix(lower, "0x"):
		return hexStrtod(s, i, sign)
	}
	j := i
	digits := 0
	for j < len(s) && isDigit(s[j]) {
		j, digits = j+1, digits+1
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j, digits = j+1, digits+1
		}
	}
	if digits == 0 {
		return 0, 0
	}
	if j < len(s) && (s[j]|0x20) == 'e' {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			j = k
		}
	}
	f, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return 0, 0
	}
	return sign(f), j
}

// hexStrtod reads a hex number from s[i:] ("0x", digits, an optional
// fraction and "p" exponent), as glibc's strtod.
func hexStrtod(s string, i int, sign func(float64) float64) (float64, int) {
	isHex := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	j, digits := i+2, 0
	for j < len(s) && isHex(s[j]) {
		j, digits = j+1, digits+1
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isHex(s[j]) {
			j, digits = j+1, digits+1
		}
	}
	if digits == 0 {
		return 0, i + 1 // strtod reads the "0"
	}
	mant, exp := s[i:j], "p0"
	if j < len(s) && (s[j]|0x20) == 'p' {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			exp, j = s[j:k], k
		}
	}
	f, err := strconv.ParseFloat(mant+exp, 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return 0, 0
	}
	return sign(f), j
}
