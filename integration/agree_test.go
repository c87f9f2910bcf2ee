package integration

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// agreeSeed is the seed of TestReplicasAgreeOnNewCommands' first run; each
// further run in the same process (-count) takes the next one, so
// -count=3 tries three workloads and a failing seed replays alone with
// -agree.seed=N -count=1.
var (
	agreeSeed = flag.Uint64("agree.seed", 1, "seed of TestReplicasAgreeOnNewCommands' first run; later runs of -count take the next seeds")
	agreeRuns atomic.Uint64
)

// agreeKey returns one of n keys of a kind. Every key has the hash tag
// {a}, so the multi-key commands may combine any of them; SORT's BY and
// GET patterns ({a}w_*, {a}o_*->f) name keys of the same slot.
func agreeKey(r *rand.Rand, kind string, n int) string {
	return fmt.Sprintf("{a}%s%d", kind, r.IntN(n))
}

// agreeKinds are the key prefixes of agreeWorkload: bitmaps and strings,
// HyperLogLogs, geo sets, sorted sets, streams, lists, sets, hashes.
var agreeKinds = []string{"b", "h", "g", "z", "x", "l", "s", "H"}

func agreeAnyKey(r *rand.Rand) string {
	return agreeKey(r, agreeKinds[r.IntN(len(agreeKinds))], 4)
}

// agreeKeyPair returns a source and a destination for COPY and RESTORE:
// mostly of one kind, so that they copy a value over one of its own type
// rather than turn every key into every type.
func agreeKeyPair(r *rand.Rand) (string, string) {
	if r.IntN(4) == 0 {
		return agreeAnyKey(r), agreeAnyKey(r)
	}
	kind := agreeKinds[r.IntN(len(agreeKinds))]
	return agreeKey(r, kind, 4), agreeKey(r, kind, 4)
}

// agreeSettings are the encoding thresholds CONFIG SET changes mid-run,
// with values on both sides of the sizes the workload builds, so that
// values convert between encodings while replicas apply them.
var agreeSettings = map[string][]string{
	"hash-max-listpack-entries": {"0", "2", "128"},
	"hash-max-listpack-value":   {"1", "64"},
	"zset-max-listpack-entries": {"0", "3", "128"},
	"zset-max-listpack-value":   {"2", "64"},
	"set-max-intset-entries":    {"1", "3", "512"},
	"list-max-listpack-size":    {"-2", "1", "3"},
	"stream-node-max-entries":   {"2", "100"},
	"hll-sparse-max-bytes":      {"0", "60", "3000"},
}

// agreeScripts are EVAL bodies over the new commands; KEYS and ARGV come
// from agreeEval.
var agreeScripts = []string{
	"redis.call('SETBIT', KEYS[1], ARGV[1], 1) return redis.call('BITFIELD', KEYS[1], 'OVERFLOW', 'SAT', 'INCRBY', 'u4', ARGV[1], 7)",
	"redis.call('PFADD', KEYS[1], ARGV[1], ARGV[2]) return redis.call('PFCOUNT', KEYS[1])",
	"local d = redis.call('DUMP', KEYS[1]) if d then return redis.call('RESTORE', KEYS[2], 0, d, 'REPLACE') end return 0",
	"return redis.call('ZMPOP', 2, KEYS[1], KEYS[2], 'MIN', 'COUNT', 2)",
	"redis.call('XADD', KEYS[1], '*', 'f', ARGV[1]) return redis.call('XREADGROUP', 'GROUP', 'g1', 'c1', 'COUNT', 2, 'STREAMS', KEYS[1], '>')",
	"return redis.call('GEOSEARCHSTORE', KEYS[1], KEYS[2], 'FROMLONLAT', 13, 52, 'BYRADIUS', ARGV[1], 'km', 'ASC', 'STOREDIST')",
	"return redis.call('SORT', KEYS[1], 'BY', '{a}w_*', 'GET', '#', 'STORE', KEYS[2])",
	"redis.call('COPY', KEYS[1], KEYS[2], 'REPLACE') return redis.call('LCS', KEYS[1], KEYS[2], 'LEN')",
	"return redis.call('BITOP', 'XOR', KEYS[1], KEYS[2], KEYS[1])",
	"redis.call('PEXPIRE', KEYS[1], ARGV[1]) return redis.call('XAUTOCLAIM', KEYS[2], 'g1', 'c2', 0, '0', 'COUNT', 3)",
}

// agreeWorkload returns one random command over the data commands added
// since TestReplicasAgreeOnAllTypes' workload, error replies included
// (WRONGTYPE, bad offsets, NOGROUP): the error paths must agree too.
func agreeWorkload(r *rand.Rand) []any {
	member := func() string { return "m" + strconv.Itoa(r.IntN(12)) }
	num := func() string { return strconv.Itoa(r.IntN(30) - 5) }
	elem := func() string {
		if r.IntN(2) == 0 {
			return member()
		}
		return num()
	}
	b := func() string { return agreeKey(r, "b", 5) }
	h := func() string { return agreeKey(r, "h", 4) }
	g := func() string { return agreeKey(r, "g", 4) }
	z := func() string { return agreeKey(r, "z", 4) }
	x := func() string { return agreeKey(r, "x", 3) }
	group := func() string { return []string{"g1", "g2"}[r.IntN(2)] }
	consumer := func() string { return []string{"c1", "c2", "c3"}[r.IntN(3)] }
	streamID := func() string { return fmt.Sprintf("%d-%d", r.IntN(3), r.IntN(3)) }
	switch r.IntN(42) {
	case 40:
		// Numbered databases: keys cross between 0 and agreeDBs.
		db := r.IntN(agreeDBs + 1)
		switch r.IntN(4) {
		case 0:
			return []any{"MOVE", agreeAnyKey(r), db}
		case 1:
			return []any{"COPY", agreeAnyKey(r), agreeAnyKey(r), "DB", db, "REPLACE"}
		case 2:
			return []any{"SWAPDB", db, r.IntN(agreeDBs + 1)}
		}
		return []any{"EVAL", "redis.call('select', ARGV[1]) return redis.call('set', KEYS[1], ARGV[2])", 1, agreeAnyKey(r), db, member()}
	case 0, 1:
		// Mostly within 44 bytes, where a string's encoding may be
		// embstr or raw; sometimes beyond.
		return []any{"SETBIT", b(), r.IntN([]int{64, 350}[r.IntN(2)]), r.IntN(2)}
	case 2:
		ops := []string{"AND", "OR", "XOR", "NOT"}
		op := ops[r.IntN(len(ops))]
		if op == "NOT" {
			return []any{"BITOP", op, b(), b()}
		}
		return []any{"BITOP", op, b(), b(), b(), b()}
	case 3, 4:
		types := []string{"i5", "u4", "i8", "u16", "i64", "u63"}
		args := []any{"BITFIELD", b()}
		for range 1 + r.IntN(3) {
			args = append(args, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)])
			typ, off := types[r.IntN(len(types))], r.IntN(100)
			if r.IntN(2) == 0 {
				off = r.IntN(3)
				args = append(args, "INCRBY", typ, "#"+strconv.Itoa(off), r.IntN(400)-200)
			} else {
				args = append(args, "SET", typ, off, r.IntN(1000)-500)
			}
		}
		return append(args, "GET", "u8", r.IntN(40))
	case 5:
		return []any{"SETRANGE", b(), r.IntN(20), member()}
	case 6, 7:
		return []any{"PFADD", h(), member(), num(), "e" + strconv.Itoa(r.IntN(3000))}
	case 8:
		return []any{"PFMERGE", h(), h(), h()}
	case 9:
		if r.IntN(3) == 0 {
			return []any{"PFCOUNT", h(), h()}
		}
		return []any{"PFCOUNT", h()}
	case 10, 11:
		return []any{"GEOADD", g(), 13 + r.Float64()*4, 50 + r.Float64()*4, member()}
	case 12:
		args := []any{"GEOSEARCHSTORE", g(), g(), "FROMLONLAT", 15, 52, "BYBOX", 200 + r.IntN(400), 300, "km", "DESC", "COUNT", 1 + r.IntN(5)}
		if r.IntN(2) == 0 {
			args = append(args, "STOREDIST")
		}
		return args
	case 13:
		return []any{"GEORADIUS", g(), 15, 52, 100 + r.IntN(300), "km", "ASC", []string{"STORE", "STOREDIST"}[r.IntN(2)], g()}
	case 14, 15:
		return []any{"XADD", x(), "MAXLEN", "~", 20, "*", "f", member()}
	case 16:
		switch r.IntN(6) {
		case 0, 5:
			return []any{"XGROUP", "CREATE", x(), group(), []string{"0", "$"}[r.IntN(2)], "MKSTREAM", "ENTRIESREAD", r.IntN(5)}
		case 1:
			return []any{"XGROUP", "SETID", x(), group(), []string{"0", "$", streamID()}[r.IntN(3)]}
		case 2:
			return []any{"XGROUP", "CREATECONSUMER", x(), group(), consumer()}
		case 3:
			return []any{"XGROUP", "DELCONSUMER", x(), group(), consumer()}
		}
		return []any{"XGROUP", "DESTROY", x(), group()}
	case 17, 18:
		return []any{"XREADGROUP", "GROUP", group(), consumer(), "COUNT", 1 + r.IntN(4), "STREAMS", x(), []string{">", "0"}[r.IntN(2)]}
	case 19:
		return []any{"XACK", x(), group(), streamID(), "0-1", "99999999999999-0"}
	case 20:
		args := []any{"XCLAIM", x(), group(), consumer(), r.IntN(30), "0-1", streamID()}
		switch r.IntN(4) {
		case 0:
			args = append(args, "IDLE", r.IntN(100), "RETRYCOUNT", r.IntN(5))
		case 1:
			args = append(args, "TIME", 1_700_000_000_000+r.IntN(1000))
		case 2:
			args = append(args, "FORCE", "JUSTID")
		}
		return args
	case 21:
		return []any{"XAUTOCLAIM", x(), group(), consumer(), r.IntN(30), "0", "COUNT", 1 + r.IntN(4)}
	case 22:
		if r.IntN(2) == 0 {
			return []any{"XTRIM", x(), "MAXLEN", r.IntN(10)}
		}
		return []any{"XTRIM", x(), "MINID", "~", streamID()}
	case 23:
		return []any{"XSETID", x(), fmt.Sprintf("%d-0", 1_800_000_000_000+r.IntN(1000)), "ENTRIESADDED", 100 + r.IntN(10), "MAXDELETEDID", "0-1"}
	case 24:
		return []any{"XDEL", x(), streamID()}
	case 25:
		return []any{"RPUSH", agreeKey(r, "l", 4), elem(), elem(), elem()}
	case 26:
		return []any{"SADD", agreeKey(r, "s", 4), elem(), elem(), elem()}
	case 27:
		return []any{"ZADD", z(), r.IntN(20), elem(), r.Float64() * 10, elem()}
	case 28:
		if r.IntN(2) == 0 {
			return []any{"SET", "{a}w_" + elem(), []string{num(), member(), "1.5", "inf"}[r.IntN(4)]}
		}
		return []any{"HSET", "{a}o_" + elem(), "f", member(), "g", num()}
	case 29, 30:
		src := agreeKey(r, []string{"l", "s", "z"}[r.IntN(3)], 4)
		args := []any{"SORT", src}
		switch r.IntN(3) {
		case 0:
			args = append(args, "BY", "{a}w_*")
		case 1:
			args = append(args, "BY", "nosort")
		}
		if r.IntN(2) == 0 {
			args = append(args, "GET", "#", "GET", []string{"{a}o_*->f", "{a}w_*"}[r.IntN(2)])
		}
		if r.IntN(2) == 0 {
			args = append(args, "ALPHA")
		}
		if r.IntN(3) == 0 {
			args = append(args, "LIMIT", r.IntN(3), 1+r.IntN(5))
		}
		return append(args, []string{"ASC", "DESC"}[r.IntN(2)], "STORE", agreeKey(r, "l", 4))
	case 31:
		return []any{"LCS", b(), b(), "IDX", "MINMATCHLEN", r.IntN(3), "WITHMATCHLEN"}
	case 32:
		if r.IntN(2) == 0 {
			return []any{"BZMPOP", 0.01, 2, z(), g(), []string{"MIN", "MAX"}[r.IntN(2)], "COUNT", 1 + r.IntN(3)}
		}
		return []any{"ZMPOP", 3, z(), z(), g(), []string{"MIN", "MAX"}[r.IntN(2)], "COUNT", 1 + r.IntN(3)}
	case 33:
		return []any{"ZINTERCARD", 2, z(), g(), "LIMIT", r.IntN(4)}
	case 34:
		src, dst := agreeKeyPair(r)
		return []any{"COPY", src, dst, "REPLACE"}
	case 35:
		k := agreeAnyKey(r)
		switch r.IntN(4) {
		case 0:
			return []any{"PEXPIRE", k, 50 + r.IntN(600)}
		case 1:
			return []any{"EXPIRE", k, 100000 + r.IntN(1000)}
		case 2:
			return []any{"PERSIST", k}
		}
		return []any{"SET", b(), member(), "PX", 50 + r.IntN(600)}
	case 36:
		names := slices.Sorted(maps.Keys(agreeSettings))
		name := names[r.IntN(len(names))]
		vals := agreeSettings[name]
		return []any{"CONFIG", "SET", name, vals[r.IntN(len(vals))]}
	case 37:
		return []any{"DEL", agreeAnyKey(r)}
	case 38:
		return []any{"HSET", agreeKey(r, "H", 4), member(), elem(), member(), strings.Repeat("v", r.IntN(80))}
	}
	return agreeEval(r)
}

// agreeEval returns an EVAL of one of agreeScripts on random keys.
func agreeEval(r *rand.Rand) []any {
	i := r.IntN(len(agreeScripts))
	k1, k2 := agreeAnyKey(r), agreeAnyKey(r)
	switch i {
	case 0, 7, 8:
		k1, k2 = agreeKey(r, "b", 5), agreeKey(r, "b", 5)
	case 1:
		k1 = agreeKey(r, "h", 4)
	case 3:
		k1, k2 = agreeKey(r, "z", 4), agreeKey(r, "g", 4)
	case 4:
		k1 = agreeKey(r, "x", 3)
	case 5:
		k1, k2 = agreeKey(r, "g", 4), agreeKey(r, "g", 4)
	case 9:
		k2 = agreeKey(r, "x", 3)
	}
	return []any{"EVAL", agreeScripts[i], 2, k1, k2, strconv.Itoa(1 + r.IntN(400)), "e" + strconv.Itoa(r.IntN(50))}
}

// agreeRestore DUMPs a random key and RESTOREs it under another with a
// random choice of RESTORE's options: relative or absolute deadlines
// (some already past), REPLACE, IDLETIME and FREQ.
func agreeRestore(ctx context.Context, rdb *redis.Client, r *rand.Rand) error {
	src, dst := agreeKeyPair(r)
	payload, err := rdb.Dump(ctx, src).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	args := []any{"RESTORE", dst}
	switch r.IntN(4) {
	case 0:
		args = append(args, 0, payload)
	case 1:
		args = append(args, 50+r.IntN(600), payload)
	case 2:
		args = append(args, time.Now().Add(time.Duration(r.IntN(2000)-500)*time.Millisecond).UnixMilli(), payload, "ABSTTL")
	default:
		args = append(args, 0, payload, "REPLACE")
	}
	switch r.IntN(3) {
	case 0:
		args = append(args, "IDLETIME", r.IntN(1000))
	case 1:
		args = append(args, "FREQ", r.IntN(256))
	}
	if r.IntN(4) != 0 && !slices.Contains(args, any("REPLACE")) {
		args = append(args, "REPLACE")
	}
	return rdb.Do(ctx, args...).Err()
}

// runAgreeWorkload sends n random commands from each of workers clients
// to addr, a tenth of them inside MULTI/EXEC and some DUMP/RESTORE pairs,
// and fails on anything but a reply (error replies are expected).
func runAgreeWorkload(t *testing.T, addr string, seed, phase uint64, workers, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := client(t, addr)
			r := rand.New(rand.NewPCG(seed, phase<<8|uint64(w)))
			ctx := context.Background()
			for i := range n {
				var err error
				switch c := r.IntN(20); {
				case c == 0:
					_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
						for range 1 + r.IntN(4) {
							p.Do(ctx, agreeWorkload(r)...)
						}
						return nil
					})
				case c == 1:
					err = agreeRestore(ctx, rdb, r)
				default:
					err = rdb.Do(ctx, agreeWorkload(r)...).Err()
				}
				var rerr redis.Error
				if err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &rerr) {
					errc <- fmt.Errorf("seed %d, phase %d, worker %d, command %d: %w", seed, phase, w, i, err)
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
}

// agreeKeep copies every key of the workload's key space under a name of
// its phase that no later command touches, so the values, encodings and
// stream groups each phase built reach the end as they were: those of
// phases 1 and 2 through the snapshot the restarted follower installs.
func agreeKeep(t *testing.T, addr string, phase int) {
	t.Helper()
	rdb := client(t, addr)
	ctx := context.Background()
	for _, kind := range agreeKinds {
		for i := range 5 {
			src := fmt.Sprintf("{a}%s%d", kind, i)
			err := rdb.Copy(ctx, src, fmt.Sprintf("{a}kept%d:%s%d", phase, kind, i), 0, true).Err()
			if err != nil {
				t.Fatalf("COPY %s: %v", src, err)
			}
		}
	}
}

// agreeRender returns every key of nd's own copy (read with READONLY) with
// its type, encoding, deadline and serialized value, and a
// stream's nodes, groups and consumers as XINFO STREAM shows them: what two
// replicas that agree show alike, so a difference names the key.
func agreeRender(t *testing.T, nd *node) map[string]string {
	t.Helper()
	out := map[string]string{}
	for db := range agreeDBs + 1 {
		rdb := dbClient(t, nd.addr, db, true)
		for k, v := range agreeRenderDB(t, nd, rdb) {
			out[fmt.Sprintf("db%d:%s", db, k)] = v
		}
	}
	return out
}

// agreeDBs is the highest database the workload moves keys to.
const agreeDBs = 2

// agreeRenderDB renders the keys of the database rdb addresses.
func agreeRenderDB(t *testing.T, nd *node, rdb *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := scanKeys(t, nd, rdb)
	out := map[string]string{}
	for _, k := range keys {
		typ := rdb.Type(ctx, k).Val()
		enc := rdb.ObjectEncoding(ctx, k).Val()
		at := rdb.Do(ctx, "PEXPIRETIME", k).Val()
		dump := rdb.Dump(ctx, k).Val()
		// MEMORY USAGE is left out: like Redis's allocator figures, it is
		// each node's estimate from its own history (a container rebuilt
		// from a snapshot is charged afresh), not replicated state.
		s := fmt.Sprintf("%s %s deadline %v dump %s", typ, enc, at, hex.EncodeToString([]byte(dump)))
		if typ == "stream" {
			s += fmt.Sprintf(" xinfo %v full %v", rdb.Do(ctx, "XINFO", "STREAM", k).Val(), rdb.Do(ctx, "XINFO", "STREAM", k, "FULL").Val())
		}
		out[k] = s
	}
	return out
}

// TestReplicasAgreeOnNewCommands: after a random workload of bitmaps,
// HyperLogLogs, geo, streams with consumer groups, SORT ... STORE, LCS,
// ZMPOP/BZMPOP, ZINTERCARD, RESTORE, COPY, scripts, expiries and encoding
// thresholds changed mid-run on three nodes, during which one follower is
// down long enough that it must install a snapshot when it comes back,
// every node holds the same state: the same DEBUG DIGEST and, key by key,
// the same type, encoding, deadline, DUMP payload and stream groups.
func TestReplicasAgreeOnNewCommands(t *testing.T) {
	seed := *agreeSeed + agreeRuns.Add(1) - 1
	t.Logf("seed %d (replay with -agree.seed=%d -count=1)", seed, seed)
	const snapEvery = 200
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{
		"--snapshot-entries", strconv.Itoa(snapEvery), "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	runAgreeWorkload(t, leader.addr, seed, 1, 4, 1000)
	agreeKeep(t, leader.addr, 1)
	follower := c.followers(leader)[0]
	follower.kill()
	// The leader keeps its log back to its previous snapshot, so more
	// than two snapshot intervals of entries while the follower is down
	// leave the log without the entries it needs.
	before, err := leader.raftUint(context.Background(), "raft_commit_index")
	if err != nil {
		t.Fatal(err)
	}
	runAgreeWorkload(t, leader.addr, seed, 2, 4, 1000)
	agreeKeep(t, leader.addr, 2)
	if after, err := leader.raftUint(context.Background(), "raft_commit_index"); err != nil || after < before+3*snapEvery {
		t.Fatalf("commit index went from %d to %d (%v) while the follower was down; want over %d entries", before, after, err, 3*snapEvery)
	}
	follower.start()
	runAgreeWorkload(t, leader.addr, seed, 3, 4, 1000)
	// The short deadlines pass and the leader's deletions of them reach
	// every node, so the reads below do not depend on each node's clock.
	waitFor(t, 10*time.Second, "the leader to expire the short deadlines", func() error {
		ctx := context.Background()
		for db := range agreeDBs + 1 {
			rdb := dbClient(t, leader.addr, db, false)
			keys, err := rdb.Keys(ctx, "*").Result()
			if err != nil {
				return err
			}
			for _, k := range keys {
				if ms, err := rdb.PTTL(ctx, k).Result(); err == nil && ms > 0 && ms < 10*time.Second {
					return fmt.Errorf("key %q of database %d expires in %v", k, db, ms)
				}
			}
		}
		return nil
	})
	c.waitConverged(30 * time.Second)
	if !strings.Contains(follower.currentLog(), "restored snapshot") {
		t.Errorf("follower %d caught up without installing a snapshot", follower.id)
	}
	agreeCompare(t, c, seed)
	checkNoPanics(t, c)
}

// agreeCompare waits until every node reports the same DEBUG DIGEST; if
// they never do, it fails naming the keys whose rendering differs.
func agreeCompare(t *testing.T, c *cluster, seed uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		seen := map[string][]int{}
		for _, nd := range c.running() {
			d, err := nd.rdb.Do(ctx, "DEBUG", "DIGEST").Text()
			if err != nil {
				cancel()
				t.Fatalf("node %d: DEBUG DIGEST: %v", nd.id, err)
			}
			seen[d] = append(seen[d], nd.id)
		}
		cancel()
		if len(seen) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("seed %d: digests differ: %v", seed, seen)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	views := map[int]map[string]string{}
	all := map[string]bool{}
	for _, nd := range c.nodes {
		views[nd.id] = agreeRender(t, nd)
		for k := range views[nd.id] {
			all[k] = true
		}
	}
	if len(all) == 0 {
		t.Fatalf("seed %d: the workload left no keys", seed)
	}
	bad := 0
	for _, k := range slices.Sorted(maps.Keys(all)) {
		first := views[c.nodes[0].id][k]
		for _, nd := range c.nodes[1:] {
			if v := views[nd.id][k]; v != first {
				bad++
				if bad <= 10 {
					t.Errorf("seed %d: key %q differs:\n  node %d: %s\n  node %d: %s", seed, k, c.nodes[0].id, first, nd.id, v)
				}
			}
		}
	}
	t.Logf("seed %d: %d keys compared, %d differ", seed, len(all), bad)
}
