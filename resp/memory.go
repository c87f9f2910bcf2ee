package resp

// MEMORY, and the memory settings CONFIG and INFO read and change.

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/store"
)

// ParseMemory reads a memory size as redis.conf writes it (Redis's
// memtoull): digits, then nothing, b, k, kb, m, mb, g or gb in any case (k
// is 1000, kb 1024, and so on). No digits at all read as 0, as in Redis.
func ParseMemory(v string) (int64, bool) {
	digits := strings.TrimLeft(v, "0123456789")
	num := v[:len(v)-len(digits)]
	muls := map[string]int64{"": 1, "b": 1, "k": 1e3, "kb": 1 << 10, "m": 1e6, "mb": 1 << 20, "g": 1e9, "gb": 1 << 30}
	mul, ok := muls[strings.ToLower(digits)]
	if !ok {
		return 0, false
	}
	if num == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mul {
		return 0, false
	}
	return n * mul, true
}

// humanBytes is Redis's bytesToHuman.
func humanBytes(n int64) string {
	f := float64(n)
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%dB", n)
	case n < 1<<20:
		return fmt.Sprintf("%.2fK", f/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.2fM", f/(1<<20))
	case n < 1<<40:
		return fmt.Sprintf("%.2fG", f/(1<<30))
	}
	return fmt.Sprintf("%.2fT", f/(1<<40))
}

// rssBytes is the process's resident set size, from /proc where there is one.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// memoryInfo is INFO's Memory section. used_memory is the keyspace as
// accounted per key (store.MemoryBytes), which maxmemory bounds, as Redis
// bounds its used_memory; allocator_allocated is the Go heap, which also
// holds connections, the log's cache and garbage not yet collected.
func (s *Server) memoryInfo() []string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := s.home.Store().Stats(time.Now().UnixMilli())
	limit := s.home.Removal().MaxMemory()
	rss := rssBytes()
	pending, freed := s.home.Store().LazyFreeStats()
	return []string{
		fmt.Sprintf("used_memory:%d", st.Used),
		"used_memory_human:" + humanBytes(st.Used),
		fmt.Sprintf("used_memory_rss:%d", rss),
		"used_memory_rss_human:" + humanBytes(rss),
		fmt.Sprintf("used_memory_peak:%d", st.Peak),
		"used_memory_peak_human:" + humanBytes(st.Peak),
		fmt.Sprintf("used_memory_dataset:%d", st.Used),
		fmt.Sprintf("allocator_allocated:%d", ms.HeapAlloc),
		fmt.Sprintf("maxmemory:%d", limit),
		"maxmemory_human:" + humanBytes(limit),
		"maxmemory_policy:" + st.Policy.String(),
		fmt.Sprintf("maxmemory_samples:%d", s.home.Removal().Samples()),
		fmt.Sprintf("lazyfree_pending_objects:%d", pending),
		fmt.Sprintf("lazyfreed_objects:%d", freed),
		"mem_not_counted_for_evict:0",
		fmt.Sprintf("number_of_cached_scripts:%d", s.home.Scripts().CachedScripts()),
	}
}

// setPolicy is CONFIG SET maxmemory-policy, of a name the table checked.
func (s *Server) setPolicy(v string) string {
	p, _ := store.ParsePolicy(v)
	s.home.Removal().SetPolicy(p)
	return ""
}

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){"memory": (*Server).cmdMemory})
}

var memoryHelp = []string{
	"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DOCTOR",
	"    Return memory problems reports.",
	"MALLOC-STATS",
	"    Return internal statistics report from the memory allocator.",
	"PURGE",
	"    Attempt to purge dirty pages for reclamation by the allocator.",
	"STATS",
	"    Return information about the memory usage of the server.",
	"USAGE <key> [SAMPLES <count>]",
	"    Return memory in bytes used by <key> and its value. Nested values are",
	"    sampled up to <count> times (default: 5, 0 means sample all).",
	"HELP",
	"    Prints this help.",
}

// cmdMemory serves MEMORY, its subcommand and arity already checked.
// USAGE answers from this node's store (a follower's may be behind) with
// the bytes the key counts for against maxmemory; rkv measures whole
// values, so SAMPLES is checked but needs no sampling.
func (s *Server) cmdMemory(conn redcon.Conn, c *client, args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "usage":
		for j := 3; j < len(args); j += 2 {
			if !strings.EqualFold(string(args[j]), "samples") || j+1 == len(args) {
				conn.WriteError(errSyntax)
				return
			}
			n, err := strconv.ParseInt(string(args[j+1]), 10, 64)
			switch {
			case err != nil:
				conn.WriteError(errNotInteger)
				return
			case n < 0:
				conn.WriteError(errSyntax)
				return
			}
		}
		n, ok := s.route.forSlot(store.KeySlot(args[2])).Store().KeyMemory(c.db, time.Now().UnixMilli(), args[2])
		if !ok {
			conn.WriteNull()
			return
		}
		conn.WriteInt64(n)
	case "stats":
		st := s.home.Store().Stats(time.Now().UnixMilli())
		keys := s.home.Store().Len()
		perKey := int64(0)
		if keys > 0 {
			perKey = st.Used / int64(keys)
		}
		conn.WriteArray(8)
		conn.WriteBulkString("peak.allocated")
		conn.WriteInt64(st.Peak)
		conn.WriteBulkString("total.allocated")
		conn.WriteInt64(st.Used)
		conn.WriteBulkString("keys.count")
		conn.WriteInt(keys)
		conn.WriteBulkString("keys.bytes-per-key")
		conn.WriteInt64(perKey)
	case "doctor":
		conn.WriteBulkString(s.memoryDoctor())
	case "purge":
		debug.FreeOSMemory()
		conn.WriteString("OK")
	case "malloc-stats":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		conn.WriteBulkString(fmt.Sprintf("Go runtime: heap_alloc=%d heap_sys=%d heap_idle=%d heap_released=%d num_gc=%d\n",
			ms.HeapAlloc, ms.HeapSys, ms.HeapIdle, ms.HeapReleased, ms.NumGC))
	default:
		conn.WriteArray(len(memoryHelp))
		for _, h := range memoryHelp {
			conn.WriteString(h)
		}
	}
}

// memoryDoctor reports what an operator should know about memory: the use
// against maxmemory and the policy that answers it.
func (s *Server) memoryDoctor() string {
	st := s.home.Store().Stats(time.Now().UnixMilli())
	limit := s.home.Removal().MaxMemory()
	if limit == 0 {
		return fmt.Sprintf("used_memory is %s and no maxmemory is set: memory grows with the data set.", humanBytes(st.Used))
	}
	msg := fmt.Sprintf("used_memory is %s of maxmemory %s (%.1f%%), policy %s, %d keys evicted.",
		humanBytes(st.Used), humanBytes(limit), 100*float64(st.Used)/float64(limit), st.Policy, st.Evicted)
	if st.Policy == store.NoEviction && st.Used >= limit {
		msg += " Writes that add data get OOM: raise maxmemory or choose an eviction policy."
	}
	return msg
}

const errOOM = "OOM command not allowed when used memory > 'maxmemory'."

// denyOOM reports whether any of the commands may grow memory.
func denyOOM(scs []*store.Command) bool {
	for _, sc := range scs {
		if sc != nil && sc.DenyOOM() {
			return true
		}
	}
	return false
}
