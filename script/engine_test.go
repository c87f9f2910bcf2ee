package script

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func eval(t *testing.T, e *Engine, body string, o Options) Result {
	t.Helper()
	return e.Eval([]byte(body), nil, nil, newFakeHost(), o)
}

func TestLoadExistsEvalSHAFlush(t *testing.T) {
	e := New(nil)
	sha, err := e.Load([]byte("return 'hi'"))
	if err != nil || sha != SHA1Hex([]byte("return 'hi'")) {
		t.Fatalf("Load = %q, %v", sha, err)
	}
	if !e.Exists(sha) || !e.Exists(strings.ToUpper(sha)) || e.Exists("0000000000000000000000000000000000000000") {
		t.Fatal("Exists disagrees with the cache")
	}
	if got := string(e.EvalSHA(strings.ToUpper(sha), nil, nil, newFakeHost(), Options{}).Reply); got != "$2\r\nhi\r\n" {
		t.Fatalf("EvalSHA = %q", got)
	}
	for _, bad := range []string{"nosuch", strings.Repeat("a", 40)} {
		if got := string(e.EvalSHA(bad, nil, nil, newFakeHost(), Options{}).Reply); got != "-NOSCRIPT No matching script. Please use EVAL.\r\n" {
			t.Fatalf("EvalSHA(%q) = %q", bad, got)
		}
	}
	if _, err := e.Load([]byte("return +")); err == nil || !strings.HasPrefix(err.Error(), "ERR Error compiling script (new function): user_script:1:") {
		t.Fatalf("Load of bad code: %v", err)
	}
	e.Flush()
	if e.Exists(sha) {
		t.Fatal("Flush kept a script")
	}
}

func TestGlobalsProtectedAcrossCalls(t *testing.T) {
	e := New(nil)
	for _, body := range []string{
		"redis.call = function() return 1 end",
		"string.upper = nil",
		"math.random = function() return 4 end",
		"rawset(_G, 'x', 1)",
		"setmetatable(_G, nil)",
		"getmetatable('').__index = nil",
		"table.insert(redis, 1)",
		"_G.x = 1",
		"cjson.encode = nil",
	} {
		got := string(eval(t, e, body, Options{}).Reply)
		if !strings.Contains(got, "readonly table") && !strings.Contains(got, "protected metatable") && !strings.Contains(got, "index a non-table") {
			t.Errorf("%q was allowed: %q", body, got)
		}
	}
	if got := string(eval(t, e, "return {string.upper('a'), type(redis.call), type(cjson.encode)}", Options{}).Reply); got != "*3\r\n$1\r\nA\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n" {
		t.Fatalf("environment changed: %q", got)
	}
	// Locals and tables a script makes are its own.
	if got := string(eval(t, e, "local t = {} t.x = 1 return t.x", Options{}).Reply); got != ":1\r\n" {
		t.Fatalf("local table: %q", got)
	}
}

func TestRandomResetEveryCall(t *testing.T) {
	e := New(nil)
	a := eval(t, e, "return {math.random(1000), math.random(1000)}", Options{}).Reply
	b := eval(t, e, "return {math.random(1000), math.random(1000)}", Options{}).Reply
	if string(a) != string(b) {
		t.Fatalf("math.random differs between calls: %q %q", a, b)
	}
	// The first draws of a fresh redis-server 7.0.15.
	if got := string(eval(t, e, "return tostring(math.random())", Options{}).Reply); !strings.HasPrefix(got, "$") || !strings.Contains(got, "0.39646477363") {
		t.Fatalf("first draw %q", got)
	}
}

func TestReadOnlyAndFlags(t *testing.T) {
	e := New(nil)
	ro := Options{ReadOnly: true}
	cases := []struct {
		body string
		o    Options
		want string
	}{
		{"return redis.call('set', 'k', 'v')", ro, "-ERR Write commands are not allowed from read-only scripts. script: "},
		{"return redis.call('get', 'k')", ro, "$-1\r\n"},
		{"#!lua\nreturn 1", ro, "-ERR Can not execute a script with write flag using *_ro command.\r\n"},
		{"#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", Options{}, "-ERR Write commands are not allowed from read-only scripts. script: "},
		{"#!lua flags=no-writes\nreturn 1", ro, ":1\r\n"},
		{"#!lua\nreturn 1", Options{OOM: true}, "-OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'\r\n"},
		{"#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')", Options{OOM: true}, "+OK\r\n"},
		{"return redis.call('set', 'k', 'v')", Options{OOM: true}, "-OOM command not allowed when used memory > 'maxmemory'. script: "},
		{"return redis.call('get', 'k')", Options{OOM: true}, "$-1\r\n"},
		{"#!lua flags=no-cluster\nreturn 1", Options{Cluster: true}, "-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n"},
		{"#!lua flags=allow-stale,allow-cross-slot-keys\nreturn 1", Options{Cluster: true}, ":1\r\n"},
	}
	for _, c := range cases {
		if got := string(eval(t, e, c.body, c.o).Reply); !strings.HasPrefix(got, c.want) {
			t.Errorf("%q %+v = %q, want prefix %q", c.body, c.o, got, c.want)
		}
	}
}

func TestWroteAndHostCalls(t *testing.T) {
	e := New(nil)
	h := newFakeHost()
	r := e.Eval([]byte("redis.call('get', KEYS[1]); return redis.call('incrby' == 'x' and 'x' or 'incr', KEYS[1])"), [][]byte{[]byte("c")}, nil, h, Options{})
	if string(r.Reply) != ":1\r\n" || !r.Wrote {
		t.Fatalf("reply %q wrote %v", r.Reply, r.Wrote)
	}
	if len(h.calls) != 2 || h.calls[1][0] != "incr" {
		t.Fatalf("host saw %v", h.calls)
	}
	r = e.Eval([]byte("return redis.call('get', 'c')"), nil, nil, h, Options{})
	if r.Wrote {
		t.Fatal("a read-only script reported a write")
	}
	// Refused commands never reach the host.
	h.calls = nil
	eval(t, e, "redis.pcall('nosuch'); redis.pcall('get'); redis.pcall('acl', 'cat')", Options{})
	if len(h.calls) != 0 {
		t.Fatalf("host saw refused commands: %v", h.calls)
	}
}

func TestSetRespConversions(t *testing.T) {
	e := New(nil)
	h := newFakeHost()
	h.Call([][]byte{[]byte("hset"), []byte("h"), []byte("f"), []byte("v")}, 2)
	cases := []struct {
		body string
		resp int
		want string
	}{
		{"redis.setresp(3); return redis.call('hgetall', 'h')", 3, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"},
		{"redis.setresp(3); return redis.call('hgetall', 'h')", 2, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n"},
		{"redis.setresp(3); return redis.call('get', 'nope')", 3, "_\r\n"},
		{"return {set={x=true}}", 3, "~1\r\n$1\r\nx\r\n"},
		{"return {double=1.5}", 2, "$3\r\n1.5\r\n"},
		{"return {double=1/0}", 3, ",inf\r\n"},
		{"return {big_number='12'}", 3, "(12\r\n"},
		{"return {verbatim_string={format='mkd', string='x'}}", 3, "=5\r\nmkd:x\r\n"},
		{"redis.setresp(3); return false", 2, ":0\r\n"},
		{"return false", 3, "_\r\n"},
	}
	for _, c := range cases {
		if got := string(e.Eval([]byte(c.body), nil, nil, h, Options{Resp: c.resp}).Reply); got != c.want {
			t.Errorf("RESP%d %q = %q, want %q", c.resp, c.body, got, c.want)
		}
	}
}

// TestRespToLua checks the RESP3 types a host may answer with once the
// script chose RESP3.
func TestRespToLua(t *testing.T) {
	e := New(nil)
	host := replyHost(",2.5\r\n")
	if got := string(e.Eval([]byte("redis.setresp(3); return redis.call('get', 'x').double * 2"), nil, nil, host, Options{}).Reply); got != ":5\r\n" {
		t.Fatalf("double: %q", got)
	}
	for reply, want := range map[string]string{
		"#t\r\n":                   ":1\r\n",
		"(123\r\n":                 "$3\r\n123\r\n",
		"=7\r\ntxt:abc\r\n":        "$3\r\nabc\r\n",
		"~2\r\n:1\r\n:2\r\n":       "*2\r\n:1\r\n:2\r\n",
		"*-1\r\n":                  ":0\r\n", // false, a RESP3 script's boolean to a RESP2 client
		"|1\r\n+a\r\n+b\r\n:7\r\n": ":7\r\n",
		"!5\r\nERR x\r\n":          "-ERR x\r\n",
	} {
		body := `redis.setresp(3)
local r = redis.pcall('get', 'x')
if type(r) == 'table' and r.big_number then return r.big_number end
if type(r) == 'table' and r.verbatim_string then return r.verbatim_string.string end
if type(r) == 'table' and r.set then local t = {} for k in pairs(r.set) do t[#t+1] = k end table.sort(t) return t end
return r`
		if got := string(e.Eval([]byte(body), nil, nil, replyHost(reply), Options{}).Reply); got != want {
			t.Errorf("host reply %q: got %q, want %q", reply, got, want)
		}
	}
}

type replyHost string

func (h replyHost) Call([][]byte, int) []byte { return []byte(h) }

func TestLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	e := New(func(level int, msg string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, string(rune('0'+level))+" "+msg)
	})
	eval(t, e, "redis.log(redis.LOG_WARNING, 'a', 1, 'b'); redis.log(redis.LOG_DEBUG, 'd')", Options{})
	if strings.Join(lines, "|") != "3 a 1 b|0 d" {
		t.Fatalf("log lines %q", lines)
	}
}

// blockingHost signals when the script has started and lets it go on
// only when told.
type blockingHost struct {
	started chan struct{}
	once    sync.Once
}

func (h *blockingHost) Call(args [][]byte, resp int) []byte {
	h.once.Do(func() { close(h.started) })
	return []byte("+OK\r\n")
}

func TestKill(t *testing.T) {
	e := New(nil)
	if err := e.Kill(true); err != ErrNotBusy {
		t.Fatalf("Kill with nothing running: %v", err)
	}
	for _, c := range []struct {
		name, body string
		wantKill   error
	}{
		{"read-only loop", "redis.call('get', 'k'); while true do end", nil},
		{"loop with pcall", "redis.call('get', 'k'); while true do pcall(function() while true do end end) end", nil},
		{"written", "redis.call('set', 'k', 'v'); local i = 0; while i < 1 do i = i + 0 end", ErrUnkillable},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &blockingHost{started: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan Result)
			go func() { done <- e.Eval([]byte(c.body), nil, nil, h, Options{Context: ctx}) }()
			<-h.started
			// Redis checks for writes before the kind of script.
			wantFn := error(ErrBusyEval)
			if c.wantKill != nil {
				wantFn = c.wantKill
			}
			if err := e.Kill(false); err != wantFn {
				t.Fatalf("FUNCTION KILL on an EVAL: %v", err)
			}
			if err := e.Kill(true); err != c.wantKill {
				t.Fatalf("Kill = %v, want %v", err, c.wantKill)
			}
			if c.wantKill != nil {
				cancel() // the host may still stop it, e.g. on shutdown
			}
			r := <-done
			if !strings.HasPrefix(string(r.Reply), "-ERR Script killed by user with SCRIPT KILL... script: ") {
				t.Fatalf("reply %q", r.Reply)
			}
			if _, running := e.Current(); running {
				t.Fatal("still running")
			}
		})
	}
}

func TestShebangParse(t *testing.T) {
	cases := []struct {
		body  string
		flags Flags
		err   string
	}{
		{"return 1", FlagEvalCompat, ""},
		{"#!lua\n", 0, ""},
		{"#!lua flags=\n", 0, ""},
		{"#!lua flags=no-writes,allow-oom\n", FlagNoWrites | FlagAllowOOM, ""},
		{"#!lua   flags=no-cluster   \n", FlagNoCluster, ""},
		{"#!lua flags=No-Writes\n", 0, "ERR Unexpected flag in script shebang: No-Writes"},
		{"#!lua", 0, "ERR Invalid script shebang"},
		{"#! \n", 0, "ERR Unexpected engine in script shebang: #!"},
		{"#!lua \"x\n", 0, "ERR Invalid engine in script shebang"},
		{"#!lua x=1\n", 0, "ERR Unknown lua shebang option: x=1"},
	}
	for _, c := range cases {
		f, _, err := ParseShebang([]byte(c.body))
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: err %v, want %q", c.body, err, c.err)
			}
			continue
		}
		if err != nil || f != c.flags {
			t.Errorf("%q: %v %v, want %v", c.body, f, err, c.flags)
		}
	}
}

func TestSelfReferentialReply(t *testing.T) {
	got := string(eval(t, New(nil), "local t = {} t[1] = t return t", Options{}).Reply)
	if !strings.HasPrefix(got, "*1\r\n*1\r\n") || !strings.HasSuffix(got, "-ERR reached lua stack limit\r\n") {
		t.Fatalf("reply %.40q...%q", got, got[len(got)-40:])
	}
}

// TestBudgetEndsAtTheSameInstruction: a replicated script's bound is a count
// of instructions, so two runs of a looping script end after the same
// commands, with the budget's error; a script within its budget is untouched;
// and a replicated script cannot be killed.
func TestBudgetEndsAtTheSameInstruction(t *testing.T) {
	e := New(nil)
	loop := []byte("local i = 0; while true do i = i + 1; if i % 7 == 0 then redis.call('set', 'k', i) end end")
	var calls []int
	for range 2 {
		h := newFakeHost()
		r := e.Eval(loop, nil, nil, h, Options{Budget: 10_000, Replicated: true})
		if !strings.HasPrefix(string(r.Reply), "-"+errBudget+" script: ") {
			t.Fatalf("reply %q", r.Reply)
		}
		calls = append(calls, len(h.calls))
	}
	if calls[0] != calls[1] || calls[0] == 0 {
		t.Fatalf("the runs made %v calls before the budget ended them", calls)
	}
	if r := e.Eval([]byte("local i = 0; for j = 1, 100 do i = i + j end; return i"), nil, nil, newFakeHost(), Options{Budget: 10_000}); string(r.Reply) != ":5050\r\n" {
		t.Fatalf("a script within its budget: %q", r.Reply)
	}
	h := &blockingHost{started: make(chan struct{})}
	done := make(chan Result)
	go func() {
		done <- e.Eval([]byte("redis.call('get', 'k'); while true do end"), nil, nil, h, Options{Budget: 1 << 40, Replicated: true})
	}()
	<-h.started
	if err := e.Kill(true); err != ErrUnkillableReplicated {
		t.Fatalf("Kill of a replicated script: %v", err)
	}
	e.cur.Load().cancel()
	<-done
}

// TestNumbersAsLua51: tostring prints numbers with Lua 5.1's "%.14g" and
// tonumber reads what C's strtod reads, as Redis's Lua does.
func TestNumbersAsLua51(t *testing.T) {
	e := New(nil)
	r := e.Eval([]byte(`return {tostring(0.7832349621612742), tostring(1e15), tostring(100), tostring(tonumber('1e+2')),
		tostring(tonumber(' 0x10 ')), tostring(tonumber('abc')), tostring(tonumber('10', 2)), tostring(tonumber('1_0')),
		tostring(tonumber('0x1.8p1')), tostring(tonumber('1e5x'))}`),
		nil, nil, newFakeHost(), Options{})
	want := "*10\r\n"
	for _, w := range []string{"0.78323496216127", "1e+15", "100", "100", "16", "nil", "2", "nil", "3", "nil"} {
		want += fmt.Sprintf("$%d\r\n%s\r\n", len(w), w)
	}
	if string(r.Reply) != want {
		t.Fatalf("got %q, want %q", r.Reply, want)
	}
}
