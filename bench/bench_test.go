package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// needTools skips when the suite cannot run here: it drives real
// redis-server and redis-benchmark processes.
func needTools(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real servers; skipped with -short")
	}
	for _, tool := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestHarnessQuick runs the whole suite in quick mode to prove that it
// measures every figure and renders the report. It asserts nothing about the
// figures themselves: timings depend on the machine.
func TestHarnessQuick(t *testing.T) {
	needTools(t)
	cfg := DefaultConfig(true)
	cfg.BaseDir = t.TempDir()
	cfg.Log = logWriter{t}
	// The baseline option builds HEAD, which needs a git checkout.
	if exec.Command("git", "rev-parse", "HEAD").Run() == nil {
		cfg.Baseline = "HEAD"
	}
	// Generous: on a shared 2-core machine under load the quick suite has
	// taken over 3 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m := rep.Missing(); len(m) > 0 {
		t.Errorf("figures not measured: %v", m)
	}
	md := rep.Markdown()
	for _, want := range []string{"| Figure |", "## Goals", "fsync", "restart after kill -9", "entries per write", "reads per confirmation round", "rkv / hraft-wal", "rkv-1 / redis-aof",
		"## What each request costs", "| SET -c 50 -P 1 -d 3 | hraft-wal |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// Every SET run's costs were read from each node of rkv and the peer.
	for _, c := range rep.Costs {
		if !strings.HasPrefix(c.Figure, "SET") || (c.System != RKV && c.System != Peer) {
			continue
		}
		if len(c.Nodes) != 3 || !c.Nodes[0].Leader {
			t.Errorf("%s %s: costs of %d nodes, leader first %v; want 3, the leader first", c.Figure, c.System, len(c.Nodes), c.Nodes)
			continue
		}
		for _, n := range c.Nodes {
			if n.LogWrites == 0 || n.LogEntries < n.LogWrites || !n.HasFsyncs || n.Fsyncs == 0 || !n.HasGoRuns {
				t.Errorf("%s %s node %d: %+v; want log writes, entries, fsyncs and goroutine runs counted", c.Figure, c.System, n.ID, n)
			}
		}
	}
	if cfg.Baseline != "" && !strings.Contains(md, "| rkv-1 now / before |") {
		t.Errorf("report lacks the baseline table:\n%s", md)
	}
	for _, g := range rep.Goals {
		if v, _ := rep.GoalValue(g); v != v {
			t.Errorf("goal %q has no measure", g.Name)
		}
	}
	// Run must leave nothing behind.
	if left, _ := filepath.Glob(filepath.Join(cfg.BaseDir, "rkvbench-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

func TestParseBenchCSV(t *testing.T) {
	in := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","13513.51","3.235","0.576","2.807","5.991","12.015","19.535"
"GET","26315.79","1.530","0.168","1.391","2.687","4.159","55.391"
`
	got, err := parseBenchCSV([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]benchResult{"SET": {13513.51, 2.807, 12.015}, "GET": {26315.79, 1.391, 4.159}}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if _, err := parseBenchCSV([]byte(`"test","rps"` + "\n" + `"SET","1"` + "\n")); err == nil {
		t.Error("missing latency columns accepted")
	}
}

func TestRatioIsMedianOfPerRunRatios(t *testing.T) {
	f := &Figure{}
	f.Values[RKV] = []float64{10, 40, 30}
	f.Values[Redis] = []float64{10, 20, 60} // per-run ratios 1, 2, 0.5
	if got := f.Ratio(RKV, Redis); got != 1 {
		t.Errorf("Ratio = %v, want 1", got)
	}
	if got := f.Ratio(RKV, RedisAOF); got == got {
		t.Errorf("Ratio without a baseline = %v, want NaN", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		f := &Figure{}
		f.Values[RKV] = tc.in
		if got := f.Median(RKV); got != tc.want {
			t.Errorf("median %v = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The Go benchmarks below measure rkv's whole write and read path as a
// client sees it (RESP parse, encode, propose, WAL fsync, apply, reply) on
// one node, which the package-level benchmarks of store and wal do not
// cover. One node keeps them cheap and free of network variance.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// rkvBinary builds rkv once per test binary.
func rkvBinary(tb testing.TB) string {
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "rkvbench-bin-"); binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "rkv"), "./cmd/rkv")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building rkv: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return filepath.Join(binDir, "rkv")
}

// oneNode starts a single-node rkv and returns a go-redis client for it.
func oneNode(b *testing.B) *redis.Client {
	if testing.Short() {
		b.Skip("starts a real server; skipped with -short")
	}
	bin := rkvBinary(b)
	ports, err := freePorts(2)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	var ps procs
	h := &harness{rkvBin: bin}
	args := append(h.rkvArgs(1, addr, filepath.Join(dir, "data"), "linearizable"), "--bus", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	p, err := ps.start("rkv", filepath.Join(dir, "rkv.log"), bin, args...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ps.killAll)
	cl := &rkvCluster{name: "rkv", nodes: []*rkvNode{{id: 1, addr: addr, p: p}}}
	if _, err := cl.waitLeader(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: 64})
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkSETOneClient is the latency of one durable SET: one fsync each.
func BenchmarkSETOneClient(b *testing.B) {
	c := oneNode(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := c.Set(ctx, fmt.Sprintf("key:%012d", i%100000), "xyz", 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSETParallel shows group commit: concurrent SETs share fsyncs.
func BenchmarkSETParallel(b *testing.B) {
	c := oneNode(b)
	ctx := context.Background()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := c.Set(ctx, fmt.Sprintf("key:%012d", i%100000), "xyz", 0).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGETLinearizable is one read confirmed by a ReadIndex round.
func BenchmarkGETLinearizable(b *testing.B) {
	c := oneNode(b)
	ctx := context.Background()
	if err := c.Set(ctx, "key", "xyz", 0).Err(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := c.Get(ctx, "key").Err(); err != nil {
			b.Fatal(err)
		}
	}
}
