package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// smallDisk is a node's data directory that a test can fill up. Where the
// test may mount a filesystem (as root) it is a 16 MiB tmpfs, filled by a
// file of zeros until the kernel answers ENOSPC; elsewhere the node is
// started with RKV_TEST_DISK_FULL_WHILE, and the log's writes fail with
// ENOSPC while a marker file exists.
type smallDisk struct {
	nd     *node
	filler string // the file that fills the tmpfs, or the marker
	real   bool
}

// newSmallDisks returns the disks of a cluster's nodes, by node id, and
// the clusterOpts.prepare that makes them.
func newSmallDisks(t *testing.T) (map[int]*smallDisk, func(nd *node)) {
	disks := map[int]*smallDisk{}
	return disks, func(nd *node) {
		d := &smallDisk{nd: nd}
		if err := os.MkdirAll(nd.dir, 0o750); err != nil {
			t.Fatal(err)
		}
		err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", nd.dir).Run()
		if err == nil {
			d.real, d.filler = true, filepath.Join(nd.dir, "filler")
			// Lazily: the cleanup that kills the process runs after this.
			t.Cleanup(func() { exec.Command("umount", "-l", nd.dir).Run() })
		} else {
			t.Logf("node %d: cannot mount a tmpfs (%v); the node fails its writes while a marker file exists", nd.id, err)
			d.filler = nd.dir + ".full"
			nd.env = append(nd.env, "RKV_TEST_DISK_FULL_WHILE="+d.filler)
		}
		disks[nd.id] = d
	}
}

// fill leaves no space on the disk.
func (d *smallDisk) fill(t *testing.T) {
	t.Helper()
	if !d.real {
		if err := os.WriteFile(d.filler, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Create(d.filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for err == nil {
		_, err = f.Write(buf)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling node %d's disk: %v", d.nd.id, err)
	}
}

// free gives the space back.
func (d *smallDisk) free(t *testing.T) {
	t.Helper()
	if err := os.Remove(d.filler); err != nil {
		t.Fatal(err)
	}
}

// waitLogWrite waits until the node's INFO persistence says its log
// writes are in state (ok or err), and returns the section.
func waitLogWrite(t *testing.T, nd *node, state string) map[string]string {
	t.Helper()
	var inf map[string]string
	waitFor(t, time.Minute, fmt.Sprintf("node %d: log_write_status:%s", nd.id, state), func() error {
		var err error
		if inf, err = nd.info(context.Background(), "persistence"); err != nil {
			return err
		}
		if inf["log_write_status"] != state || inf["aof_last_write_status"] != state {
			return fmt.Errorf("log_write_status:%s aof_last_write_status:%s log_write_error:%s",
				inf["log_write_status"], inf["aof_last_write_status"], inf["log_write_error"])
		}
		return nil
	})
	return inf
}

// TestDiskFullAlone fills a lone node's disk: writes get MISCONF naming
// the cause, reads are served, INFO and the metrics say so; once space is
// back the node takes writes again by itself, the write that was in
// flight is acknowledged, and nothing acknowledged is lost.
func TestDiskFullAlone(t *testing.T) {
	disks, prepare := newSmallDisks(t)
	c := newCluster(t, 1, clusterOpts{prepare: prepare, metrics: true})
	nd := c.leader(20 * time.Second)
	ctx := context.Background()
	rdb := client(t, nd.addr)
	acked := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprintf("before:%d", i), strings.Repeat("v", 100)+fmt.Sprint(i)
		if err := rdb.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}

	disks[nd.id].fill(t)
	// The first write after the disk filled waits for its entry to be
	// written: it is answered once the disk takes it. (It is larger than
	// the slack a segment file's last page may have.)
	big := strings.Repeat("x", 64<<10)
	slow := redis.NewClient(&redis.Options{Addr: nd.addr, MaxRetries: -1, ReadTimeout: 3 * time.Minute})
	defer slow.Close()
	inFlight := make(chan error, 1)
	go func() { inFlight <- slow.Set(ctx, "in-flight", big, 0).Err() }()
	inf := waitLogWrite(t, nd, "err")
	if inf["log_write_error"] != "no space left on device" {
		t.Errorf("log_write_error:%s, want no space left on device", inf["log_write_error"])
	}
	err := rdb.Set(ctx, "refused", "x", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "MISCONF Errors writing to the log: no space left on device") {
		t.Fatalf("SET on a full disk = %v, want MISCONF naming ENOSPC", err)
	}
	if err := rdb.Incr(ctx, "counter").Err(); err == nil || !strings.HasPrefix(err.Error(), "MISCONF") {
		t.Fatalf("INCR on a full disk = %v, want MISCONF", err)
	}
	checkValues(t, rdb, acked)
	if fams, err := nd.scrape(); err != nil || value(fams, "rkv_raft_log_writable") != 0 ||
		value(fams, "rkv_raft_log_write_failures_total") == 0 {
		t.Fatalf("metrics on a full disk: writable %v, failures %v (%v)", value(fams, "rkv_raft_log_writable"),
			value(fams, "rkv_raft_log_write_failures_total"), err)
	}
	select {
	case err := <-inFlight:
		t.Fatalf("the write in flight was answered (%v) while the disk is full", err)
	default:
	}

	disks[nd.id].free(t)
	waitLogWrite(t, nd, "ok")
	if err := <-inFlight; err != nil {
		t.Fatalf("the write in flight when the disk filled: %v", err)
	}
	acked["in-flight"] = big
	for i := range 100 {
		k := fmt.Sprintf("after:%d", i)
		if err := rdb.Set(ctx, k, "y", 0).Err(); err != nil {
			t.Fatalf("SET after space is back: %v", err)
		}
		acked[k] = "y"
	}
	checkValues(t, rdb, acked)
	if fams, err := nd.scrape(); err != nil || value(fams, "rkv_raft_log_writable") != 1 {
		t.Fatalf("rkv_raft_log_writable %v after space is back (%v)", value(fams, "rkv_raft_log_writable"), err)
	}
	if !nd.running() || nd.starts != 1 {
		t.Fatalf("the node restarted (running %v, %d starts)", nd.running(), nd.starts)
	}
}

// TestDiskFullCluster fills a follower's disk, then the leader's, of a
// cluster of three under a write load: the other two go on taking
// writes, the full follower answers reads (READONLY) and MOVED, the full
// leader hands its leadership over, and each catches up by itself once
// space is back; nothing acknowledged is lost and the copies agree.
func TestDiskFullCluster(t *testing.T) {
	disks, prepare := newSmallDisks(t)
	c := newCluster(t, 3, clusterOpts{prepare: prepare})
	leader := c.leader(20 * time.Second)
	ctx := context.Background()
	if err := client(t, leader.addr).Set(ctx, "old", "value", 0).Err(); err != nil {
		t.Fatal(err)
	}
	load := startWriteLoad(c, "load", 4)
	load.waitAcked(t, 200, time.Minute)

	follower := c.followers(leader)[0]
	disks[follower.id].fill(t)
	waitLogWrite(t, follower, "err")
	load.waitAcked(t, load.count()+300, time.Minute)
	if got, err := readonlyClient(t, follower.addr).Get(ctx, "old").Result(); err != nil || got != "value" {
		t.Fatalf("READONLY GET on the full follower = %q, %v", got, err)
	}
	if _, addr, ok := movedTarget(client(t, follower.addr).Set(ctx, "k", "v", 0).Err()); !ok || addr != leader.addr {
		t.Fatalf("SET on the full follower not MOVED to the leader %s", leader.addr)
	}
	disks[follower.id].free(t)
	waitLogWrite(t, follower, "ok")

	leader = c.leader(20 * time.Second)
	disks[leader.id].fill(t)
	waitLogWrite(t, leader, "err")
	waitFor(t, time.Minute, "another leader", func() error {
		l, err := c.leaderNow(ctx)
		if err != nil {
			return err
		}
		if l == leader {
			return errors.New("the full node still leads")
		}
		return nil
	})
	load.waitAcked(t, load.count()+300, time.Minute)
	disks[leader.id].free(t)
	waitLogWrite(t, leader, "ok")
	load.waitAcked(t, load.count()+100, time.Minute)

	acked := load.stop()
	l := c.waitConverged(time.Minute)
	checkValues(t, client(t, l.addr), acked)
	var digests []string
	for _, nd := range c.nodes {
		d, err := nd.rdb.Do(ctx, "DEBUG", "DIGEST").Text()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
		if !nd.running() || nd.starts != 1 {
			t.Fatalf("node %d restarted", nd.id)
		}
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Fatalf("DEBUG DIGEST differs across the nodes: %v", digests)
	}
}
