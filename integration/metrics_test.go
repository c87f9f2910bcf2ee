package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches and parses nd's /metrics.
func (nd *node) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := metricsHTTP.Get("http://" + nd.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

var metricsHTTP = &http.Client{Timeout: 5 * time.Second}

// probe GETs one of nd's health checks and returns its status code and
// body.
func (nd *node) probe(path string) (int, string, error) {
	resp, err := metricsHTTP.Get("http://" + nd.metrics + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

// sample finds the metric of family name whose labels include labels
// ("name=value" pairs).
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (*dto.Metric, error) {
	f, ok := fams[name]
	if !ok {
		return nil, fmt.Errorf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == k && lp.GetValue() == v
			}
			if !found {
				continue next
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("no %s%v", name, labels)
}

// value is a counter's or gauge's value, 0 when the metric is absent (a
// command's counters appear once it is used).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m, err := sample(fams, name, labels...)
	if err != nil {
		return 0
	}
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestMetrics runs a 3-node cluster with --metrics-addr: the command
// counters count the commands sent, the Raft metrics agree with INFO
// raft, every node has fsync observations, the leader reports each
// follower reachable until it is killed, /readyz is 200 on every node and
// 503 on one cut from the others, and /livez answers throughout.
func TestMetrics(t *testing.T) {
	// Snapshots every 20 entries: the writes below make some.
	c := newCluster(t, 3, clusterOpts{metrics: true, extraArgs: []string{"--snapshot-entries", "20", "--snapshot-log-percent", "0"}})
	leader := c.waitConverged(20 * time.Second)
	ctx := context.Background()
	for _, nd := range c.nodes {
		if code, body, err := nd.probe("/livez"); err != nil || code != http.StatusOK || body != "ok" {
			t.Fatalf("node %d /livez: %d %q %v", nd.id, code, body, err)
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d ready", nd.id), func() error {
			code, body, err := nd.probe("/readyz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("/readyz %d %q", code, body)
			}
			return err
		})
	}

	before, err := leader.scrape()
	if err != nil {
		t.Fatal(err)
	}
	const sets, hits, misses, failed, refused = 50, 30, 12, 4, 3
	for i := range sets {
		if err := leader.rdb.Set(ctx, fmt.Sprintf("m:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range hits + misses {
		leader.rdb.Get(ctx, fmt.Sprintf("m:%d", i-misses)) // m:-1 ... do not exist
	}
	for range failed {
		if err := leader.rdb.Do(ctx, "hincrby", "m:1", "f", 1).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("HINCRBY on a string: %v", err)
		}
	}
	for range refused {
		if err := leader.rdb.Do(ctx, "get").Err(); err == nil {
			t.Fatal("GET without a key answered no error")
		}
	}
	after, err := leader.scrape()
	if err != nil {
		t.Fatal(err)
	}
	delta := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"SETs ok", delta("rkv_commands_total", "command=set", "result=ok"), sets},
		{"SETs failed", delta("rkv_commands_total", "command=set", "result=error"), 0},
		{"GETs ok", delta("rkv_commands_total", "command=get", "result=ok"), hits + misses},
		{"GETs refused", delta("rkv_commands_total", "command=get", "result=error"), refused},
		{"HINCRBYs failed", delta("rkv_commands_total", "command=hincrby", "result=error"), failed},
		{"HINCRBYs ok", delta("rkv_commands_total", "command=hincrby", "result=ok"), 0},
		{"WRONGTYPE replies", delta("rkv_error_replies_total", "code=WRONGTYPE"), failed},
		{"keyspace hits", delta("rkv_keyspace_hits_total"), hits},
		{"keyspace misses", delta("rkv_keyspace_misses_total"), misses},
		{"proposals", delta("rkv_raft_proposals_total"), sets + failed},
		{"keys", value(after, "rkv_keys", "db=0"), sets},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if m, err := sample(after, "rkv_command_duration_seconds", "command=set"); err != nil || m.GetHistogram().GetSampleCount() < sets {
		t.Errorf("SET latency histogram %v, %v: want at least %d observations", m, err, sets)
	}

	// Every node synced log writes and took snapshots; the leader's
	// batches carried the entries.
	for _, nd := range c.nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d's fsyncs and snapshots", nd.id), func() error {
			fams, err := nd.scrape()
			if err != nil {
				return err
			}
			if m, err := sample(fams, "rkv_wal_fsync_duration_seconds"); err != nil || m.GetHistogram().GetSampleCount() == 0 {
				return fmt.Errorf("fsync histogram %v, %v", m, err)
			}
			taken := value(fams, "rkv_snapshots_total", "origin=local")
			if m, err := sample(fams, "rkv_snapshot_duration_seconds"); err != nil || taken == 0 || float64(m.GetHistogram().GetSampleCount()) != taken {
				return fmt.Errorf("%v snapshots taken, duration histogram %v, %v", taken, m, err)
			}
			if value(fams, "rkv_snapshot_size_bytes") == 0 {
				return fmt.Errorf("snapshot size 0 after %v snapshots", taken)
			}
			return nil
		})
	}
	if m, err := sample(after, "rkv_raft_log_write_entries"); err != nil || m.GetHistogram().GetSampleSum() < sets {
		t.Errorf("leader's log write batches %v, %v: want at least %d entries", m, err, sets)
	}

	// The Raft metrics say what INFO raft says (read before and after the
	// scrape, equal when nothing moved meanwhile).
	for _, nd := range c.nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d's Raft metrics to agree with INFO raft", nd.id), func() error {
			info, err := nd.info(ctx, "raft")
			if err != nil {
				return err
			}
			fams, err := nd.scrape()
			if err != nil {
				return err
			}
			again, err := nd.info(ctx, "raft")
			if err != nil {
				return err
			}
			for field, metric := range map[string]string{"raft_term": "rkv_raft_term", "raft_commit_index": "rkv_raft_commit_index",
				"raft_applied_index": "rkv_raft_applied_index", "raft_leader_id": "rkv_raft_leader_id"} {
				if info[field] != again[field] {
					return fmt.Errorf("INFO %s moved from %s to %s", field, info[field], again[field])
				}
				if got := strconv.FormatFloat(value(fams, metric), 'f', -1, 64); got != info[field] {
					return fmt.Errorf("%s %s, INFO %s:%s", metric, got, field, info[field])
				}
			}
			if value(fams, "rkv_raft_role", "role="+info["raft_role"]) != 1 {
				return fmt.Errorf("rkv_raft_role{role=%q} is not 1", info["raft_role"])
			}
			return nil
		})
	}

	// The leader's view of its followers.
	followers := c.followers(leader)
	reachable := func(want map[int]float64) func() error {
		return func() error {
			fams, err := leader.scrape()
			if err != nil {
				return err
			}
			for id, w := range want {
				m, err := sample(fams, "rkv_raft_peer_reachable", "peer="+strconv.Itoa(id))
				if err != nil {
					return err
				}
				if got := m.GetGauge().GetValue(); got != w {
					return fmt.Errorf("peer %d reachable %v, want %v", id, got, w)
				}
			}
			return nil
		}
	}
	waitFor(t, 10*time.Second, "both followers reachable", reachable(map[int]float64{followers[0].id: 1, followers[1].id: 1}))
	followers[0].kill()
	waitFor(t, 10*time.Second, "the killed follower unreachable", reachable(map[int]float64{followers[0].id: 0, followers[1].id: 1}))
	if code, body, err := leader.probe("/readyz"); err != nil || code != http.StatusOK {
		t.Fatalf("leader with one follower left: /readyz %d %q %v", code, body, err)
	}

	// The last follower, cut from the others, is not ready once its
	// election timeout passes without a leader; it still lives.
	last := followers[1]
	leader.kill()
	waitFor(t, 10*time.Second, "the node cut from the others not ready", func() error {
		code, body, err := last.probe("/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || body != "no leader known" {
			return fmt.Errorf("/readyz %d %q", code, body)
		}
		return nil
	})
	if code, body, err := last.probe("/livez"); err != nil || code != http.StatusOK || body != "ok" {
		t.Fatalf("/livez on the cut node: %d %q %v", code, body, err)
	}
}
