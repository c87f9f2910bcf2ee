package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The differential test drives one rkv node and a real redis-server with the
// same random command sequences and compares every reply. redis-server is
// the specification: any difference is an rkv bug unless it is one of the
// departures rkv documents, which the comparison normalizes:
//
//   - Expiry at the deadline: rkv treats a key as gone when the clock reaches
//     its deadline, Redis one millisecond later. The generator keeps every
//     deadline either far in the past or far in the future, so the boundary
//     never decides a reply.
//
// Times are the one thing the two servers cannot agree on exactly: TTL,
// PTTL, EXPIRETIME and PEXPIRETIME of relative expiries are compared within
// a tolerance (and exactly when they are -1 or -2).

const (
	diffSeeds   = 20
	diffPerSeed = 300
	// diffTolSec and diffTolMs bound how far apart the two servers' clocks
	// may put one relative deadline: the commands reach them within
	// milliseconds of each other, so seconds of slack is generous, and the
	// generator spaces deadlines a thousand seconds apart, so it hides
	// nothing.
	diffTolSec = 5
	diffTolMs  = 5000
)

// diffKind says how the replies of one command are compared.
type diffKind int

const (
	diffExact  diffKind = iota
	diffSorted          // KEYS: the order of the array is unspecified
	diffTTLSec          // TTL, EXPIRETIME: integers within diffTolSec
	diffTTLMs           // PTTL, PEXPIRETIME: integers within diffTolMs
	diffScan            // SCAN: iterate to completion, compare the key sets
	diffRandom          // RANDOMKEY: nil on both, or an existing key on both
)

type diffCmd struct {
	args []string
	kind diffKind
	// custom, when set, runs the command on both servers and compares the
	// replies in its own way (random replies, sequences such as MULTI ...
	// EXEC); args are then only what failure messages print.
	custom func(t *testing.T, rd, rk diffTarget) diffOutcome
}

func (c diffCmd) String() string {
	q := make([]string, len(c.args))
	for i, a := range c.args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// diffKeys is a small key space so that commands collide. Two keys share a
// hash tag, one holds glob metacharacters (for KEYS and MATCH escapes), and
// the empty string is a valid key in Redis.
var diffKeys = []string{"k1", "k2", "k3", "{t}a", "{t}b", "x{t}y", "k*[", ""}

var diffValues = []string{
	"", "0", "1", "-1", "42", "007", "-0", "+5", "abc", "3.5", "-0.25", "1e3", " 1", "0x10",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"hello world", "inf", "nan", "1.7976931348623157e308", strings.Repeat("xy", 40),
	"\x00bin\xff", "a\r\nb", "é", "-", ".", "1e", "0x", "1_000", "1.", "-.5", "1e+2", "  ",
	"9223372036854775807.5", "0x1.8p1", "-infinity",
}

var diffInts = []string{
	"1", "-1", "0", "7", "100", "-100", "9223372036854775807", "-9223372036854775808",
	"9223372036854775808", "-9223372036854775809", "abc", "", "1.5", "+1", "-0", "00", " 1",
}

var diffFloats = []string{
	"1", "0.1", "-0.1", "2.5", "1e10", "3.0e-5", "-7", "abc", "", "inf", "-inf", "nan",
	"1e4000", "1e-5000", "0x1p3", " 1", "1.5.5", "1e308", "5e4931", "-0", ".5", "5.",
	"1e+2", "-1e-2", "1_0", "0x", "0x1.8p1", "infinity", "-Infinity", "1e4932", "-1e4932",
	"0.1", "0.1", "0.30000000000000004", "1e-20", "123456789012345678901234567890",
}

var diffPatterns = []string{
	"*", "k*", "k?", "{t}*", "*{t}*", "k[12]", "k[^1]", "k[1-2]", "k[3-1]", "k\\*\\[", "k\\*[",
	"[a-z]*", "*y", "", "k[", "\\", "?", "??", "*a", "x*y", "k*[*", "[k]*", "*\\",
	"[", "[]", "[^]", "k[!1]", "*[*", "[\\]*", "k\\", "k[*]*", "[]k]*", "{*}*", "*[[]", "**",
}

// diffGen generates the commands of one seed.
type diffGen struct {
	rng *rand.Rand
	t0  int64 // Unix seconds when the seed started: the base of absolute expiries
	idx int   // index of the command being generated
}

func (g *diffGen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *diffGen) key() string { return g.pick(diffKeys) }

func (g *diffGen) val() string {
	if g.rng.IntN(8) == 0 {
		return "v" + strconv.Itoa(g.rng.IntN(100))
	}
	return g.pick(diffValues)
}

// word randomizes the case of a command or option name: both servers must
// ignore it.
func (g *diffGen) word(s string) string {
	switch g.rng.IntN(4) {
	case 0:
		return strings.ToLower(s)
	case 1:
		b := []byte(strings.ToLower(s))
		for i := range b {
			if g.rng.IntN(2) == 0 && 'a' <= b[i] && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	default:
		return strings.ToUpper(s)
	}
}

// The expiry units a time argument is read in.
const (
	diffRelSec = iota
	diffRelMs
	diffAbsSec
	diffAbsMs
)

// when returns a time argument in the given unit. Future deadlines are
// spread out so that no two commands ever compute deadlines within
// diffTolSec of each other: a slot of 10^7 s and a step of 1000 s per
// command index. The GT/LT conditions and the rounding of TTL replies then
// come out the same on both servers however long the commands took. Past
// deadlines are far in the past, and bad values probe the parser.
func (g *diffGen) when(unit int) string {
	slot := int64(1 + g.rng.IntN(4))
	future := slot*10_000_000 + int64(g.idx)*1000
	r := g.rng.IntN(100)
	switch {
	case r < 70:
		switch unit {
		case diffRelSec:
			return strconv.FormatInt(future, 10)
		case diffRelMs:
			return strconv.FormatInt(future*1000, 10)
		case diffAbsSec:
			return strconv.FormatInt(g.t0+future, 10)
		default:
			// Half past a second tests the rounding of EXPIRETIME.
			return strconv.FormatInt((g.t0+future)*1000+int64(g.rng.IntN(2))*500, 10)
		}
	case r < 82:
		switch unit {
		case diffRelSec, diffRelMs:
			return g.pick([]string{"-1", "0", "-100000"})
		case diffAbsSec:
			return g.pick([]string{"1", "0", "-5", strconv.FormatInt(g.t0-100000, 10)})
		default:
			return g.pick([]string{"1", "0", "-5", strconv.FormatInt((g.t0-100000)*1000, 10)})
		}
	default:
		return g.pick([]string{
			"abc", "", "1.5", " 10", "9223372036854775807", "-9223372036854775808",
			"9223372036854775808", "9223372036854776", "-9223372036854776", "9223372036854775",
		})
	}
}

func (g *diffGen) keys(min, max int) []string {
	n := min + g.rng.IntN(max-min+1)
	out := make([]string, n)
	for i := range out {
		out[i] = g.key()
	}
	return out
}

// setOpts builds the option list of SET (isSet) or GETEX: mostly valid
// combinations, sometimes conflicting, repeated or unknown ones.
func (g *diffGen) setOpts(isSet bool) []string {
	var opts []string
	n := g.rng.IntN(4)
	for range n {
		var choices []string
		if isSet {
			choices = []string{"NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT"}
		} else {
			choices = []string{"PERSIST", "EX", "PX", "EXAT", "PXAT"}
		}
		o := g.pick(choices)
		switch o {
		case "EX":
			opts = append(opts, g.word(o), g.when(diffRelSec))
		case "PX":
			opts = append(opts, g.word(o), g.when(diffRelMs))
		case "EXAT":
			opts = append(opts, g.word(o), g.when(diffAbsSec))
		case "PXAT":
			opts = append(opts, g.word(o), g.when(diffAbsMs))
		default:
			opts = append(opts, g.word(o))
		}
	}
	switch g.rng.IntN(20) {
	case 0:
		opts = append(opts, "FOO")
	case 1:
		opts = append(opts, g.word(g.pick([]string{"EX", "PX", "EXAT", "PXAT"}))) // missing value
	case 2:
		opts = append(opts, g.word(g.pick([]string{"NX", "XX", "GET", "KEEPTTL", "PERSIST"})))
	}
	return opts
}

// diffArities lists the commands whose arity the wrong-arity generator
// violates: name and Redis arity.
var diffArities = []struct {
	name  string
	arity int
}{
	{"get", 2}, {"set", -3}, {"setnx", 3}, {"setex", 4}, {"psetex", 4}, {"getset", 3},
	{"getdel", 2}, {"getex", -2}, {"mget", -2}, {"mset", -3}, {"msetnx", -3}, {"del", -2},
	{"unlink", -2}, {"exists", -2}, {"incr", 2}, {"incrby", 3}, {"decr", 2}, {"decrby", 3},
	{"incrbyfloat", 3}, {"append", 3}, {"strlen", 2}, {"getrange", 4}, {"setrange", 4},
	{"expire", -3}, {"pexpire", -3}, {"expireat", -3}, {"pexpireat", -3}, {"ttl", 2},
	{"pttl", 2}, {"expiretime", 2}, {"pexpiretime", 2}, {"persist", 2}, {"type", 2},
	{"keys", 2}, {"scan", -2}, {"randomkey", 1}, {"dbsize", 1}, {"rename", 3},
	{"renamenx", 3}, {"copy", -3}, {"echo", 2}, {"touch", -2}, {"substr", 4},
}

func (g *diffGen) wrongArity() diffCmd {
	for {
		a := diffArities[g.rng.IntN(len(diffArities))]
		var n int // total arguments, name included
		switch {
		case a.arity > 0 && g.rng.IntN(2) == 0 && a.arity > 1:
			n = 1 + g.rng.IntN(a.arity-1)
		case a.arity > 0:
			n = a.arity + 1 + g.rng.IntN(2)
		case -a.arity > 1:
			n = 1 + g.rng.IntN(-a.arity-1)
		default:
			continue
		}
		args := []string{g.word(a.name)}
		for len(args) < n {
			args = append(args, g.key())
		}
		return diffCmd{args: args}
	}
}

// next generates one command.
func (g *diffGen) next() diffCmd {
	c := g.gen()
	g.idx++
	return c
}

func (g *diffGen) gen() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(100); {
	case r < 8:
		return exact(w("GET"), g.key())
	case r < 18:
		return exact(append([]string{w("SET"), g.key(), g.val()}, g.setOpts(true)...)...)
	case r < 20:
		return exact(w("SETNX"), g.key(), g.val())
	case r < 22:
		return exact(w("SETEX"), g.key(), g.when(diffRelSec), g.val())
	case r < 24:
		return exact(w("PSETEX"), g.key(), g.when(diffRelMs), g.val())
	case r < 25:
		return exact(w("GETSET"), g.key(), g.val())
	case r < 26:
		return exact(w("GETDEL"), g.key())
	case r < 29:
		return exact(append([]string{w("GETEX"), g.key()}, g.setOpts(false)...)...)
	case r < 31:
		return exact(append([]string{w("MGET")}, g.keys(1, 4)...)...)
	case r < 34:
		name := "MSET"
		if r == 33 {
			name = "MSETNX"
		}
		args := []string{w(name)}
		for range 1 + g.rng.IntN(3) {
			args = append(args, g.key(), g.val())
		}
		if g.rng.IntN(10) == 0 {
			args = append(args, g.key()) // odd: wrong arity
		}
		return exact(args...)
	case r < 36:
		return exact(append([]string{w(g.pick([]string{"DEL", "UNLINK"}))}, g.keys(1, 3)...)...)
	case r < 38:
		return exact(append([]string{w(g.pick([]string{"EXISTS", "TOUCH"}))}, g.keys(1, 4)...)...)
	case r < 42:
		return exact(w(g.pick([]string{"INCR", "DECR"})), g.key())
	case r < 45:
		return exact(w(g.pick([]string{"INCRBY", "DECRBY"})), g.key(), g.pick(diffInts))
	case r < 48:
		return exact(w("INCRBYFLOAT"), g.key(), g.pick(diffFloats))
	case r < 50:
		return exact(w("APPEND"), g.key(), g.val())
	case r < 51:
		return exact(w("STRLEN"), g.key())
	case r < 53:
		idx := []string{"0", "1", "2", "-1", "-2", "-3", "5", "100", "-100", "9223372036854775807",
			"-9223372036854775808", "abc", "3"}
		return exact(w(g.pick([]string{"GETRANGE", "GETRANGE", "SUBSTR"})), g.key(), g.pick(idx), g.pick(idx))
	case r < 55:
		off := g.pick([]string{"0", "1", "3", "10", "-1", "abc", "536870912", "536870911", "9223372036854775807"})
		v := g.val()
		if off == "536870911" && v != "" {
			v = "xy" // 512 MB + 1: past the limit without allocating it
		}
		return exact(w("SETRANGE"), g.key(), off, v)
	case r < 66:
		type variant struct {
			name string
			unit int
		}
		vs := []variant{{"EXPIRE", diffRelSec}, {"PEXPIRE", diffRelMs}, {"EXPIREAT", diffAbsSec}, {"PEXPIREAT", diffAbsMs}}
		v := vs[g.rng.IntN(len(vs))]
		args := []string{w(v.name), g.key(), g.when(v.unit)}
		for range g.rng.IntN(3) {
			if g.rng.IntN(12) == 0 {
				args = append(args, g.val()) // an unknown option, echoed in the error
				continue
			}
			args = append(args, w(g.pick([]string{"NX", "XX", "GT", "LT", "NX", "XX", "GT", "LT", "FOO"})))
		}
		return exact(args...)
	case r < 70:
		return diffCmd{args: []string{w(g.pick([]string{"TTL", "EXPIRETIME"})), g.key()}, kind: diffTTLSec}
	case r < 73:
		return diffCmd{args: []string{w(g.pick([]string{"PTTL", "PEXPIRETIME"})), g.key()}, kind: diffTTLMs}
	case r < 75:
		return exact(w("PERSIST"), g.key())
	case r < 76:
		return exact(w("TYPE"), g.key())
	case r < 78:
		return diffCmd{args: []string{w("KEYS"), g.pick(diffPatterns)}, kind: diffSorted}
	case r < 80:
		return g.scan()
	case r < 81:
		return diffCmd{args: []string{w("RANDOMKEY")}, kind: diffRandom}
	case r < 82:
		return exact(w("DBSIZE"))
	case r < 83:
		if g.rng.IntN(3) != 0 {
			return exact(w("DBSIZE")) // keep flushes rare so the key space fills up
		}
		args := []string{w(g.pick([]string{"FLUSHDB", "FLUSHALL"}))}
		switch g.rng.IntN(5) {
		case 0:
			args = append(args, w("ASYNC"))
		case 1:
			args = append(args, w("SYNC"))
		case 2:
			args = append(args, g.pick([]string{"FOO", "ASYNC SYNC"}))
		case 3:
			args = append(args, "SYNC", "ASYNC")
		}
		return exact(args...)
	case r < 87:
		return exact(w(g.pick([]string{"RENAME", "RENAMENX"})), g.key(), g.key())
	case r < 90:
		args := []string{w("COPY"), g.key(), g.key()}
		for range g.rng.IntN(3) {
			switch g.rng.IntN(4) {
			case 0, 1:
				args = append(args, w("REPLACE"))
			case 2:
				args = append(args, w("DB"), g.pick([]string{"0", "16", "-1", "abc", "4294967296", "1", "2"}))
			default:
				args = append(args, g.pick([]string{"FOO", "DB"}))
			}
		}
		return exact(args...)
	case r < 91:
		return exact(w("ECHO"), g.val())
	case r < 92:
		switch g.rng.IntN(3) {
		case 0:
			return exact(w("PING"))
		case 1:
			return exact(w("PING"), g.val())
		}
		return exact(w("PING"), g.val(), g.val()) // wrong arity
	case r < 93:
		// Neither side has a replica here: WAIT counts none, after a
		// timeout short enough for the run (never 0, for ever, with one
		// replica asked for).
		n, timeouts := g.pick([]string{"0", "1", "abc", "-1"}), []string{"0", "5", "-1", "x", "1.5"}
		if n == "1" {
			timeouts = timeouts[1:]
		}
		return exact(w("WAIT"), n, g.pick(timeouts))
	case r < 97:
		return g.wrongArity()
	default:
		return exact(g.pick([]string{"NOSUCHCMD", "GETT", "set2"}), g.key(), g.val())
	}
}

// scan builds a SCAN with cursor 0 (or a malformed one) and random options.
// Cursors are positions in each server's own table, so only whole
// iterations from 0 are comparable.
func (g *diffGen) scan() diffCmd {
	cursor := "0"
	if g.rng.IntN(8) == 0 {
		cursor = g.pick([]string{"abc", "", " 0", "1.5", "18446744073709551616", "+0"})
	}
	args := []string{g.word("SCAN"), cursor}
	for range g.rng.IntN(3) {
		switch g.rng.IntN(7) {
		case 0, 1:
			args = append(args, g.word("MATCH"), g.pick(diffPatterns))
		case 2, 3:
			args = append(args, g.word("COUNT"), g.pick([]string{"1", "2", "3", "10", "1000", "0", "-1", "abc"}))
		case 4:
			args = append(args, g.word("TYPE"), g.pick([]string{"string", "STRING", "list", "hash", "set", "zset", "stream", "nosuchtype"}))
		case 5:
			args = append(args, g.pick([]string{"FOO", "MATCH", "COUNT"}))
		default:
			args = append(args, g.word("COUNT"), "5")
		}
	}
	return diffCmd{args: args, kind: diffScan}
}

// diffReply renders a reply canonically: the Go types go-redis returns for
// RESP2, and the exact error text.
func diffReply(v any, err error) string {
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return "(nil)"
		}
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return "(error) " + rerr.Error()
		}
		return "(transport error) " + err.Error()
	}
	switch v := v.(type) {
	case nil:
		return "(nil)"
	case string:
		return strconv.Quote(v)
	case int64:
		return "(integer) " + strconv.FormatInt(v, 10)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = diffReply(e, nil)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprintf("(%T) %v", v, v)
	}
}

func diffIsTransport(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var rerr redis.Error
	return !errors.As(err, &rerr)
}

// diffTarget is one server under test.
type diffTarget struct {
	name string
	c    *redis.Client
}

// diffRESP3Conns are the RESP3 connections of the targets' servers, by
// address: every fourth command of exact comparison goes through one, its
// reply compared byte for byte with RESP3's types (maps, sets, doubles,
// nulls), unless a transaction is open on the go-redis connection.
var (
	diffRESP3Mu    sync.Mutex
	diffRESP3Conns = map[string]*respConn{}
	diffRESP3Count int
	diffInMulti    bool
)

func diffRESP3Turn(args []string) bool {
	diffRESP3Mu.Lock()
	defer diffRESP3Mu.Unlock()
	switch strings.ToLower(args[0]) {
	case "multi":
		diffInMulti = true
	case "exec", "discard", "reset":
		diffInMulti = false
		return false
	}
	if diffInMulti {
		return false
	}
	diffRESP3Count++
	return diffRESP3Count%4 == 0
}

func (d diffTarget) resp3(t *testing.T) *respConn {
	t.Helper()
	addr := d.c.Options().Addr
	diffRESP3Mu.Lock()
	defer diffRESP3Mu.Unlock()
	rc := diffRESP3Conns[addr]
	if rc == nil {
		rc = dialRESP3(t, d.name, addr)
		diffRESP3Conns[addr] = rc
		t.Cleanup(func() {
			diffRESP3Mu.Lock()
			delete(diffRESP3Conns, addr)
			diffRESP3Mu.Unlock()
		})
	}
	return rc
}

func (d diffTarget) do(t *testing.T, args []string) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	v, err := d.c.Do(ctx, a...).Result()
	if diffIsTransport(err) {
		t.Fatalf("%s: %q: %v", d.name, args, err)
	}
	return v, err
}

// diffOutcome is one command's rendered replies, and whether they agree.
type diffOutcome struct {
	redis, rkv string
	ok         bool
}

// run sends c to both servers and compares the replies.
func diffRun(t *testing.T, rd, rk diffTarget, c diffCmd) diffOutcome {
	t.Helper()
	if c.custom != nil {
		return c.custom(t, rd, rk)
	}
	switch c.kind {
	case diffScan:
		a, b := diffScanAll(t, rd, c.args), diffScanAll(t, rk, c.args)
		return diffOutcome{a, b, a == b}
	case diffRandom:
		return diffRandomKey(t, rd, rk, c.args)
	}
	if len(c.args) == 1 && strings.EqualFold(c.args[0], "dbsize") {
		diffReclaim(t, rd)
	}
	if c.kind == diffExact && diffRESP3Turn(c.args) {
		a, b := rd.resp3(t).do(t, c.args...).String(), rk.resp3(t).do(t, c.args...).String()
		return diffOutcome{redis: "(RESP3) " + a, rkv: "(RESP3) " + b, ok: a == b}
	}
	va, ea := rd.do(t, c.args)
	vb, eb := rk.do(t, c.args)
	out := diffOutcome{redis: diffReply(va, ea), rkv: diffReply(vb, eb)}
	switch c.kind {
	case diffSorted:
		if ea == nil && eb == nil {
			out.redis, out.rkv = diffReply(diffSort(va), nil), diffReply(diffSort(vb), nil)
		}
		out.ok = out.redis == out.rkv
	case diffTTLSec, diffTTLMs:
		tol := int64(diffTolSec)
		if c.kind == diffTTLMs {
			tol = diffTolMs
		}
		x, okx := va.(int64)
		y, oky := vb.(int64)
		switch {
		case ea != nil || eb != nil || !okx || !oky:
			out.ok = out.redis == out.rkv
		case x < 0 || y < 0:
			out.ok = x == y // -1 no TTL, -2 no key: categories, exact
		default:
			out.ok = max(x-y, y-x) <= tol
		}
	default:
		out.ok = out.redis == out.rkv
	}
	return out
}

// diffReclaim makes Redis delete the keys that are logically expired but
// still counted by DBSIZE. Redis 7.0 stores SET ... EXAT/PXAT with a past
// time as a key with a passed deadline and reclaims it on the next access
// or active-expiry cycle, so its DBSIZE counts the key for a while that
// depends on timing; rkv deletes such a key when the command is applied
// (the expiry departure: when a key past its deadline goes is rkv's own
// rule). Touching every key of the key space makes Redis's count
// deterministic, and it is a read, so it changes nothing else.
func diffReclaim(t *testing.T, d diffTarget) {
	t.Helper()
	d.do(t, append([]string{"EXISTS"}, diffKeys...))
}

func diffSort(v any) any {
	arr, ok := v.([]any)
	if !ok {
		return v
	}
	s := make([]string, len(arr))
	for i, e := range arr {
		s[i], _ = e.(string)
	}
	slices.Sort(s)
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// diffScanAll runs a SCAN from the given cursor to the end and renders the
// sorted, deduplicated keys, or the error of the first call.
func diffScanAll(t *testing.T, d diffTarget, args []string) string {
	t.Helper()
	seen := map[string]bool{}
	if fail := diffScanPages(t, d, args, 1, "scan", func(keys []any) string {
		for _, k := range keys {
			s, _ := k.(string)
			seen[s] = true
		}
		return ""
	}); fail != "" {
		return fail
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, strconv.Quote(k))
	}
	slices.Sort(keys)
	return "scan: [" + strings.Join(keys, ", ") + "]"
}

// diffScanPages runs a SCAN-like command (SCAN, HSCAN, SSCAN, ZSCAN; the
// cursor is args[cursorArg]) until its cursor comes back to 0, handing each
// page's elements to page. It returns "" when the iteration ended, else
// what to compare instead: the error of a call, a malformed reply, an
// iteration that does not end, or page's own complaint.
func diffScanPages(t *testing.T, d diffTarget, args []string, cursorArg int, name string, page func(elems []any) string) string {
	t.Helper()
	args = slices.Clone(args)
	for i := 0; ; i++ {
		if i > 10000 {
			return "(" + name + " did not end after 10000 calls)"
		}
		v, err := d.do(t, args)
		if err != nil {
			return diffReply(v, err)
		}
		arr, ok := v.([]any)
		if !ok || len(arr) != 2 {
			return "(malformed " + name + " reply) " + diffReply(v, nil)
		}
		cursor, ok1 := arr[0].(string)
		elems, ok2 := arr[1].([]any)
		if !ok1 || !ok2 {
			return "(malformed " + name + " reply) " + diffReply(v, nil)
		}
		if fail := page(elems); fail != "" {
			return fail
		}
		if cursor == "0" {
			return ""
		}
		args[cursorArg] = cursor
	}
}

// diffRandomKey checks that RANDOMKEY answers nil on both servers or, on
// each, a key that exists there: which key is random.
func diffRandomKey(t *testing.T, rd, rk diffTarget, args []string) diffOutcome {
	t.Helper()
	render := func(d diffTarget) string {
		v, err := d.do(t, args)
		if err != nil {
			return diffReply(v, err)
		}
		k, ok := v.(string)
		if !ok {
			return diffReply(v, nil)
		}
		n, err := d.do(t, []string{"EXISTS", k})
		if err != nil || n != int64(1) {
			return fmt.Sprintf("(key %q that does not exist)", k)
		}
		return "(an existing key)"
	}
	a, b := render(rd), render(rk)
	return diffOutcome{a, b, a == b}
}

// diffState renders the whole key space of a server: keys, types, values
// and TTL categories, to check after each seed that nothing diverged
// silently.
func diffState(t *testing.T, d diffTarget) string {
	t.Helper()
	if v, err := d.do(t, []string{"SELECT", "0"}); err != nil || v != "OK" {
		t.Fatalf("%s: SELECT 0: %v %v", d.name, v, err)
	}
	return diffKeysState(t, d) + diffDatabasesState(t, d)
}

// diffKeysState renders every key of the connection's database.
func diffKeysState(t *testing.T, d diffTarget) string {
	t.Helper()
	var b strings.Builder
	for _, k := range diffKeys {
		typ, _ := d.do(t, []string{"TYPE", k})
		var v any
		var err error
		if f := diffFamilyOf(typ); f != nil {
			v = f.state(t, d, k)
		} else {
			v, err = d.do(t, []string{"GET", k})
		}
		ttl, _ := d.do(t, []string{"PTTL", k})
		cat := "no ttl"
		if n, _ := ttl.(int64); n == -2 {
			cat = "missing"
		} else if n >= 0 {
			cat = "ttl"
		}
		fmt.Fprintf(&b, "%q=%s (%s)\n", k, diffReply(v, err), cat)
	}
	n, err := d.do(t, []string{"DBSIZE"})
	fmt.Fprintf(&b, "dbsize %s\n", diffReply(n, err))
	return b.String()
}

func TestDifferentialAgainstRedis(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	diffSeedRange(t, rd, rk, 1, diffSeeds, (*diffGen).next)
}

// diffFamily is the differential test of one group of commands beyond the
// string ones (a data type, transactions), each in its own file, which
// registers it in diffFamilies from an init function.
type diffFamily struct {
	name string
	// typ is the TYPE reply of the keys the family creates ("" if none).
	typ string
	// gen generates one of the family's commands, error cases included.
	gen func(g *diffGen) diffCmd
	// state renders the value of key, of type typ, for diffState: in
	// canonical order where Redis's is unspecified.
	state func(t *testing.T, d diffTarget, key string) string
}

var diffFamilies []*diffFamily

func diffFamilyOf(typ any) *diffFamily {
	for _, f := range diffFamilies {
		if f.typ != "" && f.typ == typ {
			return f
		}
	}
	return nil
}

// diffTypeSeeds is how many seeds each family runs, and the mixed run of
// all of them.
const diffTypeSeeds = 12

// TestDifferentialTypes runs each family's commands mixed with the string
// and key commands on the same keys (so WRONGTYPE, TYPE, RENAME, EXPIRE
// and the rest meet every type), then all families together.
func TestDifferentialTypes(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	base := uint64(1000)
	for _, f := range diffFamilies {
		t.Run(f.name, func(t *testing.T) {
			diffSeedRange(t, rd, rk, base, base+diffTypeSeeds-1, func(g *diffGen) diffCmd {
				if g.rng.IntN(10) < 7 {
					g.idx++
					return f.gen(g)
				}
				return g.next()
			})
		})
		base += 1000
	}
	t.Run("mixed", func(t *testing.T) {
		diffSeedRange(t, rd, rk, base, base+diffTypeSeeds-1, func(g *diffGen) diffCmd {
			if n := g.rng.IntN(len(diffFamilies) + 1); n < len(diffFamilies) {
				g.idx++
				return diffFamilies[n].gen(g)
			}
			return g.next()
		})
	})
}

// diffSeedRange runs the seeds first..last, each from an empty key space,
// comparing every reply and then the final states.
func diffSeedRange(t *testing.T, rd, rk diffTarget, first, last uint64, next func(*diffGen) diffCmd) {
	t.Helper()
	for seed := first; seed <= last; seed++ {
		for _, d := range []diffTarget{rd, rk} {
			for _, args := range [][]string{{"SELECT", "0"}, {"FLUSHALL"}} {
				if v, err := d.do(t, args); err != nil || v != "OK" {
					t.Fatalf("seed %d: %s %s: %v %v", seed, d.name, args[0], v, err)
				}
			}
		}
		g := &diffGen{rng: rand.New(rand.NewPCG(seed, 0x5eed)), t0: time.Now().Unix()}
		type step struct {
			c   diffCmd
			out diffOutcome
		}
		var hist []step
		for i := range diffPerSeed {
			c := next(g)
			out := diffRun(t, rd, rk, c)
			if !out.ok {
				var prev strings.Builder
				for _, h := range hist[max(0, len(hist)-10):] {
					fmt.Fprintf(&prev, "\n    %s\n        redis: %s\n        rkv:   %s", h.c, h.out.redis, h.out.rkv)
				}
				t.Fatalf("seed %d, command %d: %s\n  redis: %s\n  rkv:   %s\npreceding commands:%s\nstate after it:\nredis:\n%s\nrkv:\n%s",
					seed, i, c, out.redis, out.rkv, prev.String(), diffState(t, rd), diffState(t, rk))
			}
			hist = append(hist, step{c, out})
		}
		if a, b := diffState(t, rd), diffState(t, rk); a != b {
			t.Fatalf("seed %d: final states differ\nredis:\n%s\nrkv:\n%s", seed, a, b)
		}
	}
}

// diffProc is a server process started by this test.
type diffProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string
}

func diffStart(t *testing.T, logPath string, name string, args ...string) *diffProc {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &diffProc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *diffProc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// diffClient connects to addr, speaking RESP2 (so replies have the same Go
// types from both servers), without retries (a retried write would run
// twice) and without the CLIENT SETINFO handshake.
func diffClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		PoolSize:        1,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    10 * time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// diffWaitReady polls until the server answers a write, or fails when the
// process exits or the deadline passes.
func diffWaitReady(t *testing.T, p *diffProc, c *redis.Client) bool {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = c.Set(ctx, "diff:ready", "1", 0).Err()
		if last == nil {
			last = c.Del(ctx, "diff:ready").Err()
		}
		cancel()
		if last == nil {
			return true
		}
		select {
		case <-p.done:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("server not ready after 20s: %v\n%s", last, p.output())
	return false
}

func diffStartRedis(t *testing.T) *redis.Client {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed (the test command installs it): %v", err)
	}
	dir := t.TempDir()
	// A port taken between diffFreePort and the server's bind makes it
	// exit; a few attempts make that harmless.
	for attempt := 0; attempt < 5; attempt++ {
		port := strconv.Itoa(freePort(t))
		p := diffStart(t, filepath.Join(dir, fmt.Sprintf("redis-%d.log", attempt)), path,
			"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		c := diffClient(t, "127.0.0.1:"+port)
		if diffWaitReady(t, p, c) {
			return c
		}
		t.Logf("redis-server exited: %s", p.output())
	}
	t.Fatal("redis-server did not start")
	return nil
}

func diffStartRKV(t *testing.T) *redis.Client {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		port, bus := freePort(t), freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		data := filepath.Join(dir, fmt.Sprintf("data-%d", attempt))
		p := diffStart(t, filepath.Join(dir, fmt.Sprintf("rkv-%d.log", attempt)), rkvBin,
			"--id", "1", "--addr", addr, "--dir", data,
			"--cluster", fmt.Sprintf("1=%s@%d", addr, bus), "--log-level", "warn")
		c := diffClient(t, addr)
		if diffWaitReady(t, p, c) {
			return c
		}
		t.Logf("rkv exited: %s", p.output())
	}
	t.Fatal("rkv did not start")
	return nil
}
