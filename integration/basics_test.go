package integration

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSingleNodeBasics drives one node with an ordinary go-redis client
// (default options, so it also exercises the HELLO 3 -> RESP2 fallback).
func TestSingleNodeBasics(t *testing.T) {
	c := newCluster(t, 1, clusterOpts{})
	nd := c.leader(10 * time.Second)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: nd.addr})
	t.Cleanup(func() { rdb.Close() })

	if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
	if _, err := rdb.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET missing: err = %v, want redis.Nil", err)
	}
	for want := int64(1); want <= 3; want++ {
		if got, err := rdb.Incr(ctx, "counter").Result(); err != nil || got != want {
			t.Fatalf("INCR = %d, %v; want %d", got, err, want)
		}
	}
	if err := rdb.Incr(ctx, "k").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Fatalf("INCR on a non-integer: err = %v", err)
	}
	if got, err := rdb.Del(ctx, "k", "missing").Result(); err != nil || got != 1 {
		t.Fatalf("DEL k missing = %d, %v; want 1", got, err)
	}
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k after DEL = %d, %v", n, err)
	}

	rdb.Set(ctx, "ttl", "x", 0)
	if got, err := rdb.TTL(ctx, "ttl").Result(); err != nil || got != -1 {
		// go-redis returns the raw -1 as a Duration for "no expiry".
		t.Fatalf("TTL without expiry = %v, %v; want -1", got, err)
	}
	if ok, err := rdb.Expire(ctx, "ttl", 100*time.Second).Result(); err != nil || !ok {
		t.Fatalf("EXPIRE = %v, %v", ok, err)
	}
	if got, err := rdb.TTL(ctx, "ttl").Result(); err != nil || got < 98*time.Second || got > 100*time.Second {
		t.Fatalf("TTL = %v, %v; want about 100s", got, err)
	}
	if got, err := rdb.TTL(ctx, "missing").Result(); err != nil || got != -2 {
		t.Fatalf("TTL missing = %v, %v; want -2", got, err)
	}
	// A short expiry must really remove the key (the leader's expiry runs
	// through the log).
	rdb.Set(ctx, "short", "x", 0)
	if ok, err := rdb.PExpire(ctx, "short", 150*time.Millisecond).Result(); err != nil || !ok {
		t.Fatalf("PEXPIRE = %v, %v", ok, err)
	}
	waitFor(t, 5*time.Second, "the key with a 150ms TTL to expire", func() error {
		if n, err := rdb.Exists(ctx, "short").Result(); err != nil || n != 0 {
			return errors.New("still there")
		}
		return nil
	})

	if err := rdb.MSet(ctx, "a", "1", "b", "2").Err(); err != nil {
		t.Fatalf("MSET: %v", err)
	}
	vals, err := rdb.MGet(ctx, "a", "nope", "b").Result()
	if err != nil || len(vals) != 3 || vals[0] != "1" || vals[1] != nil || vals[2] != "2" {
		t.Fatalf("MGET a nope b = %#v, %v", vals, err)
	}

	inf, err := nd.info(ctx, "raft")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"raft_role": "leader", "raft_node_id": "1", "raft_leader_id": "1",
		"raft_leader_addr": nd.addr, "raft_voters": "1",
	} {
		if inf[k] != want {
			t.Errorf("INFO raft %s = %q, want %q", k, inf[k], want)
		}
	}
	if inf["raft_commit_index"] == "" || inf["raft_applied_index"] == "" || inf["raft_term"] == "" {
		t.Errorf("INFO raft lacks index or term fields: %v", inf)
	}
	// Every log write syncs at least once (entries or hard state), and
	// the writes above carried entries.
	counts := map[string]uint64{}
	for _, k := range []string{"raft_log_writes", "raft_log_entries_written", "raft_log_bytes_written", "raft_log_fsyncs"} {
		if counts[k], err = nd.raftUint(ctx, k); err != nil || counts[k] == 0 {
			t.Errorf("INFO raft %s = %d, %v; want a count above 0", k, counts[k], err)
		}
	}
	if counts["raft_log_fsyncs"] < counts["raft_log_writes"] {
		t.Errorf("INFO raft: %d fsyncs for %d log writes", counts["raft_log_fsyncs"], counts["raft_log_writes"])
	}
	if cpu, err := nd.info(ctx, "cpu"); err != nil || cpu["go_goroutine_runs"] == "" || cpu["go_goroutine_runs"] == "0" {
		t.Errorf("INFO cpu go_goroutine_runs = %q, %v; want a count above 0", cpu["go_goroutine_runs"], err)
	}

	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || len(slots[0].Nodes) != 1 ||
		slots[0].Nodes[0].Addr != nd.addr || len(slots[0].Nodes[0].ID) != 40 {
		t.Fatalf("CLUSTER SLOTS = %+v; want one range 0-16383 served by %s", slots, nd.addr)
	}

	if err := rdb.Do(ctx, "get").Err(); err == nil || err.Error() != "ERR wrong number of arguments for 'get' command" {
		t.Fatalf("GET without a key: err = %v", err)
	}
	if err := rdb.Do(ctx, "set", "onlykey").Err(); err == nil || err.Error() != "ERR wrong number of arguments for 'set' command" {
		t.Fatalf("SET with one argument: err = %v", err)
	}
	err = rdb.Do(ctx, "nosuchcmd", "x").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command 'nosuchcmd', with args beginning with: 'x'") {
		t.Fatalf("unknown command: err = %v", err)
	}
	// The connection is still usable after errors.
	if got, err := rdb.Get(ctx, "counter").Result(); err != nil || got != "3" {
		t.Fatalf("GET counter after errors = %q, %v", got, err)
	}
}

// TestBadFlags checks the command-line contract: a bad flag or a bad
// configuration is one line on stderr and exit status 2.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"--cluster", "1=x"},
		{"--election-timeout", "10ms", "--heartbeat-interval", "50ms"},
		{"--id", "0"},
		{"--id", "2", "--id-from-hostname"},
		{"--tls-cert-file", "node.crt"},
		{"--tls-cluster", "yes"},
		{"--tls-cluster", "maybe"},
		{"--tls-auth-clients", "sometimes"},
		{"--tls-cert-file", "node.crt", "--tls-key-file", "node.key"},
		{"--tls-cert-file", "missing.crt", "--tls-key-file", "missing.key", "--tls-auth-clients", "no"},
		{"--learner"},
		{"--learner", "--cluster", "1=127.0.0.1:6379"},
		{"recover", "--dir", "d"},
		{"recover", "--force-new-cluster", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(rkvBin, args...)
			// A run directory of its own, so a node that wrongly starts
			// does not write rkv-data into the source tree.
			cmd.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("rkv %v did not exit", args)
			}
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			msg := stderr.String()
			if lines := strings.Split(strings.TrimRight(msg, "\n"), "\n"); len(lines) != 1 || strings.TrimSpace(lines[0]) == "" ||
				!strings.HasSuffix(msg, "\n") {
				t.Errorf("stderr = %q; want exactly one message line", msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q; want nothing", stdout.String())
			}
			t.Logf("stderr: %s", strings.TrimSpace(msg))
		})
	}
}

// TestDataDirLocked: a second process given the --dir of a running node
// stops at once with an error naming the owner, and the node goes on.
func TestDataDirLocked(t *testing.T) {
	c := newCluster(t, 1, clusterOpts{})
	nd := c.leader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, rkvBin, "--addr", "127.0.0.1:"+strconv.Itoa(freePort(t)), "--dir", nd.dir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "is in use by another rkv process (pid ") {
		t.Fatalf("second process on the same --dir: %v\n%s", err, out)
	}
	if err := nd.rdb.Set(context.Background(), "still", "serving", 0).Err(); err != nil {
		t.Fatalf("the node after the refused second process: %v", err)
	}
}

// TestVersion: --version and INFO server name the same build.
func TestVersion(t *testing.T) {
	version := binVersion(t, rkvBin)
	c := newCluster(t, 1, clusterOpts{})
	nd := c.leader(10 * time.Second)
	info, err := nd.info(context.Background(), "server")
	if err != nil || info["rkv_version"] != version {
		t.Fatalf("INFO server rkv_version = %q, %v; --version says %q", info["rkv_version"], err, version)
	}
}
