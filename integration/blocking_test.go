package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestJobQueueThroughLeaderKill runs the reliable-queue pattern: 8 workers
// move jobs with BLMOVE from a pending list to a processing list, run them
// and remove them, through a go-redis cluster client, while the leader is
// killed. No job is received twice; every job is received or still in the
// processing list, where only a move whose outcome the worker could not
// learn (the leader died with it, or go-redis sent it again after the
// connection dropped) may leave one.
func TestJobQueueThroughLeaderKill(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	cc := clusterClient(t, c)
	const pending, processing, jobs = "{q}pending", "{q}processing", 300
	waitClusterClient(t, cc, pending)
	ctx := context.Background()
	all := make([]any, jobs)
	for i := range all {
		all[i] = fmt.Sprintf("job-%03d", i)
	}
	if err := cc.RPush(ctx, pending, all...).Err(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	received := map[string]int{}
	var count, unknown atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				job, err := cc.BLMove(ctx, pending, processing, "RIGHT", "LEFT", time.Second).Result()
				switch {
				case errors.Is(err, redis.Nil):
					continue
				case err != nil:
					// The move may have happened: its job then waits in the
					// processing list for recovery.
					unknown.Add(1)
					time.Sleep(50 * time.Millisecond)
					continue
				}
				mu.Lock()
				received[job]++
				mu.Unlock()
				count.Add(1)
				for cc.LRem(ctx, processing, 1, job).Err() != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	waitFor(t, 60*time.Second, "100 jobs before the kill", func() error {
		if n := count.Load(); n < 100 {
			return fmt.Errorf("%d jobs", n)
		}
		return nil
	})
	leader.kill()
	c.leader(20 * time.Second)
	waitFor(t, 90*time.Second, "the queue to drain", func() error {
		n, err := cc.LLen(ctx, pending).Result()
		if err != nil || n > 0 {
			return fmt.Errorf("%d pending, %v", n, err)
		}
		return nil
	})
	close(stop)
	wg.Wait()

	left, err := cc.LRange(ctx, processing, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var twice, lost []string
	stuck := 0
	for _, j := range all {
		job := j.(string)
		switch n := received[job]; {
		case n > 1:
			twice = append(twice, job)
		case n == 0 && !slices.Contains(left, job):
			lost = append(lost, job)
		case n == 0:
			stuck++
		}
	}
	if len(twice) > 0 || len(lost) > 0 {
		t.Fatalf("jobs received twice %v, lost %v", twice, lost)
	}
	t.Logf("%d jobs received, %d left for recovery (%d errors the workers saw)", count.Load(), stuck, unknown.Load())
}
