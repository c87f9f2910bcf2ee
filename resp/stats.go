package resp

// INFO commandstats and errorstats: per command, the calls this node ran,
// their time, the calls refused before they ran and those that answered
// an error; per error code, how many error replies carried it.

import (
	"fmt"
	"maps"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
)

type commandStat struct {
	calls, usec, rejected, failed atomic.Int64
	// buckets count the calls by latency (latency.go's bucketOf).
	buckets [histogramBuckets]atomic.Int64
}

// commandStats is nil in tests that build a Server by hand: it then
// counts nothing.
type commandStats struct {
	// byName holds every command and subcommand of the table, built once:
	// counting takes no lock.
	byName map[string]*commandStat
	mu     sync.Mutex
	errors map[string]int64
}

func newCommandStats() *commandStats {
	st := &commandStats{byName: map[string]*commandStat{}, errors: map[string]int64{}}
	for _, sp := range command.All() {
		st.byName[sp.Name] = &commandStat{}
		for _, sub := range sp.Subcommands {
			st.byName[sub.Name] = &commandStat{}
		}
	}
	return st
}

// of is the counters of the command args, nil for an unknown command.
func (st *commandStats) of(args [][]byte) *commandStat {
	if st == nil {
		return nil
	}
	sp, ok := specFor(args)
	if !ok {
		return nil
	}
	return st.byName[sp.Name]
}

// ran counts commands run in elapsed time, each its share of it; one of
// the wrong arity (checkArity counts it) or one redirected (redirect
// counts it) was refused instead.
func (st *commandStats) ran(cmds []redcon.Command, elapsed time.Duration, redirected *redirectedCommands) {
	if st == nil {
		return
	}
	usec := elapsed.Microseconds() / int64(len(cmds))
	for _, cmd := range cmds {
		sp, ok := specFor(cmd.Args)
		if !ok || !sp.ArityFits(len(cmd.Args)) || redirected.has(cmd.Args) {
			continue
		}
		if cs := st.byName[sp.Name]; cs != nil {
			cs.calls.Add(1)
			cs.usec.Add(usec)
			cs.buckets[bucketOf(usec)].Add(1)
		}
	}
}

// replied counts an error reply msg (without the '-') to the command
// args: refused before it ran, or failed.
func (st *commandStats) replied(args [][]byte, msg string, refused bool) {
	if cs := st.of(args); cs != nil {
		if refused {
			cs.rejected.Add(1)
		} else {
			cs.failed.Add(1)
		}
	}
	if st == nil {
		return
	}
	code, _, _ := strings.Cut(msg, " ")
	st.mu.Lock()
	st.errors[code]++
	st.mu.Unlock()
}

func (st *commandStats) reset() {
	for _, cs := range st.byName {
		cs.calls.Store(0)
		cs.usec.Store(0)
		cs.rejected.Store(0)
		cs.failed.Store(0)
		for b := range cs.buckets {
			cs.buckets[b].Store(0)
		}
	}
	st.mu.Lock()
	clear(st.errors)
	st.mu.Unlock()
}

// commandLines are INFO commandstats' lines, for the commands used.
func (st *commandStats) commandLines() []string {
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(st.byName)) {
		cs := st.byName[name]
		calls, rejected, failed := cs.calls.Load(), cs.rejected.Load(), cs.failed.Load()
		if calls == 0 && rejected == 0 && failed == 0 {
			continue
		}
		perCall := 0.0
		if calls > 0 {
			perCall = float64(cs.usec.Load()) / float64(calls)
		}
		lines = append(lines, fmt.Sprintf("cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			name, calls, cs.usec.Load(), perCall, rejected, failed))
	}
	return lines
}

// totalErrors is INFO's total_error_replies.
func (st *commandStats) totalErrors() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	var n int64
	for _, c := range st.errors {
		n += c
	}
	return n
}

// errorLines are INFO errorstats' lines.
func (st *commandStats) errorLines() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var lines []string
	for _, code := range slices.Sorted(maps.Keys(st.errors)) {
		lines = append(lines, fmt.Sprintf("errorstat_%s:count=%d", code, st.errors[code]))
	}
	return lines
}

// redirectedCommands are the commands of a connection's step that were
// redirected, known by their name's bytes: a handler may copy the
// argument list, never the arguments.
type redirectedCommands struct {
	names []*byte
}

func (r *redirectedCommands) reset() { r.names = r.names[:0] }

func (r *redirectedCommands) add(args [][]byte) {
	if len(args) > 0 && len(args[0]) > 0 {
		r.names = append(r.names, &args[0][0])
	}
}

func (r *redirectedCommands) has(args [][]byte) bool {
	if r == nil || len(r.names) == 0 || len(args) == 0 || len(args[0]) == 0 {
		return false
	}
	return slices.Contains(r.names, &args[0][0])
}

// errorCountingConn counts the error replies a server command writes.
type errorCountingConn struct {
	redcon.Conn
	stats *commandStats
	args  [][]byte
}

func (ec *errorCountingConn) WriteError(msg string) {
	ec.stats.replied(ec.args, msg, false)
	ec.Conn.WriteError(msg)
}

// cpuTimes are the process's user and system CPU seconds.
func cpuTimes() (user, sys float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()
}

// goroutineRuns estimates how many times a goroutine was put on a thread
// to run since the process started, most of them wake-ups (hand-offs
// between goroutines), for INFO: the runtime samples one in 8 of these
// transitions into /sched/latencies:seconds. Reading it walks no
// goroutines and costs the request path nothing.
func goroutineRuns() uint64 {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	var n uint64
	for _, c := range sample[0].Value.Float64Histogram().Counts {
		n += c
	}
	return 8 * n
}

// CommandStat is one command's counters, as INFO commandstats reports
// them, for metrics.
type CommandStat struct {
	// Calls ran, Failed of them answered an error; Rejected were refused
	// before they ran. Usec is the time the calls took.
	Calls, Failed, Rejected, Usec int64
	// Buckets[b] counts the calls that took more than 2^(b-1) and at most
	// 2^b microseconds (the last one: any more).
	Buckets [histogramBuckets]int64
}

// EachCommandStat calls fn with the counters of every command used since
// the start or the last CONFIG RESETSTAT, in name order.
func (s *Server) EachCommandStat(fn func(name string, cs CommandStat)) {
	if s.stats == nil {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(s.stats.byName)) {
		c := s.stats.byName[name]
		cs := CommandStat{Calls: c.calls.Load(), Failed: c.failed.Load(), Rejected: c.rejected.Load(), Usec: c.usec.Load()}
		if cs.Calls == 0 && cs.Rejected == 0 && cs.Failed == 0 {
			continue
		}
		for b := range c.buckets {
			cs.Buckets[b] = c.buckets[b].Load()
		}
		fn(name, cs)
	}
}

// ErrorCounts returns how many error replies carried each error code
// (INFO errorstats).
func (s *Server) ErrorCounts() map[string]int64 {
	if s.stats == nil {
		return nil
	}
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.errors)
}
