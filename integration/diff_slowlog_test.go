package integration

import (
	"slices"
	"strings"
	"testing"
)

// TestDifferentialSlowlog: SLOWLOG and its settings against redis-server:
// errors, lengths, what a logged entry holds (its arguments, trimmed as
// Redis trims them, and the client's name); ids, times and durations are
// each server's own.
func TestDifferentialSlowlog(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	long := strings.Repeat("A", 129)
	many := []string{"SADD", "slowset"}
	for i := range 40 {
		many = append(many, string(rune('a'+i%26))+strings.Repeat("x", i))
	}
	steps := [][]string{
		{"CONFIG", "SET", "slowlog-log-slower-than", "-1"}, {"SLOWLOG", "RESET"}, {"SLOWLOG", "LEN"},
		{"SLOWLOG", "GET", "-2"}, {"SLOWLOG", "GET", "x"}, {"SLOWLOG", "GET"}, {"SLOWLOG", "BOGUS"}, {"SLOWLOG"},
		{"SLOWLOG", "LEN", "x"}, {"CONFIG", "SET", "slowlog-max-len", "-1"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "abc"}, {"CONFIG", "GET", "slowlog-max-len"},
		{"CLIENT", "SETNAME", "slowpoke"}, {"CONFIG", "SET", "slowlog-max-len", "3"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "0"}, {"SET", "k", "v"}, {"SADD", "s", "x", long}, many,
		{"AUTH", "secret"}, {"SLOWLOG", "LEN"}, {"SLOWLOG", "GET", "0"},
	}
	for _, args := range steps {
		if a := diffRun(t, rd, rk, diffCmd{args: args}); !a.ok {
			t.Errorf("%q:\n  redis: %s\n  rkv:   %s", args, a.redis, a.rkv)
		}
	}
	// Each entry's arguments and client name, newest first.
	render := func(d diffTarget) string {
		v, err := d.do(t, []string{"SLOWLOG", "GET", "-1"})
		if err != nil {
			return err.Error()
		}
		var parts []string
		for _, e := range v.([]any) {
			entry := e.([]any)
			parts = append(parts, diffReply(entry[3], nil)+" "+diffReply(entry[5], nil))
		}
		return strings.Join(parts, "\n")
	}
	if a, b := render(rd), render(rk); a != b {
		t.Errorf("SLOWLOG GET entries:\n  redis:\n%s\n  rkv:\n%s", a, b)
	}
}

// TestDifferentialLatency: LATENCY's errors and its empty answers, and
// LATENCY HISTOGRAM's commands and call counts (the latencies are each
// server's own) against redis-server.
func TestDifferentialLatency(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	steps := [][]string{
		{"CONFIG", "SET", "latency-monitor-threshold", "-1"}, {"CONFIG", "SET", "latency-monitor-threshold", "abc"},
		{"CONFIG", "SET", "latency-monitor-threshold", "0"}, {"CONFIG", "GET", "latency-monitor-threshold"},
		{"LATENCY", "RESET"}, {"LATENCY", "LATEST"}, {"LATENCY", "HISTORY", "command"}, {"LATENCY", "HISTORY"},
		{"LATENCY", "RESET", "blabla"}, {"LATENCY", "HELP", "x"}, {"LATENCY", "BOGUS"}, {"LATENCY"},
		{"LATENCY", "HISTOGRAM", "blabla"}, {"CONFIG", "RESETSTAT"}, {"SET", "a", "b"}, {"SET", "c", "d"},
		{"GET", "a"}, {"CLIENT", "GETNAME"},
	}
	for _, args := range steps {
		if a := diffRun(t, rd, rk, diffCmd{args: args}); !a.ok {
			t.Errorf("%q:\n  redis: %s\n  rkv:   %s", args, a.redis, a.rkv)
		}
	}
	render := func(d diffTarget, args ...string) string {
		v, err := d.do(t, append([]string{"LATENCY", "HISTOGRAM"}, args...))
		if err != nil {
			return err.Error()
		}
		m, _ := v.(map[any]any)
		var parts []string
		for name, h := range m {
			hm, _ := h.(map[any]any)
			parts = append(parts, diffReply(name, nil)+" calls "+diffReply(hm["calls"], nil))
		}
		if arr, ok := v.([]any); ok {
			for i := 0; i+1 < len(arr); i += 2 {
				h, _ := arr[i+1].([]any)
				parts = append(parts, diffReply(arr[i], nil)+" calls "+diffReply(h[1], nil))
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, "; ")
	}
	for _, args := range [][]string{{"set", "get", "zadd"}, {"client"}, {"client|getname", "blabla"}, {}} {
		if a, b := render(rd, args...), render(rk, args...); a != b {
			t.Errorf("LATENCY HISTOGRAM %q:\n  redis: %s\n  rkv:   %s", args, a, b)
		}
	}
}
