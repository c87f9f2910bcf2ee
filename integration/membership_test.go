package integration

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
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
