package integration

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWatchCompareAndSet runs the classic optimistic increment, GET under
// WATCH then SET in MULTI/EXEC, from 8 concurrent go-redis cluster
// clients on a 3-node cluster: an EXEC that ran after another writer's SET
// must abort, so not one increment is lost.
func TestWatchCompareAndSet(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	c.leader(10 * time.Second)
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	const writers, increments, key = 8, 50, "cas:{counter}"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var aborted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
			defer cc.Close()
			for done := 0; done < increments; {
				err := cc.Watch(ctx, func(tx *redis.Tx) error {
					n, err := tx.Get(ctx, key).Int()
					if err != nil && !errors.Is(err, redis.Nil) {
						return err
					}
					_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Set(ctx, key, n+1, 0)
						return nil
					})
					return err
				}, key)
				switch {
				case errors.Is(err, redis.TxFailedErr):
					aborted.Add(1)
				case err != nil:
					errs <- fmt.Errorf("writer %d, increment %d: %w", w, done, err)
					return
				default:
					done++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	leader := c.waitConverged(10 * time.Second)
	for _, nd := range c.running() {
		got, err := readonlyClient(t, nd.addr).Get(ctx, key).Int()
		if err != nil || got != writers*increments {
			t.Fatalf("node %d (leader %v): %s = %d, %v; want %d", nd.id, nd == leader, key, got, err, writers*increments)
		}
	}
	t.Logf("%d increments, %d EXECs aborted by a concurrent write", writers*increments, aborted.Load())
}

// txScript is a redis-py client of the leader: transaction() retries a
// WATCH/MULTI/EXEC increment from 4 threads, pipeline(transaction=True)
// runs a batch atomically, and a refused command aborts its pipeline.
const txScript = `
import sys, threading
import redis

r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), decode_responses=True)

def incr(pipe):
    n = int(pipe.get("py:tx:{n}") or 0)
    pipe.multi()
    pipe.set("py:tx:{n}", n + 1)

def worker():
    for _ in range(25):
        r.transaction(incr, "py:tx:{n}")

threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()

pipe = r.pipeline(transaction=True)
pipe.set("py:tx:{a}", "1").incr("py:tx:{a}").get("py:tx:{a}").ping().echo("hi")
batch = pipe.execute()
assert batch == [True, 2, "2", True, "hi"], batch

pipe = r.pipeline(transaction=True)
pipe.set("py:tx:{a}", "9").execute_command("NOSUCH", "x")
try:
    pipe.execute()
    raise AssertionError("a pipeline with an unknown command ran")
except redis.ResponseError as e:
    assert "unknown command" in str(e), e
assert r.get("py:tx:{a}") == "2"

# A watched key changed by another client aborts the transaction.
p = r.pipeline(transaction=True)
p.watch("py:tx:{a}")
r.set("py:tx:{a}", "3")
p.multi()
p.set("py:tx:{a}", "4")
try:
    p.execute()
    raise AssertionError("EXEC ran after a watched key changed")
except redis.WatchError:
    pass
assert r.get("py:tx:{a}") == "3"
print("ok", r.get("py:tx:{n}"))
`

func TestRedisPyTransactions(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import redis").CombinedOutput(); err != nil {
		t.Fatalf("%s with the redis module is required (apt-get install python3-redis): %v\n%s", py, err, out)
	}
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	host, port, _ := strings.Cut(leader.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", txScript, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-py transaction script: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "ok 100" {
		t.Fatalf("redis-py transaction script printed %q, want \"ok 100\"", got)
	}
}
