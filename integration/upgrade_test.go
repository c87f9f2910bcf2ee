package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRollingUpgrade runs a cluster on the previous release and upgrades
// it to this build one node at a time, on the same data directories, while
// a cluster client writes, as README's Upgrading says: followers first, the
// leader last. At every step the mixed cluster commits the writes on every
// node; in between, a new node leads the old ones for a while, as it would
// if the old leader failed mid-upgrade. No write may fail or be lost, and
// in the end every node runs this build and holds the same state.
func TestRollingUpgrade(t *testing.T) {
	oldBin, oldVersion := buildPreviousRelease(t)
	newVersion := binVersion(t, rkvBin)
	if newVersion == oldVersion {
		t.Fatalf("this build and the previous release both report version %s: the test cannot tell them apart", oldVersion)
	}
	// Small snapshots, so the new binary reads the old one's snapshots and
	// log alike from the data directories.
	c := newCluster(t, 3, clusterOpts{bin: oldBin, extraArgs: []string{"--snapshot-entries", "200", "--snapshot-log-percent", "0"}})
	leader := c.leader(10 * time.Second)
	checkServerVersion(t, c.nodes, oldVersion)
	// Every data type, in the old release's snapshots and log entries.
	runTypesWorkload(t, leader.addr, 1, 4, 200)
	load := startClusterWriteLoad(c, "upgrade")
	defer load.stop()
	load.waitAcked(t, 20, 20*time.Second)

	// commits waits until the cluster as it is now has acknowledged more
	// writes and every node has applied them.
	commits := func(step string) {
		t.Helper()
		load.waitAcked(t, load.count()+20, 30*time.Second)
		c.waitConverged(30 * time.Second)
		t.Logf("%s: %d writes acknowledged", step, load.count())
	}
	upgrade := func(nd *node) {
		t.Helper()
		if code, _ := nd.terminate(20 * time.Second); code != 0 {
			t.Errorf("node %d exited with status %d after SIGTERM", nd.id, code)
		}
		// The new binary starts from the old one's snapshot and the log
		// after it.
		if snaps, _ := filepath.Glob(filepath.Join(nd.dir, "snap-*.snap")); len(snaps) == 0 {
			t.Fatalf("node %d's data directory holds no snapshot of the previous release", nd.id)
		}
		nd.bin = rkvBin
		nd.start()
		checkServerVersion(t, []*node{nd}, newVersion)
		commits(fmt.Sprintf("node %d upgraded", nd.id))
	}
	followers := c.followers(leader)
	upgrade(followers[0])
	// The new node leads the old ones, then hands back, so that the
	// leader is upgraded last.
	failover(t, c, followers[0])
	commits(fmt.Sprintf("node %d (new) leads", followers[0].id))
	failover(t, c, leader)
	commits(fmt.Sprintf("node %d (old) leads again", leader.id))
	upgrade(followers[1])
	upgrade(leader)

	acked := load.stop()
	if n, first := load.failures(); n > 0 {
		t.Errorf("%d of %d writes failed across the upgrade; first: %v", n, n+len(acked), first)
	}
	leader = c.waitConverged(30 * time.Second)
	checkServerVersion(t, c.nodes, newVersion)
	waitSameDigest(t, c)
	checkValues(t, client(t, leader.addr), acked)
	checkNoPanics(t, c)
}

// buildPreviousRelease builds the commit named in testdata/previous-release
// from this clone's history and returns the binary and its version. A
// clone without that commit (a shallow one) fails the test: CI clones the
// whole history.
func buildPreviousRelease(t *testing.T) (bin, version string) {
	t.Helper()
	git := requireTool(t, "git")
	commit := previousRelease(t)
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	root := run("..", git, "rev-parse", "--show-toplevel")
	if out, err := exec.Command(git, "-C", root, "cat-file", "-e", commit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("the previous release, commit %s (testdata/previous-release), is not in this clone's history; "+
			"a shallow clone needs git fetch --unshallow: %v\n%s", commit, err, out)
	}
	// A clone sharing this one's objects costs no copying, and gives the
	// build the VCS stamp that makes its version the commit's.
	src := filepath.Join(t.TempDir(), "src")
	run(root, git, "clone", "--quiet", "--shared", "--no-checkout", root, src)
	run(src, git, "checkout", "--quiet", "--detach", commit)
	bin = filepath.Join(t.TempDir(), "rkv-previous")
	// -trimpath as in TestMain, so packages unchanged since come from the
	// build cache.
	run(src, "go", "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/rkv")
	return bin, binVersion(t, bin)
}

// previousRelease reads the commit id from testdata/previous-release, the
// first line that is not blank or a # comment.
func previousRelease(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "previous-release"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	t.Fatalf("testdata/previous-release names no commit: %v", sc.Err())
	return ""
}

// binVersion returns the version an rkv binary reports with --version.
func binVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "rkv ") {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	return strings.Fields(string(out))[1]
}

// checkServerVersion checks that each node's INFO server reports version.
func checkServerVersion(t *testing.T, nodes []*node, version string) {
	t.Helper()
	for _, nd := range nodes {
		var got string
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d to answer INFO server", nd.id), func() error {
			info, err := nd.info(context.Background(), "server")
			got = info["rkv_version"]
			return err
		})
		if got != version {
			t.Fatalf("node %d runs rkv %s, want %s", nd.id, got, version)
		}
	}
}

// failover makes nd the leader with CLUSTER FAILOVER, retried until every
// running node follows it (a follower still catching up refuses).
func failover(t *testing.T, c *cluster, nd *node) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("node %d to take over leadership", nd.id), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if l, err := c.leaderNow(ctx); err == nil && l == nd {
			return nil
		}
		if err := nd.rdb.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
			return err
		}
		l, err := c.leaderNow(ctx)
		if err == nil && l != nd {
			err = fmt.Errorf("node %d leads", l.id)
		}
		return err
	})
}
