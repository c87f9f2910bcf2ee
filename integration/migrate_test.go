package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// migrateKeys are the keys TestMigrateClusterRoundTrip moves, one of each
// type, with the commands that build them.
var migrateKeys = []struct {
	key   string
	build [][]any
}{
	{"mig:str", [][]any{{"SET", "mig:str", "hello", "PX", "600000"}}},
	{"mig:hash", [][]any{{"HSET", "mig:hash", "f1", "v1", "f2", "v2"}}},
	{"mig:list", [][]any{{"RPUSH", "mig:list", "a", "b", "c"}}},
	{"mig:set", [][]any{{"SADD", "mig:set", "x", "y", "1"}}},
	{"mig:zset", [][]any{{"ZADD", "mig:zset", "1.5", "m1", "2", "m2"}}},
	{"mig:stream", [][]any{{"XADD", "mig:stream", "1-1", "f", "v"}, {"XGROUP", "CREATE", "mig:stream", "g", "0"}}},
}

// migrateValues renders every migrate key's value and whether it has a
// TTL, in an order independent of the server.
func migrateValues(t *testing.T, ctx context.Context, c *redis.Client) string {
	t.Helper()
	var b strings.Builder
	for _, k := range migrateKeys {
		typ, err := c.Type(ctx, k.key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", k.key, err)
		}
		var v any
		switch typ {
		case "string":
			v, err = c.Get(ctx, k.key).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k.key).Result()
		case "list":
			v, err = c.LRange(ctx, k.key, 0, -1).Result()
		case "set":
			var m []string
			m, err = c.SMembers(ctx, k.key).Result()
			slices.Sort(m)
			v = m
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k.key, 0, -1).Result()
		case "stream":
			var entries []redis.XMessage
			var groups []redis.XInfoGroup
			entries, err = c.XRange(ctx, k.key, "-", "+").Result()
			if err == nil {
				groups, err = c.XInfoGroups(ctx, k.key).Result()
			}
			v = fmt.Sprint(entries, groups)
		}
		if err != nil {
			t.Fatalf("reading %s: %v", k.key, err)
		}
		ttl, _ := c.PTTL(ctx, k.key).Result()
		fmt.Fprintf(&b, "%s %s %v ttl=%v\n", k.key, typ, v, ttl > 0)
	}
	return b.String()
}

// TestMigrateClusterRoundTrip moves keys of every type from a three-node
// rkv cluster to a redis-server and back (rkv as MIGRATE's target through
// RESTORE): a follower redirects MIGRATE to the leader; the leader's
// MIGRATE deletes the keys on every node; the values, TTLs included, come
// back unchanged; COPY keeps them; the cached connection to Redis is
// closed once idle.
func TestMigrateClusterRoundTrip(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	rd := diffStartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var keys []any
	for _, k := range migrateKeys {
		for _, cmd := range k.build {
			if err := leader.rdb.Do(ctx, cmd...).Err(); err != nil {
				t.Fatalf("%v: %v", cmd, err)
			}
		}
		keys = append(keys, k.key)
	}
	want := migrateValues(t, ctx, leader.rdb)
	host, port, _ := net.SplitHostPort(rd.Options().Addr)
	toRedis := append([]any{"MIGRATE", host, port, "", "0", "5000", "KEYS"}, keys...)

	err := c.followers(leader)[0].rdb.Do(ctx, toRedis...).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") || !strings.HasSuffix(err.Error(), " "+leader.addr) {
		t.Fatalf("MIGRATE on a follower: %v, want MOVED to %s", err, leader.addr)
	}
	if n, _ := rd.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("a follower's MIGRATE moved %d keys", n)
	}

	copyArgs := append(append([]any(nil), toRedis[:6]...), append([]any{"COPY", "KEYS"}, keys...)...)
	if v, err := leader.rdb.Do(ctx, copyArgs...).Result(); err != nil || v != "OK" {
		t.Fatalf("MIGRATE COPY: %v %v", v, err)
	}
	if got := migrateValues(t, ctx, rd); got != want {
		t.Fatalf("Redis holds after COPY\n%s\nwant\n%s", got, want)
	}
	if got := migrateValues(t, ctx, leader.rdb); got != want {
		t.Fatalf("the leader holds after COPY\n%s\nwant\n%s", got, want)
	}
	if err := rd.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	if v, err := leader.rdb.Do(ctx, toRedis...).Result(); err != nil || v != "OK" {
		t.Fatalf("MIGRATE to Redis: %v %v", v, err)
	}
	if got := migrateValues(t, ctx, rd); got != want {
		t.Fatalf("Redis holds\n%s\nwant\n%s", got, want)
	}
	for _, nd := range c.nodes {
		waitFor(t, 10*time.Second, "the moved keys gone from node "+nd.addr, func() error {
			if n, err := nd.rdb.DBSize(ctx).Result(); err != nil || n != 0 {
				return fmt.Errorf("DBSIZE %d, %v", n, err)
			}
			return nil
		})
	}
	if inf, err := leader.info(ctx, "stats"); err != nil || inf["migrate_cached_sockets"] != "1" {
		t.Fatalf("leader's migrate_cached_sockets = %q (%v), want 1", inf["migrate_cached_sockets"], err)
	}

	lhost, lport, _ := net.SplitHostPort(leader.addr)
	back := append([]any{"MIGRATE", lhost, lport, "", "0", "5000", "KEYS"}, keys...)
	if v, err := rd.Do(ctx, back...).Result(); err != nil || v != "OK" {
		t.Fatalf("MIGRATE from Redis to rkv: %v %v", v, err)
	}
	if n, _ := rd.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("Redis kept %d keys", n)
	}
	if got := migrateValues(t, ctx, leader.rdb); got != want {
		t.Fatalf("rkv holds after the round trip\n%s\nwant\n%s", got, want)
	}
	if v, err := rd.Do(ctx, back...).Result(); err != nil || v != "NOKEY" {
		t.Fatalf("MIGRATE of moved keys: %v %v, want NOKEY", v, err)
	}
	waitFor(t, 20*time.Second, "the leader to close its idle MIGRATE connection", func() error {
		inf, err := leader.info(ctx, "stats")
		if err == nil && inf["migrate_cached_sockets"] != "0" {
			err = fmt.Errorf("migrate_cached_sockets:%s", inf["migrate_cached_sockets"])
		}
		return err
	})
}

// heldRelay forwards each connection to addr at once, but holds what addr
// answers until release is called: a target whose replies come late.
func heldRelay(t *testing.T, addr string) (port string, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	var conns []net.Conn
	var mu sync.Mutex
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			track(in)
			track(out)
			go io.Copy(out, in)
			go func() {
				<-released
				io.Copy(in, out)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	var once sync.Once
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), func() { once.Do(func() { close(released) }) }
}

// TestMigrateKeepsKeyWrittenMeanwhile: a key written on rkv after the
// target restored it but before MIGRATE deleted it is kept, with the new
// value (Redis, single-threaded, has no such moment; rkv's deletion is
// conditioned on the key being unchanged), and MIGRATE says so.
func TestMigrateKeepsKeyWrittenMeanwhile(t *testing.T) {
	rk := diffStartRKV(t)
	rd := diffStartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, release := heldRelay(t, rd.Options().Addr)
	defer release()
	if err := rk.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rk.Do(ctx, "MIGRATE", "127.0.0.1", port, "k", "0", "10000").Err() }()
	waitFor(t, 10*time.Second, "the target to restore the key", func() error {
		if v, err := rd.Get(ctx, "k").Result(); err != nil || v != "v1" {
			return fmt.Errorf("GET k on the target: %q %v", v, err)
		}
		return nil
	})
	writer := diffClient(t, rk.Options().Addr)
	if err := writer.Set(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	release()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "changed here while they moved") {
		t.Fatalf("MIGRATE: %v, want the error saying a key changed", err)
	}
	if v, err := rk.Get(ctx, "k").Result(); err != nil || v != "v2" {
		t.Fatalf("rkv's k after MIGRATE: %q %v, want the value written meanwhile", v, err)
	}
}
