package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// typesWorkload returns one random command over every data type, on a small
// key space so that types collide (WRONGTYPE replies are part of the load).
func typesWorkload(r *rand.Rand) []any {
	key := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, r.IntN(12)) }
	member := func() string { return "m" + strconv.Itoa(r.IntN(40)) }
	anyKey := func() string { return key([]string{"h", "l", "s", "z", "x", "k"}[r.IntN(6)]) }
	group := func() string { return []string{"g1", "g2"}[r.IntN(2)] }
	consumer := func() string { return []string{"c1", "c2", "c3"}[r.IntN(3)] }
	switch r.IntN(24) {
	case 0:
		return []any{"HSET", key("h"), member(), r.IntN(100), member(), "v"}
	case 1:
		return []any{"HDEL", key("h"), member()}
	case 2:
		return []any{"HINCRBY", key("h"), member(), r.IntN(10) - 5}
	case 3:
		return []any{"LPUSH", key("l"), member(), member()}
	case 4:
		return []any{"RPOP", key("l"), 1 + r.IntN(2)}
	case 5:
		return []any{"LMOVE", key("l"), key("l"), "LEFT", "RIGHT"}
	case 6:
		return []any{"SADD", key("s"), member(), strconv.Itoa(r.IntN(1000))}
	case 7:
		return []any{"SPOP", key("s"), 1 + r.IntN(3)}
	case 8:
		return []any{"SINTERSTORE", key("s"), key("s"), key("s")}
	case 9:
		return []any{"ZADD", key("z"), r.IntN(50), member()}
	case 10:
		return []any{"ZINCRBY", key("z"), r.Float64(), member()}
	case 11:
		return []any{"ZPOPMIN", key("z")}
	case 12:
		return []any{"ZUNIONSTORE", key("z"), 2, key("z"), key("s"), "AGGREGATE", "MAX"}
	case 13:
		return []any{"XADD", key("x"), "MAXLEN", "~", 50, "*", "f", member()}
	case 14:
		// Consumer groups: their delivery times and consumers' last
		// sights are the log's, so replicas hold the same.
		switch r.IntN(8) {
		case 0:
			return []any{"XGROUP", "CREATE", key("x"), group(), "0", "MKSTREAM"}
		case 1, 2:
			return []any{"XREADGROUP", "GROUP", group(), consumer(), "COUNT", 1 + r.IntN(5), "STREAMS", key("x"), ">"}
		case 3:
			return []any{"XACK", key("x"), group(), "0-1", "99999999999999-0"}
		case 4:
			return []any{"XAUTOCLAIM", key("x"), group(), consumer(), r.IntN(50), "0", "COUNT", 1 + r.IntN(5)}
		case 5:
			return []any{"XCLAIM", key("x"), group(), consumer(), 0, "0-1", "FORCE", "IDLE", r.IntN(100)}
		case 6:
			return []any{"XGROUP", "DELCONSUMER", key("x"), group(), consumer()}
		}
		return []any{"XDEL", key("x"), fmt.Sprintf("%d-%d", r.IntN(3), r.IntN(3))}
	case 15:
		return []any{"SET", key("k"), member()}
	case 16:
		return []any{"PEXPIRE", anyKey(), 50 + r.IntN(500)}
	case 17:
		return []any{"DEL", anyKey()}
	case 18:
		return []any{"RENAME", anyKey(), anyKey()}
	case 19:
		return []any{"COPY", anyKey(), anyKey(), "REPLACE"}
	case 20:
		return []any{"HRANDFIELD", key("h"), -3, "WITHVALUES"}
	case 21:
		return []any{"ZRANGESTORE", key("z"), key("z"), 0, 2}
	case 22:
		return []any{"LTRIM", key("l"), 0, 20}
	default:
		return []any{"SMOVE", key("s"), key("s"), member()}
	}
}

// runTypesWorkload sends n random commands from each of workers clients to
// the leader, some inside MULTI/EXEC, and fails on anything but a reply
// (error replies such as WRONGTYPE are expected).
func runTypesWorkload(t *testing.T, addr string, seed uint64, workers, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := client(t, addr)
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			ctx := context.Background()
			for i := 0; i < n; i++ {
				var err error
				if r.IntN(10) == 0 {
					_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
						for range 1 + r.IntN(4) {
							p.Do(ctx, typesWorkload(r)...)
						}
						return nil
					})
				} else {
					err = rdb.Do(ctx, typesWorkload(r)...).Err()
				}
				var rerr redis.Error
				if err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &rerr) {
					errc <- fmt.Errorf("worker %d command %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// waitSameDigest waits until every running node reports the same DEBUG
// DIGEST (they agree once all have applied the same entries) and returns it.
func waitSameDigest(t *testing.T, c *cluster) string {
	t.Helper()
	var digest string
	waitFor(t, 30*time.Second, "every node to report the same state digest", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		seen := map[string][]int{}
		for _, nd := range c.running() {
			d, err := nd.rdb.Do(ctx, "DEBUG", "DIGEST").Text()
			if err != nil {
				return fmt.Errorf("node %d: %w", nd.id, err)
			}
			seen[d] = append(seen[d], nd.id)
			digest = d
		}
		if len(seen) != 1 {
			return fmt.Errorf("digests differ: %v", seen)
		}
		return nil
	})
	return digest
}

// TestReplicasAgreeOnAllTypes: after a random workload of every type on
// three nodes (with expiry, SPOP's random choices, transactions), all nodes
// hold the same state; also a follower restarted mid-workload from its
// snapshot, and all of them after a restart.
func TestReplicasAgreeOnAllTypes(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--snapshot-entries", "300", "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	runTypesWorkload(t, leader.addr, 1, 4, 400)
	follower := c.followers(leader)[0]
	follower.kill()
	runTypesWorkload(t, leader.addr, 2, 4, 200)
	follower.start()
	runTypesWorkload(t, leader.addr, 3, 4, 400)
	c.waitConverged(30 * time.Second)
	before := waitSameDigest(t, c)
	if !strings.Contains(readFileString(follower.logPath), "restored snapshot") {
		t.Logf("follower %d replayed its log without a snapshot", follower.id)
	}
	n, err := leader.rdb.DBSize(context.Background()).Result()
	if err != nil || n == 0 {
		t.Fatalf("DBSIZE after the workload = %d, %v", n, err)
	}
	for _, nd := range c.nodes {
		nd.kill()
	}
	for _, nd := range c.nodes {
		nd.start()
	}
	c.waitConverged(30 * time.Second)
	after := waitSameDigest(t, c)
	t.Logf("digest %s before the restart, %s after (%d keys)", before, after, n)
}

// TestDataTypesGoRedis uses each type the way applications do, through
// go-redis against a 3-node cluster's leader.
func TestDataTypesGoRedis(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	rdb := client(t, c.leader(10*time.Second).addr)
	ctx := context.Background()

	t.Run("hash as a record", func(t *testing.T) {
		if err := rdb.HSet(ctx, "user:42", "name", "Ada", "email", "ada@example.com", "visits", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			rdb.HIncrBy(ctx, "user:42", "visits", 1)
		}
		got, err := rdb.HGetAll(ctx, "user:42").Result()
		if err != nil || got["name"] != "Ada" || got["email"] != "ada@example.com" || got["visits"] != "5" || len(got) != 3 {
			t.Fatalf("HGETALL = %v, %v", got, err)
		}
		var rec struct {
			Name   string `redis:"name"`
			Visits int    `redis:"visits"`
		}
		if err := rdb.HMGet(ctx, "user:42", "name", "visits").Scan(&rec); err != nil || rec.Name != "Ada" || rec.Visits != 5 {
			t.Fatalf("HMGET scan = %+v, %v", rec, err)
		}
	})

	t.Run("list as a queue", func(t *testing.T) {
		const producers, items = 4, 50
		var wg sync.WaitGroup
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range items {
					if err := rdb.LPush(ctx, "jobs", fmt.Sprintf("%d:%d", p, i)).Err(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		last := map[int]int{}
		for {
			job, err := rdb.RPop(ctx, "jobs").Result()
			if errors.Is(err, redis.Nil) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var p, i int
			fmt.Sscanf(job, "%d:%d", &p, &i)
			if seen[job] || (i > 0 && last[p] != i-1) {
				t.Fatalf("job %s out of order or twice (last of producer %d: %d)", job, p, last[p])
			}
			seen[job], last[p] = true, i
		}
		if len(seen) != producers*items {
			t.Fatalf("consumed %d jobs, want %d", len(seen), producers*items)
		}
	})

	t.Run("sorted set as a leaderboard", func(t *testing.T) {
		var wg sync.WaitGroup
		for p := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 * (p + 1) {
					rdb.ZIncrBy(ctx, "board", 1, fmt.Sprintf("player%d", p))
				}
			}()
		}
		wg.Wait()
		top, err := rdb.ZRevRangeWithScores(ctx, "board", 0, 2).Result()
		if err != nil || len(top) != 3 || top[0].Member != "player4" || top[0].Score != 50 || top[2].Member != "player2" {
			t.Fatalf("top 3 = %v, %v", top, err)
		}
		if rank, err := rdb.ZRevRank(ctx, "board", "player0").Result(); err != nil || rank != 4 {
			t.Fatalf("ZREVRANK player0 = %d, %v", rank, err)
		}
	})

	t.Run("stream as an event log", func(t *testing.T) {
		var ids []string
		for i := range 30 {
			id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: []any{"n", i}}).Result()
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		// Page through it as a consumer does: from just after the last id seen.
		var read []string
		cursor := "-"
		for {
			page, err := rdb.XRangeN(ctx, "events", cursor, "+", 7).Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				read = append(read, m.ID)
			}
			cursor = "(" + page[len(page)-1].ID
		}
		if strings.Join(read, ",") != strings.Join(ids, ",") {
			t.Fatalf("paged XRANGE = %v, want %v", read, ids)
		}
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{"events", ids[24]}, Count: 100, Block: -1}).Result()
		if err != nil || len(res) != 1 || len(res[0].Messages) != 5 || res[0].Messages[0].ID != ids[25] {
			t.Fatalf("XREAD after %s = %v, %v", ids[24], res, err)
		}
	})
}

// TestDataTypesRedisPy runs testdata/datatypes.py: the same uses through
// redis-py, the Python client applications use.
func TestDataTypesRedisPy(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import redis").CombinedOutput(); err != nil {
		t.Fatalf("%s with the redis module is required (apt-get install python3-redis): %v\n%s", py, err, out)
	}
	c := newCluster(t, 3, clusterOpts{})
	host, port, _ := strings.Cut(c.leader(10*time.Second).addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/datatypes.py", host, port).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("datatypes.py: %v\n%s", err, out)
	}
}
