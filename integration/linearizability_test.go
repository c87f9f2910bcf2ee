package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// The workload: concurrent clients doing GET, SET (unique values), APPEND
// (unique tokens), INCR and DEL on a few keys, every operation recorded
// with its call and return times and checked with porcupine against a
// single-copy model of each key.

type opKind uint8

const (
	opGet opKind = iota
	opSet
	opAppend
	opIncr
	opDel
)

var opNames = [...]string{"GET", "SET", "APPEND", "INCR", "DEL"}

// kvInput is one operation's request.
type kvInput struct {
	kind opKind
	key  string
	arg  string // SET's value, APPEND's token
}

// kvOutput is one operation's reply. unknown marks a write whose outcome
// the client could not learn (timeout, lost connection, TIMEOUT reply):
// it may have taken effect at any time after its call, so its return time
// is the end of the history and any outcome is accepted.
type kvOutput struct {
	unknown bool
	exists  bool   // GET found the key
	val     string // GET's value
	n       int64  // APPEND's length, INCR's value, DEL's count
	err     string // a definite error reply (INCR of a non-integer)
}

// kvState is one key's value: "" when the key does not exist, else "=" and
// the value. A string, so porcupine can compare and cache states.
type kvState = string

func stateValue(s kvState) (string, bool) {
	if s == "" {
		return "", false
	}
	return s[1:], true
}

// partitionByKey splits a history into one per key, keys in the order
// they first appear: keys are independent registers.
func partitionByKey(history []porcupine.Operation, keyOf func(input any) string) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := keyOf(op.Input)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// kvModel is a key-value register per key, as Redis strings behave.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		return partitionByKey(history, func(in any) string { return in.(kvInput).key })
	},
	Init: func() any { return kvState("") },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		cur, exists := stateValue(st)
		switch in.kind {
		case opGet:
			return out.exists == exists && out.val == cur, st
		case opSet:
			return true, "=" + in.arg
		case opAppend:
			next := cur + in.arg
			return out.unknown || out.n == int64(len(next)), "=" + next
		case opIncr:
			v := int64(0)
			if exists {
				var err error
				v, err = strconv.ParseInt(cur, 10, 64)
				if err != nil || v == math.MaxInt64 {
					// Redis refuses it and changes nothing.
					return out.unknown || out.err != "", st
				}
			}
			return out.unknown || (out.err == "" && out.n == v+1), "=" + strconv.FormatInt(v+1, 10)
		case opDel:
			n := int64(0)
			if exists {
				n = 1
			}
			return out.unknown || out.n == n, ""
		}
		return false, st
	},
	Equal: func(a, b any) bool { return a.(kvState) == b.(kvState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		var res string
		switch {
		case out.unknown:
			res = "?"
		case out.err != "":
			res = "err"
		case in.kind == opGet && !out.exists:
			res = "nil"
		case in.kind == opGet:
			res = strconv.Quote(out.val)
		case in.kind == opSet:
			res = "OK"
		default:
			res = strconv.FormatInt(out.n, 10)
		}
		if in.kind == opSet || in.kind == opAppend {
			return fmt.Sprintf("%s %s %s -> %s", opNames[in.kind], in.key, in.arg, res)
		}
		return fmt.Sprintf("%s %s -> %s", opNames[in.kind], in.key, res)
	},
	DescribeState: func(state any) string {
		v, ok := stateValue(state.(kvState))
		if !ok {
			return "(absent)"
		}
		return strconv.Quote(v)
	},
}

// history collects the operations of every client of one cluster.
type history struct {
	start time.Time

	mu      sync.Mutex
	ops     []porcupine.Operation
	pending []int // indexes in ops of writes with unknown outcomes
	// okWrites are the return times of acknowledged writes, for the
	// availability figures.
	okWrites []time.Duration
	nextID   int

	ok, failed, unknown atomic.Int64
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) clientID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	return h.nextID
}

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := op.Output.(kvOutput)
	if out.unknown {
		h.pending = append(h.pending, len(h.ops))
		h.unknown.Add(1)
	} else {
		h.ok.Add(1)
		if op.Input.(kvInput).kind != opGet {
			h.okWrites = append(h.okWrites, time.Duration(op.Return))
		}
	}
	h.ops = append(h.ops, op)
}

// snapshot returns the operations on keys with the given prefix, the
// writes of unknown outcome given the end of the history as return time.
func (h *history) snapshot(prefix string) []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now() + 1
	var out []porcupine.Operation
	for _, op := range h.ops {
		if !strings.HasPrefix(op.Input.(kvInput).key, prefix) {
			continue
		}
		if op.Output.(kvOutput).unknown {
			op.Return = end
		}
		out = append(out, op)
	}
	return out
}

// firstWriteAfter returns the return time of the first acknowledged write
// that returned after t, if any.
func (h *history) firstWriteAfter(t time.Duration) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first, ok := time.Duration(0), false
	for _, w := range h.okWrites {
		if w > t && (!ok || w < first) {
			first, ok = w, true
		}
	}
	return first, ok
}

// longestWriteGap returns the longest time between two acknowledged writes
// (or the window's edges) in [from, to].
func (h *history) longestWriteGap(from, to time.Duration) time.Duration {
	h.mu.Lock()
	ws := slices.Clone(h.okWrites)
	h.mu.Unlock()
	slices.Sort(ws)
	gap, last := time.Duration(0), from
	for _, w := range ws {
		if w < from || w > to {
			continue
		}
		gap = max(gap, w-last)
		last = w
	}
	return max(gap, to-last)
}

// workload runs clients against a cluster until stopped.
type workload struct {
	h      *history
	keys   []string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startWorkload starts n clients on keys, spread over addrs; seed makes
// each client's choice of operations reproducible (their timing is not).
func startWorkload(h *history, addrs []string, keys []string, n int, seed uint64) *workload {
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{h: h, keys: keys, cancel: cancel}
	for g := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.client(ctx, addrs, g, rand.New(rand.NewPCG(seed, uint64(g))))
		}()
	}
	return w
}

func (w *workload) stop() {
	w.cancel()
	w.wg.Wait()
}

// outcome classifies a reply.
type outcome int

const (
	outcomeOK          outcome = iota // the reply is the result
	outcomeNotExecuted                // MOVED, CLUSTERDOWN, TRYAGAIN, refused dial
	outcomeUnknown                    // may or may not have happened
)

// classify sorts an error by what it says about the command's effect.
// MOVED, CLUSTERDOWN and TRYAGAIN promise the command was not executed;
// the checker holds rkv to that promise.
func classify(err error) (outcome, string) {
	if err == nil || errors.Is(err, redis.Nil) {
		return outcomeOK, ""
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		switch {
		case strings.HasPrefix(msg, "MOVED "):
			_, addr, _ := movedTarget(err)
			return outcomeNotExecuted, addr
		case strings.HasPrefix(msg, "CLUSTERDOWN"), strings.HasPrefix(msg, "TRYAGAIN"):
			return outcomeNotExecuted, ""
		case strings.HasPrefix(msg, "ERR value is not an integer"):
			return outcomeOK, ""
		}
		return outcomeUnknown, ""
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return outcomeNotExecuted, ""
	}
	return outcomeUnknown, ""
}

func (w *workload) client(ctx context.Context, addrs []string, g int, rng *rand.Rand) {
	// Half the clients wait long enough for a frozen leader to wake and
	// answer, so that the reads it answered after a pause are checked;
	// the others give up fast and move on, keeping the load going.
	timeout := 800 * time.Millisecond
	if g%2 == 1 {
		timeout = 4 * time.Second
	}
	clients := newNodeClients(redis.Options{MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: 1, ContextTimeoutEnabled: true})
	defer clients.close()
	get := clients.get
	target := addrs[g%len(addrs)]
	next := g
	id := w.h.clientID()
	for seq := 0; ctx.Err() == nil; seq++ {
		in := kvInput{key: w.keys[rng.IntN(len(w.keys))]}
		switch r := rng.IntN(100); {
		case r < 40:
			in.kind = opGet
		case r < 60:
			in.kind = opSet
			// Unique, and an integer so that INCR can follow it.
			in.arg = strconv.FormatInt(int64(id)*1_000_000_000+int64(seq)*1000, 10)
		case r < 75:
			in.kind = opAppend
			in.arg = fmt.Sprintf("-c%d.%d", id, seq)
		case r < 92:
			in.kind = opIncr
		default:
			in.kind = opDel
		}
		call := w.h.now()
		out, err := execute(context.Background(), get(target), in)
		ret := w.h.now()
		oc, moved := classify(err)
		if oc == outcomeOK {
			w.h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			continue
		}
		if oc == outcomeUnknown && in.kind != opGet {
			w.h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: kvOutput{unknown: true}, Return: ret})
			// The op stays open to the end of the history: the client
			// continues as a new process, as Jepsen does.
			id = w.h.clientID()
		} else {
			w.h.failed.Add(1)
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

// execute runs one operation and decodes its reply.
func execute(ctx context.Context, rdb *redis.Client, in kvInput) (kvOutput, error) {
	var out kvOutput
	var err error
	switch in.kind {
	case opGet:
		out.val, err = rdb.Get(ctx, in.key).Result()
		out.exists = err == nil
	case opSet:
		err = rdb.Set(ctx, in.key, in.arg, 0).Err()
	case opAppend:
		out.n, err = rdb.Append(ctx, in.key, in.arg).Result()
	case opIncr:
		out.n, err = rdb.Incr(ctx, in.key).Result()
		if err != nil && strings.HasPrefix(err.Error(), "ERR value is not an integer") {
			out.err = err.Error()
		}
	case opDel:
		out.n, err = rdb.Del(ctx, in.key).Result()
	}
	return out, err
}

// checkHistory checks the operations on keys with prefix for
// linearizability. On a violation it writes porcupine's visualization and
// every node's log to a folder that outlives the test, and fails with its
// path. It returns the number of operations checked.
func checkHistory(t *testing.T, c *cluster, h *history, prefix, what string, timeout time.Duration) int {
	t.Helper()
	ops := h.snapshot(prefix)
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, timeout)
	switch res {
	case porcupine.Ok:
		return len(ops)
	case porcupine.Unknown:
		// Inconclusive within the time limit: not a violation found, but
		// not a proof either; say so loudly rather than fail at random.
		t.Logf("%s: linearizability check of %d operations timed out after %v (inconclusive)", what, len(ops), timeout)
		return len(ops)
	}
	dir := saveArtifacts(t, c, "linearizability-"+prefix)
	html := filepath.Join(dir, "history.html")
	if err := porcupine.VisualizePath(kvModel, info, html); err != nil {
		t.Logf("writing the visualization: %v", err)
	}
	t.Fatalf("%s: the history of %d operations on keys %s* is NOT linearizable; visualization and node logs in %s",
		what, len(ops), prefix, dir)
	return 0
}

// saveArtifacts copies every node's log to a new folder that is left
// behind for the developer, and returns its path.
func saveArtifacts(t *testing.T, c *cluster, name string) string {
	dir, err := os.MkdirTemp("", "rkv-"+strings.NewReplacer("/", "-", ":", "-").Replace(name)+"-")
	if err != nil {
		t.Fatalf("creating the artifact folder: %v", err)
	}
	for _, nd := range c.nodes {
		if b, err := os.ReadFile(nd.logPath); err == nil {
			os.WriteFile(filepath.Join(dir, filepath.Base(nd.logPath)), b, 0o644)
		}
	}
	return dir
}

// finalReads reads every key through the leader, with linearizable GETs
// recorded in the history, so that a write lost in a fault's aftermath is
// caught even if no client read the key after it.
func finalReads(t *testing.T, c *cluster, h *history, keys []string) {
	t.Helper()
	id := h.clientID()
	for _, k := range keys {
		waitFor(t, 30*time.Second, "a final read of "+k, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			l, err := c.leaderNow(ctx)
			if err != nil {
				return err
			}
			in := kvInput{kind: opGet, key: k}
			call := h.now()
			out, err := execute(ctx, l.rdb, in)
			ret := h.now()
			if oc, _ := classify(err); oc != outcomeOK {
				return err
			}
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			return nil
		})
	}
}

// checkReplicas waits until every running node has applied the same
// commit index, then compares their whole key spaces (SCAN and MGET under
// READONLY, which reads a node's own copy). Equal applied indexes and equal
// applied states on every node stand in for "all committed logs share one
// prefix": a diverging entry would show up as a different key space. It
// returns the common commit index.
func checkReplicas(t *testing.T, c *cluster, what string) uint64 {
	t.Helper()
	var commit uint64
	waitFor(t, 30*time.Second, what+": every node to apply one common commit index", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l, err := c.leaderNow(ctx)
		if err != nil {
			return err
		}
		// A write in the leader's term makes followers learn the commit
		// index promptly and proves the cluster takes writes.
		if err := l.rdb.Set(ctx, "barrier", strconv.FormatInt(time.Now().UnixNano(), 10), 0).Err(); err != nil {
			return fmt.Errorf("barrier write: %w", err)
		}
		want, err := l.raftUint(ctx, "raft_commit_index")
		if err != nil {
			return err
		}
		// Give the followers a few heartbeats to learn it.
		deadline := time.Now().Add(3 * time.Second)
		for {
			var bad []string
			for _, nd := range c.running() {
				inf, err := nd.info(ctx, "raft")
				if err != nil {
					return fmt.Errorf("node %d: %w", nd.id, err)
				}
				if inf["raft_commit_index"] != inf["raft_applied_index"] || inf["raft_applied_index"] != strconv.FormatUint(want, 10) {
					bad = append(bad, fmt.Sprintf("node %d commit %s applied %s", nd.id, inf["raft_commit_index"], inf["raft_applied_index"]))
				}
			}
			if len(bad) == 0 {
				commit = want
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("leader %d committed %d; %s", l.id, want, strings.Join(bad, "; "))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	var ref map[string]string
	var refID int
	for _, nd := range c.running() {
		got := dumpKeys(t, nd)
		if ref == nil {
			ref, refID = got, nd.id
			continue
		}
		if diff := keySpaceDiff(ref, got); diff != "" {
			dir := saveArtifacts(t, c, "replicas")
			t.Fatalf("%s: node %d and node %d applied the same index %d but hold different data (%s); node logs in %s",
				what, refID, nd.id, commit, diff, dir)
		}
	}
	return commit
}

// scanKeys returns every key rdb, a client of nd, finds with SCAN.
func scanKeys(t *testing.T, nd *node, rdb *redis.Client) []string {
	t.Helper()
	var keys []string
	var cursor uint64
	for {
		page, next, err := rdb.Scan(context.Background(), cursor, "*", 1000).Result()
		if err != nil {
			t.Fatalf("SCAN on node %d: %v", nd.id, err)
		}
		keys = append(keys, page...)
		if cursor = next; cursor == 0 {
			return keys
		}
	}
}

// dumpKeys returns every key and string value a node holds.
func dumpKeys(t *testing.T, nd *node) map[string]string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: nd.addr, MaxRetries: 3, ReadTimeout: 5 * time.Second,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer rdb.Close()
	ctx := context.Background()
	out := map[string]string{}
	keys := scanKeys(t, nd, rdb)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		vals, err := rdb.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatalf("MGET on node %d: %v", nd.id, err)
		}
		for j, v := range vals {
			s, _ := v.(string)
			out[batch[j]] = s
		}
	}
	n, err := rdb.DBSize(ctx).Result()
	if err != nil || n != int64(len(out)) {
		t.Fatalf("node %d: DBSIZE = %d, %v, but SCAN found %d keys", nd.id, n, err, len(out))
	}
	return out
}

func keySpaceDiff(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, fmt.Sprintf("%s only on the first", k))
		} else if v != w {
			d = append(d, fmt.Sprintf("%s = %q vs %q", k, v, w))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s only on the second", k))
		}
	}
	slices.Sort(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("and %d more", len(d)-10))
	}
	return strings.Join(d, "; ")
}

// checkNoPanics fails if any node's log mentions a panic (a crash, or a
// command that panicked while being applied).
func checkNoPanics(t *testing.T, c *cluster) {
	t.Helper()
	for _, nd := range c.nodes {
		b, _ := os.ReadFile(nd.logPath)
		s := strings.ToLower(string(b))
		if i := strings.Index(s, "panic"); i >= 0 {
			dir := saveArtifacts(t, c, "panic")
			lo := max(0, i-200)
			t.Fatalf("node %d's log mentions a panic: ...%s...; node logs in %s", nd.id, b[lo:min(len(b), i+800)], dir)
		}
	}
}

// TestKVModel checks the checker: small histories the model must accept
// or refuse, so a passing fault run means something.
func TestKVModel(t *testing.T) {
	set := func(c int, call, ret int64, v string) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: kvInput{kind: opSet, key: "k", arg: v}, Call: call, Output: kvOutput{}, Return: ret}
	}
	get := func(c int, call, ret int64, v string, ok bool) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: kvInput{kind: opGet, key: "k"}, Call: call, Output: kvOutput{exists: ok, val: v}, Return: ret}
	}
	incr := func(c int, call, ret int64, n int64, err string) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: kvInput{kind: opIncr, key: "k"}, Call: call, Output: kvOutput{n: n, err: err}, Return: ret}
	}
	unknown := func(op porcupine.Operation) porcupine.Operation {
		op.Output, op.Return = kvOutput{unknown: true}, 1000
		return op
	}
	app := porcupine.Operation{ClientId: 3, Input: kvInput{kind: opAppend, key: "k", arg: "x"}, Call: 5, Output: kvOutput{n: 2}, Return: 6}
	for _, tc := range []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"read of the last write", true, []porcupine.Operation{set(1, 0, 1, "1"), get(2, 2, 3, "1", true)}},
		{"stale read", false, []porcupine.Operation{set(1, 0, 1, "1"), set(1, 2, 3, "2"), get(2, 4, 5, "1", true)}},
		{"lost write", false, []porcupine.Operation{set(1, 0, 1, "1"), get(2, 2, 3, "", false)}},
		{"concurrent read may see either", true, []porcupine.Operation{set(1, 0, 1, "1"), set(1, 2, 5, "2"), get(2, 3, 4, "1", true)}},
		{"unknown write seen later", true, []porcupine.Operation{unknown(set(1, 0, 1, "1")), get(2, 10, 11, "1", true)}},
		{"unknown write never seen", true, []porcupine.Operation{unknown(set(1, 0, 1, "1")), get(2, 10, 11, "", false)}},
		{"unknown write cannot undo", false, []porcupine.Operation{unknown(set(1, 0, 1, "1")), get(2, 10, 11, "1", true), get(2, 12, 13, "", false)}},
		{"incr", true, []porcupine.Operation{set(1, 0, 1, "5"), incr(1, 2, 3, 6, ""), get(1, 4, 5, "6", true)}},
		{"incr of a non-integer fails", true, []porcupine.Operation{set(1, 0, 1, "a"), app, incr(1, 7, 8, 0, "ERR value is not an integer"), get(1, 9, 10, "ax", true)}},
		{"incr lost", false, []porcupine.Operation{set(1, 0, 1, "5"), incr(1, 2, 3, 6, ""), incr(1, 4, 5, 6, "")}},
	} {
		if got := porcupine.CheckOperations(kvModel, tc.ops); got != tc.ok {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.ok)
		}
	}
}
