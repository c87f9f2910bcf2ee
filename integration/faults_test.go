package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// firstWrite polls the given nodes with a SET until one answers OK and
// returns that node; only an OK counts, so MOVED to a dead leader or
// CLUSTERDOWN keep it polling.
func firstWrite(t *testing.T, nodes []*node, key string, timeout time.Duration) *node {
	t.Helper()
	var winner *node
	waitFor(t, timeout, "a node to accept a write", func() error {
		var errs []string
		for _, nd := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := nd.rdb.Set(ctx, key, "x", 0).Err()
			cancel()
			if err == nil {
				winner = nd
				return nil
			}
			errs = append(errs, fmt.Sprintf("node %d: %v", nd.id, err))
		}
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	})
	return winner
}

// TestLeaderKill crashes the leader under a stream of writes: a new leader
// must take writes within two election timeouts, and no acknowledged write
// may be lost, on the new leader or on the crashed node once it is back.
func TestLeaderKill(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	old := c.leader(10 * time.Second)
	load := startWriteLoad(c, "lk", 4)
	defer load.stop()
	load.waitAcked(t, 300, 20*time.Second)

	old.kill()
	killed := time.Now()
	before := load.count()
	nl := firstWrite(t, c.others(old), "lk:probe", 10*time.Second)
	took := time.Since(killed)
	limit := 2*electionTimeout + time.Second
	t.Logf("leader %d killed with %d writes acknowledged; node %d took a write %v later (limit %v)",
		old.id, before, nl.id, took.Round(time.Millisecond), limit)
	if took > limit {
		t.Errorf("no write accepted for %v after the leader crashed; want < %v", took, limit)
	}
	// Writes keep flowing on the new leader.
	load.waitAcked(t, before+300, 20*time.Second)
	acked := load.stop()
	t.Logf("%d writes acknowledged in all", len(acked))

	old.restart()
	leader := c.waitConverged(20 * time.Second)
	checkValues(t, client(t, leader.addr), acked)
	// The crashed node, now caught up, holds every acknowledged write too.
	checkValues(t, readonlyClient(t, old.addr), acked)
}

// TestKillAllAndRestart crashes every node while writes are in flight; after
// a restart of all of them every acknowledged write must be there.
func TestKillAllAndRestart(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	c.leader(10 * time.Second)
	load := startWriteLoad(c, "ka", 4)
	defer load.stop()
	load.waitAcked(t, 500, 20*time.Second)
	for _, nd := range c.nodes {
		nd.kill()
	}
	acked := load.stop()
	t.Logf("all nodes killed with %d writes acknowledged", len(acked))
	for _, nd := range c.nodes {
		nd.start()
	}
	leader := c.waitConverged(20 * time.Second)
	checkValues(t, client(t, leader.addr), acked)
	for _, nd := range c.followers(leader) {
		checkValues(t, readonlyClient(t, nd.addr), acked)
	}
}

// TestFollowerCatchUpBySnapshot leaves a follower down while the leader
// writes and compacts its log many times over, so the follower can only
// come back through InstallSnapshot.
func TestFollowerCatchUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--snapshot-entries", "1000", "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	down := c.followers(leader)[0]
	down.kill()

	ctx := context.Background()
	lc := client(t, leader.addr)
	const writes, keys, batch = 50000, 10000, 500
	start := time.Now()
	for i := 0; i < writes; i += batch {
		pipe := lc.Pipeline()
		for j := i; j < i+batch; j++ {
			// Every key is written writes/keys times; the last round's
			// value is the one a caught-up replica must hold.
			pipe.Set(ctx, fmt.Sprintf("snap:%d", j%keys), fmt.Sprintf("r%d", j/keys), 0)
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			t.Fatalf("pipeline at write %d: %v", i, err)
		}
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				t.Fatalf("write in pipeline at %d: %v", i, cmd.Err())
			}
		}
	}
	t.Logf("%d pipelined writes with one follower down took %v", writes, time.Since(start).Round(time.Millisecond))

	down.restart()
	waitFor(t, 30*time.Second, "the restarted follower to apply the leader's commit index", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		commit, err := leader.raftUint(ctx, "raft_commit_index")
		if err != nil {
			return err
		}
		applied, err := down.raftUint(ctx, "raft_applied_index")
		if err != nil {
			return err
		}
		if applied < commit {
			return fmt.Errorf("follower applied %d, leader committed %d", applied, commit)
		}
		return nil
	})
	if log := down.currentLog(); !strings.Contains(log, "restored snapshot") {
		t.Errorf("the restarted follower's log does not show \"restored snapshot\":\n%s", tailFile(down.logPath, 40))
	}
	want := map[string]string{}
	for range 300 {
		k := rand.IntN(keys)
		want[fmt.Sprintf("snap:%d", k)] = fmt.Sprintf("r%d", (writes-1)/keys)
	}
	checkValues(t, readonlyClient(t, down.addr), want)
	if n, err := readonlyClient(t, down.addr).DBSize(ctx).Result(); err != nil || n != keys {
		t.Errorf("DBSIZE on the caught-up follower = %d, %v; want %d", n, err, keys)
	}
}

// TestGracefulShutdown sends SIGTERM to the leader: it must exit 0 promptly
// after handing leadership to another node.
func TestGracefulShutdown(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	if err := client(t, leader.addr).Set(context.Background(), "gs", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	others := c.others(leader)
	start := time.Now()
	code, took := leader.terminate(10 * time.Second)
	t.Logf("leader %d exited with status %d %v after SIGTERM", leader.id, code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if took > 5*time.Second {
		t.Errorf("exit took %v after SIGTERM, want a few seconds at most", took)
	}
	nl := firstWrite(t, others, "gs:probe", 10*time.Second)
	took = time.Since(start)
	t.Logf("node %d took a write %v after the SIGTERM", nl.id, took.Round(time.Millisecond))
	if !strings.Contains(leader.currentLog(), "leadership handed over") {
		t.Errorf("the leader's log does not show the hand-over:\n%s", tailFile(leader.logPath, 20))
	}
	// A hand-over needs no election timeout; allow one for scheduling.
	if took > electionTimeout+time.Second {
		t.Errorf("no new leader for %v after SIGTERM of the leader", took)
	}
	if got, err := client(t, nl.addr).Get(context.Background(), "gs").Result(); err != nil || got != "1" {
		t.Errorf("GET gs on the new leader = %q, %v", got, err)
	}
}

// TestRollingRestart restarts every node of a 3-node cluster in turn with
// SIGTERM while a go-redis cluster client, with its default options, writes
// all along: a stopping leader hands over and answers MOVED before its
// port closes, so no write fails and every acknowledged one is kept.
func TestRollingRestart(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	c.leader(10 * time.Second)
	load := startClusterWriteLoad(c, "roll")
	defer load.stop()
	for _, nd := range c.nodes {
		if code, _ := nd.terminate(20 * time.Second); code != 0 {
			t.Errorf("node %d exited with status %d after SIGTERM", nd.id, code)
		}
		nd.start()
		c.waitConverged(30 * time.Second)
	}
	load.waitAcked(t, load.count()+20, 20*time.Second)
	acked := load.stop()
	if n, first := load.failures(); n > 0 {
		t.Errorf("%d of %d writes failed across the rolling restart; first: %v", n, n+len(acked), first)
	}
	checkValues(t, client(t, c.waitConverged(30*time.Second).addr), acked)
	t.Logf("%d writes acknowledged across the rolling restart", len(acked))
}
