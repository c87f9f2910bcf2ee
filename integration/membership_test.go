package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestJoinNewNode adds a fourth node through a follower: it must become a
// voter and serve, under READONLY, data written before and after it joined.
func TestJoinNewNode(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	lc := client(t, leader.addr)
	for i := range 100 {
		if err := lc.Set(ctx, fmt.Sprintf("before:%d", i), strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	via := c.followers(leader)[0]
	n4 := c.addJoiner(4, via.addr)
	n4.waitVoter(t, 20*time.Second)
	waitFor(t, 10*time.Second, "CLUSTER NODES on the leader to list 4 nodes", func() error {
		out, err := lc.ClusterNodes(ctx).Result()
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.Contains(out, n4.addr) {
			return fmt.Errorf("CLUSTER NODES:\n%s", out)
		}
		return nil
	})
	for i := range 100 {
		if err := lc.Set(ctx, fmt.Sprintf("after:%d", i), strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for i := range 100 {
		want[fmt.Sprintf("before:%d", i)] = strconv.Itoa(i)
		want[fmt.Sprintf("after:%d", i)] = strconv.Itoa(i)
	}
	c.waitConverged(10 * time.Second)
	checkValues(t, readonlyClient(t, n4.addr), want)

	// The new node redirects writes to the leader like any follower.
	err := client(t, n4.addr).Set(ctx, "from4", "x", 0).Err()
	if _, addr, ok := movedTarget(err); !ok || addr != leader.addr {
		t.Errorf("SET on the joined node: err = %v; want MOVED to %s", err, leader.addr)
	}
	// And a restart keeps it a member: it comes back from its own log.
	n4.restart()
	c.waitConverged(10 * time.Second)
	if err := lc.Set(ctx, "after-restart", "y", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the restarted node 4 to serve a new write", func() error {
		got, err := readonlyClient(t, n4.addr).Get(ctx, "after-restart").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if got != "y" {
			return fmt.Errorf("got %q", got)
		}
		return nil
	})
}

// TestRedisBenchmark runs redis-benchmark's default test list (strings,
// lists, sets, hashes, sorted sets, MSET) against the leader: every request
// must succeed (redis-benchmark 7 exits non-zero on the first error reply).
func TestRedisBenchmark(t *testing.T) {
	bench := requireTool(t, "redis-benchmark")
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	host, port := strings.Split(leader.addr, ":")[0], strings.Split(leader.addr, ":")[1]
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bench, "-h", host, "-p", port, "-n", "20000", "--csv")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	// --csv prints a header and then "TEST","rps",... per test.
	row := regexp.MustCompile(`^"([^"]+)","([0-9.]+)"`)
	seen := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, `"test"`) {
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("unexpected redis-benchmark output line: %q", line)
			continue
		}
		rps, _ := strconv.ParseFloat(m[2], 64)
		seen[m[1]] = rps
	}
	for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH",
		"LPOP", "RPOP", "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)",
		"LRANGE_100 (first 100 elements)", "LRANGE_300 (first 300 elements)",
		"LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)"} {
		rps, ok := seen[test]
		if !ok || rps <= 0 {
			t.Errorf("no throughput reported for %s in:\n%s", test, out)
			continue
		}
		t.Logf("redis-benchmark %-15s %10.0f requests/s", test, rps)
	}
	if n, err := client(t, leader.addr).DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Errorf("DBSIZE after the benchmark = %d, %v", n, err)
	}
}

// TestJoinWithPassword: a node joins a cluster that requires a password
// with the cluster's password (--requirepass, which --masterauth defaults
// to); given a wrong --masterauth it stops at once, saying so, instead of
// retrying forever.
func TestJoinWithPassword(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{password: "s3cret", extraArgs: []string{"--requirepass", "s3cret"}})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	if err := leader.rdb.Set(ctx, "before-join", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	bad := c.newNode(5)
	out, err := exec.Command(rkvBin, append(bad.baseArgs(), "--join", leader.addr, "--masterauth", "wrong")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "WRONGPASS") || !strings.Contains(string(out), "--masterauth") {
		t.Fatalf("join with a wrong --masterauth: %v\n%s", err, out)
	}

	n4 := c.addJoiner(4, c.followers(leader)[0].addr, "--requirepass", "s3cret")
	n4.waitVoter(t, 20*time.Second)
	c.waitConverged(10 * time.Second)
	ro := redis.NewClient(&redis.Options{Addr: n4.addr, Password: "s3cret",
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer ro.Close()
	if got, err := ro.Get(ctx, "before-join").Result(); err != nil || got != "1" {
		t.Fatalf("GET before-join on the joined node = %q, %v", got, err)
	}
}

// TestMembershipLearner: a node joined with --learner catches up and
// serves reads but stays a non-voter, flagged nofailover in CLUSTER NODES;
// the voters alone make the quorum, so losing the learner costs nothing and
// losing two of the three voters stops writes though the learner is up.
// CLUSTER RKV-PROMOTE then makes it a voter.
func TestMembershipLearner(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	lc := client(t, leader.addr)
	want := map[string]string{}
	for i := range 100 {
		k, v := fmt.Sprintf("before:%d", i), strconv.Itoa(i)
		if err := lc.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}

	n4 := c.addJoiner(4, c.followers(leader)[0].addr, "--learner")
	waitFor(t, 20*time.Second, "CLUSTER NODES on the leader to list learner 4 as nofailover", func() error {
		out, err := lc.ClusterNodes(ctx).Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[1], n4.addr+"@") && f[2] == "slave,nofailover" {
				return nil
			}
		}
		return fmt.Errorf("CLUSTER NODES:\n%s", out)
	})
	c.waitConverged(20 * time.Second)
	checkValues(t, readonlyClient(t, n4.addr), want)
	if err := lc.Set(ctx, "after-join", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want["after-join"] = "1"
	c.waitConverged(10 * time.Second)
	for _, nd := range c.running() {
		inf, err := nd.info(ctx, "raft")
		if err != nil {
			t.Fatal(err)
		}
		if inf["raft_voters"] != "1,2,3" || inf["raft_learners"] != "4" {
			t.Fatalf("node %d: raft_voters:%s raft_learners:%s, want voters 1,2,3 and learner 4 for good",
				nd.id, inf["raft_voters"], inf["raft_learners"])
		}
	}
	checkValues(t, readonlyClient(t, n4.addr), want)
	err := client(t, n4.addr).Set(ctx, "on-learner", "x", 0).Err()
	if _, addr, ok := movedTarget(err); !ok || addr != leader.addr {
		t.Errorf("SET on the learner: err = %v; want MOVED to %s", err, leader.addr)
	}
	if err := n4.rdb.ClusterFailover(ctx).Err(); err == nil || !strings.Contains(err.Error(), "learner") {
		t.Errorf("CLUSTER FAILOVER on the learner: %v, want refused", err)
	}

	// Without the learner the three voters go on.
	n4.kill()
	if err := lc.Set(ctx, "learner-down", "1", 0).Err(); err != nil {
		t.Fatalf("SET with the learner down: %v", err)
	}
	n4.start()
	c.waitConverged(20 * time.Second)

	// Two voters down: the leader and the learner are two of four nodes
	// up, but one of three voters, and nothing commits.
	downs := c.followers(leader)
	downs = slices.DeleteFunc(downs, func(nd *node) bool { return nd == n4 })
	for _, nd := range downs {
		nd.kill()
	}
	deadline := time.Now().Add(4 * electionTimeout)
	for i := 0; time.Now().Before(deadline); i++ {
		for _, nd := range []*node{leader, n4} {
			wctx, cancel := context.WithTimeout(ctx, 2*electionTimeout)
			err := client(t, nd.addr).Set(wctx, fmt.Sprintf("no-quorum:%d", i), "x", 0).Err()
			cancel()
			if err == nil {
				t.Fatalf("SET on node %d succeeded with two of three voters down", nd.id)
			}
		}
	}
	for _, nd := range downs {
		nd.start()
	}
	leader = c.leader(20 * time.Second)
	lc = client(t, leader.addr)

	// The operator promotes it; refused only while it catches up.
	waitFor(t, 20*time.Second, "CLUSTER RKV-PROMOTE 4 to succeed", func() error {
		return lc.Do(ctx, "CLUSTER", "RKV-PROMOTE", "4").Err()
	})
	n4.waitVoter(t, 10*time.Second)
	if err := lc.Do(ctx, "CLUSTER", "RKV-PROMOTE", "4").Err(); err == nil || !strings.Contains(err.Error(), "not a learner") {
		t.Fatalf("promoting voter 4 again: %v, want an error saying it is not a learner", err)
	}
}

// TestMembershipForceNewCluster: two of three nodes are lost for good; rkv
// recover --force-new-cluster, refused while the survivor runs, makes the
// stopped survivor the only member of a new cluster with every
// acknowledged key, which then leads, takes writes and grows back to three
// voters with fresh nodes joining it. An old member that comes back with
// its data is refused at the bus handshake. Snapshots every 50 entries
// put part of the survivor's state in a snapshot, and the new nodes catch
// up from one.
func TestMembershipForceNewCluster(t *testing.T) {
	snapshots := []string{"--snapshot-entries", "50", "--snapshot-log-percent", "0"}
	c := newCluster(t, 3, clusterOpts{extraArgs: snapshots})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	lc := client(t, leader.addr)
	want := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprintf("k:%d", i), strconv.Itoa(i)
		if err := lc.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	c.waitConverged(20 * time.Second)

	survivor, comesBack, lost := c.nodes[0], c.nodes[1], c.nodes[2]
	comesBack.kill()
	lost.kill()
	if err := os.RemoveAll(lost.dir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(rkvBin, "recover", "--dir", survivor.dir, "--force-new-cluster").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("recover while the node runs: %v\n%s", err, out)
	}
	survivor.kill()
	out, err = exec.Command(rkvBin, "recover", "--dir", survivor.dir, "--force-new-cluster").CombinedOutput()
	if err != nil {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	t.Logf("%s", out)

	survivor.start()
	if l := c.leader(20 * time.Second); l != survivor {
		t.Fatalf("leader is node %d, want the survivor %d", l.id, survivor.id)
	}
	inf, err := survivor.info(ctx, "raft")
	if err != nil {
		t.Fatal(err)
	}
	if inf["raft_voters"] != strconv.Itoa(survivor.id) || inf["raft_learners"] != "" {
		t.Fatalf("raft_voters:%s raft_learners:%s, want the survivor alone", inf["raft_voters"], inf["raft_learners"])
	}
	sc := client(t, survivor.addr)
	checkValues(t, sc, want)
	if err := sc.Set(ctx, "after-recover", "1", 0).Err(); err != nil {
		t.Fatalf("SET after recovery: %v", err)
	}
	want["after-recover"] = "1"

	n4 := c.addJoiner(4, survivor.addr, snapshots...)
	n5 := c.addJoiner(5, survivor.addr, snapshots...)
	n4.waitVoter(t, 30*time.Second)
	n5.waitVoter(t, 30*time.Second)
	c.waitConverged(20 * time.Second)
	inf, err = survivor.info(ctx, "raft")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d,4,5", survivor.id); inf["raft_voters"] != want {
		t.Fatalf("raft_voters:%s, want %s", inf["raft_voters"], want)
	}
	waitSameDigest(t, c)
	checkValues(t, readonlyClient(t, n5.addr), want)

	comesBack.start()
	waitFor(t, 20*time.Second, "the survivor to refuse the old member's bus connection", func() error {
		if !strings.Contains(survivor.currentLog(), "refused inbound connection") {
			return errors.New("no refusal logged yet")
		}
		return nil
	})
	if err := sc.Set(ctx, "after-old-member", "1", 0).Err(); err != nil {
		t.Fatalf("SET with the old member back: %v", err)
	}
	nodes, err := sc.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nodes, comesBack.addr) {
		t.Fatalf("CLUSTER NODES lists the old member:\n%s", nodes)
	}
}
