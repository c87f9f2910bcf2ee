package store

// globMatch reports whether str matches the glob pattern with the rules of
// Redis's stringmatchlen (case-sensitive): '*', '?', '[abc]', '[^a]', '[a-z]'
// and '\' escapes.
func globMatch(pattern, str string) bool {
	skip := false
	return globMatchImpl(pattern, str, &skip)
}

// globMatchImpl is stringmatchlen_impl. skipLonger stops the search once a
// '*' has failed to match the rest anywhere, which keeps patterns such as
// "a*a*a*a*b" from taking exponential time.
func globMatchImpl(pattern, str string, skipLonger *bool) bool {
	p, s := 0, 0
	at := func(i int) byte { // C strings are NUL-terminated; mimic that
		if i < len(pattern) {
			return pattern[i]
		}
		return 0
	}
	for p < len(pattern) && s < len(str) {
		switch pattern[p] {
		case '*':
			for p+1 < len(pattern) && pattern[p+1] == '*' {
				p++
			}
			if p+1 == len(pattern) {
				return true
			}
			for s < len(str) {
				if globMatchImpl(pattern[p+1:], str[s:], skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
				s++
			}
			*skipLonger = true
			return false
		case '?':
			s++
		case '[':
			p++
			not := at(p) == '^'
			if not {
				p++
			}
			match := false
			for {
				if at(p) == '\\' && len(pattern)-p >= 2 {
					p++
					if pattern[p] == str[s] {
						match = true
					}
				} else if at(p) == ']' {
					break
				} else if p >= len(pattern) {
					p--
					break
				} else if len(pattern)-p >= 3 && pattern[p+1] == '-' {
					lo, hi := pattern[p], pattern[p+2]
					if lo > hi {
						lo, hi = hi, lo
					}
					p += 2
					if c := str[s]; c >= lo && c <= hi {
						match = true
					}
				} else if pattern[p] == str[s] {
					match = true
				}
				p++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s++
		case '\\':
			if len(pattern)-p >= 2 {
				p++
			}
			fallthrough
		default:
			if pattern[p] != str[s] {
				return false
			}
			s++
		}
		p++
		if s == len(str) {
			for at(p) == '*' {
				p++
			}
			break
		}
	}
	return p >= len(pattern) && s == len(str)
}
