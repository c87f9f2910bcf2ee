package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what to run. DefaultConfig gives the full suite or the quick
// smoke run.
type Config struct {
	Root    string    // the rkv module root (where go.mod is); rkv is built from here
	BaseDir string    // parent of the temporary directory ("" means os.TempDir())
	Runs    int       // repetitions; each figure is the median over them
	Quick   bool      // a smoke run: small request counts (recorded in the report)
	N1      int       // requests per redis-benchmark test with -P 1
	N16     int       // requests per redis-benchmark test with -P 16
	NLat    int       // requests of the one-client latency test
	Keys    int       // keys loaded for the memory, restart and catch-up figures
	Log     io.Writer // progress lines (nil: discarded)
	Keep    bool      // keep the temporary directory (logs, data) when Run fails
	// Baseline is a git revision of rkv built and measured beside the
	// working tree in the throughput phase ("": none).
	Baseline string
}

// DefaultConfig returns the full suite (quick false) or a smoke run that
// measures every figure with small counts in well under a minute.
func DefaultConfig(quick bool) Config {
	if quick {
		return Config{Runs: 1, Quick: true, N1: 5000, N16: 20000, NLat: 1000, Keys: 100_000}
	}
	return Config{Runs: 3, N1: 50_000, N16: 200_000, NLat: 5000, Keys: 1_000_000}
}

// The shared redis-benchmark parameters of the issue.
const (
	clients   = 50
	keyspace  = 100_000 // -r
	valueSize = 100     // bytes per value of the loaded keys
	loadConns = 16      // loader connections
	loadBatch = 64      // SETs per pipelined batch of the loader
	sentinel  = "bench:sentinel"
)

// harness is one Run's state: its temporary directory, the rkv binary built
// into it and every process it started.
type harness struct {
	cfg     Config
	dir     string
	rkvBin  string
	peerBin string
	baseBin string // rkv built from cfg.Baseline; "" without one
	procs   procs
	rep     *Report
}

func (h *harness) logf(format string, args ...any) {
	if h.cfg.Log != nil {
		fmt.Fprintf(h.cfg.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// Run builds rkv, runs the suite and returns the report. Every process it
// started is killed and its temporary directory removed before it returns,
// also when ctx is cancelled or a step fails.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	for _, tool := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("bench: %s is not installed: %w", tool, err)
		}
	}
	if cfg.Root == "" {
		if cfg.Root, err = ModuleRoot(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp(cfg.BaseDir, "rkvbench-")
	if err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, dir: dir, rkvBin: filepath.Join(dir, "rkv"), peerBin: filepath.Join(dir, "peer"), rep: newReport(cfg)}
	defer func() {
		if err != nil {
			if c := h.procs.crashed(); c != "" {
				err = fmt.Errorf("%w\nprocesses that died:%s", err, c)
			}
		}
		h.procs.killAll()
		if err != nil && cfg.Keep {
			err = fmt.Errorf("%w\n(kept %s)", err, dir)
			return
		}
		os.RemoveAll(dir)
	}()
	start := time.Now()
	h.logf("temporary directory %s", dir)
	if err := h.machine(); err != nil {
		return nil, err
	}
	h.logf("building rkv")
	build := exec.CommandContext(ctx, "go", "build", "-o", h.rkvBin, "./cmd/rkv")
	build.Dir = cfg.Root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench: building rkv: %v\n%s", err, out)
	}
	if err := h.buildPeer(ctx); err != nil {
		return nil, err
	}
	if cfg.Baseline != "" {
		if err := h.buildBaseline(ctx); err != nil {
			return nil, err
		}
	}
	if err := h.throughput(ctx); err != nil {
		return nil, err
	}
	h.procs.killAll()
	for run := 1; run <= cfg.Runs; run++ {
		if err := h.durability(ctx, run); err != nil {
			return nil, err
		}
		h.procs.killAll()
		if err := h.hashMemory(ctx, run); err != nil {
			return nil, err
		}
		h.procs.killAll()
		if err := h.eviction(ctx, run); err != nil {
			return nil, err
		}
		h.procs.killAll()
	}
	h.rep.evictionNotes()
	h.rep.Elapsed = time.Since(start)
	h.logf("done in %v", h.rep.Elapsed.Round(time.Second))
	return h.rep, nil
}

// ModuleRoot finds the directory of the go.mod above the working directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("bench: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("bench: not inside the rkv module (run from its directory)")
	}
	return filepath.Dir(mod), nil
}

// machine records what the figures were measured on, including how long
// the disk under the temporary directory takes to fsync: every durable
// write of both redis (appendfsync always) and rkv waits for one.
func (h *harness) machine() error {
	m := &h.rep.Machine
	m.Cores = runtime.NumCPU()
	m.CPU = cpuModel()
	m.Date = time.Now()
	m.GoVersion = runtime.Version()
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		m.Redis = strings.TrimSpace(string(out))
	}
	m.FS = fsType(h.dir)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	lat, err := fsyncLatency(h.dir, 100)
	if err != nil {
		return err
	}
	m.Fsync = lat
	h.logf("machine: %d cores, %s, fsync median %v on %s", m.Cores, m.CPU, lat, m.FS)
	return nil
}

// benchCase is one redis-benchmark throughput setting.
type benchCase struct{ pipeline, size int }

var cases = []benchCase{{1, 3}, {1, 1024}, {16, 3}, {16, 1024}}

func rpsKey(cmd string, c benchCase) string {
	return fmt.Sprintf("%s -c %d -P %d -d %d", cmd, clients, c.pipeline, c.size)
}

// requests is how many requests redis-benchmark sends in setting c.
func (h *harness) requests(c benchCase) int {
	if c.pipeline > 1 {
		return h.cfg.N16
	}
	return h.cfg.N1
}

// benchArgs are the redis-benchmark arguments of test (set or get) in
// setting c.
func (h *harness) benchArgs(test string, c benchCase) []string {
	return []string{"-t", test, "-n", strconv.Itoa(h.requests(c)), "-c", strconv.Itoa(clients),
		"-P", strconv.Itoa(c.pipeline), "-d", strconv.Itoa(c.size), "-r", strconv.Itoa(keyspace)}
}

// target is a server redis-benchmark drives.
type target struct {
	name string
	sys  System
	// addr is looked up before every run: redis-benchmark does not follow
	// MOVED, and a leader change would otherwise turn into errors.
	addr func() (string, error)
	// rkv is the cluster behind the target (rkv's builds or the peer),
	// whose counters are read around each run; nil for redis.
	rkv *rkvCluster
	// procs are redis's process, whose costs are read around each run.
	procs []*proc
}

// bench runs redis-benchmark against t, again (at most twice more) if
// rkv's or the peer's leadership moved during the run, which shows up as error replies;
// such retries are counted in the notes.
func (h *harness) bench(ctx context.Context, t target, args ...string) (map[string]benchResult, error) {
	res, _, err := h.benchAttempts(ctx, t, args...)
	return res, err
}

// benchAttempts is bench, also returning how many times redis-benchmark
// ran.
func (h *harness) benchAttempts(ctx context.Context, t target, args ...string) (map[string]benchResult, int, error) {
	for attempt := 0; ; attempt++ {
		addr, err := t.addr()
		if err != nil {
			return nil, 0, err
		}
		res, err := redisBenchmark(ctx, addr, args...)
		var re *replyErrors
		if err != nil && errors.As(err, &re) && t.sys != Redis && t.sys != RedisAOF && attempt < 2 {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s: redis-benchmark %s saw error replies (%s) and was run again", t.name, strings.Join(args, " "), re.sample))
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", t.name, err)
		}
		return res, attempt + 1, nil
	}
}

// batchCase is the setting whose batching the notes describe: with one
// request per round trip, every batch is made of different clients'
// requests. The writes of the other data types are measured in it too.
var batchCase = benchCase{1, 3}

// typeTests are redis-benchmark's tests of writes to a list, a hash and a
// sorted set (one key each, growing by a -r random element per request),
// reported as typeCommands.
const typeTests = "lpush,hset,zadd"

var typeCommands = []string{"LPUSH", "HSET", "ZADD"}

// throughput runs the redis-benchmark figures. The three systems stay up
// across runs and are interleaved within each run, so a noisy minute of the
// machine spreads over all of them instead of biasing one ratio. SET and
// GET are separate redis-benchmark runs (GET reads the keys SET just
// wrote) so that rkv's counters can be read between them.
func (h *harness) throughput(ctx context.Context) error {
	plain, err := h.startRedis(ctx, "redis", redisNoPersist, "")
	if err != nil {
		return err
	}
	aof, err := h.startRedis(ctx, "redis-aof", redisAOFAlways, "")
	if err != nil {
		return err
	}
	cl, err := h.startRKV(ctx, "rkv", 3, "linearizable")
	if err != nil {
		return err
	}
	one, err := h.startRKV(ctx, "rkv-1", 1, "linearizable")
	if err != nil {
		return err
	}
	peer, err := h.startPeer(ctx, Peer.String(), 3)
	if err != nil {
		return err
	}
	fixed := func(a string) func() (string, error) { return func() (string, error) { return a, nil } }
	targets := []target{
		{Redis.String(), Redis, fixed(plain.addr), nil, []*proc{plain.p}},
		{RedisAOF.String(), RedisAOF, fixed(aof.addr), nil, []*proc{aof.p}},
		{cl.name, RKV, cl.leaderFunc(ctx), cl, nil},
		{one.name, RKV1, one.leaderFunc(ctx), one, nil},
		{peer.name, Peer, peer.leaderFunc(ctx), peer, nil},
	}
	defer h.electionNote(cl, 1)
	defer h.electionNote(one, 1)
	if h.baseBin != "" {
		base, err := h.startCluster(ctx, RKVBase.String(), 3, "linearizable", h.baseBin, rkvMember, h.rkvNodeArgs("linearizable"))
		if err != nil {
			return err
		}
		baseOne, err := h.startCluster(ctx, RKV1Base.String(), 1, "linearizable", h.baseBin, rkvMember, h.rkvNodeArgs("linearizable"))
		if err != nil {
			return err
		}
		// Each baseline runs next to its counterpart, so that the two
		// builds share the same moments of a busy machine.
		targets = slices.Insert(targets, 4, target{baseOne.name, RKV1Base, baseOne.leaderFunc(ctx), baseOne, nil})
		targets = slices.Insert(targets, 3, target{base.name, RKVBase, base.leaderFunc(ctx), base, nil})
		defer h.electionNote(base, 1)
		defer h.electionNote(baseOne, 1)
	}
	for run := 1; run <= h.cfg.Runs; run++ {
		order := targets
		if h.baseBin != "" && run%2 == 0 {
			// Every other run each baseline goes before its counterpart:
			// a system measured right after a heavy writer pays for its
			// writeback, so neither build should always take that place.
			order = slices.Clone(targets)
			for i, t := range order {
				if t.sys == RKVBase || t.sys == RKV1Base {
					order[i-1], order[i] = t, order[i-1]
				}
			}
		}
		var batching []string
		for _, c := range cases {
			for _, t := range order {
				rps := map[string]float64{}
				var costs []string
				for _, cmd := range []string{"SET", "GET"} {
					before, err := t.sample(ctx)
					if err != nil {
						return err
					}
					args := h.benchArgs(strings.ToLower(cmd), c)
					res, attempts, err := h.benchAttempts(ctx, t, args...)
					if err != nil {
						return err
					}
					after, err := t.sample(ctx)
					if err != nil {
						return err
					}
					rps[cmd] = res[cmd].rps
					h.rep.add(rpsKey(cmd, c), t.sys, rps[cmd])
					// A run cut short by a leader change and repeated leaves
					// its cost in the counters too: count its requests, as
					// an upper bound.
					cost := costOf(rpsKey(cmd, c), t.sys, attempts*h.requests(c), before, after)
					h.rep.Costs = append(h.rep.Costs, cost)
					if cmd == "SET" && c == batchCase {
						if per, ok := cost.leaderEntriesPerWrite(); ok {
							h.rep.add(figLeaderBatch, t.sys, per)
						}
					}
					costs = append(costs, cmd+": "+costLine(cost))
					if t.rkv != nil && t.sys != Peer && c == batchCase {
						var bc, ac []raftCounters
						for i := range before {
							bc, ac = append(bc, *before[i].raft), append(ac, *after[i].raft)
						}
						batching = append(batching, t.rkv.name+" "+t.rkv.batching(cmd, c, bc, ac))
					}
				}
				h.logf("run %d %-14s -P %-2d -d %-4d SET %8.0f GET %8.0f rps; per request %s", run, t.sys, c.pipeline, c.size,
					rps["SET"], rps["GET"], strings.Join(costs, "; "))
			}
		}
		for _, t := range order {
			if t.sys == Peer {
				continue // the peer knows GET, SET and DEL only
			}
			res, err := h.bench(ctx, t, h.benchArgs(typeTests, batchCase)...)
			if err != nil {
				return err
			}
			var line []string
			for _, cmd := range typeCommands {
				h.rep.add(rpsKey(cmd, batchCase), t.sys, res[cmd].rps)
				line = append(line, fmt.Sprintf("%s %.0f", cmd, res[cmd].rps))
			}
			h.logf("run %d %-14s %s rps", run, t.sys, strings.Join(line, " "))
		}
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("run %d: %s", run, strings.Join(batching, "; ")))
		h.logf("run %d %s", run, strings.Join(batching, "; "))
		for _, t := range order {
			res, err := h.bench(ctx, t, "-t", "set,get", "-n", strconv.Itoa(h.cfg.NLat),
				"-c", "1", "-P", "1", "-d", "3", "-r", strconv.Itoa(keyspace))
			if err != nil {
				return err
			}
			for _, cmd := range []string{"SET", "GET"} {
				h.rep.add(cmd+" p50 -c 1", t.sys, res[cmd].p50)
				h.rep.add(cmd+" p99 -c 1", t.sys, res[cmd].p99)
			}
			h.logf("run %d %-14s one client: SET p50 %.3f p99 %.3f, GET p50 %.3f p99 %.3f ms", run, t.sys,
				res["SET"].p50, res["SET"].p99, res["GET"].p50, res["GET"].p99)
		}
		if err := h.leaseReads(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

// leaseCases are the GET settings measured with lease reads.
var leaseCases = []benchCase{{1, 3}, {16, 3}}

func leaseKey(c benchCase) string { return rpsKey("GET", c) + ", rkv --read-mode lease" }

// leaseReads measures GET on a fresh cluster with --read-mode lease: the
// gap to the linearizable rows is what confirming each batch of reads with
// a ReadIndex round costs. The keys are written first by the same SET run
// as for those rows; the redis column repeats this run's redis GET figure
// so that the row has its ratio. The cluster is stopped afterwards so that
// it takes no CPU from the next run.
func (h *harness) leaseReads(ctx context.Context, run int) error {
	cl, err := h.startRKV(ctx, fmt.Sprintf("rkv-lease%d", run), 3, "lease")
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range cl.nodes {
			n.p.kill()
		}
	}()
	defer h.electionNote(cl, 1)
	t := target{cl.name, RKV, cl.leaderFunc(ctx), nil, nil}
	for _, c := range leaseCases {
		if _, err := h.bench(ctx, t, h.benchArgs("set", c)...); err != nil {
			return err
		}
		res, err := h.bench(ctx, t, h.benchArgs("get", c)...)
		if err != nil {
			return err
		}
		h.rep.add(leaseKey(c), RKV, res["GET"].rps)
		h.rep.add(leaseKey(c), Redis, h.rep.last(rpsKey("GET", c), Redis))
		h.logf("run %d %s -P %-2d -d %-4d GET %8.0f rps", run, cl.name, c.pipeline, c.size, res["GET"].rps)
	}
	return nil
}

// durability is one run of the figures that need a large dataset: load
// Keys keys into fresh servers, measure RSS, then a new replica's catch-up
// and the restart after kill -9.
func (h *harness) durability(ctx context.Context, run int) error {
	sfx := fmt.Sprintf("-mem%d", run)
	plain, err := h.startRedis(ctx, "redis"+sfx, redisNoPersist, "")
	if err != nil {
		return err
	}
	aof, err := h.startRedis(ctx, "redis-aof"+sfx, redisAOFAlways, "")
	if err != nil {
		return err
	}
	cl, err := h.startRKV(ctx, "rkv"+sfx, 3, "linearizable")
	if err != nil {
		return err
	}
	leader, err := cl.waitLeader(ctx, nil)
	if err != nil {
		return err
	}
	value := fmt.Sprintf("sentinel-%d", run)
	defer h.electionNote(cl, 2)
	fixed := func(a string) func() (string, error) { return func() (string, error) { return a, nil } }

	// Load. The sentinel is written after every key is acknowledged, so a
	// node that returns it holds the whole dataset.
	loadFig := loadFigure(h.cfg.Keys)
	for _, t := range []struct {
		sys  System
		addr func() (string, error)
	}{{Redis, fixed(plain.addr)}, {RedisAOF, fixed(aof.addr)}, {RKV, cl.leaderFunc(ctx)}} {
		d, retries, err := loadKeys(ctx, t.addr, h.cfg.Keys)
		if err != nil {
			return fmt.Errorf("loading %s: %w", t.sys, err)
		}
		if retries > 0 {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("run %d: %s: %d loader batch(es) were resent after a redirect, an error or a lost connection", run, t.sys, retries))
		}
		if err := poll(ctx, 30*time.Second, 10*time.Millisecond, "SET of the sentinel", func() (bool, error) {
			addr, err := t.addr()
			if err != nil {
				return false, err
			}
			v, err := command(ctx, addr, "SET", sentinel, value)
			return v == "OK", err
		}); err != nil {
			return fmt.Errorf("%s: SET %s: %w", t.sys, sentinel, err)
		}
		rate := float64(h.cfg.Keys) / d.Seconds()
		h.rep.add(loadFig, t.sys, rate)
		h.logf("run %d %-9s loaded %d keys in %v (%.0f keys/s)", run, t.sys, h.cfg.Keys, d.Round(time.Millisecond), rate)
	}
	if leader, err = cl.waitLeader(ctx, nil); err != nil {
		return err
	}
	if err := cl.waitApplied(ctx, leader); err != nil {
		return err
	}

	// Memory: RSS of every rkv node (each holds the full dataset); the
	// worst node is what must fit on a machine.
	memFig := fmt.Sprintf("RSS after %s keys (MiB; rkv: largest node)", humanCount(h.cfg.Keys))
	var nodeRSS []string
	maxRSS := 0.0
	for _, n := range cl.nodes {
		kib, err := rssKiB(n.p.pid())
		if err != nil {
			return err
		}
		maxRSS = max(maxRSS, kib/1024)
		nodeRSS = append(nodeRSS, fmt.Sprintf("n%d %.0f", n.id, kib/1024))
	}
	h.rep.add(memFig, RKV, maxRSS)
	for _, t := range []struct {
		sys System
		p   *proc
	}{{Redis, plain.p}, {RedisAOF, aof.p}} {
		kib, err := rssKiB(t.p.pid())
		if err != nil {
			return err
		}
		h.rep.add(memFig, t.sys, kib/1024)
	}
	h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("run %d: rkv RSS per node (MiB): %s", run, strings.Join(nodeRSS, ", ")))
	h.logf("run %d RSS MiB: redis %.0f, redis-aof %.0f, rkv %s", run, h.rep.last(memFig, Redis), h.rep.last(memFig, RedisAOF), strings.Join(nodeRSS, ", "))

	// Restart after kill -9, with the dataset on disk.
	if err := h.restartRedis(ctx, run, aof, value); err != nil {
		return err
	}
	if err := h.restartRKV(ctx, run, cl, value); err != nil {
		return err
	}
	// A new replica catching up from nothing.
	if err := h.catchUpRedis(ctx, run, plain, value); err != nil {
		return err
	}
	if err := h.catchUpRKV(ctx, run, cl, value); err != nil {
		return err
	}
	return nil
}

// hashMemory loads Keys small hashes (hashFields fields each, the shape of
// a record) into a fresh redis-server and a fresh rkv cluster and compares
// their RSS: small hashes are where a compact encoding matters.
func (h *harness) hashMemory(ctx context.Context, run int) error {
	sfx := fmt.Sprintf("-hash%d", run)
	plain, err := h.startRedis(ctx, "redis"+sfx, redisNoPersist, "")
	if err != nil {
		return err
	}
	cl, err := h.startRKV(ctx, "rkv"+sfx, 3, "linearizable")
	if err != nil {
		return err
	}
	if _, err := cl.waitLeader(ctx, nil); err != nil {
		return err
	}
	defer h.electionNote(cl, 1)
	fixed := func(a string) func() (string, error) { return func() (string, error) { return a, nil } }
	if _, _, err := loadShape(ctx, fixed(plain.addr), h.cfg.Keys, hashShape); err != nil {
		return fmt.Errorf("loading hashes into redis: %w", err)
	}
	_, retries, err := loadShape(ctx, cl.leaderFunc(ctx), h.cfg.Keys, hashShape)
	if err != nil {
		return fmt.Errorf("loading hashes into rkv: %w", err)
	}
	if retries > 0 {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("run %d: rkv: %d hash loader batch(es) were resent", run, retries))
	}
	leader, err := cl.waitLeader(ctx, nil)
	if err != nil {
		return err
	}
	if err := cl.waitApplied(ctx, leader); err != nil {
		return err
	}
	fig := hashRSSFigure(h.cfg.Keys)
	maxRSS := 0.0
	for _, n := range cl.nodes {
		kib, err := rssKiB(n.p.pid())
		if err != nil {
			return err
		}
		maxRSS = max(maxRSS, kib/1024)
	}
	kib, err := rssKiB(plain.p.pid())
	if err != nil {
		return err
	}
	h.rep.add(fig, RKV, maxRSS)
	h.rep.add(fig, Redis, kib/1024)
	h.logf("run %d RSS MiB with %d hashes: redis %.0f, rkv %.0f (largest node)", run, h.cfg.Keys, kib/1024, maxRSS)
	for _, n := range cl.nodes {
		n.p.kill()
	}
	plain.p.kill()
	return nil
}

// hashFields is the number of fields of each hash hashMemory loads.
const hashFields = 5

func hashRSSFigure(keys int) string {
	return fmt.Sprintf("RSS after %s hashes of %d fields (MiB; rkv: largest node)", humanCount(keys), hashFields)
}

const (
	figRestart = "restart after kill -9 until serving (s)"
	// figLeaderBatch is the leader's entries per synced log write under
	// SET -c 50 -P 1 -d 3: its group commit, Redis's 29-43 per fdatasync.
	figLeaderBatch = "entries per log write on the leader, SET -c 50 -P 1 -d 3"
	figNewLeader   = "kill -9 of the leader until a new leader (s)"
	figCatchUp     = "new replica caught up (s)"
)

// servesValue returns a check of a GET's reply against the sentinel's
// value, shaped to take the reply directly: servesValue(v)(get(...)).
func servesValue(value string) func(any, error) (bool, error) {
	return func(v any, err error) (bool, error) {
		if err != nil {
			return false, err
		}
		return v == value, nil
	}
}

// restartRedis kills the appendfsync-always server and times its restart
// until it answers GET of the sentinel (it replies -LOADING until the AOF is
// replayed). The no-persistence server has nothing to come back with.
func (h *harness) restartRedis(ctx context.Context, run int, r *redisServer, value string) error {
	r.p.kill()
	start := time.Now()
	if err := h.procs.restart(r.p); err != nil {
		return err
	}
	err := poll(ctx, 60*time.Second, 5*time.Millisecond, "redis-aof to serve after restart", func() (bool, error) {
		if r.p.exited() {
			return false, &fatalError{r.p.errExited()}
		}
		return servesValue(value)(command(ctx, r.addr, "GET", sentinel))
	})
	if err != nil {
		return err
	}
	d := time.Since(start).Seconds()
	h.rep.add(figRestart, RedisAOF, d)
	h.logf("run %d redis-aof restart until serving: %.3f s", run, d)
	return nil
}

// restartRKV kills the leader and restarts it at once with the same data
// directory. It times two things from the kill: the cluster electing a
// leader of a later term, and the restarted node serving a READONLY GET of
// the sentinel (it must have restored its snapshot and replayed its log).
// The new leader may be the restarted node itself: its log is as long as
// any, and in about one restart in five its election timer fires before
// the survivors' do.
func (h *harness) restartRKV(ctx context.Context, run int, cl *rkvCluster, value string) error {
	old, err := cl.waitLeader(ctx, nil)
	if err != nil {
		return err
	}
	m, err := raftInfo(ctx, old.addr)
	if err != nil {
		return err
	}
	oldTerm, err := strconv.ParseUint(m["raft_term"], 10, 64)
	if err != nil {
		return fmt.Errorf("%s: INFO raft raft_term: %w", old.p.name, err)
	}
	old.p.kill()
	start := time.Now()
	if err := h.procs.restart(old.p); err != nil {
		return err
	}
	var elected, serving time.Duration
	err = poll(ctx, 60*time.Second, 5*time.Millisecond, "rkv to elect and serve after restart", func() (bool, error) {
		if old.p.exited() {
			return false, &fatalError{old.p.errExited()}
		}
		var missing []string
		if elected == 0 {
			if cl.leaderAfter(ctx, oldTerm) {
				elected = time.Since(start)
			} else {
				missing = append(missing, fmt.Sprintf("no leader of a term after %d", oldTerm))
			}
		}
		if serving == 0 {
			v, err := readOnlyGet(ctx, old.addr, sentinel)
			if ok, _ := servesValue(value)(v, err); ok {
				serving = time.Since(start)
			} else {
				missing = append(missing, fmt.Sprintf("%s's READONLY GET %s: %v, %v", old.p.name, sentinel, v, err))
			}
		}
		if len(missing) > 0 {
			return false, errors.New(strings.Join(missing, "; "))
		}
		return true, nil
	})
	if err != nil {
		return cl.withLogs(err)
	}
	h.rep.add(figRestart, RKV, serving.Seconds())
	h.rep.add(figNewLeader, RKV, elected.Seconds())
	h.logf("run %d rkv restart until serving: %.3f s, new leader after %.3f s", run, serving.Seconds(), elected.Seconds())
	return nil
}

// catchUpRedis starts an empty replica of the no-persistence server and
// times the full sync until the replica serves the sentinel.
func (h *harness) catchUpRedis(ctx context.Context, run int, master *redisServer, value string) error {
	start := time.Now()
	rep, err := h.startRedis(ctx, fmt.Sprintf("redis-replica-mem%d", run), redisNoPersist, master.addr)
	if err != nil {
		return err
	}
	err = poll(ctx, 60*time.Second, 5*time.Millisecond, "redis replica to sync", func() (bool, error) {
		if rep.p.exited() {
			return false, &fatalError{rep.p.errExited()}
		}
		m, err := info(ctx, rep.addr, "replication")
		if err != nil || m["master_link_status"] != "up" {
			return false, err
		}
		return servesValue(value)(command(ctx, rep.addr, "GET", sentinel))
	})
	if err != nil {
		return err
	}
	d := time.Since(start).Seconds()
	h.rep.add(figCatchUp, Redis, d)
	h.logf("run %d redis replica full sync: %.3f s", run, d)
	return nil
}

// catchUpRKV joins a fourth, empty node and times it until it has applied
// as far as the leader and serves the sentinel. The leader's log has been
// compacted (Keys exceeds --snapshot-entries), so the node catches up by
// InstallSnapshot and then the log tail.
func (h *harness) catchUpRKV(ctx context.Context, run int, cl *rkvCluster, value string) error {
	leader, err := cl.waitLeader(ctx, nil)
	if err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	name := fmt.Sprintf("%s-n4", cl.name)
	args := append(h.rkvArgs(4, addr, filepath.Join(h.dir, name), cl.readMode),
		"--bus", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--join", leader.addr)
	start := time.Now()
	p, err := h.procs.start(name, filepath.Join(h.dir, name+".log"), h.rkvBin, args...)
	if err != nil {
		return err
	}
	err = poll(ctx, 120*time.Second, 5*time.Millisecond, "the new rkv node to catch up", func() (bool, error) {
		if p.exited() {
			return false, &fatalError{p.errExited()}
		}
		if ok, err := servesValue(value)(readOnlyGet(ctx, addr, sentinel)); !ok {
			return false, err
		}
		want, err := appliedIndex(ctx, leader.addr)
		if err != nil {
			return false, err
		}
		got, err := appliedIndex(ctx, addr)
		return err == nil && got >= want, err
	})
	if err != nil {
		return cl.withLogs(fmt.Errorf("%w\n--- %s (%s) log %s ends:\n%s", err, name, addr, p.log, p.logTail()))
	}
	d := time.Since(start).Seconds()
	h.rep.add(figCatchUp, RKV, d)
	h.logf("run %d rkv new node caught up: %.3f s", run, d)
	return nil
}

// shape is what a loader writes for key number k, and which replies say it
// was written (also when sent again after a retry).
type shape struct {
	command func(k int) []string
	accept  func(reply any) bool
}

// stringShape is a string "key:%012d" (16 bytes, the shape redis-benchmark's
// -r keys have) with a valueSize-byte value.
var stringShape = shape{func(k int) []string {
	return []string{"SET", fmt.Sprintf("key:%012d", k), strings.Repeat("v", valueSize)}
}, func(v any) bool { return v == "OK" }}

// hashShape is a record: "user:%012d" with hashFields short fields.
var hashShape = shape{func(k int) []string {
	args := []string{"HSET", fmt.Sprintf("user:%012d", k)}
	for f := range hashFields {
		args = append(args, fmt.Sprintf("field%d", f), fmt.Sprintf("value-%d-%d", k%1000, f))
	}
	return args
}, func(v any) bool { return v == int64(hashFields) || v == int64(0) }}

// loadKeys loads keys strings of stringShape; see loadShape.
func loadKeys(ctx context.Context, addr func() (string, error), keys int) (time.Duration, int, error) {
	return loadShape(ctx, addr, keys, stringShape)
}

// loadShape writes keys of the given shape over loadConns pipelined
// connections and returns how long it took. Every reply is checked. A batch
// that meets a redirect, an error or a broken connection is sent again to
// the server addr names then (both shapes are idempotent), as a client
// would after a leader change; the number of such retries is returned so it
// can be reported.
func loadShape(ctx context.Context, addr func() (string, error), keys int, sh shape) (time.Duration, int, error) {
	start := time.Now()
	var wg sync.WaitGroup
	var retries atomic.Int64
	errs := make(chan error, loadConns)
	per := (keys + loadConns - 1) / loadConns
	for w := range loadConns {
		lo, hi := w*per, min((w+1)*per, keys)
		wg.Go(func() {
			var c *client
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for i := lo; i < hi; {
				if ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				if c == nil {
					a, err := addr()
					if err == nil {
						c, err = dial(ctx, a)
					}
					if err != nil {
						errs <- err
						return
					}
				}
				end := min(i+loadBatch, hi)
				if err := loadBatchOf(c, i, end, sh); err != nil {
					if retries.Add(1) > 100 {
						errs <- fmt.Errorf("giving up after 100 retries: %w", err)
						return
					}
					c.Close()
					c = nil
					continue
				}
				i = end
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, int(retries.Load()), err
	}
	return time.Since(start), int(retries.Load()), nil
}

// loadBatchOf pipelines the commands of keys [lo, hi) and checks every
// reply.
func loadBatchOf(c *client, lo, hi int, sh shape) error {
	for k := lo; k < hi; k++ {
		c.write(sh.command(k)...)
	}
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.w.Flush(); err != nil {
		return err
	}
	var first error
	for k := lo; k < hi; k++ {
		v, err := c.read()
		var se serverError
		if err != nil && !errors.As(err, &se) {
			return err // the connection is unusable
		}
		if first == nil && (err != nil || !sh.accept(v)) {
			first = fmt.Errorf("%v: %v %v", sh.command(k)[:2], v, err)
		}
	}
	return first
}

func humanCount(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}
