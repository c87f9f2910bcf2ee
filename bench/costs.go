package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What each request costs, on every node: read from /proc for every server
// process (CPU time, read and write system calls, context switches) and,
// for rkv and the peer, from INFO (log writes, their entries, fsyncs and
// goroutine runs), before and after each redis-benchmark run of the
// throughput phase.

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 on every architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCounters is what one process has done since it started.
type procCounters struct {
	cpu time.Duration // user + system, all threads, including exited ones
	// syscalls counts the read and write system calls (/proc/<pid>/io
	// syscr + syscw: reads and writes of sockets and files, not fsync,
	// epoll_wait or futex).
	syscalls uint64
	// switches counts the context switches of the threads alive now,
	// voluntary (a thread blocked: in Go, an idle M parking, a goroutine
	// wake-up that needed a thread) and involuntary.
	switches uint64
}

// readProc reads pid's counters from /proc.
func readProc(pid int) (procCounters, error) {
	var c procCounters
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are fixed: utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return c, fmt.Errorf("bench: /proc/%d/stat: too few fields", pid)
	}
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return c, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
		}
		c.cpu += time.Duration(v) * clockTick
	}
	io, err := procFields(fmt.Sprintf("/proc/%d/io", pid), "syscr", "syscw")
	if err != nil {
		return c, err
	}
	c.syscalls = io[0] + io[1]
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		return c, err
	}
	for _, t := range tasks {
		sw, err := procFields(t, "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
		if err != nil {
			continue // the thread exited meanwhile
		}
		c.switches += sw[0] + sw[1]
	}
	return c, nil
}

// procFields reads the named "key: value" fields of a /proc file, in order.
func procFields(path string, keys ...string) ([]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]uint64, len(keys))
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if i := slices.Index(keys, k); i >= 0 {
			if out[i], err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err != nil {
				return nil, fmt.Errorf("bench: %s %s: %w", path, k, err)
			}
			found++
		}
	}
	if found < len(keys) {
		return nil, fmt.Errorf("bench: %s lacks one of %v", path, keys)
	}
	return out, sc.Err()
}

// nodeSample is one server process's counters at one moment.
type nodeSample struct {
	id   int // the node's id in its cluster; 1 for redis
	up   bool
	proc procCounters
	raft *raftCounters // INFO's counters; nil for redis
}

// sample reads the counters of every node behind t.
func (t target) sample(ctx context.Context) ([]nodeSample, error) {
	if t.rkv == nil {
		out := make([]nodeSample, len(t.procs))
		for i, p := range t.procs {
			out[i] = nodeSample{id: i + 1, up: !p.exited()}
			if !out[i].up {
				continue
			}
			pc, err := readProc(p.pid())
			if err != nil {
				return nil, err
			}
			out[i].proc = pc
		}
		return out, nil
	}
	rc, err := t.rkv.counters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]nodeSample, len(t.rkv.nodes))
	for i, n := range t.rkv.nodes {
		out[i] = nodeSample{id: n.id, up: rc[i].up, raft: &rc[i]}
		if !out[i].up {
			continue
		}
		pc, err := readProc(n.p.pid())
		if err != nil {
			return nil, err
		}
		out[i].proc = pc
	}
	return out, nil
}

// NodeCost is what one node did during one redis-benchmark run.
type NodeCost struct {
	ID     int
	Leader bool
	CPU    time.Duration
	// Syscalls are read and write system calls, Switches context
	// switches (see procCounters).
	Syscalls, Switches uint64
	// Raft is set for rkv and the peer: the INFO counters below.
	Raft bool
	// LogWrites are synced log writes carrying LogEntries entries;
	// Fsyncs all fsyncs of the log (HasFsyncs: the build reports them);
	// GoRuns the goroutines scheduled (HasGoRuns likewise).
	LogWrites, LogEntries, Fsyncs, GoRuns uint64
	HasFsyncs, HasGoRuns                  bool
}

// Cost is what one redis-benchmark run cost every node of a system.
type Cost struct {
	Figure   string
	System   System
	Requests int        // requests redis-benchmark sent, every one answered
	Nodes    []NodeCost // the leader first, then the others by id
}

// leaderEntriesPerWrite is the entries the leader's log writes carried
// on average; ok is false without a leader that wrote.
func (c Cost) leaderEntriesPerWrite() (float64, bool) {
	if len(c.Nodes) == 0 || !c.Nodes[0].Leader || c.Nodes[0].LogWrites == 0 {
		return 0, false
	}
	return float64(c.Nodes[0].LogEntries) / float64(c.Nodes[0].LogWrites), true
}

// costOf is the difference between two samples of the same nodes; a node
// down at either end is left out.
func costOf(fig string, sys System, requests int, before, after []nodeSample) Cost {
	c := Cost{Figure: fig, System: sys, Requests: requests}
	for i, a := range after {
		b := before[i]
		if !a.up || !b.up {
			continue
		}
		n := NodeCost{ID: a.id, CPU: a.proc.cpu - b.proc.cpu,
			Syscalls: a.proc.syscalls - b.proc.syscalls, Switches: a.proc.switches - b.proc.switches}
		if a.raft != nil {
			n.Raft, n.Leader = true, a.raft.leader
			n.LogWrites, n.LogEntries = a.raft.logWrites-b.raft.logWrites, a.raft.logEntries-b.raft.logEntries
			n.HasFsyncs, n.HasGoRuns = a.raft.hasFsyncs, a.raft.hasGoRuns
			n.Fsyncs, n.GoRuns = a.raft.fsyncs-b.raft.fsyncs, a.raft.goRuns-b.raft.goRuns
		}
		c.Nodes = append(c.Nodes, n)
	}
	slices.SortStableFunc(c.Nodes, func(x, y NodeCost) int {
		if x.Leader != y.Leader {
			if x.Leader {
				return -1
			}
			return 1
		}
		return x.ID - y.ID
	})
	return c
}

// costMetric is one per-request figure of the costs table.
type costMetric struct {
	name string
	// perNode gives one node's value per request, ok false where the
	// node does not report it.
	perNode func(n NodeCost, requests float64) (float64, bool)
	// sum: the cell leads with the total over the nodes.
	sum    bool
	format string
}

var costMetrics = []costMetric{
	{"CPU µs/req", func(n NodeCost, r float64) (float64, bool) {
		return float64(n.CPU.Microseconds()) / r, true
	}, true, "%.0f"},
	{"read+write syscalls/req", func(n NodeCost, r float64) (float64, bool) {
		return float64(n.Syscalls) / r, true
	}, true, "%.2f"},
	{"context switches/req", func(n NodeCost, r float64) (float64, bool) {
		return float64(n.Switches) / r, true
	}, true, "%.2f"},
	{"goroutine runs/req", func(n NodeCost, r float64) (float64, bool) {
		return float64(n.GoRuns) / r, n.HasGoRuns
	}, true, "%.1f"},
	{"fsyncs/req", func(n NodeCost, r float64) (float64, bool) {
		return float64(n.Fsyncs) / r, n.HasFsyncs
	}, true, "%.3f"},
	{"entries per log write", func(n NodeCost, _ float64) (float64, bool) {
		if n.LogWrites == 0 {
			return 0, false
		}
		return float64(n.LogEntries) / float64(n.LogWrites), n.Raft
	}, false, "%.1f"},
}

// costCell renders one metric of one system over its runs: the median per
// node position (the leader first), led by the median of the per-run
// totals where the metric sums. "—" where no node reports it.
func costCell(runs []Cost, m costMetric) string {
	var totals []float64
	var perPos [][]float64
	leader := false
	for _, c := range runs {
		total, any := 0.0, false
		for i, n := range c.Nodes {
			v, ok := m.perNode(n, float64(c.Requests))
			if !ok {
				continue
			}
			for len(perPos) <= i {
				perPos = append(perPos, nil)
			}
			perPos[i] = append(perPos[i], v)
			total += v
			any = true
			leader = leader || n.Leader
		}
		if any {
			totals = append(totals, total)
		}
	}
	if len(totals) == 0 {
		return "—"
	}
	var parts []string
	for i, vs := range perPos {
		s := fmt.Sprintf(m.format, median(vs))
		if i == 0 && leader {
			s = "L " + s
		}
		parts = append(parts, s)
	}
	nodes := strings.Join(parts, ", ")
	if !m.sum || len(perPos) == 1 {
		return nodes
	}
	return fmt.Sprintf(m.format+" (%s)", median(totals), nodes)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// costLine is one run's costs on one line, for the progress log.
func costLine(c Cost) string {
	var parts []string
	for _, m := range costMetrics {
		if cell := costCell([]Cost{c}, m); cell != "—" {
			parts = append(parts, m.name+" "+cell)
		}
	}
	return strings.Join(parts, "; ")
}

// costsMarkdown renders the costs: one row per figure and system, each
// metric the median over the runs.
func (r *Report) costsMarkdown(b *strings.Builder) {
	if len(r.Costs) == 0 {
		return
	}
	fmt.Fprintf(b, "## What each request costs\n\n")
	fmt.Fprintf(b, "Read around every redis-benchmark run of the table above, on every node: CPU time (user + system, `/proc/<pid>/stat`), "+
		"read and write system calls (`/proc/<pid>/io` syscr + syscw: socket and file reads and writes; fsync, epoll_wait and futex are not among them), "+
		"context switches (`/proc/<pid>/task/*/status`), and, from INFO, goroutine runs (`go_goroutine_runs`: the Go runtime's count, sampled one in 8, of goroutines put on a thread to run: wake-ups, and the garbage collector's workers, so it rises with allocation and varies from run to run), "+
		"fsyncs (`raft_log_fsyncs`: rkv's log files and directories; the peer's log store, one per batch, and two per stable-store write) "+
		"and entries per log write (`raft_log_entries_written / raft_log_writes`: one fsync of entries each; the peer's entries are batches of commands, and its column counts the commands). "+
		"Each is divided by the requests of the run (every one acknowledged). A cell with several nodes leads with the sum over the nodes, "+
		"then each node, the leader (L) first; each value is the median over the runs. \"—\": not reported (redis has no goroutines and no fsync count in INFO; a baseline build may predate a counter).\n\n")
	fmt.Fprintf(b, "| Figure | system | req/s |")
	for _, m := range costMetrics {
		fmt.Fprintf(b, " %s |", m.name)
	}
	fmt.Fprintf(b, "\n|---|---|---:|%s\n", strings.Repeat("---|", len(costMetrics)))
	for _, f := range r.Figures {
		for s := range numSystems {
			var runs []Cost
			for _, c := range r.Costs {
				if c.Figure == f.Name && c.System == s {
					runs = append(runs, c)
				}
			}
			if len(runs) == 0 {
				continue
			}
			fmt.Fprintf(b, "| %s | %s | %s |", f.Name, s, format(f.Median(s), unit(f.Name)))
			for _, m := range costMetrics {
				fmt.Fprintf(b, " %s |", costCell(runs, m))
			}
			fmt.Fprintf(b, "\n")
		}
	}
	fmt.Fprintf(b, "\n")
}
