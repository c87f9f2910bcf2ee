package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/resp"
)

// Histograms are the measurements observed as they happen. Their methods
// are the hooks wal.Options and consensus.NodeConfig take.
type Histograms struct {
	fsync, batch, snapshot prometheus.Histogram
}

// NewHistograms makes the histograms, before the log and the node that
// feed them are opened.
func NewHistograms() *Histograms {
	return &Histograms{
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rkv_wal_fsync_duration_seconds",
			Help:    "Time each fsync of a batch of log entries took.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs to 3.3s
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rkv_raft_log_write_entries",
			Help:    "Entries per synced log write: how many proposals a group commit carried.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 to 2048
		}),
		snapshot: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rkv_snapshot_duration_seconds",
			Help:    "Time each snapshot this node took needed to be written.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms to 262s
		}),
	}
}

// ObserveSync records one fsync of the log (wal.Options.ObserveSync).
func (h *Histograms) ObserveSync(d time.Duration) { h.fsync.Observe(d.Seconds()) }

// ObserveLogWrite records the size of one log write
// (consensus.NodeConfig.ObserveLogWrite).
func (h *Histograms) ObserveLogWrite(entries int) { h.batch.Observe(float64(entries)) }

// ObserveSnapshot records one snapshot's duration
// (consensus.NodeConfig.ObserveSnapshot).
func (h *Histograms) ObserveSnapshot(d time.Duration) { h.snapshot.Observe(d.Seconds()) }

// Handler serves /metrics, /livez and /readyz for the node whose client
// front end is srv and whose replica is rep.
func Handler(h *Histograms, srv *resp.Server, rep *replica.Replica) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.fsync, h.batch, h.snapshot,
		&collector{srv: srv, rep: rep},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyWait)
		defer cancel()
		if reason := notReady(ctx, rep.Node().Status); reason != "" {
			http.Error(w, reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// readyWait is how long /readyz gives the node to apply what it knows is
// committed: under writes a follower is always a few entries behind the
// commit index it just heard, for the time an apply takes.
const readyWait = 500 * time.Millisecond

// notReady returns why the node may not serve yet, "" when it may: it
// knows a leader and has applied up to the commit index it knew when
// asked, within ctx's time. status is the node's Status.
func notReady(ctx context.Context, status func() consensus.Status) string {
	st := status()
	if st.Lead == consensus.None {
		return "no leader known"
	}
	commit := st.Commit
	for st.Applied < commit {
		select {
		case <-ctx.Done():
			return fmt.Sprintf("applied index %d behind commit index %d", st.Applied, commit)
		case <-time.After(10 * time.Millisecond):
		}
		st = status()
	}
	return ""
}

// boolGauge is 1 for true, 0 for false.
func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collector reads the node's counters and state at scrape time.
type collector struct {
	srv *resp.Server
	rep *replica.Replica
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	commandsDesc = desc("rkv_commands_total",
		"Commands by name and result: ok, or error (answered an error, or refused before it ran).", "command", "result")
	commandDurationDesc = desc("rkv_command_duration_seconds",
		"Time commands took to run, from the front end's view (a pipelined batch shares its time).", "command")
	errorsDesc      = desc("rkv_error_replies_total", "Error replies by error code (the reply's first word).", "code")
	clientsDesc     = desc("rkv_connected_clients", "Client connections open.")
	termDesc        = desc("rkv_raft_term", "The node's Raft term.")
	roleDesc        = desc("rkv_raft_role", "1 for the node's Raft role, 0 for the others.", "role")
	leaderDesc      = desc("rkv_raft_leader_id", "The leader this node knows, 0 when none.")
	commitDesc      = desc("rkv_raft_commit_index", "The highest log index this node knows committed.")
	appliedDesc     = desc("rkv_raft_applied_index", "The highest log index this node applied.")
	proposalsDesc   = desc("rkv_raft_proposals_total", "Entries this node proposed as leader.")
	logWritesDesc   = desc("rkv_raft_log_writes_total", "Synced writes of the Raft log.")
	logEntriesDesc  = desc("rkv_raft_log_entries_written_total", "Entries the log writes carried.")
	logFsyncsDesc   = desc("rkv_raft_log_fsyncs_total", "fsyncs of the log's files and directories (entries, hard state, snapshots).")
	logWritableDesc = desc("rkv_raft_log_writable",
		"1 while the Raft log can be written; 0 while its writes fail (a full disk), writes are refused with MISCONF and the node retries.")
	logFailuresDesc = desc("rkv_raft_log_write_failures_total", "Writes of the Raft log that failed.")
	snapFailingDesc = desc("rkv_snapshot_failing", "1 if the last snapshot this node took failed (it retries), else 0.")
	readRoundsDesc  = desc("rkv_raft_read_rounds_total", "ReadIndex rounds (leadership confirmations) started.")
	readsDesc       = desc("rkv_raft_reads_total", "Linearizable reads that waited on a ReadIndex round.")
	snapshotsDesc   = desc("rkv_snapshots_total", "Snapshots taken by this node (origin local) or installed from a leader (origin leader).", "origin")
	snapSizeDesc    = desc("rkv_snapshot_size_bytes", "Size of the latest snapshot taken or installed.")
	reachableDesc   = desc("rkv_raft_peer_reachable", "On the leader: 1 if the member answered a heartbeat within an election timeout, else 0.", "peer")
	ackAgeDesc      = desc("rkv_raft_peer_ack_age_seconds", "On the leader: time since the member last answered a heartbeat (absent if it never did).", "peer")
	matchDesc       = desc("rkv_raft_peer_match_index", "On the leader: the highest log index known replicated on the member.", "peer")
	keysDesc        = desc("rkv_keys", "Keys by database.", "db")
	expiringDesc    = desc("rkv_keys_with_ttl", "Keys with a time to live, by database.", "db")
	memoryDesc      = desc("rkv_memory_used_bytes", "The data set's size as maxmemory counts it.")
	memoryPeakDesc  = desc("rkv_memory_peak_bytes", "The largest rkv_memory_used_bytes since start or CONFIG RESETSTAT.")
	maxMemoryDesc   = desc("rkv_memory_max_bytes", "The maxmemory setting, 0 for no limit.")
	evictedDesc     = desc("rkv_evicted_keys_total", "Keys evicted at maxmemory (applied evictions).")
	expiredDesc     = desc("rkv_expired_keys_total", "Keys deleted at their deadline.")
	hitsDesc        = desc("rkv_keyspace_hits_total", "Key lookups of the queries this node served that found the key.")
	missesDesc      = desc("rkv_keyspace_misses_total", "Key lookups of the queries this node served that did not find the key.")
	latencyBucketsB = []int{3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25} // powers of two of µs: 8µs to 33.6s
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{commandsDesc, commandDurationDesc, errorsDesc, clientsDesc, termDesc, roleDesc,
		leaderDesc, commitDesc, appliedDesc, proposalsDesc, logWritesDesc, logEntriesDesc, logFsyncsDesc, logWritableDesc,
		logFailuresDesc, snapFailingDesc, readRoundsDesc, readsDesc,
		snapshotsDesc, snapSizeDesc, reachableDesc, ackAgeDesc, matchDesc, keysDesc, expiringDesc, memoryDesc,
		memoryPeakDesc, maxMemoryDesc, evictedDesc, expiredDesc, hitsDesc, missesDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	c.srv.EachCommandStat(func(name string, cs resp.CommandStat) {
		counter(commandsDesc, float64(max(cs.Calls-cs.Failed, 0)), name, "ok")
		counter(commandsDesc, float64(cs.Failed+cs.Rejected), name, "error")
		if cs.Calls > 0 {
			count, buckets := latencyHistogram(cs.Buckets[:])
			ch <- prometheus.MustNewConstHistogram(commandDurationDesc, count, float64(cs.Usec)/1e6, buckets, name)
		}
	})
	for code, n := range c.srv.ErrorCounts() {
		counter(errorsDesc, float64(n), code)
	}
	gauge(clientsDesc, float64(c.srv.ConnectedClients()))

	node := c.rep.Node()
	st := node.Status()
	gauge(termDesc, float64(st.Term))
	for _, role := range []consensus.StateType{consensus.StateFollower, consensus.StatePreCandidate, consensus.StateCandidate, consensus.StateLeader} {
		v := 0.0
		if st.State == role {
			v = 1
		}
		gauge(roleDesc, v, role.String())
	}
	gauge(leaderDesc, float64(st.Lead))
	gauge(commitDesc, float64(st.Commit))
	gauge(appliedDesc, float64(st.Applied))
	ns := node.Stats()
	counter(proposalsDesc, float64(ns.Proposals))
	counter(logWritesDesc, float64(ns.LogWrites))
	counter(logEntriesDesc, float64(ns.LogEntries))
	counter(logFsyncsDesc, float64(ns.Storage.Syncs))
	gauge(logWritableDesc, boolGauge(node.StorageError() == nil))
	counter(logFailuresDesc, float64(ns.LogWriteFailures))
	gauge(snapFailingDesc, boolGauge(node.SnapshotError() != nil))
	counter(readRoundsDesc, float64(ns.ReadRounds))
	counter(readsDesc, float64(ns.Reads))
	counter(snapshotsDesc, float64(ns.Snapshots), "local")
	counter(snapshotsDesc, float64(ns.SnapshotsInstalled), "leader")
	gauge(snapSizeDesc, float64(ns.SnapshotBytes))
	if st.State == consensus.StateLeader {
		for id, pr := range st.Progress {
			if id == st.ID {
				continue
			}
			peer := strconv.FormatUint(uint64(id), 10)
			v := 0.0
			if c.srv.Reachable(st, id) {
				v = 1
			}
			gauge(reachableDesc, v, peer)
			if pr.SinceAck >= 0 {
				gauge(ackAgeDesc, c.srv.AckLag(st, id).Seconds(), peer)
			}
			gauge(matchDesc, float64(pr.Match), peer)
		}
	}

	str := c.rep.Store()
	for _, db := range str.Keyspace() {
		gauge(keysDesc, float64(db.Keys), strconv.Itoa(db.DB))
		gauge(expiringDesc, float64(db.Expires), strconv.Itoa(db.DB))
	}
	ms := str.Stats(time.Now().UnixMilli())
	gauge(memoryDesc, float64(ms.Used))
	gauge(memoryPeakDesc, float64(ms.Peak))
	gauge(maxMemoryDesc, float64(c.rep.Removal().MaxMemory()))
	counter(evictedDesc, float64(ms.Evicted))
	counter(expiredDesc, float64(ms.Expired))
	counter(hitsDesc, float64(ms.Hits))
	counter(missesDesc, float64(ms.Misses))
}

// latencyHistogram turns resp's per-command latency buckets (powers of two
// of microseconds, see resp.CommandStat) into a Prometheus histogram's
// cumulative counts at latencyBucketsB's bounds, in seconds: exact, as
// each bound is one of the powers of two.
func latencyHistogram(pow2 []int64) (count uint64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(latencyBucketsB))
	var cum uint64
	next := 0
	for b, n := range pow2 {
		cum += uint64(n)
		if next < len(latencyBucketsB) && b == latencyBucketsB[next] {
			buckets[float64(int64(1)<<b)/1e6] = cum
			next++
		}
	}
	return cum, buckets
}
