package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// diffLazyMembers returns n arguments with prefix p: members, or field
// and value pairs when pairs is set (values past hash-max-listpack-value,
// so that the hash is a hashtable).
func diffLazyMembers(p string, n int, pairs bool) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", p, i))
		if pairs {
			out = append(out, strings.Repeat("v", 80))
		}
	}
	return out
}

// diffLazyInfo waits until the server has nothing pending release and
// returns its lazyfreed_objects.
func diffLazyInfo(t *testing.T, d diffTarget) string {
	t.Helper()
	var freed string
	waitFor(t, 10*time.Second, d.name+" to finish lazy freeing", func() error {
		v, err := d.do(t, []string{"INFO", "memory"})
		if err != nil {
			return err
		}
		fields := map[string]string{}
		for _, line := range strings.Split(v.(string), "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = v
			}
		}
		if p := fields["lazyfree_pending_objects"]; p != "0" {
			return fmt.Errorf("lazyfree_pending_objects:%s", p)
		}
		freed = fields["lazyfreed_objects"]
		return nil
	})
	return freed
}

// TestDifferentialLazyFree compares which deletions free their values
// lazily, by INFO's lazyfreed_objects after each step: UNLINK, DEL, SET
// over a value, RENAME over one, expiry, FLUSHALL and FLUSHDB with and
// without ASYNC (in one database and two), under each lazyfree-lazy-* setting, on values on either
// side of Redis's free-effort threshold (64) and of compact encodings.
func TestDifferentialLazyFree(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	big := map[string][]string{
		"set":  append([]string{"SADD", "k"}, diffLazyMembers("m", 100, false)...),
		"hash": append([]string{"HSET", "k"}, diffLazyMembers("f", 100, true)...),
		"zset": func() []string {
			args := []string{"ZADD", "k"}
			for _, m := range diffLazyMembers("m", 200, false) {
				args = append(args, "1", m)
			}
			return args
		}(),
	}
	small := map[string][]string{
		"set of 64":       append([]string{"SADD", "k"}, diffLazyMembers("m", 64, false)...),
		"intset":          append([]string{"SADD", "k"}, diffLazyMembers("", 100, false)...),
		"listpack hash":   append([]string{"HSET", "k"}, "f", "v"),
		"listpack zset":   {"ZADD", "k", "1", "m"},
		"string":          {"SET", "k", strings.Repeat("x", 100000)},
		"small hashtable": append([]string{"HSET", "k"}, diffLazyMembers("f", 10, true)...),
	}
	type scenario struct {
		name    string
		setting string // a lazyfree-lazy-* setting turned on for it
		del     [][]string
	}
	scenarios := []scenario{
		{"unlink", "", [][]string{{"UNLINK", "k"}}},
		{"del", "", [][]string{{"DEL", "k"}}},
		{"del user-del", "lazyfree-lazy-user-del", [][]string{{"DEL", "k"}}},
		{"set over", "", [][]string{{"SET", "k", "v"}}},
		{"set over server-del", "lazyfree-lazy-server-del", [][]string{{"SET", "k", "v"}}},
		{"rename over server-del", "lazyfree-lazy-server-del", [][]string{{"SET", "src", "v"}, {"RENAME", "src", "k"}}},
		{"rename away server-del", "lazyfree-lazy-server-del", [][]string{{"RENAME", "k", "dst"}, {"DEL", "dst"}}},
		{"expire past expire", "lazyfree-lazy-expire", [][]string{{"PEXPIRE", "k", "0"}}},
		{"expire past", "", [][]string{{"PEXPIRE", "k", "0"}}},
		{"flushall async", "", [][]string{{"SET", "a", "1"}, {"FLUSHALL", "ASYNC"}}},
		{"flushdb", "", [][]string{{"FLUSHDB"}}},
		{"flushall user-flush", "lazyfree-lazy-user-flush", [][]string{{"SET", "a", "1"}, {"FLUSHALL"}}},
		{"flushdb sync user-flush", "lazyfree-lazy-user-flush", [][]string{{"FLUSHDB", "SYNC"}}},
		{"flushall async, two databases", "", [][]string{{"SELECT", "1"}, {"SET", "a", "1"}, {"FLUSHALL", "ASYNC"}, {"SELECT", "0"}}},
		{"flushdb async in database 1", "", [][]string{{"SELECT", "1"}, {"SET", "a", "1"}, {"FLUSHDB", "ASYNC"}, {"SELECT", "0"}}},
	}
	values := map[string][]string{}
	for k, v := range big {
		values["big "+k] = v
	}
	for k, v := range small {
		values[k] = v
	}
	for _, sc := range scenarios {
		for name, build := range values {
			steps := [][]string{{"FLUSHALL"}, {"CONFIG", "RESETSTAT"}}
			if sc.setting != "" {
				steps = append(steps, []string{"CONFIG", "SET", sc.setting, "yes"})
			}
			steps = append(steps, build)
			steps = append(steps, sc.del...)
			if sc.setting != "" {
				steps = append(steps, []string{"CONFIG", "SET", sc.setting, "no"})
			}
			for _, args := range steps {
				if out := diffRun(t, rd, rk, diffCmd{args: args}); !out.ok {
					t.Fatalf("%s of a %s: %q\n  redis: %s\n  rkv:   %s", sc.name, name, args, out.redis, out.rkv)
				}
			}
			if a, b := diffLazyInfo(t, rd), diffLazyInfo(t, rk); a != b {
				t.Errorf("%s of a %s: lazyfreed_objects %s on Redis, %s on rkv", sc.name, name, a, b)
			}
		}
	}
}
