package integration

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterWritesAndMoved checks the redirect contract: followers answer
// MOVED with the key's CRC16 slot and the leader's client address, and
// READONLY connections to followers serve reads locally.
func TestClusterWritesAndMoved(t *testing.T) {
	// The known Redis Cluster test vector, so the slot helper is right.
	if got := keySlot("123456789"); got != 12739 {
		t.Fatalf("keySlot(123456789) = %d, want 12739", got)
	}
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	lc := client(t, leader.addr)

	keys := []string{"user:1", "{user1}.name", "{user1}.email", "x{}y", "plain"}
	for _, k := range keys {
		if err := lc.Set(ctx, k, "val-"+k, 0).Err(); err != nil {
			t.Fatalf("SET %s on the leader: %v", k, err)
		}
		want, err := lc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", k, err)
		}
		if int(want) != keySlot(k) {
			t.Errorf("CLUSTER KEYSLOT %s = %d, CRC16 slot is %d", k, want, keySlot(k))
		}
	}
	if keySlot("{user1}.name") != keySlot("user1") {
		t.Fatalf("hash tag not honoured by the test's own slot function")
	}

	for _, f := range c.followers(leader) {
		fc := client(t, f.addr)
		for _, k := range keys {
			err := fc.Set(ctx, k, "other", 0).Err()
			slot, addr, ok := movedTarget(err)
			if !ok || slot != keySlot(k) || addr != leader.addr {
				t.Errorf("SET %s on follower %d: err = %v; want MOVED %d %s", k, f.id, err, keySlot(k), leader.addr)
			}
			err = fc.Get(ctx, k).Err()
			slot, addr, ok = movedTarget(err)
			if !ok || slot != keySlot(k) || addr != leader.addr {
				t.Errorf("GET %s on follower %d without READONLY: err = %v; want MOVED %d %s", k, f.id, err, keySlot(k), leader.addr)
			}
		}

		// READONLY then READWRITE on one connection: local reads, then
		// redirects again.
		conn := fc.Conn()
		if err := conn.ReadOnly(ctx).Err(); err != nil {
			t.Fatalf("READONLY: %v", err)
		}
		for _, k := range keys {
			waitFor(t, 5*time.Second, fmt.Sprintf("follower %d to serve %s", f.id, k), func() error {
				got, err := conn.Get(ctx, k).Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					t.Fatalf("READONLY GET %s on follower %d: %v", k, f.id, err)
				}
				if got != "val-"+k {
					return fmt.Errorf("got %q", got)
				}
				return nil
			})
		}
		if err := conn.Set(ctx, "user:1", "no", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
			t.Errorf("SET under READONLY on follower %d: err = %v; want MOVED", f.id, err)
		}
		if err := conn.ReadWrite(ctx).Err(); err != nil {
			t.Fatalf("READWRITE: %v", err)
		}
		if _, _, ok := movedTarget(conn.Get(ctx, "user:1").Err()); !ok {
			t.Errorf("GET after READWRITE on follower %d was not redirected", f.id)
		}
		conn.Close()
	}
	if got, err := lc.Get(ctx, "user:1").Result(); err != nil || got != "val-user:1" {
		t.Fatalf("follower writes leaked through: GET user:1 = %q, %v", got, err)
	}
}

// TestRedisCliFollowsMoved uses redis-cli in cluster mode against followers:
// it must follow MOVED to the leader for the write and the read.
func TestRedisCliFollowsMoved(t *testing.T) {
	cli := requireTool(t, "redis-cli")
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	fs := c.followers(leader)
	run := func(nd *node, args ...string) string {
		t.Helper()
		host, port := strings.Split(nd.addr, ":")[0], strings.Split(nd.addr, ":")[1]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, append([]string{"-c", "-h", host, "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := run(fs[0], "SET", "clikey", "clivalue"); out != "OK" {
		t.Fatalf("redis-cli -c SET via follower %d printed %q, want OK", fs[0].id, out)
	}
	if out := run(fs[1], "GET", "clikey"); out != "clivalue" {
		t.Fatalf("redis-cli -c GET via follower %d printed %q, want clivalue", fs[1].id, out)
	}
	if out := run(fs[1], "INCR", "clicounter"); out != "1" {
		t.Fatalf("redis-cli -c INCR printed %q, want 1", out)
	}
}

// TestGoRedisClusterClient uses go-redis's cluster client, which discovers
// the topology from CLUSTER SLOTS, and its replica-read modes.
func TestGoRedisClusterClient(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	c.leader(10 * time.Second)
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })

	const n = 200
	for i := range n {
		if err := cc.Set(ctx, fmt.Sprintf("gc:%d", i), fmt.Sprintf("v%d", i), 0).Err(); err != nil {
			t.Fatalf("SET gc:%d: %v", i, err)
		}
	}
	for i := range n {
		if err := cc.Incr(ctx, fmt.Sprintf("gc:count:%d", i%10)).Err(); err != nil {
			t.Fatalf("INCR: %v", err)
		}
	}
	for i := range n {
		if got, err := cc.Get(ctx, fmt.Sprintf("gc:%d", i)).Result(); err != nil || got != fmt.Sprintf("v%d", i) {
			t.Fatalf("GET gc:%d = %q, %v", i, got, err)
		}
	}
	for j := range 10 {
		if got, err := cc.Get(ctx, fmt.Sprintf("gc:count:%d", j)).Result(); err != nil || got != "20" {
			t.Fatalf("GET gc:count:%d = %q, %v; want 20", j, got, err)
		}
	}

	// Replica reads are allowed to be stale, so let every node apply the
	// writes before reading from random nodes.
	c.waitConverged(10 * time.Second)
	for _, opts := range []*redis.ClusterOptions{
		{Addrs: addrs, ReadOnly: true},
		{Addrs: addrs, ReadOnly: true, RouteRandomly: true},
		{Addrs: addrs, ReadOnly: true, RouteByLatency: true},
	} {
		ro := redis.NewClusterClient(opts)
		for i := range n {
			if got, err := ro.Get(ctx, fmt.Sprintf("gc:%d", i)).Result(); err != nil || got != fmt.Sprintf("v%d", i) {
				ro.Close()
				t.Fatalf("replica-read client %+v: GET gc:%d = %q, %v", opts, i, got, err)
			}
		}
		// Writes through a read-only client still go to the leader.
		if err := ro.Set(ctx, "gc:ro-write", "x", 0).Err(); err != nil {
			t.Fatalf("SET through a ReadOnly cluster client: %v", err)
		}
		ro.Close()
	}
}

// TestRedisPyCluster runs redis-py's RedisCluster (the Debian python3-redis
// under /usr/bin/python3) from a follower as its only startup node.
func TestRedisPyCluster(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import redis.cluster").CombinedOutput(); err != nil {
		t.Fatalf("%s with the redis module is required (apt-get install python3-redis): %v\n%s", py, err, out)
	}
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	f := c.followers(leader)[0]
	host, port := strings.Split(f.addr, ":")[0], strings.Split(f.addr, ":")[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/rediscluster.py", host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-py cluster script: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "ok 25 25" {
		t.Fatalf("redis-py cluster script printed %q, want \"ok 25 25\"", got)
	}
	if got, err := client(t, leader.addr).Get(context.Background(), "py:7").Result(); err != nil || got != "value-7" {
		t.Fatalf("GET py:7 on the leader = %q, %v", got, err)
	}
}
