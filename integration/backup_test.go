package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// runRkv runs the rkv binary with args (a subcommand) and returns its
// combined output.
func runRkv(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rkvBin, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "RKV_REQUIREPASS=") })
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// restoreInto returns a cluster option that seeds each node's directory
// from the backup file with rkv restore, given the node's own flags.
func restoreInto(t *testing.T, file string) func(nd *node) {
	return func(nd *node) {
		out, err := runRkv(t, append([]string{"restore", "--file", file}, nd.args...)...)
		if err != nil {
			t.Fatalf("rkv restore for node %d: %v\n%s", nd.id, err, out)
		}
		t.Logf("node %d: %s", nd.id, strings.TrimSpace(out))
	}
}

// backupDBs are the databases the backup tests fill.
var backupDBs = []int{0, 5, 15}

// loadTypes writes, through the node at addr, keys of every type into each
// of backupDBs, some with a distant expiry, plus an ACL user and a cached
// script: the replicated state a backup must carry.
func loadTypes(t *testing.T, addr string, perDB int) {
	t.Helper()
	ctx := context.Background()
	for _, db := range backupDBs {
		rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db, MaxRetries: -1, ReadTimeout: 10 * time.Second})
		for start := 0; start < perDB; start += 200 {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := start; i < min(start+200, perDB); i++ {
					k := fmt.Sprintf("db%d:%d", db, i)
					switch i % 7 {
					case 0:
						p.Set(ctx, k+":s", strings.Repeat("x", i%50), 0)
					case 1:
						p.Set(ctx, k+":ttl", i, 100*time.Hour)
					case 2:
						p.HSet(ctx, k+":h", "a", i, "b", "two")
					case 3:
						p.RPush(ctx, k+":l", i, i+1, i+2)
					case 4:
						p.SAdd(ctx, k+":set", i, "m", strconv.Itoa(i*3))
					case 5:
						p.ZAdd(ctx, k+":z", redis.Z{Score: float64(i), Member: "a"}, redis.Z{Score: 0.5, Member: "b"})
					default:
						p.XAdd(ctx, &redis.XAddArgs{Stream: k + ":x", Values: []any{"f", i}})
					}
				}
				return nil
			})
			if err != nil {
				rdb.Close()
				t.Fatalf("loading db %d: %v", db, err)
			}
		}
		rdb.Close()
	}
	rdb := client(t, addr)
	if err := rdb.Do(ctx, "ACL", "SETUSER", "backup-user", "on", ">pw", "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptLoad(ctx, "return 'restored'").Err(); err != nil {
		t.Fatal(err)
	}
}

// checkReplicatedExtras checks that the ACL user and the script loadTypes
// made are on the node at addr.
func checkReplicatedExtras(t *testing.T, addr string) {
	t.Helper()
	ctx := context.Background()
	rdb := client(t, addr)
	users, err := rdb.Do(ctx, "ACL", "USERS").StringSlice()
	if err != nil || !slices.Contains(users, "backup-user") {
		t.Errorf("ACL USERS = %v, %v; want backup-user among them", users, err)
	}
	if got, err := rdb.EvalSha(ctx, scriptSHA(t, rdb), nil).Text(); err != nil || got != "restored" {
		t.Errorf("EVALSHA of the cached script = %q, %v", got, err)
	}
}

// scriptSHA is the SHA1 of loadTypes's script, as SCRIPT LOAD names it.
func scriptSHA(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	sha, err := rdb.ScriptLoad(context.Background(), "return 'restored'").Result()
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// TestBackupRestoreCluster: a backup taken through a follower (rkv backup
// follows MOVED to the leader) of a 3-node cluster holding every type in
// several databases, restored into three new directories, starts a new
// 3-node cluster whose state digest is the source's, with its ACL users
// and scripts.
func TestBackupRestoreCluster(t *testing.T) {
	src := newCluster(t, 3, clusterOpts{})
	leader := src.leader(30 * time.Second)
	loadTypes(t, leader.addr, 1200)
	want := waitSameDigest(t, src)
	file := filepath.Join(t.TempDir(), "cluster.rkv")
	out, err := runRkv(t, "backup", "--from", src.followers(leader)[0].addr, "--out", file)
	if err != nil {
		t.Fatalf("rkv backup: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	if !strings.Contains(out, "backup of "+leader.addr) || !strings.Contains(out, fmt.Sprintf(" %d keys", 3*1200)) {
		t.Fatalf("rkv backup printed %q: want the leader %s and %d keys", out, leader.addr, 3*1200)
	}
	if got := waitSameDigest(t, src); got != want {
		t.Fatalf("the source's digest moved from %s to %s with no writes", want, got)
	}

	dst := newCluster(t, 3, clusterOpts{prepare: restoreInto(t, file)})
	dstLeader := dst.leader(30 * time.Second)
	if got := waitSameDigest(t, dst); got != want {
		t.Fatalf("restored cluster's digest %s, the source's %s", got, want)
	}
	checkReplicatedExtras(t, dstLeader.addr)
	// The restored cluster takes writes as any other.
	if err := dstLeader.rdb.Set(context.Background(), "after-restore", "1", 0).Err(); err != nil {
		t.Fatalf("write to the restored cluster: %v", err)
	}
	waitSameDigest(t, dst)
}

// TestBackupIsConsistentPrefix: a backup taken while one client writes in
// order (seq:i in database 2, then counter = i in database 0) holds a
// prefix of those writes that includes every write acknowledged before
// the backup started: counter = c with every seq:j for j <= c and none
// past c+1. Restored into one node that a second one then joins, both
// hold it.
func TestBackupIsConsistentPrefix(t *testing.T) {
	src := newCluster(t, 3, clusterOpts{})
	leader := src.leader(30 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counter := redis.NewClient(&redis.Options{Addr: leader.addr, MaxRetries: -1})
	defer counter.Close()
	seqs := redis.NewClient(&redis.Options{Addr: leader.addr, DB: 2, MaxRetries: -1})
	defer seqs.Close()
	type progress struct {
		acked int
		err   error
	}
	acked := make(chan progress, 1)
	acked <- progress{}
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 1; ctx.Err() == nil; i++ {
			err := seqs.Set(ctx, fmt.Sprintf("seq:%d", i), i, 0).Err()
			if err == nil {
				err = counter.Set(ctx, "counter", i, 0).Err()
			}
			p := <-acked
			if err != nil {
				if ctx.Err() == nil {
					p.err = err
				}
				acked <- p
				return
			}
			p.acked = i
			acked <- p
		}
	}()
	peek := func() progress { p := <-acked; acked <- p; return p }
	waitFor(t, 30*time.Second, "200 ordered writes", func() error {
		if p := peek(); p.err != nil || p.acked < 200 {
			return fmt.Errorf("%d acknowledged, err %v", p.acked, p.err)
		}
		return nil
	})
	before := peek().acked
	file := filepath.Join(t.TempDir(), "prefix.rkv")
	out, err := runRkv(t, "backup", "--from", leader.addr, "--out", file)
	if err != nil {
		t.Fatalf("rkv backup: %v\n%s", err, out)
	}
	after := peek()
	cancel()
	<-written
	if after.err != nil {
		t.Fatalf("writer: %v", after.err)
	}
	t.Logf("%s (writes acknowledged: %d before, %d after)", strings.TrimSpace(out), before, after.acked)

	dst := newCluster(t, 1, clusterOpts{prepare: restoreInto(t, file)})
	first := dst.leader(30 * time.Second)
	dst.addJoiner(2, first.addr)
	dst.waitConverged(30 * time.Second)
	waitSameDigest(t, dst)
	for _, nd := range dst.running() {
		c, err := readonlyClient(t, nd.addr).Get(context.Background(), "counter").Int()
		if err != nil {
			t.Fatalf("node %d: GET counter: %v", nd.id, err)
		}
		if c < before || c > after.acked {
			t.Fatalf("node %d: counter %d, want between %d (acknowledged before the backup) and %d", nd.id, c, before, after.acked)
		}
		db2 := redis.NewClient(&redis.Options{Addr: nd.addr, DB: 2, MaxRetries: -1,
			OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
		n, err := db2.DBSize(context.Background()).Result()
		if err == nil && n != int64(c) && n != int64(c)+1 {
			err = fmt.Errorf("database 2 holds %d keys for counter %d", n, c)
		}
		for _, j := range []int{1, c / 2, c} {
			if err == nil {
				err = db2.Get(context.Background(), fmt.Sprintf("seq:%d", j)).Err()
			}
		}
		db2.Close()
		if err != nil {
			t.Fatalf("node %d: not a prefix: %v", nd.id, err)
		}
	}
}

// TestRestoreRefuses: rkv restore seeds a node from SAVE's dump.rkv, and
// refuses a directory that is not empty and a backup damaged or cut short,
// each with an error that says so.
func TestRestoreRefuses(t *testing.T) {
	src := newCluster(t, 1, clusterOpts{})
	nd := src.leader(30 * time.Second)
	ctx := context.Background()
	for i := range 100 {
		if err := nd.rdb.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := nd.rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	want := waitSameDigest(t, src)
	good, err := os.ReadFile(filepath.Join(nd.dir, "dump.rkv"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	for _, tc := range []struct {
		name, file, dir, want string
	}{
		{"flipped byte", write("flipped.rkv", flipped), filepath.Join(tmp, "d1"), "checksum mismatch"},
		{"truncated", write("truncated.rkv", good[:len(good)-100]), filepath.Join(tmp, "d2"), "truncated"},
		{"not a backup", write("garbage.rkv", []byte("hello")), filepath.Join(tmp, "d3"), "not a whole rkv backup"},
		{"directory not empty", write("good.rkv", good), nd.dir, "is not empty"},
	} {
		out, err := runRkv(t, "restore", "--file", tc.file, "--dir", tc.dir)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: rkv restore = %v, %q; want a failure saying %q", tc.name, err, out, tc.want)
		}
		if tc.dir != nd.dir {
			if _, err := os.Stat(tc.dir); err == nil {
				t.Errorf("%s: the refused restore created %s", tc.name, tc.dir)
			}
		}
	}

	dst := newCluster(t, 1, clusterOpts{prepare: restoreInto(t, filepath.Join(tmp, "good.rkv"))})
	dst.leader(30 * time.Second)
	if got := waitSameDigest(t, dst); got != want {
		t.Fatalf("node restored from dump.rkv: digest %s, the source's %s", got, want)
	}
}

// TestBackupAuthAndTLS: rkv backup speaks TLS with a client certificate to
// a node that requires one, authenticates with --pass or
// --requirepass-file, and fails with the node's refusal when the password
// is wrong or missing.
func TestBackupAuthAndTLS(t *testing.T) {
	f := newTLSFiles(t)
	c := newCluster(t, 1, clusterOpts{
		extraArgs: append(f.nodeArgs(), "--requirepass", "s3cret"),
		clientTLS: f.clientConfig(t, f.clientCert, f.clientKey),
		password:  "s3cret",
	})
	nd := c.leader(30 * time.Second)
	if err := nd.rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsArgs := []string{"--tls-cert-file", f.clientCert, "--tls-key-file", f.clientKey, "--tls-ca-cert-file", f.caFile}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the output; "" for success
	}{
		{"password", append(slices.Clone(tlsArgs), "--pass", "s3cret"), ""},
		{"password file", append(slices.Clone(tlsArgs), "--user", "default", "--requirepass-file", passFile), ""},
		{"wrong password", append(slices.Clone(tlsArgs), "--pass", "nope"), "WRONGPASS"},
		{"no password", tlsArgs, "NOAUTH"},
	} {
		out, err := runRkv(t, append([]string{"backup", "--from", nd.addr, "--out", filepath.Join(dir, "b.rkv")}, tc.args...)...)
		switch {
		case tc.want == "" && (err != nil || !strings.Contains(out, "1 keys")):
			t.Errorf("%s: rkv backup = %v, %q; want a backup of 1 key", tc.name, err, out)
		case tc.want != "" && (err == nil || !strings.Contains(out, tc.want)):
			t.Errorf("%s: rkv backup = %v, %q; want a failure saying %s", tc.name, err, out, tc.want)
		}
	}
}
