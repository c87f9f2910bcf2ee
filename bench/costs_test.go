package bench

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadProc(t *testing.T) {
	// Burn at least a few clock ticks of CPU (however busy the machine)
	// and make some system calls, then look at ourselves.
	for {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 5*clockTick {
			break
		}
		os.Getpid()
	}
	for range 10 {
		if _, err := os.ReadFile("/proc/self/stat"); err != nil {
			t.Skip("no /proc here")
		}
	}
	c, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if c.cpu <= 0 || c.syscalls == 0 || c.switches == 0 {
		t.Fatalf("readProc(self) = %+v; want CPU time, syscalls and context switches above 0", c)
	}
}

// TestCostOf: the difference of two samples per request, the leader first,
// a node down at either end left out, and sums and medians in the cells.
func TestCostOf(t *testing.T) {
	sample := func(id int, leader bool, cpu time.Duration, sys, writes, ents, fsyncs uint64) nodeSample {
		return nodeSample{id: id, up: true, proc: procCounters{cpu: cpu, syscalls: sys, switches: sys / 2},
			raft: &raftCounters{up: true, leader: leader, logWrites: writes, logEntries: ents,
				fsyncs: fsyncs, hasFsyncs: true, goRuns: 4 * sys, hasGoRuns: true}}
	}
	before := []nodeSample{sample(1, false, 0, 0, 0, 0, 0), sample(2, true, 0, 0, 0, 0, 0), sample(3, false, 0, 0, 0, 0, 0)}
	after := []nodeSample{
		sample(1, false, 40*time.Millisecond, 200, 50, 1000, 60),
		sample(2, true, 100*time.Millisecond, 1000, 100, 1000, 110),
		{id: 3},
	}
	c := costOf("SET x", RKV, 1000, before, after)
	if len(c.Nodes) != 2 || c.Nodes[0].ID != 2 || !c.Nodes[0].Leader || c.Nodes[1].ID != 1 {
		t.Fatalf("nodes %+v; want the leader n2, then n1", c.Nodes)
	}
	c2 := costOf("SET x", RKV, 1000, before, []nodeSample{
		sample(1, false, 60*time.Millisecond, 200, 50, 1000, 60),
		sample(2, true, 120*time.Millisecond, 1000, 100, 1000, 110),
		{id: 3},
	})
	want := map[string]string{
		"CPU µs/req":              "160 (L 110, 50)",
		"read+write syscalls/req": "1.20 (L 1.00, 0.20)",
		"fsyncs/req":              "0.170 (L 0.110, 0.060)",
		"entries per log write":   "L 10.0, 20.0",
	}
	for _, m := range costMetrics {
		if w, ok := want[m.name]; ok {
			if got := costCell([]Cost{c, c2}, m); got != w {
				t.Errorf("%s = %q, want %q", m.name, got, w)
			}
		}
	}
	redis := Cost{Figure: "SET x", System: RedisAOF, Requests: 100, Nodes: []NodeCost{{ID: 1, CPU: time.Millisecond, Syscalls: 300}}}
	if line := costLine(redis); !strings.Contains(line, "CPU µs/req 10") || strings.Contains(line, "fsyncs") {
		t.Errorf("redis cost line %q; want CPU and no fsyncs", line)
	}
}
