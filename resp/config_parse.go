package resp

// The value parsers of the CONFIG table: each reads a value as Redis
// 7.0.15's config.c does and returns it in the form CONFIG GET shows, or
// Redis's complaint.

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/rkv/rkv/store"
)

func parseYesNo(v string) (string, string) {
	switch strings.ToLower(v) {
	case "yes":
		return "yes", ""
	case "no":
		return "no", ""
	}
	return "", "argument must be 'yes' or 'no'"
}

func enumParser(names []string) func(string) (string, string) {
	return func(v string) (string, string) {
		for _, n := range names {
			if strings.EqualFold(v, n) {
				return n, ""
			}
		}
		return "", "argument(s) must be one of the following: " + strings.Join(names, ", ")
	}
}

// multiArgs splits a value of several arguments as Redis does: on every
// single space, "" being none.
func multiArgs(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, " ")
}

// parseShutdownFlags reads shutdown-on-sigint/-sigterm: flags, shown in
// the table's order ("default" alone when none).
func parseShutdownFlags(v string) (string, string) {
	var set [5]bool
	args := multiArgs(v)
	for _, a := range args {
		i := 0
		for i < len(shutdownFlags) && !strings.EqualFold(a, shutdownFlags[i]) {
			i++
		}
		if i == len(shutdownFlags) {
			args = nil
			break
		}
		set[i] = true
	}
	if len(args) == 0 {
		return "", "argument(s) must be one of the following: " + strings.Join(shutdownFlags, ", ")
	}
	if set[1] && set[2] {
		return "", "shutdown options SAVE and NOSAVE can't be used simultaneously"
	}
	var out []string
	for i := 1; i < len(shutdownFlags); i++ {
		if set[i] {
			out = append(out, shutdownFlags[i])
		}
	}
	if len(out) == 0 {
		return "default", ""
	}
	return strings.Join(out, " "), ""
}

// parseNumber reads a numeric parameter: as a memory value, a percentage
// (kept negative, as Redis does) or octal when its flags say so, else as
// an integer; then checks its bounds, unsigned ones as unsigned.
func parseNumber(v string, f cfgFlags, lo, hi int64) (string, string) {
	n, ok := int64(0), false
	if f&cfgMemory != 0 {
		n, ok = store.ParseConfigNumber(v, true)
	}
	if !ok && f&cfgPercent != 0 && len(v) > 1 && v[len(v)-1] == '%' {
		if p, ok2 := store.ParseConfigNumber(v[:len(v)-1], false); ok2 && p >= 0 {
			n, ok = -p, true
		}
	}
	if !ok && f&cfgOctal != 0 {
		p, err := strconv.ParseInt(v, 8, 64)
		n, ok = p, err == nil
	}
	if !ok && f&(cfgMemory|cfgPercent|cfgOctal) == 0 {
		n, ok = store.ParseConfigNumber(v, false)
	}
	switch {
	case ok:
	case f&cfgMemory != 0 && f&cfgPercent != 0:
		return "", "argument must be a memory or percent value"
	case f&cfgMemory != 0:
		return "", "argument must be a memory value"
	case f&cfgOctal != 0:
		return "", "argument couldn't be parsed as an octal number"
	default:
		return "", "argument couldn't be parsed into an integer"
	}
	switch {
	case f&cfgUnsigned != 0:
		if uint64(n) < uint64(lo) || uint64(n) > uint64(hi) {
			if f&cfgOctal != 0 {
				return "", fmt.Sprintf("argument must be between %o and %o inclusive", uint64(lo), uint64(hi))
			}
			return "", fmt.Sprintf("argument must be between %d and %d inclusive", uint64(lo), uint64(hi))
		}
	case f&cfgPercent != 0 && n < 0:
		if n < lo {
			return "", fmt.Sprintf("percentage argument must be less or equal to %d", -lo)
		}
	case n < lo || n > hi:
		return "", fmt.Sprintf("argument must be between %d and %d inclusive", lo, hi)
	}
	return formatNumber(n, f), ""
}

// formatNumber shows a number as CONFIG GET does.
func formatNumber(n int64, f cfgFlags) string {
	switch {
	case f&cfgPercent != 0 && n < 0:
		return strconv.FormatInt(-n, 10) + "%"
	case f&cfgMemory != 0:
		return strconv.FormatUint(uint64(n), 10)
	case f&cfgOctal != 0:
		return strconv.FormatUint(uint64(n), 8)
	}
	return strconv.FormatInt(n, 10)
}

// intApply makes the apply of a numeric parameter from its setter.
func intApply(set func(s *Server, n int64)) func(s *Server, v string) string {
	return func(s *Server, v string) string {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			// An unsigned value past int64's range: as large as rkv goes.
			n = math.MaxInt64
		}
		set(s, n)
		return ""
	}
}

// limitSetter makes the apply of a connection limit: it changes a copy of
// the limits, which every connection then reads.
func limitSetter(change func(l *Limits, n int64)) func(s *Server, v string) string {
	return intApply(func(s *Server, n int64) {
		l := *s.conns.Load()
		change(&l, n)
		s.conns.Store(&l)
	})
}

// checkBaseName is the check of dbfilename, appendfilename and
// appenddirname: a name, not a path.
func checkBaseName(name string, nonEmpty bool, what string) func(string) (string, string) {
	return func(v string) (string, string) {
		if nonEmpty && v == "" {
			return "", name + " can't be empty"
		}
		if strings.ContainsRune(v, '/') || v == "." || v == ".." {
			return "", name + " can't be a path, just " + what
		}
		return v, ""
	}
}

// checkHostname is cluster-announce-hostname's check.
func checkHostname(v string) (string, string) {
	if len(v) >= 256 {
		return "", "Hostnames must be less than 256 characters"
	}
	for _, c := range []byte(v) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "", "Hostnames may only contain alphanumeric characters, hyphens or dots"
		}
	}
	return v, ""
}

// checkProcTitle is proc-title-template's check: its {variables} must be
// known ({{ is a brace) and it must not expand to nothing.
func checkProcTitle(v string) (string, string) {
	const bad = "template format is invalid or contains unknown variables"
	expanded := ""
	for rest := v; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			expanded += rest
			break
		}
		expanded += rest[:open]
		rest = rest[open+1:]
		switch {
		case rest == "":
			return "", bad
		case rest[0] == '{':
			expanded += "{"
			rest = rest[1:]
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", bad
		}
		switch rest[:end] {
		case "title": // the title is empty when the template is checked
		case "listen-addr", "server-mode", "config-file", "port", "tls-port", "unixsocket":
			expanded += "x"
		default:
			return "", bad
		}
		rest = rest[end+1:]
	}
	if strings.Trim(expanded, " ") == "" {
		return "", bad
	}
	return v, ""
}

// cStrtoll is C's strtoll in base 10 with the check Redis makes after it
// (nothing may follow the number): leading blanks and a sign, then digits;
// "" reads as 0, and a number out of range saturates.
func cStrtoll(v string) (int64, bool) {
	t := strings.TrimLeft(v, " \t\n\v\f\r")
	neg := t != "" && t[0] == '-'
	if t != "" && (t[0] == '-' || t[0] == '+') {
		t = t[1:]
	}
	if t == "" || strings.Trim(t, "0123456789") != "" {
		return 0, v == ""
	}
	u, err := strconv.ParseUint(t, 10, 64)
	switch {
	case neg && (err != nil || u > 1<<63):
		return math.MinInt64, true
	case neg:
		return -int64(u), true
	case err != nil || u > math.MaxInt64:
		return math.MaxInt64, true
	}
	return int64(u), true
}

// parseSave reads save: pairs of seconds (at least 1) and changes.
func parseSave(v string) (string, string) {
	args := multiArgs(v)
	if len(args)%2 != 0 {
		return "", "Invalid save parameters"
	}
	out := make([]string, len(args))
	for j, a := range args {
		n, ok := cStrtoll(a)
		if !ok || j%2 == 0 && n < 1 || j%2 == 1 && n < 0 {
			return "", "Invalid save parameters"
		}
		if j%2 == 1 {
			n = int64(int32(n)) // changes are a C int
		}
		out[j] = strconv.FormatInt(n, 10)
	}
	return strings.Join(out, " "), ""
}

// parseOOMValues reads oom-score-adj-values: three scores.
func parseOOMValues(v string) (string, string) {
	args := multiArgs(v)
	if len(args) != 3 {
		return "", "wrong number of arguments"
	}
	out := make([]string, 3)
	for i, a := range args {
		n, ok := cStrtoll(a)
		if !ok || a == "" || n < -2000 || n > 2000 {
			return "", "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
		}
		out[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(out, " "), ""
}

// parseBind reads bind: up to 16 addresses.
func parseBind(v string) (string, string) {
	if len(multiArgs(v)) > 16 {
		return "", "Too many bind addresses specified."
	}
	return v, ""
}

// parsePercentiles reads latency-tracking-info-percentiles, shown as %f
// without trailing zeros.
func parsePercentiles(v string) (string, string) {
	args := multiArgs(v)
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || a != strings.TrimSpace(a) || math.IsNaN(f) {
			return "", "Invalid latency-tracking-info-percentiles parameters"
		}
		if f > 100 || f < 0 {
			return "", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
		}
		s := strconv.FormatFloat(f, 'f', 6, 64)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		out[i] = s
	}
	return strings.Join(out, " "), ""
}

// checkOutputLimit checks client-output-buffer-limit; the classes it
// names replace the current ones when it is applied.
func checkOutputLimit(v string) (string, string) {
	var l Limits
	if msg := parseOutputLimit(v, &l); msg != "" {
		return "", msg
	}
	return v, ""
}

// checkPort is port's apply: rkv cannot move its client port (the other
// members know it by it), but a port it could not listen on gets Redis's
// error first.
func checkPort(s *Server, v string) string {
	host, _ := splitHostPort(s.cfg.Addr)
	ln, err := net.Listen("tcp", net.JoinHostPort(host, v))
	if err != nil {
		s.logger.Warn("CONFIG SET port: cannot listen", "port", v, "err", err)
		return "Unable to listen on this port. Check server logs."
	}
	ln.Close()
	return "rkv's client address is --addr, which the other members know it by"
}
