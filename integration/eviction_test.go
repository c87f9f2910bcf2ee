package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// infoInt reads one integer field of INFO <section>.
func infoInt(t *testing.T, nd *node, section, field string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := nd.info(ctx, section)
	if err != nil {
		t.Fatalf("node %d: INFO %s: %v", nd.id, section, err)
	}
	v, err := strconv.ParseFloat(m[field], 64)
	if err != nil {
		t.Fatalf("node %d: INFO %s has %s=%q", nd.id, section, field, m[field])
	}
	return int64(v)
}

// TestEvictionKeepsMemoryAndHotKeys writes 200 MB of keys into a node with
// maxmemory 50mb under allkeys-lru while reading a hot set of 1,000 keys
// throughout: memory stays at the limit (and the process's RSS bounded),
// and the hot keys survive.
func TestEvictionKeepsMemoryAndHotKeys(t *testing.T) {
	const limit = 50 << 20
	c := newCluster(t, 1, clusterOpts{extraArgs: []string{"--maxmemory", "50mb", "--maxmemory-policy", "allkeys-lru"}})
	nd := c.leader(10 * time.Second)
	rdb := client(t, nd.addr)
	ctx := context.Background()
	value := strings.Repeat("v", 1000)
	const hot = 1000
	hotPipe := func(do func(p redis.Pipeliner, key string)) []redis.Cmder {
		p := rdb.Pipeline()
		for i := range hot {
			do(p, fmt.Sprintf("hot:%d", i))
		}
		cmds, err := p.Exec(ctx)
		if err != nil && err != redis.Nil {
			t.Fatalf("hot set: %v", err)
		}
		return cmds
	}
	hotPipe(func(p redis.Pipeliner, k string) { p.Set(ctx, k, value, 0) })
	var maxUsed, maxRSS int64
	const batch, total = 500, 200_000 // 200 MB of values
	for i := 0; i < total; i += batch {
		p := rdb.Pipeline()
		for j := i; j < i+batch; j++ {
			p.Set(ctx, fmt.Sprintf("cold:%d", j), value, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("writing cold keys at %d: %v", i, err)
		}
		if (i/batch)%5 == 0 {
			hotPipe(func(p redis.Pipeliner, k string) { p.Get(ctx, k) })
		}
		if (i/batch)%40 == 0 {
			maxUsed = max(maxUsed, infoInt(t, nd, "memory", "used_memory"))
			maxRSS = max(maxRSS, infoInt(t, nd, "memory", "used_memory_rss"))
		}
	}
	maxUsed = max(maxUsed, infoInt(t, nd, "memory", "used_memory"))
	maxRSS = max(maxRSS, infoInt(t, nd, "memory", "used_memory_rss"))
	kept := 0
	for _, cmd := range hotPipe(func(p redis.Pipeliner, k string) { p.Exists(ctx, k) }) {
		kept += int(cmd.(*redis.IntCmd).Val())
	}
	evicted := infoInt(t, nd, "stats", "evicted_keys")
	keys, _ := rdb.DBSize(ctx).Result()
	t.Logf("used_memory peaked at %.1f MB (limit 50), RSS at %.1f MB; %d keys left, %d evicted, %d of %d hot keys kept",
		float64(maxUsed)/(1<<20), float64(maxRSS)/(1<<20), keys, evicted, kept, hot)
	if maxUsed > limit+limit/20 {
		t.Errorf("used_memory reached %d, over maxmemory %d by more than 5%%", maxUsed, limit)
	}
	// Without eviction the node would hold 200 MB of values; the bound
	// leaves room for the collector's headroom and the log's buffers.
	if maxRSS > 4*limit {
		t.Errorf("RSS reached %.1f MB with maxmemory 50mb", float64(maxRSS)/(1<<20))
	}
	if evicted == 0 || keys >= total {
		t.Errorf("nothing was evicted: %d keys, evicted_keys %d", keys, evicted)
	}
	if kept <= hot*95/100 {
		t.Errorf("only %d of %d hot keys survived", kept, hot)
	}
}

// TestNoEvictionRefusesWrites: under noeviction, writes that add data get
// Redis's OOM error at the limit (also EXEC), nothing refused reaches the
// log, and reads, deletions and then new writes keep working.
func TestNoEvictionRefusesWrites(t *testing.T) {
	c := newCluster(t, 1, clusterOpts{extraArgs: []string{"--maxmemory", "2mb"}})
	nd := c.leader(10 * time.Second)
	rdb := client(t, nd.addr)
	ctx := context.Background()
	value := strings.Repeat("x", 1000)
	written := 0
	var oomErr error
	for written < 10_000 && oomErr == nil {
		if oomErr = rdb.Set(ctx, fmt.Sprintf("k:%d", written), value, 0).Err(); oomErr == nil {
			written++
		}
	}
	const oom = "OOM command not allowed when used memory > 'maxmemory'."
	if oomErr == nil || oomErr.Error() != oom {
		t.Fatalf("after %d writes of 1 KB under maxmemory 2mb: %v", written, oomErr)
	}
	if used := infoInt(t, nd, "memory", "used_memory"); used > 2<<20+1<<16 {
		t.Errorf("used_memory %d over maxmemory 2mb", used)
	}
	if err := rdb.LPush(ctx, "list", "a").Err(); err == nil || err.Error() != oom {
		t.Errorf("LPUSH at the limit: %v", err)
	}
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "tx", "v", 0)
		return nil
	})
	if err == nil || err.Error() != oom {
		t.Errorf("EXEC of a SET at the limit: %v", err)
	}
	if got, err := rdb.Get(ctx, "k:0").Result(); err != nil || got != value {
		t.Errorf("GET at the limit: %q, %v", got, err)
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != int64(written) {
		t.Errorf("DBSIZE %d after %d acknowledged writes", n, written)
	}
	if n, err := rdb.Del(ctx, "k:0", "k:1", "k:2", "k:3", "k:4").Result(); err != nil || n != 5 {
		t.Fatalf("DEL at the limit: %d, %v", n, err)
	}
	if err := rdb.Set(ctx, "after-del", "v", 0).Err(); err != nil {
		t.Errorf("SET after DEL made room: %v", err)
	}
	nd.restart()
	c.leader(10 * time.Second)
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != int64(written-5+1) {
		t.Errorf("DBSIZE after a restart: %d, %v; want %d", n, err, written-5+1)
	}
	// A volatile policy with no key that has a TTL has nothing to evict:
	// still OOM. Any key may go under allkeys-random: the write gets room.
	for i := 0; i < 100 && rdb.Set(ctx, fmt.Sprintf("fill:%d", i), value, 0).Err() == nil; i++ {
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "volatile", value, 0).Err(); err == nil || err.Error() != oom {
		t.Errorf("SET under volatile-lru without keys with a TTL: %v", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-random").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "random", value, 0).Err(); err != nil {
		t.Errorf("SET under allkeys-random at the limit: %v", err)
	}
	if evicted := infoInt(t, nd, "stats", "evicted_keys"); evicted == 0 {
		t.Error("allkeys-random made room without evicting")
	}
}

// TestEvictionAndExpiryReplicasAgree: on three nodes under a write load that
// evicts (allkeys-lfu, with reads) and expires, every node holds the same
// keys, by state digest, and again after all of them restart.
func TestEvictionAndExpiryReplicasAgree(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lfu",
		"--snapshot-entries", "2000", "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := client(t, leader.addr)
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 1500 {
				p := rdb.Pipeline()
				k := fmt.Sprintf("w%d:%d", w, i)
				switch i % 4 {
				case 0:
					p.Set(ctx, k, strings.Repeat("v", 500+r.IntN(1000)), time.Duration(200+r.IntN(800))*time.Millisecond)
				case 1:
					p.HSet(ctx, "h"+k, "a", strings.Repeat("f", 200), "b", r.IntN(1000))
				case 2:
					p.RPush(ctx, "l"+k, strings.Repeat("e", 300), "x", "y")
				default:
					p.Set(ctx, k, strings.Repeat("s", 1000), 0)
				}
				p.Get(ctx, fmt.Sprintf("w%d:%d", w, r.IntN(i+1)))
				if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
					errc <- fmt.Errorf("worker %d at %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	// Keys with a TTL live under a second: wait until they are all gone.
	waitFor(t, 30*time.Second, "every key with a TTL to expire", func() error {
		if n := infoInt(t, leader, "memory", "used_memory"); n == 0 {
			return fmt.Errorf("no memory used")
		}
		m, err := leader.info(ctx, "keyspace")
		if err != nil {
			return err
		}
		if !strings.Contains(m["db0"], "expires=0,") {
			return fmt.Errorf("keyspace %s", m["db0"])
		}
		return nil
	})
	c.waitConverged(30 * time.Second)
	before := waitSameDigest(t, c)
	for _, nd := range c.nodes {
		evicted, expired := infoInt(t, nd, "stats", "evicted_keys"), infoInt(t, nd, "stats", "expired_keys")
		t.Logf("node %d: evicted_keys %d, expired_keys %d", nd.id, evicted, expired)
		if evicted == 0 || expired == 0 {
			t.Errorf("node %d evicted %d and expired %d keys: the load was meant to do both", nd.id, evicted, expired)
		}
	}
	for _, nd := range c.nodes {
		nd.kill()
	}
	for _, nd := range c.nodes {
		nd.start()
	}
	c.waitConverged(30 * time.Second)
	after := waitSameDigest(t, c)
	t.Logf("digest %s before the restart, %s after", before, after)
}

// TestActiveExpiryKeepsStaleKeysFew: under a steady load of writes with
// TTLs of 1 to 3 s, the leader's expire cycle keeps the keys past their
// TTL but not yet deleted under 10% of the keys with a TTL, on average, as
// Redis's cycle aims to.
func TestActiveExpiryKeepsStaleKeysFew(t *testing.T) {
	c := newCluster(t, 1, clusterOpts{})
	nd := c.leader(10 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := client(t, nd.addr)
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; ctx.Err() == nil; i++ {
				p := rdb.Pipeline()
				for j := range 20 {
					p.Set(ctx, fmt.Sprintf("t%d:%d:%d", w, i, j), "v", time.Duration(1000+r.IntN(2000))*time.Millisecond)
				}
				p.Exec(ctx)
				time.Sleep(5 * time.Millisecond) // a steady rate, not a flood
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	// Steady state comes once the first keys live out their TTL.
	waitFor(t, 30*time.Second, "keys to start expiring", func() error {
		if infoInt(t, nd, "stats", "expired_keys") < 1000 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	var sum, worst float64
	const samples = 20
	for range samples {
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := nd.info(ctx2, "stats")
		cancel2()
		if err != nil {
			t.Fatal(err)
		}
		stale, _ := strconv.ParseFloat(m["expired_stale_perc"], 64)
		sum += stale
		worst = max(worst, stale)
		time.Sleep(150 * time.Millisecond) // spacing the samples over the load
	}
	keyspace, _ := nd.info(context.Background(), "keyspace")
	t.Logf("expired_stale_perc: %.2f%% on average, %.2f%% at worst; %s; expired_keys %d",
		sum/samples, worst, keyspace["db0"], infoInt(t, nd, "stats", "expired_keys"))
	if sum/samples >= 10 {
		t.Errorf("on average %.2f%% of the keys with a TTL were past it", sum/samples)
	}
}

// TestMemorySettings: the maxmemory settings through CONFIG GET/SET, with
// Redis's errors for bad values, and MEMORY USAGE, through redis-cli.
func TestMemorySettings(t *testing.T) {
	c := newCluster(t, 1, clusterOpts{extraArgs: []string{"--maxmemory", "1kb", "--maxmemory-policy", "volatile-ttl"}})
	nd := c.leader(10 * time.Second)
	cli := requireTool(t, "redis-cli")
	host, port, _ := net.SplitHostPort(nd.addr)
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v (%s)", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, c := range []struct{ args, want string }{
		{"config get maxmemory", "maxmemory\n1024"},
		{"config get maxmemory-policy", "maxmemory-policy\nvolatile-ttl"},
		{"config set maxmemory 2m", "OK"},
		{"config get maxmemory", "maxmemory\n2000000"},
		{"config set maxmemory-policy ALLKEYS-LFU", "OK"},
		{"config get maxmemory-policy", "maxmemory-policy\nallkeys-lfu"},
		{"config set maxmemory-samples 10", "OK"},
		{"config get maxmemory-samples", "maxmemory-samples\n10"},
		{"config set maxmemory abc", "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"},
		{"config set maxmemory-policy lru", "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"},
		{"config set maxmemory-samples 0", "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"},
		{"set k " + strings.Repeat("v", 1000), "OK"},
		{"memory usage nokey", ""},
		{"memory usage k samples x", "ERR value is not an integer or out of range"},
		{"memory usage k foo", "ERR syntax error"},
		{"object freq k", strconv.Itoa(5)},
	} {
		if got := run(strings.Fields(c.args)...); got != c.want {
			t.Errorf("%s: got %q, want %q", c.args, got, c.want)
		}
	}
	usage, err := strconv.Atoi(run("memory", "usage", "k"))
	if err != nil || usage < 1000 || usage > 1200 {
		t.Errorf("MEMORY USAGE of a 1-byte key with a 1000-byte value: %d, %v", usage, err)
	}
	m, err := nd.info(context.Background(), "memory")
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"maxmemory": "2000000", "maxmemory_human": "1.91M", "maxmemory_policy": "allkeys-lfu"} {
		if m[field] != want {
			t.Errorf("INFO memory %s = %q, want %q", field, m[field], want)
		}
	}
	if used, _ := strconv.Atoi(m["used_memory"]); used < usage {
		t.Errorf("INFO used_memory %s below the one key's MEMORY USAGE %d", m["used_memory"], usage)
	}
}
