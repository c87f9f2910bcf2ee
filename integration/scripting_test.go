package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/bsm/redislock"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Scripting on a replicated cluster: the libraries applications take
// locks and limit rates with, run through a leader kill; a porcupine check
// of check-and-set scripts; and replicas agreeing after random scripts.

// clusterClient returns a go-redis cluster client seeded with every node,
// so that it finds the new leader from a survivor after a failover. A dead
// master's dial errors do not make go-redis reload the slot map (nor would
// they on Redis Cluster): it learns the new master from a MOVED or its
// periodic reload, made short here so the failover is over in seconds.
func clusterClient(t *testing.T, c *cluster) *redis.ClusterClient {
	t.Helper()
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		ClusterStateReloadInterval: 500 * time.Millisecond,
	})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// waitClusterClient waits until cc gets an answer for a key, so that it
// has learned the current leader.
func waitClusterClient(t *testing.T, cc *redis.ClusterClient, key string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the cluster client to reach the leader", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := cc.Get(ctx, key).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		return nil
	})
}

// lockState is what the test knows of the lock's holders: who holds it by
// the library's word, until when that holder may trust it (the time its
// Obtain call started plus the TTL: the key cannot expire earlier), and
// the last fencing token a holder drew.
type lockState struct {
	mu         sync.Mutex
	holder     int
	leaseEnd   time.Time
	lastFence  int64
	violations []string

	sections atomic.Int64 // critical sections completed
	unknown  atomic.Int64 // counter writes whose outcome is unknown
	errs     atomic.Int64 // library calls that failed
}

// TestRedisLockFailover runs bsm/redislock, whose obtain, refresh and
// release are Lua scripts, through go-redis's cluster client: workers
// contend for one lock, and each holder draws a fencing token (INCR) and
// increments a counter with a plain GET and SET, which loses updates if
// two hold the lock at once. The leader is killed mid-run. Errors during
// the failover are allowed; a second holder within a lease, a fencing
// token that goes backwards or a lost counter update is not.
func TestRedisLockFailover(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	cc := clusterClient(t, c)
	waitClusterClient(t, cc, "lock:counter")
	locker := redislock.New(cc)

	// A lease long enough that a holder caught in the failover still
	// finishes inside it, so that the lock, not the TTL, decides who is in.
	const ttl = 6 * time.Second
	const margin = 2500 * time.Millisecond // a holder stops this long before its lease ends
	var st lockState
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 1; w <= 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lockWorker(ctx, cc, locker, &st, w, ttl, margin)
			}
		}()
	}
	waitSections := func(n int64, what string) {
		waitFor(t, 40*time.Second, what, func() error {
			if got := st.sections.Load(); got < n {
				return fmt.Errorf("%d critical sections done", got)
			}
			return nil
		})
	}
	waitSections(30, "30 critical sections before the kill")

	// A script loaded before the failover runs by its SHA on the new
	// leader: the script cache is replicated.
	cached := redis.NewScript("return 'cached:' .. ARGV[1]")
	if err := cached.Load(context.Background(), client(t, leader.addr)).Err(); err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}

	leader.kill()
	killedAt := st.sections.Load()
	newLeader := c.leader(20 * time.Second)
	waitSections(killedAt+30, "30 critical sections after the leader kill")
	cancel()
	wg.Wait()

	st.mu.Lock()
	defer st.mu.Unlock()
	for _, v := range st.violations {
		t.Error(v)
	}
	got, err := client(t, newLeader.addr).Get(context.Background(), "lock:counter").Int64()
	if err != nil {
		t.Fatalf("GET lock:counter on the new leader: %v", err)
	}
	done, unknown := st.sections.Load(), st.unknown.Load()
	if got < done || got > done+unknown {
		t.Errorf("counter = %d after %d critical sections and %d writes of unknown outcome: an update was lost or invented", got, done, unknown)
	}
	v, err := client(t, newLeader.addr).EvalSha(context.Background(), cached.Hash(), nil, "x").Result()
	if err != nil || v != "cached:x" {
		t.Errorf("EVALSHA of a script loaded before the failover, on the new leader %d: %v, %v", newLeader.id, v, err)
	}
	t.Logf("%d critical sections (%d after the kill), %d failed library calls, %d unknown counter writes",
		done, done-killedAt, st.errs.Load(), unknown)
}

// lockWorker takes the lock once, runs one critical section and releases.
func lockWorker(ctx context.Context, cc *redis.ClusterClient, locker *redislock.Client, st *lockState, id int, ttl, margin time.Duration) {
	opCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	start := time.Now()
	octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
	lock, err := locker.Obtain(octx, "lock:resource", ttl, &redislock.Options{RetryStrategy: redislock.LinearBackoff(10 * time.Millisecond)})
	ocancel()
	if err != nil {
		if !errors.Is(err, redislock.ErrNotObtained) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			st.errs.Add(1)
		}
		pause()
		return
	}
	leaseEnd := start.Add(ttl)
	st.mu.Lock()
	if st.holder != 0 && time.Now().Before(st.leaseEnd) {
		st.violations = append(st.violations, fmt.Sprintf("worker %d obtained the lock while worker %d held it (its lease ends %v later)",
			id, st.holder, time.Until(st.leaseEnd)))
	}
	st.holder, st.leaseEnd = id, leaseEnd
	st.mu.Unlock()

	section := func() {
		inLease := func() bool { return time.Until(leaseEnd) > margin }
		c1, cancel1 := opCtx()
		fence, err := cc.Incr(c1, "lock:fence").Result()
		cancel1()
		if err != nil {
			st.errs.Add(1)
			return
		}
		st.mu.Lock()
		if fence <= st.lastFence {
			st.violations = append(st.violations, fmt.Sprintf("worker %d drew fencing token %d after token %d", id, fence, st.lastFence))
		}
		st.lastFence = fence
		st.mu.Unlock()
		if !inLease() {
			return
		}
		c2, cancel2 := opCtx()
		n, err := cc.Get(c2, "lock:counter").Int64()
		cancel2()
		if err != nil && !errors.Is(err, redis.Nil) {
			st.errs.Add(1)
			return
		}
		if !inLease() {
			return
		}
		c3, cancel3 := opCtx()
		err = cc.Set(c3, "lock:counter", n+1, 0).Err()
		cancel3()
		if err != nil {
			st.unknown.Add(1)
			return
		}
		st.sections.Add(1)
	}
	section()

	// The test forgets the holder before the release reaches the server,
	// so that the next holder never finds it still set.
	st.mu.Lock()
	if st.holder == id {
		st.holder = 0
	}
	st.mu.Unlock()
	rctx, rcancel := opCtx()
	if err := lock.Release(rctx); err != nil && !errors.Is(err, redislock.ErrLockNotHeld) {
		st.errs.Add(1)
	}
	rcancel()
}

// TestScriptLoadClusterClient loads a script through go-redis's cluster
// client, which sends SCRIPT LOAD to every node, replicas included, as
// Redis Cluster's replicas each keep a cache of their own; then runs it by
// its SHA.
func TestScriptLoadClusterClient(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	c.leader(10 * time.Second)
	cc := clusterClient(t, c)
	waitClusterClient(t, cc, "k")
	ctx := context.Background()
	s := redis.NewScript("return redis.call('SET', KEYS[1], ARGV[1])")
	if err := s.Load(ctx, cc).Err(); err != nil {
		t.Fatalf("SCRIPT LOAD through the cluster client: %v", err)
	}
	if err := cc.EvalSha(ctx, s.Hash(), []string{"k"}, "v").Err(); err != nil {
		t.Fatalf("EVALSHA after SCRIPT LOAD: %v", err)
	}
	// The cluster client asks every node, followers too, which hold the
	// script once they apply the SCRIPT LOAD entry, a heartbeat or so
	// after the leader (as a Redis replica gets it by replication).
	waitFor(t, 10*time.Second, "SCRIPT EXISTS on every node", func() error {
		if got, err := cc.ScriptExists(ctx, s.Hash()).Result(); err != nil || len(got) != 1 || !got[0] {
			return fmt.Errorf("SCRIPT EXISTS through the cluster client = %v, %v", got, err)
		}
		return nil
	})
}

// TestRateLimiterFailover runs go-redis/redis_rate (a GCRA limiter: one
// script that reads TIME, GETs and SETs with EX) through the cluster
// client: with a limit of N per hour it allows exactly N of N+5 attempts,
// half of them made before the leader is killed and half after.
func TestRateLimiterFailover(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	cc := clusterClient(t, c)
	waitClusterClient(t, cc, "rate:api")
	limiter := redis_rate.NewLimiter(cc)
	// Per hour, so that no attempt is allowed by the passing of time
	// however long the failover takes.
	const n, extra = 10, 5
	limit := redis_rate.PerHour(n)
	ctx := context.Background()
	allowed := 0
	attempt := func(i int) {
		t.Helper()
		res, err := limiter.Allow(ctx, "api", limit)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		switch {
		case res.Allowed == 1:
			allowed++
			if res.Remaining != n-allowed {
				t.Errorf("attempt %d allowed with %d remaining, want %d", i, res.Remaining, n-allowed)
			}
		case res.Allowed == 0:
			if res.Remaining != 0 || res.RetryAfter <= 0 {
				t.Errorf("attempt %d refused with remaining %d and retry after %v", i, res.Remaining, res.RetryAfter)
			}
		default:
			t.Errorf("attempt %d: allowed = %d", i, res.Allowed)
		}
	}
	const before = (n + extra) / 2
	for i := range before {
		attempt(i)
	}
	leader.kill()
	newLeader := c.leader(20 * time.Second)
	waitClusterClient(t, cc, "rate:api")
	for i := before; i < n+extra; i++ {
		attempt(i)
	}
	if allowed != n {
		t.Fatalf("%d of %d attempts allowed with a limit of %d per hour", allowed, n+extra, n)
	}
	ttl, err := client(t, newLeader.addr).TTL(ctx, "rate:api").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL of the limiter's key on the new leader = %v, %v; want up to an hour", ttl, err)
	}
}

// TestRedisPyLockFailover runs redis-py's Lock (testdata/lock.py) on the
// leader, then on the new leader: acquire, a second lock object refused, extend, then
// after a leader kill: still owned, extend with replace_ttl, reacquire,
// release, the second object acquiring, and the scripts refusing to touch
// a key that someone else owns.
func TestRedisPyLockFailover(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import redis.lock").CombinedOutput(); err != nil {
		t.Fatalf("%s with the redis module is required (apt-get install python3-redis): %v\n%s", py, err, out)
	}
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	args := []string{filepath.Join("testdata", "lock.py"), leader.addr}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	fail := func(what string, err error) {
		t.Helper()
		rest, _ := io.ReadAll(out)
		cmd.Wait()
		t.Fatalf("%s: %v\nstdout: %s\nstderr (last lines):\n%s", what, err, rest, lastLines(stderr.String(), 30))
	}
	if line, err := out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "held" {
		fail(fmt.Sprintf("lock.py before the failover printed %q", line), err)
	}
	leader.kill()
	next := c.leader(20 * time.Second)
	if _, err := io.WriteString(stdin, next.addr+"\n"); err != nil {
		fail("telling lock.py to go on", err)
	}
	if line, err := out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ok" {
		fail(fmt.Sprintf("lock.py after the failover printed %q", line), err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lock.py: %v\n%s", err, lastLines(stderr.String(), 30))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The check-and-set workload: EVAL of a CAS script, plain SET, and reads
// by GET and by EVAL_RO, on a few keys, checked with porcupine against a
// register per key.

const casScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end"

type casKind uint8

const (
	casGet casKind = iota
	casGetRO
	casSet
	casCAS
)

type casInput struct {
	kind     casKind
	key      string
	old, new string
}

// casOutput is one reply; unknown as in kvOutput.
type casOutput struct {
	unknown bool
	exists  bool
	val     string
	swapped bool
}

var casModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		return partitionByKey(history, func(in any) string { return in.(casInput).key })
	},
	Init: func() any { return kvState("") },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(kvState), input.(casInput), output.(casOutput)
		cur, exists := stateValue(st)
		switch in.kind {
		case casGet, casGetRO:
			return out.exists == exists && out.val == cur, st
		case casSet:
			return true, "=" + in.new
		case casCAS:
			if exists && cur == in.old {
				return out.unknown || out.swapped, "=" + in.new
			}
			return out.unknown || !out.swapped, st
		}
		return false, st
	},
	Equal: func(a, b any) bool { return a.(kvState) == b.(kvState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(casInput), output.(casOutput)
		res := "?"
		switch {
		case out.unknown:
		case in.kind == casCAS:
			res = strconv.FormatBool(out.swapped)
		case in.kind == casSet:
			res = "OK"
		case !out.exists:
			res = "nil"
		default:
			res = strconv.Quote(out.val)
		}
		switch in.kind {
		case casGet:
			return fmt.Sprintf("GET %s -> %s", in.key, res)
		case casGetRO:
			return fmt.Sprintf("EVAL_RO GET %s -> %s", in.key, res)
		case casSet:
			return fmt.Sprintf("SET %s %s -> %s", in.key, in.new, res)
		}
		return fmt.Sprintf("CAS %s %s->%s -> %s", in.key, in.old, in.new, res)
	},
	DescribeState: func(state any) string {
		v, ok := stateValue(state.(kvState))
		if !ok {
			return "(absent)"
		}
		return strconv.Quote(v)
	},
}

// casHistory records the operations of every client.
type casHistory struct {
	start  time.Time
	mu     sync.Mutex
	ops    []porcupine.Operation
	nextID int
	swaps  int
}

func (h *casHistory) now() int64 { return int64(time.Since(h.start)) }

func (h *casHistory) clientID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	return h.nextID
}

func (h *casHistory) add(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if op.Output.(casOutput).swapped {
		h.swaps++
	}
	h.ops = append(h.ops, op)
}

// operations returns the history, writes of unknown outcome open to its end.
func (h *casHistory) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now() + 1
	out := make([]porcupine.Operation, len(h.ops))
	for i, op := range h.ops {
		if op.Output.(casOutput).unknown {
			op.Return = end
		}
		out[i] = op
	}
	return out
}

func runCAS(ctx context.Context, rdb *redis.Client, in casInput) (casOutput, error) {
	var out casOutput
	var err error
	switch in.kind {
	case casGet:
		out.val, err = rdb.Get(ctx, in.key).Result()
	case casGetRO:
		var v any
		v, err = rdb.EvalRO(ctx, "return redis.call('GET', KEYS[1])", []string{in.key}).Result()
		out.val, _ = v.(string)
	case casSet:
		err = rdb.Set(ctx, in.key, in.new, 0).Err()
	case casCAS:
		var n int64
		n, err = rdb.Eval(ctx, casScript, []string{in.key}, in.old, in.new).Int64()
		out.swapped = n == 1
	}
	out.exists = err == nil
	return out, err
}

// casClient runs one client until ctx ends: it tries to swap from the
// value it last saw, so that many CAS succeed.
func casClient(ctx context.Context, h *casHistory, addrs, keys []string, g int, rng *rand.Rand) {
	clients := newNodeClients(redis.Options{MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 1})
	defer clients.close()
	target := addrs[g%len(addrs)]
	next := g
	id := h.clientID()
	seen := map[string]string{}
	for seq := 0; ctx.Err() == nil; seq++ {
		in := casInput{key: keys[rng.IntN(len(keys))], new: fmt.Sprintf("c%d.%d", id, seq)}
		switch r := rng.IntN(100); {
		case r < 20:
			in.kind = casGet
		case r < 35:
			in.kind = casGetRO
		case r < 55:
			in.kind = casSet
		default:
			in.kind, in.old = casCAS, seen[in.key]
		}
		call := h.now()
		out, err := runCAS(context.Background(), clients.get(target), in)
		ret := h.now()
		oc, moved := classify(err)
		if oc == outcomeOK {
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			switch {
			case in.kind == casSet || out.swapped:
				seen[in.key] = in.new
			case in.kind == casGet || in.kind == casGetRO:
				seen[in.key] = out.val
			}
			continue
		}
		if oc == outcomeUnknown && (in.kind == casSet || in.kind == casCAS) {
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: casOutput{unknown: true}, Return: ret})
			id = h.clientID()
		}
		if moved != "" {
			target = moved
			continue
		}
		next++
		target = addrs[next%len(addrs)]
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestScriptCASLinearizable checks that a script's read and write take
// effect at one point: concurrent CAS scripts, SETs and reads (GET and
// EVAL_RO) on three keys through a leader kill and restart must form a
// linearizable history.
func TestScriptCASLinearizable(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	keys := []string{"cas:a", "cas:b", "cas:c"}
	h := &casHistory{start: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			casClient(ctx, h, addrs, keys, g, rand.New(rand.NewPCG(25, uint64(g))))
		}()
	}
	swapsAfter := func(n int, what string) {
		waitFor(t, 30*time.Second, what, func() error {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.swaps < n {
				return fmt.Errorf("%d successful CAS", h.swaps)
			}
			return nil
		})
	}
	swapsAfter(100, "100 successful CAS before the kill")
	leader.kill()
	h.mu.Lock()
	atKill := h.swaps
	h.mu.Unlock()
	c.leader(20 * time.Second)
	swapsAfter(atKill+100, "100 successful CAS after the kill")
	leader.start()
	c.waitConverged(30 * time.Second)
	h.mu.Lock()
	atRestart := h.swaps
	h.mu.Unlock()
	swapsAfter(atRestart+50, "50 successful CAS after the restart")
	cancel()
	wg.Wait()

	// Final reads through the leader catch a write lost in the failover
	// that no client happened to read.
	id := h.clientID()
	for _, k := range keys {
		waitFor(t, 30*time.Second, "a final read of "+k, func() error {
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer rcancel()
			l, err := c.leaderNow(rctx)
			if err != nil {
				return err
			}
			in := casInput{kind: casGet, key: k}
			call := h.now()
			out, err := runCAS(rctx, l.rdb, in)
			ret := h.now()
			if oc, _ := classify(err); oc != outcomeOK {
				return err
			}
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			return nil
		})
	}
	ops := h.operations()
	res, info := porcupine.CheckOperationsVerbose(casModel, ops, 60*time.Second)
	switch res {
	case porcupine.Unknown:
		t.Logf("the check of %d operations timed out (inconclusive)", len(ops))
	case porcupine.Illegal:
		dir := saveArtifacts(t, c, "script-cas")
		html := filepath.Join(dir, "history.html")
		if err := porcupine.VisualizePath(casModel, info, html); err != nil {
			t.Logf("writing the visualization: %v", err)
		}
		t.Fatalf("the history of %d CAS/SET/GET operations is NOT linearizable; visualization and node logs in %s", len(ops), dir)
	}
	h.mu.Lock()
	t.Logf("%d operations checked, %d successful CAS", len(ops), h.swaps)
	h.mu.Unlock()
	checkNoPanics(t, c)
}

// TestCASModel checks the checker on small histories.
func TestCASModel(t *testing.T) {
	op := func(c int, call, ret int64, in casInput, out casOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret}
	}
	set := func(v string) casInput { return casInput{kind: casSet, key: "k", new: v} }
	cas := func(o, n string) casInput { return casInput{kind: casCAS, key: "k", old: o, new: n} }
	get := casInput{kind: casGet, key: "k"}
	for _, tc := range []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"cas from the current value", true, []porcupine.Operation{
			op(1, 0, 1, set("a"), casOutput{}), op(1, 2, 3, cas("a", "b"), casOutput{swapped: true}),
			op(2, 4, 5, get, casOutput{exists: true, val: "b"})}},
		{"two cas from one value both succeed", false, []porcupine.Operation{
			op(1, 0, 1, set("a"), casOutput{}), op(1, 2, 3, cas("a", "b"), casOutput{swapped: true}),
			op(2, 4, 5, cas("a", "c"), casOutput{swapped: true})}},
		{"cas refused although the value matched", false, []porcupine.Operation{
			op(1, 0, 1, set("a"), casOutput{}), op(1, 2, 3, cas("a", "b"), casOutput{})}},
		{"cas on a missing key", true, []porcupine.Operation{
			op(1, 0, 1, cas("", "b"), casOutput{}), op(1, 2, 3, get, casOutput{})}},
		{"unknown cas seen later", true, []porcupine.Operation{
			op(1, 0, 1, set("a"), casOutput{}), op(2, 2, 100, cas("a", "b"), casOutput{unknown: true}),
			op(3, 5, 6, get, casOutput{exists: true, val: "b"})}},
		{"a set lost under a cas", false, []porcupine.Operation{
			op(1, 0, 1, set("a"), casOutput{}), op(1, 2, 3, set("x"), casOutput{}),
			op(2, 4, 5, cas("a", "b"), casOutput{swapped: true})}},
	} {
		if got := porcupine.CheckOperations(casModel, tc.ops); got != tc.ok {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// scriptLib is a function library for the replica workload: a function
// that draws with math.random and TIME and writes what it drew.
const scriptLib = `#!lua name=agree
redis.register_function('stamp', function(keys, args)
  local t = redis.call('TIME')
  redis.call('HSET', keys[1], 't' .. math.random(4), t[1] .. '.' .. t[2])
  return redis.call('SADD', keys[2], math.random(50))
end)`

// randomScript returns the body of a script of one to five random
// statements on KEYS[1..3] that calls Redis, draws with math.random and
// reads TIME, and returns what its calls returned.
func randomScript(r *rand.Rand) string {
	stmts := []string{
		"redis.call('SET', KEYS[%d], ARGV[1] .. math.random(100))",
		"redis.pcall('INCR', KEYS[%d])",
		"redis.pcall('LPUSH', KEYS[%d], math.random(1000), ARGV[1])",
		"redis.pcall('HSET', KEYS[%d], 'f' .. math.random(5), redis.call('TIME')[2])",
		"redis.pcall('SADD', KEYS[%d], math.random(20), math.random(20))",
		"redis.pcall('SPOP', KEYS[%d])",
		"redis.pcall('SPOP', KEYS[%d], 2)",
		"redis.pcall('ZADD', KEYS[%d], math.random(), 'm' .. math.random(10))",
		"redis.call('DEL', KEYS[%d])",
		"local t = redis.call('TIME') redis.call('SET', KEYS[%d], t[1] .. '.' .. t[2])",
		"redis.pcall('PEXPIRE', KEYS[%d], 100 + math.random(400))",
		"redis.pcall('SRANDMEMBER', KEYS[%d], -3)",
		"math.randomseed(tonumber(ARGV[2])) redis.pcall('RPUSH', KEYS[%d], math.random(100))",
		// Not protected: a WRONGTYPE ends the script after its earlier writes.
		"redis.call('INCRBY', KEYS[%d], math.random(10))",
	}
	var b strings.Builder
	b.WriteString("local out = {}\n")
	for i := range 1 + r.IntN(5) {
		fmt.Fprintf(&b, "do "+stmts[r.IntN(len(stmts))]+" end\n", 1+r.IntN(3))
		fmt.Fprintf(&b, "out[%d] = redis.pcall('TYPE', KEYS[%d])\n", i+1, 1+r.IntN(3))
	}
	b.WriteString("return out\n")
	return b.String()
}

// runScriptsWorkload sends n random scripts from each of workers clients
// to addr: EVAL, EVALSHA of a loaded script, FCALL of the library, and
// some inside MULTI; error replies are expected, transport errors fail.
func runScriptsWorkload(t *testing.T, addr string, seed uint64, workers, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := client(t, addr)
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			ctx := context.Background()
			key := func() string { return fmt.Sprintf("agree:%d", r.IntN(10)) }
			call := func(p redis.Cmdable) error {
				keys := []string{key(), key(), key()}
				args := []any{fmt.Sprintf("w%d-", w), r.IntN(1000)}
				switch r.IntN(10) {
				case 0:
					return p.FCall(ctx, "stamp", keys[:2]).Err()
				case 1:
					body := randomScript(r)
					if err := p.ScriptLoad(ctx, body).Err(); err != nil {
						return err
					}
					return p.EvalSha(ctx, sha1Hex(body), keys, args...).Err()
				default:
					return p.Eval(ctx, randomScript(r), keys, args...).Err()
				}
			}
			for i := range n {
				var err error
				if r.IntN(8) == 0 {
					_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
						for range 1 + r.IntN(3) {
							call(p)
						}
						return nil
					})
				} else {
					err = call(rdb)
				}
				var rerr redis.Error
				if err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &rerr) {
					errc <- fmt.Errorf("worker %d script %d: %w", w, i, err)
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

// sameFunctions checks that every running node holds the same libraries.
func sameFunctions(t *testing.T, c *cluster) {
	t.Helper()
	waitFor(t, 30*time.Second, "every node to hold the same function libraries", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		seen := map[string][]int{}
		for _, nd := range c.running() {
			d, err := nd.rdb.FunctionDump(ctx).Result()
			if err != nil {
				return fmt.Errorf("node %d: %w", nd.id, err)
			}
			seen[d] = append(seen[d], nd.id)
		}
		if len(seen) != 1 {
			return fmt.Errorf("%d different FUNCTION DUMP payloads", len(seen))
		}
		return nil
	})
}

// TestReplicasAgreeOnScripts: after random scripts that call Redis with
// math.random, TIME, SPOP's random choices and expiries, run as EVAL,
// EVALSHA, FCALL and inside MULTI, every node holds the same state; also
// a follower restarted mid-workload, and every node after a restart of all.
func TestReplicasAgreeOnScripts(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--snapshot-entries", "300", "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	if err := leader.rdb.FunctionLoad(context.Background(), scriptLib).Err(); err != nil {
		t.Fatalf("FUNCTION LOAD: %v", err)
	}
	runScriptsWorkload(t, leader.addr, 1, 4, 150)
	follower := c.followers(leader)[0]
	follower.kill()
	runScriptsWorkload(t, leader.addr, 2, 4, 100)
	follower.start()
	runScriptsWorkload(t, leader.addr, 3, 4, 150)
	c.waitConverged(30 * time.Second)
	before := waitSameDigest(t, c)
	sameFunctions(t, c)
	n, err := leader.rdb.DBSize(context.Background()).Result()
	if err != nil || n == 0 {
		t.Fatalf("DBSIZE after the workload = %d, %v", n, err)
	}
	for _, nd := range c.nodes {
		nd.kill()
	}
	for _, nd := range c.nodes {
		nd.start()
	}
	leader = c.waitConverged(30 * time.Second)
	after := waitSameDigest(t, c)
	sameFunctions(t, c)
	// Short expiries may have run out in between, so the two digests
	// need not be equal; each is the same on every node.
	t.Logf("digest %s before the restart, %s after (%d keys)", before, after, n)
	if err := leader.rdb.FCall(context.Background(), "stamp", []string{"agree:x", "agree:y"}).Err(); err != nil {
		t.Errorf("FCALL after the restart: %v", err)
	}
	checkNoPanics(t, c)
}
