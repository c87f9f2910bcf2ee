//go:build !race

// The race detector changes what the heap holds, so this measurement runs
// in the plain test run only.

package store

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestMemoryAccounting measures, for each common shape of value, the heap a
// key really costs against what MemoryBytes counts for it (what maxmemory
// bounds), and holds the two within 25% of each other.
func TestMemoryAccounting(t *testing.T) {
	hashFields := func(n, width int) []string {
		var c []string
		for i := range n {
			c = append(c, fmt.Sprintf("field%d", i), strings.Repeat("v", width))
		}
		return c
	}
	members := func(n int, format string) []string {
		var c []string
		for i := range n {
			c = append(c, fmt.Sprintf(format, i))
		}
		return c
	}
	scored := func(n int) []string {
		var c []string
		for i := range n {
			c = append(c, fmt.Sprint(i), fmt.Sprintf("member%d", i))
		}
		return c
	}
	shapes := []struct {
		name string
		keys int
		cmds func(k string) [][]string
	}{
		{"string of 100 B", 50000, func(k string) [][]string { return [][]string{{"set", k, strings.Repeat("v", 100)}} }},
		{"string of 1 KB", 10000, func(k string) [][]string { return [][]string{{"set", k, strings.Repeat("v", 1024)}} }},
		{"string with a TTL", 50000, func(k string) [][]string { return [][]string{{"set", k, "v", "ex", "1000"}} }},
		{"hash of 5 fields", 20000, func(k string) [][]string { return [][]string{append([]string{"hset", k}, hashFields(5, 10)...)} }},
		{"hash of 1000 fields", 20, func(k string) [][]string { return [][]string{append([]string{"hset", k}, hashFields(1000, 15)...)} }},
		{"list of 100", 500, func(k string) [][]string {
			return [][]string{append([]string{"rpush", k}, members(100, "element%d")...)}
		}},
		{"intset of 100", 1000, func(k string) [][]string { return [][]string{append([]string{"sadd", k}, members(100, "%d")...)} }},
		{"set of 1000", 20, func(k string) [][]string {
			return [][]string{append([]string{"sadd", k}, members(1000, "member%d")...)}
		}},
		{"zset of 10", 10000, func(k string) [][]string { return [][]string{append([]string{"zadd", k}, scored(10)...)} }},
		{"zset of 1000", 20, func(k string) [][]string { return [][]string{append([]string{"zadd", k}, scored(1000)...)} }},
		{"stream of 100", 200, func(k string) [][]string {
			var c [][]string
			for range 100 {
				c = append(c, []string{"xadd", k, "*", "f", "value12345"})
			}
			return c
		}},
	}
	for _, sh := range shapes {
		s := New()
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		for i := range sh.keys {
			for _, c := range sh.cmds(fmt.Sprintf("key:%012d", i)) {
				args := make([][]byte, len(c))
				for j := range c {
					args[j] = []byte(c[j])
				}
				s.Apply(1, args, nil)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap := float64(ms.HeapAlloc - before)
		counted := float64(s.MemoryBytes())
		t.Logf("%-20s heap %6.0f B/key, counted %6.0f B/key (%.2f)", sh.name, heap/float64(sh.keys), counted/float64(sh.keys), counted/heap)
		if r := counted / heap; r < 0.8 || r > 1.25 {
			t.Errorf("%s: counted %.0f B of %.0f B on the heap (%.2f)", sh.name, counted, heap, r)
		}
		runtime.KeepAlive(s)
	}
}
