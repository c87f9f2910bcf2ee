package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// System is one of the servers compared.
type System int

// The systems, in table order.
const (
	Redis    System = iota // redis-server without persistence
	RedisAOF               // redis-server with appendonly yes, appendfsync always
	RKV                    // the 3-node rkv cluster (durable, linearizable reads)
	RKV1                   // one rkv node: the per-request cost without replication
	Peer                   // 3 nodes of hashicorp/raft + a tidwall/wal log store + redcon (bench/peer)
	RKVBase                // rkv as built from Config.Baseline, 3 nodes (throughput phase only)
	RKV1Base               // the same, one node
	numSystems
)

func (s System) String() string {
	return [...]string{"redis", "redis-aof", "rkv", "rkv-1", "hraft-wal", "rkv-baseline", "rkv-1-baseline"}[s]
}

// Machine is what the figures were measured on.
type Machine struct {
	Date      time.Time
	Cores     int
	CPU       string
	Fsync     time.Duration // median of small write+fsync in the temporary directory
	FS        string        // filesystem of the temporary directory
	GoVersion string
	Redis     string // redis-server --version
	LoadAvg   string // /proc/loadavg's 1, 5 and 15 minute averages at the start
}

// Figure is one measured quantity: its value per system and per run.
// A system with no values has no counterpart for it (shown as "—").
type Figure struct {
	Name   string
	Values [numSystems][]float64
}

// Median is the median over runs of s's values (NaN if there are none).
func (f *Figure) Median(s System) float64 {
	v := slices.Clone(f.Values[s])
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Goal is one of the targets, checked against the medians.
type Goal struct {
	Name     string
	Figure   string
	Subject  System // the system measured
	Baseline System // the system the ratio divides by; ignored when Absolute
	Absolute bool   // compare rkv's own figure, not a ratio
	AtLeast  bool   // the measure must be >= Target (else <= Target)
	Target   float64
	Unit     string // for absolute targets
}

// Report is the outcome of Run.
type Report struct {
	Config  Config
	Machine Machine
	Figures []*Figure
	Goals   []Goal
	Notes   []string
	// Costs are what each redis-benchmark run of the throughput phase
	// cost every node, one per run, figure and system.
	Costs   []Cost
	Elapsed time.Duration
	// Now and Baseline name the commits of the two rkv builds when
	// Config.Baseline is set (Now as git describe --dirty has it).
	Now, Baseline string
}

func newReport(cfg Config) *Report {
	mem := fmt.Sprintf("RSS after %s keys (MiB; rkv: largest node)", humanCount(cfg.Keys))
	r := &Report{Config: cfg}
	set, setP16 := rpsKey("SET", benchCase{1, 3}), rpsKey("SET", benchCase{16, 3})
	// Issue 29's floors.
	r.Goals = []Goal{
		{Name: "SET -c 50, 3-node rkv vs the hashicorp/raft + WAL peer (hraft-wal)", Figure: set, Subject: RKV, Baseline: Peer, AtLeast: true, Target: 1.2},
		{Name: "SET -c 50, 3-node rkv vs redis appendfsync always", Figure: set, Subject: RKV, Baseline: RedisAOF, AtLeast: true, Target: 0.6},
		{Name: "SET -c 50, 1-node rkv vs redis appendfsync always", Figure: set, Subject: RKV1, Baseline: RedisAOF, AtLeast: true, Target: 0.75},
		{Name: "SET -c 50 -P 16, 3-node rkv vs redis appendfsync always -P 16", Figure: setP16, Subject: RKV, Baseline: RedisAOF, AtLeast: true, Target: 0.5},
		{Name: "SET -c 50 -d 1024, 3-node rkv vs redis appendfsync always -d 1024", Figure: rpsKey("SET", benchCase{1, 1024}), Subject: RKV, Baseline: RedisAOF, AtLeast: true, Target: 0.5},
		{Name: "GET -c 50, 3-node rkv (linearizable) vs redis no persistence", Figure: rpsKey("GET", benchCase{1, 3}), Subject: RKV, Baseline: Redis, AtLeast: true, Target: 0.7},
		{Name: "GET -c 50, 3-node rkv --read-mode lease vs redis no persistence", Figure: leaseKey(benchCase{1, 3}), Subject: RKV, Baseline: Redis, AtLeast: true, Target: 0.9},
		{Name: "one-client SET p50, 3-node rkv vs redis appendfsync always", Figure: "SET p50 -c 1", Subject: RKV, Baseline: RedisAOF, Target: 2.0},
		{Name: "entries per log write on the 3-node leader, SET -c 50", Figure: figLeaderBatch, Subject: RKV, Absolute: true, AtLeast: true, Target: 25},
		{Name: fmt.Sprintf("load of %s keys by pipelined SET vs redis appendfsync always", humanCount(cfg.Keys)), Figure: loadFigure(cfg.Keys), Subject: RKV, Baseline: RedisAOF, AtLeast: true, Target: 0.5},
		{Name: fmt.Sprintf("RSS for %s keys, per rkv node vs redis", humanCount(cfg.Keys)), Figure: mem, Subject: RKV, Baseline: Redis, Target: 1.3},
		{Name: fmt.Sprintf("restart with %s keys until serving", humanCount(cfg.Keys)), Figure: figRestart, Subject: RKV, Absolute: true, Target: 3, Unit: "s"},
	}
	return r
}

// add records one run's value of a figure, creating the figure in the
// order figures are first measured (which is the table's order).
func (r *Report) add(name string, s System, v float64) {
	for _, f := range r.Figures {
		if f.Name == name {
			f.Values[s] = append(f.Values[s], v)
			return
		}
	}
	f := &Figure{Name: name}
	f.Values[s] = []float64{v}
	r.Figures = append(r.Figures, f)
}

// Figure returns the named figure or nil.
func (r *Report) Figure(name string) *Figure {
	for _, f := range r.Figures {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func (r *Report) last(name string, s System) float64 {
	if f := r.Figure(name); f != nil && len(f.Values[s]) > 0 {
		return f.Values[s][len(f.Values[s])-1]
	}
	return math.NaN()
}

// Missing lists the figures a complete run should have measured and did
// not: every throughput and latency figure for all three systems, the
// rest for the systems that have a counterpart.
func (r *Report) Missing() []string {
	want := map[string][]System{}
	all := []System{Redis, RedisAOF, RKV}
	withPeer := []System{Redis, RedisAOF, RKV, RKV1, Peer}
	types := []System{Redis, RedisAOF, RKV, RKV1}
	if r.Config.Baseline != "" {
		// The baseline builds take part in the throughput phase only.
		withPeer = append(withPeer, RKVBase, RKV1Base)
		types = append(types, RKVBase, RKV1Base)
	}
	for _, c := range cases {
		want[rpsKey("SET", c)] = withPeer
		want[rpsKey("GET", c)] = withPeer
	}
	for _, c := range leaseCases {
		want[leaseKey(c)] = []System{Redis, RKV}
	}
	for _, cmd := range typeCommands {
		want[rpsKey(cmd, batchCase)] = types
	}
	want[hashRSSFigure(r.Config.Keys)] = []System{Redis, RKV}
	for _, k := range []string{"SET p50 -c 1", "SET p99 -c 1", "GET p50 -c 1", "GET p99 -c 1"} {
		want[k] = withPeer
	}
	want[loadFigure(r.Config.Keys)] = all
	want[figLeaderBatch] = []System{RKV, RKV1, Peer}
	want[fmt.Sprintf("RSS after %s keys (MiB; rkv: largest node)", humanCount(r.Config.Keys))] = all
	want[figRestart] = []System{RedisAOF, RKV}
	want[figNewLeader] = []System{RKV}
	want[figCatchUp] = []System{Redis, RKV}
	want[evictionSetFigure()] = []System{RedisAOF, RKV}
	// The hit rates are measured in the first run only.
	once := map[string]bool{}
	for _, p := range hitPolicies {
		want[hitRateFigure(p)] = []System{Redis, RKV}
		once[hitRateFigure(p)] = true
	}
	var missing []string
	for name, systems := range want {
		f := r.Figure(name)
		runs := r.Config.Runs
		if once[name] {
			runs = 1
		}
		for _, s := range systems {
			if f == nil || len(f.Values[s]) < runs || math.IsNaN(f.Median(s)) || f.Median(s) <= 0 {
				missing = append(missing, fmt.Sprintf("%s / %s", name, s))
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// unit is how a figure's values read in the table.
func loadFigure(keys int) string {
	return fmt.Sprintf("load %s keys (pipelined SET)", humanCount(keys))
}

func unit(name string) string {
	switch {
	case strings.HasPrefix(name, "load "):
		return "keys/s"
	case strings.Contains(name, " p50 ") || strings.Contains(name, " p99 "):
		return "ms"
	case strings.HasPrefix(name, "RSS"):
		return "MiB"
	case strings.HasSuffix(name, "(s)"):
		return "s"
	case strings.HasSuffix(name, "(%)"):
		return "%"
	}
	return "req/s"
}

func format(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case unit == "ms":
		return fmt.Sprintf("%.3f", v)
	case unit == "s":
		return fmt.Sprintf("%.2f", v)
	case unit == "%":
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// Ratio is s's value over base's: the median of the per-run ratios when
// both have a value in every run (each run measures the systems back to
// back, so machine drift between runs cancels out), else the ratio of the
// medians. NaN when either is missing.
func (f *Figure) Ratio(s, base System) float64 {
	a, b := f.Values[s], f.Values[base]
	if len(a) == 0 || len(b) == 0 {
		return math.NaN()
	}
	if len(a) != len(b) {
		return f.Median(s) / f.Median(base)
	}
	r := &Figure{}
	for i := range a {
		r.Values[RKV] = append(r.Values[RKV], a[i]/b[i])
	}
	return r.Median(RKV)
}

func formatRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

// GoalValue is the measure a goal compares with its target (NaN if a
// figure is missing) and whether it is met.
func (r *Report) GoalValue(g Goal) (float64, bool) {
	f := r.Figure(g.Figure)
	if f == nil {
		return math.NaN(), false
	}
	v := f.Median(g.Subject)
	if !g.Absolute {
		v = f.Ratio(g.Subject, g.Baseline)
	}
	if math.IsNaN(v) {
		return v, false
	}
	if g.AtLeast {
		return v, v >= g.Target
	}
	return v, v <= g.Target
}

// Markdown renders the report: machine, the figures table, the goals.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# rkv benchmark results\n\n")
	fmt.Fprintf(&b, "Produced by `go run ./bench/cmd/rkvbench`")
	if r.Config.Quick {
		fmt.Fprintf(&b, " -quick (a smoke run: small counts, not representative)")
	}
	fmt.Fprintf(&b, " on %s, in %v.\n\n", m.Date.UTC().Format("2006-01-02 15:04 UTC"), r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %d cores, %s\n", m.Cores, m.CPU)
	fmt.Fprintf(&b, "- Disk: median write+fsync of 64 bytes %.3f ms (%s, 100 samples in the data directory's filesystem)\n",
		float64(m.Fsync.Microseconds())/1000, m.FS)
	fmt.Fprintf(&b, "- Software: %s; rkv built with %s\n", m.Redis, m.GoVersion)
	fmt.Fprintf(&b, "- Load average when the suite started: %s (other work on the machine widens the spread between runs)\n", m.LoadAvg)
	fmt.Fprintf(&b, "- Each figure is the median of %d run(s); each ratio is the median of the per-run ratios (the systems run back to back within a run). "+
		"All servers on 127.0.0.1, same machine, same client.\n\n", r.Config.Runs)
	fmt.Fprintf(&b, "Systems:\n\n")
	fmt.Fprintf(&b, "- **redis**: redis-server `--save \"\" --appendonly no` (no persistence)\n")
	fmt.Fprintf(&b, "- **redis-aof**: redis-server `--save \"\" --appendonly yes --appendfsync always`\n")
	fmt.Fprintf(&b, "- **rkv**: 3-node rkv cluster, every write fsynced on a majority before it is acknowledged, `--read-mode linearizable`, other flags default; redis-benchmark talks to the leader\n")
	fmt.Fprintf(&b, "- **rkv-1**: one rkv node (`--cluster` of itself), same flags: the per-request cost without replication, where it does the work redis-aof does (one process, one fsync per batch)\n")
	fmt.Fprintf(&b, "- **hraft-wal** (the peer): 3 nodes of the Go ecosystem's standard Raft stack at its fastest durable setting, as tidwall/uhaha runs it (bench/peer: hashicorp/raft v1.8 with a log store on tidwall/wal that writes each batch of logs with one write and one fsync before it returns, behind raft's 512-log cache; raft-boltdb/v2 for the stable store only; redcon in front, GET/SET/DEL on a map; uhaha's write applier, which packs the writes of all connections, up to 256, into one log entry at a time), the leader answering a write once applied; its GET reads the leader's map without a leadership check (not linearizable)\n")
	fmt.Fprintf(&b, "- **rkv --read-mode lease** (the rows so named): a second cluster like rkv but with `--read-mode lease`, started fresh after each run's redis-benchmark figures and measured on GET only (after the same SET)\n\n")
	fmt.Fprintf(&b, "Workloads: redis-benchmark `-t set`, then `-t get` on the keys it wrote, `-c %d -r %d` with -n %d (-P 1) or %d (-P 16); one client: `-t set,get -c 1 -P 1 -d 3 -n %d`. "+
		"LPUSH, HSET, ZADD: redis-benchmark `-t %s` in the -P 1 -d 3 setting (one list, hash and sorted set, each growing by a random element per request). "+
		"Memory, restart and catch-up: fresh servers loaded with %d keys of 16 bytes (`key:%%012d`) and %d-byte values over %d connections pipelining %d SETs. "+
		"Hash memory: fresh redis (no persistence) and rkv loaded the same way with %d hashes `user:%%012d` of %d fields (`fieldN` = `value-K-N`). "+
		"Eviction: fresh redis-aof and rkv with `--maxmemory %s --maxmemory-policy %s`, loaded with twice that in keys, then redis-benchmark SET of new keys (`-r 100000000`). "+
		"Hit rate (first run): fresh redis (no persistence) and rkv with `--maxmemory %s` and each policy; one client GETs %d keys at a time drawn from a Zipf(%.1f) distribution over %d keys of %d bytes, "+
		"then SETs those it missed (cache-aside), the same seeded sequence on both; the rate counts the GETs after the first fifth.\n\n",
		clients, keyspace, r.Config.N1, r.Config.N16, r.Config.NLat, typeTests, r.Config.Keys, valueSize, loadConns, loadBatch, r.Config.Keys, hashFields,
		evictMaxmemory, evictPolicy, hitMaxmemory, hitBatch, hitZipfS, hitKeys, hitValueSize)

	fmt.Fprintf(&b, "| Figure | unit | redis | redis-aof | rkv | rkv-1 | hraft-wal | rkv / redis | rkv / redis-aof | rkv / hraft-wal | rkv-1 / redis-aof |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Figures {
		u := unit(f.Name)
		fmt.Fprintf(&b, "| %s | %s |", f.Name, u)
		for s := Redis; s <= Peer; s++ {
			fmt.Fprintf(&b, " %s |", format(f.Median(s), u))
		}
		fmt.Fprintf(&b, " %s | %s | %s | %s |\n", formatRatio(f.Ratio(RKV, Redis)), formatRatio(f.Ratio(RKV, RedisAOF)),
			formatRatio(f.Ratio(RKV, Peer)), formatRatio(f.Ratio(RKV1, RedisAOF)))
	}
	fmt.Fprintf(&b, "\nRestart: redis-aof is killed with -9 and restarted until it answers GET of a key written last (it replays its AOF); "+
		"rkv's leader is killed with -9 and restarted at once, timed until it answers a READONLY GET of that key, and separately until the two survivors elect a new leader. "+
		"Catch-up: redis is a new empty `--replicaof` the no-persistence server until it serves that key (full sync); rkv is a fourth empty node started with `--join` "+
		"until its applied index reaches the leader's (the leader's log is compacted, so it gets a snapshot). "+
		"Lease rows: the leader serves reads under its lease, which lasts the election timeout less a clock-drift margin from the last heartbeat a majority acknowledged, "+
		"instead of confirming its leadership with a ReadIndex round per batch of reads; their redis column repeats the redis GET figure of the same run. "+
		"The GET goal stays on the linearizable (ReadIndex) row. \"—\": no counterpart.\n\n")
	r.costsMarkdown(&b)
	if r.Config.Baseline != "" {
		r.baselineMarkdown(&b)
	}

	fmt.Fprintf(&b, "## Goals\n\n| Goal | target | measured | |\n|---|---:|---:|---|\n")
	for _, g := range r.Goals {
		v, ok := r.GoalValue(g)
		op := "<="
		if g.AtLeast {
			op = ">="
		}
		target := fmt.Sprintf("%s %g", op, g.Target)
		meas := fmt.Sprintf("%.2f", v)
		if g.Absolute {
			target += " " + g.Unit
			meas = format(v, g.Unit) + " " + g.Unit
		} else {
			meas += fmt.Sprintf(" (%s vs %s)", g.Subject, g.Baseline)
		}
		met := "met"
		if !ok {
			met = "**not met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.Name, target, meas, met)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// baselineMarkdown renders the rkv figures of both builds side by side, each
// with its range over the runs: a difference between the builds means
// something only where it exceeds that spread.
func (r *Report) baselineMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "## rkv now against the baseline\n\n")
	fmt.Fprintf(b, "Now: the working tree (%s); baseline: `-baseline %s` (%s), built from a `git archive` of that commit and run with the same flags, "+
		"each next to its counterpart in every run of the throughput phase (after it in odd runs, before it in even ones). "+
		"Each cell is the median and, in brackets, the lowest and highest of the %d runs; now / before is the median of the per-run ratios.\n\n",
		r.Now, r.Config.Baseline, r.Baseline, r.Config.Runs)
	fmt.Fprintf(b, "| Figure | unit | rkv | rkv-baseline | rkv now / before | rkv-1 | rkv-1-baseline | rkv-1 now / before |\n")
	fmt.Fprintf(b, "|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Figures {
		if len(f.Values[RKVBase]) == 0 {
			continue
		}
		u := unit(f.Name)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Name, u,
			f.spread(RKV, u), f.spread(RKVBase, u), formatRatio(f.Ratio(RKV, RKVBase)),
			f.spread(RKV1, u), f.spread(RKV1Base, u), formatRatio(f.Ratio(RKV1, RKV1Base)))
	}
	fmt.Fprintf(b, "\n")
}

// spread is s's median followed, over several runs, by its lowest and
// highest value.
func (f *Figure) spread(s System, u string) string {
	v := f.Values[s]
	if len(v) < 2 {
		return format(f.Median(s), u)
	}
	return fmt.Sprintf("%s (%s–%s)", format(f.Median(s), u), format(slices.Min(v), u), format(slices.Max(v), u))
}
