package resp

// LATENCY: the latency monitor (events slower than
// latency-monitor-threshold milliseconds: "command" and "fast-command",
// and the leader's "expire-cycle" and "eviction-cycle") and the
// per-command latency histograms, as Redis 7.0 reports them.

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
)

// latencySamples is how many samples Redis keeps per event.
const latencySamples = 160

type latencySample struct{ at, ms int64 }

type latencyEvent struct {
	samples []latencySample // oldest first
	max     int64
}

type latencyMonitor struct {
	thresholdMs atomic.Int64
	mu          sync.Mutex
	events      map[string]*latencyEvent
}

func newLatencyMonitor() *latencyMonitor {
	return &latencyMonitor{events: map[string]*latencyEvent{}}
}

// record notes an event that took d, if the monitor is on and d reaches
// the threshold. Samples of one second share a slot, the largest kept.
func (m *latencyMonitor) record(event string, d time.Duration) {
	if m == nil {
		return
	}
	limit, ms := m.thresholdMs.Load(), d.Milliseconds()
	if limit <= 0 || ms < limit {
		return
	}
	now := time.Now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.events[event]
	if e == nil {
		e = &latencyEvent{}
		m.events[event] = e
	}
	e.max = max(e.max, ms)
	if n := len(e.samples); n > 0 && e.samples[n-1].at == now {
		e.samples[n-1].ms = max(e.samples[n-1].ms, ms)
		return
	}
	e.samples = append(e.samples, latencySample{now, ms})
	if len(e.samples) > latencySamples {
		e.samples = e.samples[1:]
	}
}

// ranCommands records a step's commands, each its share of elapsed, under
// "fast-command" or "command" by the command's flags.
func (m *latencyMonitor) ranCommands(cmds []redcon.Command, elapsed time.Duration) {
	if m == nil || m.thresholdMs.Load() <= 0 {
		return
	}
	share := elapsed / time.Duration(len(cmds))
	for _, cmd := range cmds {
		event := "command"
		if sp, ok := specFor(cmd.Args); ok && sp.Has("fast") {
			event = "fast-command"
		}
		m.record(event, share)
	}
}

// histogramBuckets are the powers of two of microseconds a command's
// latency histogram counts in, as Redis's reply reports them.
const histogramBuckets = 40

// bucketOf is the histogram bucket of a call of usec microseconds: the
// smallest power of two at least usec.
func bucketOf(usec int64) int {
	if usec <= 1 {
		return 0
	}
	return min(bits.Len64(uint64(usec-1)), histogramBuckets-1)
}

func (s *Server) cmdLatency(conn redcon.Conn, _ *client, args [][]byte) {
	m := s.latency
	switch strings.ToLower(string(args[1])) {
	case "latest":
		m.mu.Lock()
		names := slices.Sorted(maps.Keys(m.events))
		conn.WriteArray(len(names))
		for _, name := range names {
			e := m.events[name]
			last := e.samples[len(e.samples)-1]
			conn.WriteArray(4)
			conn.WriteBulkString(name)
			conn.WriteInt64(last.at)
			conn.WriteInt64(last.ms)
			conn.WriteInt64(e.max)
		}
		m.mu.Unlock()
	case "history":
		if len(args) != 3 {
			conn.WriteError(arityError("latency|history"))
			return
		}
		m.mu.Lock()
		var samples []latencySample
		if e := m.events[string(args[2])]; e != nil {
			samples = slices.Clone(e.samples)
		}
		m.mu.Unlock()
		conn.WriteArray(len(samples))
		for _, sm := range samples {
			conn.WriteArray(2)
			conn.WriteInt64(sm.at)
			conn.WriteInt64(sm.ms)
		}
	case "reset":
		m.mu.Lock()
		n := 0
		if len(args) == 2 {
			n = len(m.events)
			clear(m.events)
		}
		for _, ev := range args[2:] {
			if _, ok := m.events[string(ev)]; ok {
				delete(m.events, string(ev))
				n++
			}
		}
		m.mu.Unlock()
		conn.WriteInt(n)
	case "doctor":
		conn.WriteBulkString(s.latencyDoctor())
	case "histogram":
		s.latencyHistogram(conn, args[2:])
	case "help":
		writeHelp(conn, "LATENCY", latencyHelp)
	}
}

// latencyDoctor is rkv's own report on the events recorded.
func (s *Server) latencyDoctor() string {
	m := s.latency
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.thresholdMs.Load() <= 0 {
		return "The latency monitor is off: CONFIG SET latency-monitor-threshold <milliseconds> turns it on.\n"
	}
	if len(m.events) == 0 {
		return fmt.Sprintf("No event reached latency-monitor-threshold (%d ms) since the monitor started or was reset.\n", m.thresholdMs.Load())
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(m.events)) {
		e := m.events[name]
		var sum int64
		for _, sm := range e.samples {
			sum += sm.ms
		}
		fmt.Fprintf(&b, "%s: %d latency spikes (average %d ms, worst %d ms).\n", name, len(e.samples), sum/int64(len(e.samples)), e.max)
		switch name {
		case "command", "fast-command":
			b.WriteString("  SLOWLOG GET shows the slow commands; large values, KEYS and big SORTs are the usual causes.\n")
		case "expire-cycle", "eviction-cycle":
			b.WriteString("  The leader deletes keys through the log: big values expiring or evicted at once take long to free.\n")
		}
	}
	return b.String()
}

// latencyHistogram answers LATENCY HISTOGRAM: for each command named (a
// container stands for its subcommands; unknown names are skipped), or
// every command called, its calls and cumulative counts by power of two
// of microseconds.
func (s *Server) latencyHistogram(conn redcon.Conn, names [][]byte) {
	var specs []*command.Spec
	add := func(sp *command.Spec) {
		if cs := s.stats.byName[sp.Name]; cs != nil && cs.calls.Load() > 0 && !slices.Contains(specs, sp) {
			specs = append(specs, sp)
		}
	}
	for _, sp := range command.All() {
		if len(names) > 0 {
			break
		}
		add(sp)
		for _, sub := range sp.Subcommands {
			add(sub)
		}
	}
	for _, n := range names {
		container, sub, isSub := strings.Cut(strings.ToLower(string(n)), "|")
		sp, ok := command.Find(container)
		switch {
		case !ok:
		case isSub:
			if s, ok := sp.Sub(sub); ok {
				add(s)
			}
		case len(sp.Subcommands) > 0:
			for _, s := range sp.Subcommands {
				add(s)
			}
		default:
			add(sp)
		}
	}
	conn.WriteArray(2 * len(specs))
	for _, sp := range specs {
		cs := s.stats.byName[sp.Name]
		conn.WriteBulkString(sp.Name)
		conn.WriteArray(4)
		conn.WriteBulkString("calls")
		conn.WriteInt64(cs.calls.Load())
		conn.WriteBulkString("histogram_usec")
		var flat []int64
		var cumulative int64
		for b := range histogramBuckets {
			if n := cs.buckets[b].Load(); n > 0 {
				cumulative += n
				flat = append(flat, int64(1)<<b, cumulative)
			}
		}
		conn.WriteArray(len(flat))
		for _, v := range flat {
			conn.WriteInt64(v)
		}
	}
}

var latencyHelp = []string{
	"DOCTOR",
	"    Return a human readable latency analysis report.",
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
	"HISTOGRAM [COMMAND ...]",
	"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
	"    If no commands are specified then all histograms are replied.",
}
