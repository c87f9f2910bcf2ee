package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The eviction figures: SET throughput while every write must evict, and
// the hit rate of a skewed cache workload, on redis-server and on a 3-node
// rkv cluster started with the same maxmemory and policy.

const (
	// evictMaxmemory is small against the keys written, so that after the
	// preload every new key needs room.
	evictMaxmemory = "16mb"
	evictPolicy    = "allkeys-lru"
	// hitMaxmemory holds a few percent of hitKeys' values: the workload's
	// hot part fits, its tail does not.
	hitMaxmemory = "8mb"
	hitKeys      = 200_000
	hitValueSize = 1000
	hitZipfS     = 1.1 // the skew: Go's Zipf needs s > 1
	hitBatch     = 100 // GETs per pipelined batch, then SETs of the misses
)

var hitPolicies = []string{"allkeys-lru", "allkeys-lfu"}

func evictionSetFigure() string {
	return rpsKey("SET", batchCase) + fmt.Sprintf(" with eviction (maxmemory %s, %s)", evictMaxmemory, evictPolicy)
}

func hitRateFigure(policy string) string {
	return fmt.Sprintf("hit rate of a Zipf(%.1f) GET/SET cache over %s keys, maxmemory %s, %s (%%)", hitZipfS, humanCount(hitKeys), hitMaxmemory, policy)
}

// eviction measures the eviction figures of one run.
func (h *harness) eviction(ctx context.Context, run int) error {
	memArgs := []string{"--maxmemory", evictMaxmemory, "--maxmemory-policy", evictPolicy}
	aof, err := h.startRedis(ctx, fmt.Sprintf("redis-aof-evict-%d", run), redisAOFAlways, "", memArgs...)
	if err != nil {
		return err
	}
	cl, err := h.startRKV(ctx, fmt.Sprintf("rkv-evict-%d", run), 3, "linearizable", memArgs...)
	if err != nil {
		return err
	}
	fixed := func(a string) func() (string, error) { return func() (string, error) { return a, nil } }
	// Twice the limit's worth of keys first, so that the measured SETs
	// (of new keys: -r is far larger) all need room.
	preload := 2 * (16 << 20) / (valueSize + 80)
	args := []string{"-t", "set", "-n", strconv.Itoa(h.cfg.N1), "-c", strconv.Itoa(clients), "-P", "1",
		"-d", strconv.Itoa(batchCase.size), "-r", "100000000"}
	for _, t := range []target{{RedisAOF.String(), RedisAOF, fixed(aof.addr), nil, nil}, {cl.name, RKV, cl.leaderFunc(ctx), cl, nil}} {
		if _, _, err := loadKeys(ctx, t.addr, preload); err != nil {
			return fmt.Errorf("%s: preloading: %w", t.name, err)
		}
		res, err := h.bench(ctx, t, args...)
		if err != nil {
			return err
		}
		evicted, err := evictedKeys(ctx, t)
		if err != nil {
			return err
		}
		h.rep.add(evictionSetFigure(), t.sys, res["SET"].rps)
		h.logf("run %d %-9s SET with eviction %8.0f rps (evicted_keys %s)", run, t.sys, res["SET"].rps, evicted)
	}
	h.procs.killAll()
	if run > 1 {
		return nil
	}
	// The hit rates depend on the policies, not on the machine: one run.
	for _, policy := range hitPolicies {
		args := []string{"--maxmemory", hitMaxmemory, "--maxmemory-policy", policy}
		rd, err := h.startRedis(ctx, "redis-hits-"+policy, redisNoPersist, "", args...)
		if err != nil {
			return err
		}
		cl, err := h.startRKV(ctx, "rkv-hits-"+policy, 3, "linearizable", args...)
		if err != nil {
			return err
		}
		for _, t := range []target{{Redis.String(), Redis, fixed(rd.addr), nil, nil}, {cl.name, RKV, cl.leaderFunc(ctx), cl, nil}} {
			rate, err := h.hitRate(ctx, t)
			if err != nil {
				return err
			}
			evicted, err := evictedKeys(ctx, t)
			if err != nil {
				return err
			}
			h.rep.add(hitRateFigure(policy), t.sys, rate)
			h.logf("%-9s %s hit rate %.1f%% (evicted_keys %s)", t.sys, policy, rate, evicted)
		}
		h.procs.killAll()
	}
	return nil
}

// evictedKeys is what INFO stats says t evicted.
func evictedKeys(ctx context.Context, t target) (string, error) {
	addr, err := t.addr()
	if err != nil {
		return "", err
	}
	st, err := info(ctx, addr, "stats")
	return st["evicted_keys"], err
}

// hitRate runs the cache workload against t and returns the percentage of
// GETs that found their key, after a warm-up of a fifth of the requests.
// Each batch GETs hitBatch keys drawn from a Zipf distribution (seeded: both
// systems see the same sequence as long as they miss alike), then SETs the
// keys it missed, as a cache-aside client fills its cache.
func (h *harness) hitRate(ctx context.Context, t target) (float64, error) {
	requests := 20 * hitKeys / 10
	if h.cfg.Quick {
		requests = hitKeys / 10 // a smoke run: enough to show the rate, not to settle it
	}
	addr, err := t.addr()
	if err != nil {
		return 0, err
	}
	c, err := dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), hitZipfS, 1, hitKeys-1)
	value := strings.Repeat("v", hitValueSize)
	var gets, hits int
	keys := make([]string, hitBatch)
	for done := 0; done < requests; done += hitBatch {
		for i := range keys {
			keys[i] = fmt.Sprintf("item:%d", zipf.Uint64())
			c.write("GET", keys[i])
		}
		var missed []string
		if err := c.roundTrip(len(keys), func(i int, v any) error {
			switch v.(type) {
			case nil:
				missed = append(missed, keys[i])
			case string:
				if done >= requests/5 {
					hits++
				}
			default:
				return fmt.Errorf("GET %s: %v", keys[i], v)
			}
			if done >= requests/5 {
				gets++
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("%s: %w", t.name, err)
		}
		for _, k := range missed {
			c.write("SET", k, value)
		}
		if err := c.roundTrip(len(missed), func(i int, v any) error {
			if v != "OK" {
				return fmt.Errorf("SET %s: %v", missed[i], v)
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return 100 * float64(hits) / float64(gets), nil
}

// roundTrip flushes the n commands written and checks each reply with fn;
// an error reply is an error.
func (c *client) roundTrip(n int, fn func(i int, v any) error) error {
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.w.Flush(); err != nil {
		return err
	}
	for i := range n {
		v, err := c.read()
		if err != nil {
			return err
		}
		if err := fn(i, v); err != nil {
			return err
		}
	}
	return nil
}

// evictionNotes compares the eviction figures with their goals: SET with
// eviction costs rkv no more than it costs Redis (its ratio to redis-aof is
// at least plain SET's), and rkv's hit rates are within 5 points of Redis's.
func (r *Report) evictionNotes() {
	f, plain := r.Figure(evictionSetFigure()), r.Figure(rpsKey("SET", batchCase))
	if f != nil && plain != nil {
		ratio, base := f.Ratio(RKV, RedisAOF), plain.Ratio(RKV, RedisAOF)
		r.Notes = append(r.Notes, fmt.Sprintf("eviction: SET with eviction is %s of redis-aof's with the same maxmemory and policy, plain SET %s: goal (at least plain SET's ratio) %s",
			formatRatio(ratio), formatRatio(base), metText(ratio >= base)))
	}
	for _, p := range hitPolicies {
		if f := r.Figure(hitRateFigure(p)); f != nil {
			diff := f.Median(RKV) - f.Median(Redis)
			r.Notes = append(r.Notes, fmt.Sprintf("eviction: %s hit rate %.1f%% on rkv, %.1f%% on redis (%+.1f points): goal (within 5 points) %s",
				p, f.Median(RKV), f.Median(Redis), diff, metText(math.Abs(diff) <= 5)))
		}
	}
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}
