package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// dbClient is a go-redis client of addr in database db, as applications
// that keep their data in database 9 configure it (it sends SELECT on
// every connection).
func dbClient(t *testing.T, addr string, db int, readonly bool) *redis.Client {
	t.Helper()
	opts := &redis.Options{Addr: addr, DB: db, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	if readonly {
		opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestDatabasesOnACluster: applications in several databases of one
// 3-node cluster keep their keys apart through MOVE, SWAPDB and
// transactions that SELECT, a follower restarted from a snapshot and a
// leader kill; every node ends with the same state, and go-redis and
// redis-py clients configured with a database read what each other wrote.
func TestDatabasesOnACluster(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--snapshot-entries", "200", "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	want := map[int]map[string]string{0: {}, 1: {}, 2: {}, 3: {}} // database → key → value
	rng := rand.New(rand.NewPCG(7, 9))
	write := func(addr string, rounds int) {
		t.Helper()
		for range rounds {
			db := rng.IntN(4)
			rdb := dbClient(t, addr, db, false)
			key := fmt.Sprintf("app:%d", rng.IntN(30))
			val := fmt.Sprintf("db%d-%d", db, rng.IntN(1000))
			if err := rdb.Set(ctx, key, val, 0).Err(); err != nil {
				t.Fatalf("SET %s in db %d: %v", key, db, err)
			}
			want[db][key] = val
			rdb.Close()
		}
	}
	write(leader.addr, 150)

	follower := c.followers(leader)[0]
	follower.kill()
	write(leader.addr, 300)
	// A transaction that moves to database 3 midway, and MOVE, SWAPDB.
	tx := dbClient(t, leader.addr, 1, false)
	if _, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "tx:a", "in1", 0)
		p.Do(ctx, "SELECT", 3)
		p.Set(ctx, "tx:a", "in3", 0)
		return nil
	}); err != nil {
		t.Fatalf("MULTI with SELECT: %v", err)
	}
	want[1]["tx:a"], want[3]["tx:a"] = "in1", "in3"
	db2 := dbClient(t, leader.addr, 2, false)
	if err := db2.Set(ctx, "moving", "m", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := db2.Move(ctx, "moving", 0).Result(); err != nil || !n {
		t.Fatalf("MOVE moving 0 = %v, %v", n, err)
	}
	want[0]["moving"] = "m"
	if err := db2.Do(ctx, "SWAPDB", 1, 2).Err(); err != nil {
		t.Fatalf("SWAPDB 1 2: %v", err)
	}
	want[1], want[2] = want[2], want[1]
	follower.start()
	write(leader.addr, 50)
	c.waitConverged(30 * time.Second)
	waitSameDigest(t, c)

	// The restarted follower serves each database's keys to READONLY
	// clients.
	for db, keys := range want {
		ro := dbClient(t, follower.addr, db, true)
		for k, v := range keys {
			if got, err := ro.Get(ctx, k).Result(); err != nil || got != v {
				t.Fatalf("follower, db %d: GET %s = %q, %v; want %q", db, k, got, err, v)
			}
		}
	}

	leader.kill()
	leader = c.leader(15 * time.Second)
	for db, keys := range want {
		rdb := dbClient(t, leader.addr, db, false)
		n, err := rdb.DBSize(ctx).Result()
		if err != nil || n != int64(len(keys)) {
			t.Fatalf("new leader, db %d: DBSIZE = %d, %v; want %d", db, n, err, len(keys))
		}
		for k, v := range keys {
			if got, err := rdb.Get(ctx, k).Result(); err != nil || got != v {
				t.Fatalf("new leader, db %d: GET %s = %q, %v; want %q", db, k, got, err, v)
			}
		}
	}

	// redis-py in database 9 and go-redis in database 9 see each other's
	// keys, and database 0 does not.
	py := "/usr/bin/python3"
	host, port, _ := strings.Cut(leader.addr, ":")
	script := `import sys, redis
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), db=9)
r.set("py:key", "from-python")
print(r.get("go:key").decode() if r.get("go:key") else "none", r.dbsize())`
	go9 := dbClient(t, leader.addr, 9, false)
	if err := go9.Set(ctx, "go:key", "from-go", 0).Err(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-py: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "from-go 2" {
		t.Fatalf("redis-py in database 9 printed %q, want \"from-go 2\"", got)
	}
	if got, err := go9.Get(ctx, "py:key").Result(); err != nil || got != "from-python" {
		t.Fatalf("go-redis in database 9: GET py:key = %q, %v", got, err)
	}
	if n, err := dbClient(t, leader.addr, 0, false).Exists(ctx, "py:key", "go:key").Result(); err != nil || n != 0 {
		t.Fatalf("database 0 sees database 9's keys: EXISTS = %d, %v", n, err)
	}
	checkNoPanics(t, c)
}
