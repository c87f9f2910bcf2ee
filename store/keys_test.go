package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestKeyCommands(t *testing.T) {
	runScenarios(t, []scenario{
		{"del exists touch type", []step{
			{1, "mset a 1 b 2", ok, false},
			{1, "exists a b c a", num(3), true},
			{1, "touch a c", num(1), true},
			{1, "type a", "+string\r\n", true},
			{1, "type c", "+none\r\n", true},
			{1, "del a c a", num(1), false},
			{1, "unlink b", num(1), false},
			{1, "dbsize", num(0), true},
		}},
		{"del of an expired key counts nothing", []step{
			{1000, "set a 1 px 10", ok, false},
			{1010, "del a", num(0), false},
		}},
		{"expire family", []step{
			{1000, "expire none 10", num(0), false},
			{1000, "set k v", ok, false},
			{1000, "ttl k", num(-1), true},
			{1000, "expire k 10", num(1), false},
			{1000, "ttl k", num(10), true},
			{1000, "pexpire k 1500", num(1), false},
			{1000, "pttl k", num(1500), true},
			{1000, "ttl k", num(2), true},
			{1000, "expireat k 100", num(1), false},
			{1000, "expiretime k", num(100), true},
			{1000, "pexpireat k 100500", num(1), false},
			{1000, "pexpiretime k", num(100500), true},
			{1000, "expiretime k", num(101), true},
			{1000, "persist k", num(1), false},
			{1000, "persist k", num(0), false},
			{1000, "persist none", num(0), false},
			{1000, "pttl none", num(-2), true},
			{1000, "expiretime none", num(-2), true},
			{1000, "pexpiretime k", num(-1), true},
		}},
		{"expire in the past deletes", []step{
			{1000, "set k v", ok, false},
			{1000, "expire k -1", num(1), false},
			{1000, "exists k", num(0), true},
			{1000, "set k v", ok, false},
			{1000, "pexpireat k 1000", num(1), false},
			{1000, "exists k", num(0), true},
			{1000, "set k v", ok, false},
			{1000, "expire k 0", num(1), false},
			{1000, "dbsize", num(0), true},
		}},
		{"expire options", []step{
			{1000, "set k v", ok, false},
			{1000, "expire k 10 xx", num(0), false},
			{1000, "expire k 10 gt", num(0), false},
			{1000, "expire k 10 lt", num(1), false},
			{1000, "expire k 20 nx", num(0), false},
			{1000, "expire k 20 lt", num(0), false},
			{1000, "expire k 5 LT", num(1), false},
			{1000, "expire k 5 gt", num(0), false},
			{1000, "expire k 6 gt xx", num(1), false},
			{1000, "ttl k", num(6), true},
			{1000, "expire k 1 nx xx", errs("ERR NX and XX, GT or LT options at the same time are not compatible"), false},
			{1000, "expire k 1 gt lt", errs("ERR GT and LT options at the same time are not compatible"), false},
			{1000, "expire k 1 foo", errs("ERR Unsupported option foo"), false},
			{1000, "expire k 1 x\x00y", errs("ERR Unsupported option x"), false},
			{1000, "expire k x", errNotIntR, false},
		}},
		{"expire overflow", []step{
			{1000, "set k v", ok, false},
			{1000, "expire k 9223372036854776", errs("ERR invalid expire time in 'expire' command"), false},
			{1000, "pexpire k 9223372036854775807", errs("ERR invalid expire time in 'pexpire' command"), false},
			{1000, "expireat k -9223372036854776", errs("ERR invalid expire time in 'expireat' command"), false},
			{1000, "pexpireat k 9223372036854775807", num(1), false},
			{1000, "ttl k", num(9223372036854775), true},
			// Rounding the deadline to seconds must not overflow.
			{1000, "expiretime k", num(9223372036854776), true},
			{1000, "pexpiretime k", num(9223372036854775807), true},
		}},
		{"rename", []step{
			{1000, "rename a b", errs("ERR no such key"), false},
			{1000, "rename a a", errs("ERR no such key"), false},
			{1000, "set a 1 ex 10", ok, false},
			{1000, "rename a a", ok, false},
			{1000, "renamenx a a", num(0), false},
			{1000, "rename a b", ok, false},
			{1000, "mget a b", arr(null, bulk("1")), true},
			{1000, "ttl b", num(10), true},
			{1000, "set c 2", ok, false},
			{1000, "renamenx b c", num(0), false},
			{1000, "rename b c", ok, false},
			{1000, "mget b c", arr(null, bulk("1")), true},
			{1000, "renamenx c d", num(1), false},
			{1000, "dbsize", num(1), true},
		}},
		{"copy", []step{
			{1000, "copy a b", num(0), false},
			{1000, "set a 1 px 500", ok, false},
			{1000, "copy a a", errs("ERR source and destination objects are the same"), false},
			{1000, "copy a b", num(1), false},
			{1000, "pttl b", num(500), true},
			{1000, "set a 2", ok, false},
			{1000, "copy a b", num(0), false},
			{1000, "copy a b replace", num(1), false},
			{1000, "mget a b", arr(bulk("2"), bulk("2")), true},
			{1000, "copy a c db 0", num(1), false},
			{1000, "copy a d db 1", num(1), false},
			{1000, "copy a d db 1", num(0), false},
			{1000, "copy a d db 16", errs("ERR DB index is out of range"), false},
			{1000, "copy a d db x", errNotIntR, false},
			{1000, "copy a d db 4294967296", errs("ERR value is out of range, value must between -2147483648 and 2147483647"), false},
			{1000, "copy a d db -2147483649", errs("ERR value is out of range, value must between -2147483648 and 2147483647"), false},
			{1000, "copy a d db -1", errs("ERR DB index is out of range"), false},
			{1000, "copy a d db", errSyntaxR, false},
			{1000, "copy a d foo", errSyntaxR, false},
		}},
		{"flush", []step{
			{1, "mset a 1 b 2", ok, false},
			{1, "flushall async", ok, false},
			{1, "dbsize", num(0), true},
			{1, "set a 1 ex 10", ok, false},
			{1, "flushdb SYNC", ok, false},
			{1, "flushdb", ok, false},
			{1, "flushdb foo", errSyntaxR, false},
			{1, "flushall sync async", errSyntaxR, false},
		}},
		{"randomkey", []step{
			{1000, "randomkey", null, true},
			{1000, "set a 1 px 10", ok, false},
			{1010, "randomkey", null, true},
			{1000, "set b 1", ok, false},
			{1010, "randomkey", bulk("b"), true},
		}},
	})
	s := New()
	apply(s, 1, "set a 1 ex 10")
	apply(s, 1, "flushall")
	if s.ttls.Len() != 0 || s.MemoryBytes() != 0 || s.CountKeysInSlot(KeySlot([]byte("a"))) != 0 {
		t.Fatal("flushall left indexes behind")
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pat, str string
		want     bool
	}{
		{"*", "anything", true},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h*llo", "heeeello", true},
		{"h*llo", "hllo", true},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hbllo", true},
		{"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{`h[\]]llo`, "h]llo", true},
		{"h[abc", "hb", true},
		{"a*", "a", true},
		{"a**", "a", true},
		{"*b", "abc", false},
		{"a*a*a*a*a*a*a*a*b", strings.Repeat("a", 60), false},
		{"", "", true},
		{"?", "", false},
		{`\`, `\`, true},
	}
	for _, c := range cases {
		if got := globMatch(c.pat, c.str); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pat, c.str, got)
		}
	}
}

func TestKeys(t *testing.T) {
	s := New()
	apply(s, 1000, "mset hello 1 hallo 2 hxllo 3 foo 4")
	apply(s, 1000, "set hillo 5 px 10")
	got := read(s, 1010, "keys h[ae]llo")
	if got != arr(bulk("hallo"), bulk("hello")) && got != arr(bulk("hello"), bulk("hallo")) {
		t.Errorf("keys = %q", got)
	}
	if got := read(s, 1010, "keys *"); !strings.HasPrefix(got, "*4\r\n") {
		t.Errorf("keys * = %q", got)
	}
	if got := read(s, 1000, "keys h*"); !strings.HasPrefix(got, "*4\r\n") {
		t.Errorf("keys h* = %q", got)
	}
}

// scanAll runs a whole SCAN and returns every key it yielded.
func scanAll(t *testing.T, s *Store, opts string, between func()) []string {
	t.Helper()
	var keys []string
	cursor := "0"
	for i := 0; ; i++ {
		r := s.Read(1, argv("scan "+cursor+" "+opts), nil)
		next, page := parseScanReply(t, r)
		keys = append(keys, page...)
		if next == "0" {
			return keys
		}
		cursor = next
		if between != nil {
			between()
		}
		if i > 1_000_000 {
			t.Fatal("scan does not end")
		}
	}
}

func parseScanReply(t *testing.T, r []byte) (string, []string) {
	t.Helper()
	lines := strings.Split(string(r), "\r\n")
	if lines[0] != "*2" {
		t.Fatalf("scan reply %q", r)
	}
	cursor := lines[2]
	n, _ := strconv.Atoi(strings.TrimPrefix(lines[3], "*"))
	var keys []string
	for i := 0; i < n; i++ {
		keys = append(keys, lines[5+2*i])
	}
	return cursor, keys
}

func TestScanOptions(t *testing.T) {
	s := New()
	for i := range 100 {
		apply(s, 1, fmt.Sprintf("set key:%d v", i))
		apply(s, 1, fmt.Sprintf("set other:%d v", i))
	}
	if got := scanAll(t, s, "", nil); len(got) != 200 {
		t.Errorf("scan found %d", len(got))
	}
	if got := scanAll(t, s, "match key:* count 7", nil); len(got) != 100 {
		t.Errorf("scan match found %d", len(got))
	}
	if got := scanAll(t, s, "type STRING count 1000", nil); len(got) != 200 {
		t.Errorf("scan type string found %d", len(got))
	}
	if got := scanAll(t, s, "type hash", nil); len(got) != 0 {
		t.Errorf("scan type hash found %d", len(got))
	}
	if _, page := parseScanReply(t, s.Read(1, argv("scan 0 count 5"), nil)); len(page) != 5 {
		t.Errorf("count 5 gave %d", len(page))
	}
	for cmd, want := range map[string]string{
		"scan x":                    errs("ERR invalid cursor"),
		"scan -":                    errs("ERR invalid cursor"),
		"scan 0 count 0":            errSyntaxR,
		"scan 0 count x":            errNotIntR,
		"scan 0 count":              errSyntaxR,
		"scan 0 foo bar":            errSyntaxR,
		"scan 18446744073709551616": errs("ERR invalid cursor"),
	} {
		if got := read(s, 1, cmd); got != want {
			t.Errorf("%s: %q", cmd, got)
		}
	}
	if got := read(s, 1, "scan 18446744073709551615"); got != arr(bulk("0"), "*0\r\n") {
		t.Errorf("scan at the end: %q", got)
	}
}

// Every key present for the whole scan is returned, while others are
// inserted and deleted between calls (and concurrently with them).
func TestScanCompletenessUnderWrites(t *testing.T) {
	s := New()
	stable := map[string]bool{}
	for i := range 2000 {
		k := fmt.Sprintf("stable:%d", i)
		stable[k] = true
		apply(s, 1, "set "+k+" v")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	churn := func() {
		for range 20 {
			k := fmt.Sprintf("churn:%d", rng.IntN(5000))
			if rng.IntN(2) == 0 {
				apply(s, 1, "set "+k+" v")
			} else {
				apply(s, 1, "del "+k)
			}
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // concurrent writers too, for the race detector
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("bg:%d", r.IntN(1000))
			s.Apply(1, argv("set "+k+" v"), nil)
			s.Apply(1, argv("del bg:"+strconv.Itoa(r.IntN(1000))), nil)
		}
	}()
	got := scanAll(t, s, "count 17", churn)
	close(stop)
	wg.Wait()
	seen := map[string]bool{}
	for _, k := range got {
		seen[k] = true
	}
	for k := range stable {
		if !seen[k] {
			t.Fatalf("scan missed %s", k)
		}
	}
}

func TestScanSharedOrd(t *testing.T) {
	// Keys sharing an ord are never split across pages, so COUNT 1 still ends.
	s := New()
	s.mu.Lock()
	for _, k := range []string{"a", "b", "c"} {
		s.put(newItem(7, k, 0, "v"))
	}
	s.put(newItem(9, "d", 0, "v"))
	s.mu.Unlock()
	got := scanAll(t, s, "count 1", nil)
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("scan = %q", got)
	}
}

// TestErrorEchoesArgSafely checks errors that quote a client's argument:
// they must stay one line whatever the bytes (CR and LF become spaces, a NUL
// ends the argument as in Redis's C formatting).
func TestErrorEchoesArgSafely(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"expire", "k", "1", "a\r\nb"}, errs("ERR Unsupported option a  b")},
		{[]string{"pexpire", "k", "1", "\n+OK"}, errs("ERR Unsupported option  +OK")},
		{[]string{"expire", "k", "1", "x\x00\r\n"}, errs("ERR Unsupported option x")},
		{[]string{"nosuch", "a\r\nb"}, errs("ERR unknown command 'nosuch', with args beginning with: 'a  b' ")},
	}
	s := New()
	for _, tt := range tests {
		args := make([][]byte, len(tt.args))
		for i, a := range tt.args {
			args[i] = []byte(a)
		}
		if got := string(s.Apply(1, args, nil)); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.args, got, tt.want)
		}
	}
}
