package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const wrongType = "-" + errWrongType + "\r\n"

func TestHashCommands(t *testing.T) {
	runScenarios(t, []scenario{
		{"hset hget hmget hlen hexists hstrlen", []step{
			{1, "hset h a 1 b 22", num(2), false},
			{1, "hset h a 3 c 4", num(1), false},
			{1, "hget h a", bulk("3"), true},
			{1, "hget h zz", null, true},
			{1, "hget none a", null, true},
			{1, "hmget h a zz c", arr(bulk("3"), null, bulk("4")), true},
			{1, "hmget none a b", arr(null, null), true},
			{1, "hlen h", num(3), true},
			{1, "hlen none", num(0), true},
			{1, "hexists h b", num(1), true},
			{1, "hexists h zz", num(0), true},
			{1, "hexists none b", num(0), true},
			{1, "hstrlen h b", num(2), true},
			{1, "hstrlen h zz", num(0), true},
			{1, "hstrlen none b", num(0), true},
			{1, "type h", "+hash\r\n", true},
			{1, "object encoding h", bulk("listpack"), true},
		}},
		{"hmset hsetnx", []step{
			{1, "hmset h a 1 b 2", ok, false},
			{1, "hmset h a 5", ok, false},
			{1, "hsetnx h a 9", num(0), false},
			{1, "hsetnx h c 9", num(1), false},
			{1, "hsetnx new f v", num(1), false},
			{1, "hgetall h", arr(bulk("a"), bulk("5"), bulk("b"), bulk("2"), bulk("c"), bulk("9")), true},
			{1, "hgetall new", arr(bulk("f"), bulk("v")), true},
		}},
		{"listpack keeps insertion order", []step{
			{1, "hset h c 1 a 2 b 3", num(3), false},
			{1, "hset h a 20", num(0), false},
			{1, "hdel h c", num(1), false},
			{1, "hset h c 30", num(1), false},
			{1, "hgetall h", arr(bulk("a"), bulk("20"), bulk("b"), bulk("3"), bulk("c"), bulk("30")), true},
			{1, "hkeys h", arr(bulk("a"), bulk("b"), bulk("c")), true},
			{1, "hvals h", arr(bulk("20"), bulk("3"), bulk("30")), true},
			{1, "hgetall none", "*0\r\n", true},
			{1, "hkeys none", "*0\r\n", true},
			{1, "hvals none", "*0\r\n", true},
		}},
		{"hdel and the empty hash", []step{
			{1, "hset h a 1 b 2", num(2), false},
			{1, "hdel h zz", num(0), false},
			{1, "hdel none a", num(0), false},
			{1, "hdel h a a zz", num(1), false},
			{1, "hdel h b", num(1), false},
			{1, "exists h", num(0), true},
			{1, "type h", "+none\r\n", true},
			{1, "dbsize", num(0), true},
		}},
		{"arity and wrong type", []step{
			{1, "set s x", ok, false},
			{1, "hset h a", errs("ERR wrong number of arguments for 'hset' command"), false},
			{1, "hset h a 1 b", errs("ERR wrong number of arguments for 'hset' command"), false},
			{1, "hset s a 1 b", errs("ERR wrong number of arguments for 'hset' command"), false},
			{1, "hmset h a 1 b", errs("ERR wrong number of arguments for 'hmset' command"), false},
			{1, "hget h", errs("ERR wrong number of arguments for 'hget' command"), true},
			{1, "hsetnx h a", errs("ERR wrong number of arguments for 'hsetnx' command"), false},
			{1, "hgetall h x", errs("ERR wrong number of arguments for 'hgetall' command"), true},
			{1, "hset s a 1", wrongType, false},
			{1, "hmset s a 1", wrongType, false},
			{1, "hsetnx s a 1", wrongType, false},
			{1, "hget s a", wrongType, true},
			{1, "hmget s a", wrongType, true},
			{1, "hdel s a", wrongType, false},
			{1, "hlen s", wrongType, true},
			{1, "hexists s a", wrongType, true},
			{1, "hstrlen s a", wrongType, true},
			{1, "hgetall s", wrongType, true},
			{1, "hkeys s", wrongType, true},
			{1, "hvals s", wrongType, true},
			{1, "hincrby s a 1", wrongType, false},
			{1, "hincrbyfloat s a 1", wrongType, false},
			{1, "hrandfield s", wrongType, true},
			{1, "hrandfield s 0", wrongType, true},
			{1, "hscan s 0", wrongType, true},
			{1, "hset h a 1", num(1), false},
			{1, "get h", wrongType, true},
			{1, "append h x", wrongType, false},
			{1, "get s", bulk("x"), true},
			{1, "set h v", ok, false},
			{1, "type h", "+string\r\n", true},
		}},
		{"hincrby", []step{
			{1, "hincrby h n 5", num(5), false},
			{1, "hincrby h n -7", num(-2), false},
			{1, "hget h n", bulk("-2"), true},
			{1, "hincrby h n abc", errs(errNotInt), false},
			{1, "hincrby none n abc", errs(errNotInt), false},
			{1, "exists none", num(0), true},
			{1, "hset h s abc z 007 e -0", num(3), false},
			{1, "hincrby h s 1", errs("ERR hash value is not an integer"), false},
			{1, "hincrby h z 1", errs("ERR hash value is not an integer"), false},
			{1, "hincrby h e 1", errs("ERR hash value is not an integer"), false},
			{1, "hset h m 9223372036854775807", num(1), false},
			{1, "hincrby h m 1", errs(errOverflow), false},
			{1, "hincrby h m -1", num(9223372036854775806), false},
			{1, "hset h m -9223372036854775808", num(0), false},
			{1, "hincrby h m -1", errs(errOverflow), false},
			{1, "hincrby h m 9223372036854775807", num(-1), false},
			{1, "hincrby h m 9223372036854775808", errs(errNotInt), false},
		}},
		{"hincrbyfloat", []step{
			{1, "hincrbyfloat h f 10.5", bulk("10.5"), false},
			{1, "hincrbyfloat h f 0.1", bulk("10.6"), false},
			{1, "hincrbyfloat h f -10.6", bulk("0"), false},
			{1, "hincrbyfloat h f 5.0e3", bulk("5000"), false},
			{1, "hincrbyfloat h f abc", errs(errNotFloat), false},
			{1, "hincrbyfloat h f nan", errs(errNotFloat), false},
			{1, "hincrbyfloat h f inf", errs("ERR value is NaN or Infinity"), false},
			{1, "hincrbyfloat h f -infinity", errs("ERR value is NaN or Infinity"), false},
			{1, "hincrbyfloat h f 1e5000", errs(errNotFloat), false},
			{1, "hset h s abc i inf n nan x 0x10", num(4), false},
			{1, "hincrbyfloat h s 1", errs("ERR hash value is not a float"), false},
			{1, "hincrbyfloat h n 1", errs("ERR hash value is not a float"), false},
			{1, "hincrbyfloat h i 1", errs(errNaN), false},
			{1, "hincrbyfloat h x 1", bulk("17"), false},
			{1, "hset h big 1.1e4932", num(1), false},
			{1, "hincrbyfloat h big 1.1e4932", errs(errNaN), false},
			{1, "hget h big", bulk("1.1e4932"), true},
			{1, "hincrbyfloat h tiny 1e-20", bulk("0"), false},
		}},
		{"hincrbyfloat long double digits", []step{
			{1, "hincrbyfloat h f 0.1", bulk("0.1"), false},
			{1, "hincrbyfloat h f 0.2", bulk("0.3"), false},
			{1, "hincrbyfloat h g 1e70", bulk("10000000000000000000222479489586148259025995410601157579323600873193472"), false},
			{1, "object encoding h", bulk("hashtable"), true},
		}},
		{"hrandfield errors", []step{
			{1, "hset h a 1", num(1), false},
			{1, "hrandfield h abc", errs(errNotInt), true},
			{1, "hrandfield none abc", errs(errNotInt), true},
			{1, "hrandfield h -9223372036854775808", errs("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"), true},
			{1, "hrandfield h 4611686018427387904 withvalues", errs("ERR value is out of range"), true},
			{1, "hrandfield h -4611686018427387904 WithValues", errs("ERR value is out of range"), true},
			{1, "hrandfield h 1 withvalue", errs(errSyntax), true},
			{1, "hrandfield h 1 withvalues x", errs(errSyntax), true},
			{1, "hrandfield none 1 x", errs(errSyntax), true},
			{1, "hrandfield none", null, true},
			{1, "hrandfield none 5", "*0\r\n", true},
			{1, "hrandfield h 0", "*0\r\n", true},
			{1, "hrandfield h 0 withvalues", "*0\r\n", true},
			{1, "hrandfield h", bulk("a"), true},
			{1, "hrandfield h 5 withvalues", arr(bulk("a"), bulk("1")), true},
			{1, "hrandfield h -3", arr(bulk("a"), bulk("a"), bulk("a")), true},
			{1, "hrandfield h -2 withvalues", arr(bulk("a"), bulk("1"), bulk("a"), bulk("1")), true},
		}},
		{"hscan", []step{
			{1, "set s x", ok, false},
			{1, "hscan h abc", errs(errCursor), true},
			{1, "hscan s abc", errs(errCursor), true},
			{1, "hscan none 0 foo", arr(bulk("0"), arr()), true},
			{1, "hscan s 0 foo", wrongType, true},
			{1, "hset h a 1 b 2 ab 3", num(3), false},
			{1, "hscan h 0 type hash", errs(errSyntax), true},
			{1, "hscan h 0 count 0", errs(errSyntax), true},
			{1, "hscan h 0 count -1", errs(errSyntax), true},
			{1, "hscan h 0 count x", errs(errNotInt), true},
			{1, "hscan h 0 match", errs(errSyntax), true},
			{1, "hscan h 0 novalues", errs(errSyntax), true},
			{1, "hscan h 0", arr(bulk("0"), arr(bulk("a"), bulk("1"), bulk("b"), bulk("2"), bulk("ab"), bulk("3"))), true},
			{1, "hscan h 77 count 1", arr(bulk("0"), arr(bulk("a"), bulk("1"), bulk("b"), bulk("2"), bulk("ab"), bulk("3"))), true},
			{1, "hscan h 0 match a* COUNT 1", arr(bulk("0"), arr(bulk("a"), bulk("1"), bulk("ab"), bulk("3"))), true},
			{1, "hscan h 0 match * match 1", arr(bulk("0"), arr()), true},
		}},
		{"expiry and rename keep the hash", []step{
			{1000, "hset h a 1", num(1), false},
			{1000, "expire h 10", num(1), false},
			{1000, "hset h b 2", num(1), false},
			{1000, "ttl h", num(10), true},
			{1000, "rename h g", ok, false},
			{1000, "hget g b", bulk("2"), true},
			{1000, "copy g c", num(1), false},
			{1000, "hset c a 5", num(0), false},
			{1000, "hget g a", bulk("1"), true},
			{11000, "hget g a", null, true},
			{11000, "hset g z 1", num(1), false},
			{11000, "hlen g", num(1), true},
			{11000, "ttl g", num(-1), true},
		}},
	})
}

// TestHashEdgeArgs covers arguments the whitespace-split scenarios cannot
// spell: empty fields and values, and binary bytes.
func TestHashEdgeArgs(t *testing.T) {
	s := New()
	do := func(args ...string) string {
		a := make([][]byte, len(args))
		for i, x := range args {
			a[i] = []byte(x)
		}
		return string(s.Apply(1, a, nil))
	}
	for _, big := range []bool{false, true} {
		key := "k" + strconv.FormatBool(big)
		if big {
			do("hset", key, "long", strings.Repeat("v", 65))
		}
		steps := []struct{ args []string }{
			{[]string{"hset", key, "", ""}},
			{[]string{"hset", key, "e", ""}},
			{[]string{"hset", key, "", "x"}},
			{[]string{"hset", key, "\x00\xff", "a\r\nb"}},
		}
		for _, st := range steps {
			do(st.args...)
		}
		if got := do("hget", key, ""); got != bulk("x") {
			t.Errorf("big=%v: hget empty field = %q", big, got)
		}
		if got := do("hget", key, "e"); got != bulk("") {
			t.Errorf("big=%v: hget e = %q", big, got)
		}
		if got := do("hget", key, "\x00\xff"); got != bulk("a\r\nb") {
			t.Errorf("big=%v: binary = %q", big, got)
		}
		if got := do("hdel", key, ""); got != num(1) {
			t.Errorf("big=%v: hdel empty field = %q", big, got)
		}
		if got := do("hexists", key, ""); got != num(0) {
			t.Errorf("big=%v: hexists after hdel = %q", big, got)
		}
	}
}

func TestHashEncoding(t *testing.T) {
	long := strings.Repeat("x", hashMaxListpackValue)
	tooLong := long + "x"
	enc := func(s *Store, key string) string { return read(s, 1, "object encoding "+key) }
	lp, ht := bulk("listpack"), bulk("hashtable")

	s := New()
	apply(s, 1, "hset a f "+long)
	apply(s, 1, "hset a "+long+" v")
	if got := enc(s, "a"); got != lp {
		t.Fatalf("64-byte field and value: %q", got)
	}
	apply(s, 1, "hset a f "+tooLong)
	if got := enc(s, "a"); got != ht {
		t.Fatalf("65-byte value: %q", got)
	}
	apply(s, 1, "hset a f 1")
	apply(s, 1, "hdel a "+long)
	if got := enc(s, "a"); got != ht {
		t.Fatalf("a table never goes back: %q", got)
	}

	// Each way of storing a long field or value converts, except HSETNX
	// of a field that exists (nothing is stored).
	for _, c := range []string{
		"hset n " + tooLong + " v", "hmset n f " + tooLong, "hsetnx n " + tooLong + " v",
		"hincrby n " + tooLong + " 1", "hincrbyfloat n " + tooLong + " 1", "hincrbyfloat n f 1e70",
	} {
		s := New()
		apply(s, 1, "hset n f 1")
		apply(s, 1, c)
		if got := enc(s, "n"); got != ht {
			t.Errorf("%.30s...: %q", c, got)
		}
	}
	apply(s, 1, "hset x f 1")
	apply(s, 1, "hsetnx x f "+tooLong)
	if got := enc(s, "x"); got != lp {
		t.Errorf("hsetnx of an existing field converted: %q", got)
	}

	// hashMaxListpackEntries fields, then one more, even in one command.
	var args strings.Builder
	for i := range hashMaxListpackEntries {
		fmt.Fprintf(&args, " f%d %d", i, i)
	}
	apply(s, 1, "hset e"+args.String())
	apply(s, 1, "hset e f0 again")
	if got := enc(s, "e"); got != lp {
		t.Fatalf("%d fields: %q", hashMaxListpackEntries, got)
	}
	apply(s, 1, "hset e one more")
	if got := enc(s, "e"); got != ht {
		t.Fatalf("%d fields: %q", hashMaxListpackEntries+1, got)
	}
	apply(s, 1, "hset e2"+args.String()+" one more")
	if got := enc(s, "e2"); got != ht {
		t.Fatalf("%d fields in one HSET: %q", hashMaxListpackEntries+1, got)
	}
	if got := read(s, 1, "hlen e2"); got != num(hashMaxListpackEntries+1) {
		t.Fatalf("hlen e2 = %q", got)
	}
	if got := read(s, 1, "hget e2 f7"); got != bulk("7") {
		t.Fatalf("hget after conversion = %q", got)
	}
}

// hashModel checks a store's hash against a map after random operations on
// both encodings, so the listpack's byte surgery and the table's
// bookkeeping (size, memUsage) are exercised on every path.
func TestHashAgainstModel(t *testing.T) {
	for _, big := range []bool{false, true} {
		s := New()
		model := map[string]string{}
		if big {
			apply(s, 1, "hset h long "+strings.Repeat("v", 100))
			model["long"] = strings.Repeat("v", 100)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 5000 {
			f := fmt.Sprintf("f%d", rng.IntN(60))
			v := strings.Repeat("ab", rng.IntN(20))
			switch rng.IntN(4) {
			case 0, 1:
				s.Apply(1, [][]byte{[]byte("hset"), []byte("h"), []byte(f), []byte(v)}, nil)
				model[f] = v
			case 2:
				apply(s, 1, "hdel h "+f)
				delete(model, f)
			default:
				apply(s, 1, "hincrby h n"+f+" 3")
				n, _ := strconv.Atoi(model["n"+f])
				model["n"+f] = strconv.Itoa(n + 3)
			}
			if i%97 != 0 {
				continue
			}
			got := hgetallMap(t, s, "h")
			if len(got) != len(model) {
				t.Fatalf("big=%v step %d: %d fields, want %d", big, i, len(got), len(model))
			}
			for k, v := range model {
				if got[k] != v {
					t.Fatalf("big=%v step %d: %s=%q, want %q", big, i, k, got[k], v)
				}
			}
		}
		if !big {
			continue
		}
		_, c, _, _ := s.getKind(mode{now: 1}, probe([]byte("h")), kindHash)
		want := int64(0)
		for k, v := range model {
			want += int64(len(k) + len(v))
		}
		if got := c.(*hashHT).size; got != want {
			t.Fatalf("table size %d, want %d", got, want)
		}
	}
}

func hgetallMap(t *testing.T, s *Store, key string) map[string]string {
	t.Helper()
	r := s.Read(1, argv("hgetall "+key), nil)
	parts := strings.Split(string(r), "\r\n")
	n, err := strconv.Atoi(strings.TrimPrefix(parts[0], "*"))
	if err != nil || n%2 != 0 {
		t.Fatalf("hgetall reply %q", r)
	}
	m := map[string]string{}
	for i := 0; i < n; i += 2 {
		m[parts[2+2*i]] = parts[4+2*i]
	}
	return m
}

func TestHashRandField(t *testing.T) {
	for _, fields := range []int{10, 1000} {
		s := New()
		var args strings.Builder
		for i := range fields {
			fmt.Fprintf(&args, " f%d v%d", i, i)
		}
		apply(s, 1, "hset h"+args.String())
		for _, count := range []int{1, 3, fields / 2, fields - 1, fields, fields + 5} {
			for _, withValues := range []bool{false, true} {
				cmd := fmt.Sprintf("hrandfield h %d", count)
				if withValues {
					cmd += " withvalues"
				}
				got := parseArray(t, s.Read(1, argv(cmd), nil))
				if len(got) != min(count, fields)*map[bool]int{false: 1, true: 2}[withValues] {
					t.Fatalf("%s: %d elements", cmd, len(got))
				}
				seen := map[string]bool{}
				for i := 0; i < len(got); i++ {
					f := got[i]
					if seen[f] {
						t.Fatalf("%s: %s twice", cmd, f)
					}
					seen[f] = true
					if withValues {
						i++
						if got[i] != "v"+f[1:] {
							t.Fatalf("%s: %s=%s", cmd, f, got[i])
						}
					}
				}
			}
		}
		got := parseArray(t, s.Read(1, argv("hrandfield h -50 withvalues"), nil))
		if len(got) != 100 {
			t.Fatalf("negative count: %d elements", len(got))
		}
		for i := 0; i < len(got); i += 2 {
			if got[i+1] != "v"+got[i][1:] {
				t.Fatalf("negative count: %s=%s", got[i], got[i+1])
			}
		}
		// Every field comes up: the draws cover the hash.
		seen := map[string]bool{}
		for range 200 {
			for _, f := range parseArray(t, s.Read(1, argv("hrandfield h -50"), nil)) {
				seen[f] = true
			}
		}
		if fields == 10 && len(seen) != fields {
			t.Fatalf("negative counts drew %d of %d fields", len(seen), fields)
		}
		if fields == 1000 && len(seen) < 990 {
			t.Fatalf("negative counts drew %d of %d fields", len(seen), fields)
		}
	}
}

// Applied from the log, HRANDFIELD draws the same on every replica.
func TestHashRandFieldDeterministic(t *testing.T) {
	replies := func() string {
		s := New()
		var args strings.Builder
		for i := range 700 {
			fmt.Fprintf(&args, " f%d v%d", i, i)
		}
		apply(s, 1, "hset big"+args.String())
		apply(s, 1, "hset small a 1 b 2 c 3 d 4 e 5")
		var out strings.Builder
		for _, k := range []string{"big", "small"} {
			for _, c := range []string{"", " 2", " -5 withvalues", " 300", " 4"} {
				out.WriteString(apply(s, 7, "hrandfield "+k+c))
			}
		}
		return out.String()
	}
	if a, b := replies(), replies(); a != b {
		t.Fatal("HRANDFIELD in Apply differs between two stores in one state")
	}
}

func parseArray(t *testing.T, r []byte) []string {
	t.Helper()
	parts := strings.Split(string(r), "\r\n")
	n, err := strconv.Atoi(strings.TrimPrefix(parts[0], "*"))
	if err != nil {
		t.Fatalf("not an array: %q", r)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = parts[2+2*i]
	}
	return out
}

// hscanAll runs a whole HSCAN of a table and returns its fields, calling
// between after each call.
func hscanAll(t *testing.T, s *Store, key, opts string, between func()) []string {
	t.Helper()
	var fields []string
	cursor := "0"
	for calls := 0; ; calls++ {
		r := s.Read(1, argv("hscan "+key+" "+cursor+" "+opts), nil)
		next, page := parseScanReply(t, r)
		for i := 0; i < len(page); i += 2 {
			fields = append(fields, page[i])
		}
		if next == "0" {
			return fields
		}
		cursor = next
		if between != nil {
			between()
		}
		if calls > 100000 {
			t.Fatal("hscan does not end")
		}
	}
}

func TestHashScanTable(t *testing.T) {
	s := New()
	var args strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&args, " f%d %d", i, i)
	}
	apply(s, 1, "hset h"+args.String())
	all := hscanAll(t, s, "h", "count 7", nil)
	slices.Sort(all)
	if len(slices.Compact(all)) != 2000 {
		t.Fatalf("full scan: %d fields", len(all))
	}
	if r := s.Read(1, argv("hscan h 0"), nil); bytes.HasPrefix(r, []byte("*2\r\n$1\r\n0\r\n")) {
		t.Fatal("a table answers in one call")
	}
	matched := hscanAll(t, s, "h", "match f1?? count 100", nil)
	if len(matched) != 100 {
		t.Fatalf("match f1??: %d fields", len(matched))
	}

	// Fields present for the whole scan are all returned while others come
	// and go.
	i := 0
	got := hscanAll(t, s, "h", "count 13", func() {
		apply(s, 1, fmt.Sprintf("hset h new%d x", i))
		apply(s, 1, fmt.Sprintf("hdel h f%d", 1000+i))
		i++
	})
	seen := map[string]bool{}
	for _, f := range got {
		seen[f] = true
	}
	for j := range 1000 {
		if !seen[fmt.Sprintf("f%d", j)] {
			t.Fatalf("f%d, present throughout, not returned", j)
		}
	}
}

// The loader rebuilds both encodings exactly: same digest, same replies,
// same encodings, same memory charge.
func TestHashSnapshotRoundTrip(t *testing.T) {
	s := New()
	apply(s, 1, "hset small b 1 a 2 c 3")
	apply(s, 1, "hset shrunk a 1 long "+strings.Repeat("x", 70))
	apply(s, 1, "hdel shrunk long")
	var args strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&args, " f%d %d", i, i)
	}
	apply(s, 1, "hset big"+args.String())
	s.Apply(1, [][]byte{[]byte("hset"), []byte("edge"), {}, {}, []byte("\x00"), []byte("\xff\r\n")}, nil)
	apply(s, 1, "pexpire small 100000")
	r := New()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() || r.MemoryBytes() != s.MemoryBytes() {
		t.Fatal("restored state differs")
	}
	for _, c := range []string{
		"hgetall small", "hgetall shrunk", "hgetall big", "hgetall edge", "pttl small",
		"object encoding small", "object encoding shrunk", "object encoding big", "hscan big 0 count 50",
	} {
		if a, b := read(s, 1, c), read(r, 1, c); a != b {
			t.Errorf("%s: restored %q, want %q", c, b, a)
		}
	}
	for _, c := range []string{"hset small d 4", "hdel big f3", "hset shrunk b 2", "hincrby big f9 1"} {
		if a, b := apply(s, 2, c), apply(r, 2, c); a != b {
			t.Errorf("%s after restore: %q, want %q", c, b, a)
		}
	}
	if r.Digest() != s.Digest() {
		t.Fatal("diverged after restore")
	}
}

// A snapshot keeps the hashes it saw while both encodings are written on:
// the listpacks in place and by reallocation, the table's tree. Half the
// writes come before WriteTo starts, so a value shared with the snapshot
// shows whatever the timing; the other half run beside it (for -race).
func TestHashSnapshotWhileWriting(t *testing.T) {
	s := New()
	var args strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&args, " f%d %d", i, i)
	}
	apply(s, 1, "hset big"+args.String())
	for i := range 200 {
		apply(s, 1, fmt.Sprintf("hset small%d a 1 b 2 c 3", i))
	}
	before := snapshotBytes(t, s)
	writes := func(from, to int) {
		for i := from; i < to; i++ {
			s.Apply(2, argv(fmt.Sprintf("hset big f%d changed", i)), nil)
			s.Apply(2, argv(fmt.Sprintf("hdel big f%d", 2999-i)), nil)
			s.Apply(2, argv(fmt.Sprintf("hincrby small%d a 1", i%200)), nil) // same length: in place
			s.Apply(2, argv(fmt.Sprintf("hset small%d b %d", i%200, i)), nil)
			s.Apply(2, argv(fmt.Sprintf("hdel small%d c", i%200)), nil)
			if i%500 == 0 {
				// COPY clones a table the snapshot may be reading.
				s.Apply(2, argv("copy big bigcopy replace"), nil)
				s.Apply(2, argv(fmt.Sprintf("copy small%d smallcopy replace", i%200)), nil)
				s.Snapshot()
			}
		}
	}
	sn := s.Snapshot()
	writes(0, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		writes(100, 3000)
	}()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !bytes.Equal(b.Bytes(), before) {
		t.Fatal("the snapshot saw later writes")
	}
}

func TestHashRestoreCorrupt(t *testing.T) {
	// Each container is given as its encode list.
	cases := map[string][]string{
		"no pairs":              {"l"},
		"odd":                   {"l", "a"},
		"unknown tag":           {"x", "a", "1"},
		"long tag":              {"ll", "a", "1"},
		"listpack duplicate":    {"l", "a", "1", "b", "2", "a", "3"},
		"table out of order":    nil, // filled below
		"table duplicate field": nil,
	}
	lpTooMany := []string{"l"}
	for i := range lpCountMax + 1 {
		lpTooMany = append(lpTooMany, fmt.Sprint(i), "v")
	}
	cases["listpack too many"] = lpTooMany
	order := []string{"a", "b", "c", "d"}
	slices.SortFunc(order, func(x, y string) int {
		if hashEntryLess(hashProbe(x), hashProbe(y)) {
			return -1
		}
		return 1
	})
	cases["table out of order"] = []string{"h", order[1], "1", order[0], "2"}
	cases["table duplicate field"] = []string{"h", order[0], "1", order[0], "2"}
	for name, elems := range cases {
		i := 0
		_, err := loadHash(len(elems), func() ([]byte, error) {
			if i >= len(elems) {
				return nil, errors.New("read past the end")
			}
			i++
			return []byte(elems[i-1]), nil
		})
		if !errors.Is(err, errBadValue) {
			t.Errorf("%s: err = %v", name, err)
		}
	}

	// Through Restore: every truncation and a bad element count fail with
	// ErrCorrupt, never a panic.
	s := New()
	apply(s, 1, "hset small a 1 b 2")
	apply(s, 1, "hset big x "+strings.Repeat("y", 100))
	data := snapshotBytes(t, s)
	records := len(snapshotBytes(t, New())) - 4 // where the records start
	r := New()
	for n := records; n < len(data); n++ {
		if err := r.Restore(bytes.NewReader(data[:n])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
	for i := records; i < len(data); i++ {
		bad := bytes.Clone(data)
		bad[i] ^= 0xff
		if err := r.Restore(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

func TestHashMemUsage(t *testing.T) {
	s := New()
	base := s.MemoryBytes()
	for i := range 1000 {
		apply(s, 1, fmt.Sprintf("hset user:%06d field0 value-0 field1 value-1 field2 value-2", i))
	}
	per := (s.MemoryBytes() - base) / 1000
	// The item, the key and one listpack buffer of about 60 bytes.
	if per < 100 || per > 200 {
		t.Fatalf("a 3-field hash is charged %d bytes", per)
	}
	for i := range 1000 {
		apply(s, 1, fmt.Sprintf("del user:%06d", i))
	}
	if got := s.MemoryBytes(); got != base {
		t.Fatalf("after deleting all: %d, want %d", got, base)
	}
	var args strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&args, " field%04d %s", i, strings.Repeat("v", 100))
	}
	apply(s, 1, "hset big"+args.String())
	if got := s.MemoryBytes() - base; got < 1000*109 || got > 1000*250 {
		t.Fatalf("a 1000-field table is charged %d bytes", got)
	}
}
