package resp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// TestSaveWritesRestorableSnapshot: SAVE leaves a whole backup of the
// node's state in the data directory, whose snapshot restores to the same
// digest; BGSAVE writes one too, and LASTSAVE and INFO report them, the
// changes since the last save included.
func TestSaveWritesRestorableSnapshot(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	nd := nodes[0]
	nd.srv.cfg.Dir = t.TempDir()
	c := nd.client
	before := time.Now().Unix()
	for _, args := range [][]any{{"set", "a", "1"}, {"rpush", "l", "x", "y"}, {"hset", "h", "f", "v"}} {
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got := infoField(t, c, "rdb_changes_since_last_save"); got != "3" {
		t.Fatalf("rdb_changes_since_last_save = %s before SAVE, want 3", got)
	}
	if got, err := c.Do(ctx, "save").Result(); err != nil || got != "OK" {
		t.Fatalf("SAVE = %v, %v", got, err)
	}
	if got := infoField(t, c, "rdb_changes_since_last_save"); got != "0" {
		t.Fatalf("rdb_changes_since_last_save = %s after SAVE, want 0", got)
	}
	f, err := os.Open(filepath.Join(nd.srv.cfg.Dir, saveFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, data, err := replica.ReadBackup(f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != 3 || info.Index == 0 {
		t.Fatalf("backup info %+v: want 3 keys at an index", info)
	}
	if restored := restoreBackup(t, data); restored.Digest() != nd.store.Digest() {
		t.Fatal("the saved snapshot differs from the store")
	}
	if last, err := c.Do(ctx, "lastsave").Int64(); err != nil || last < before {
		t.Fatalf("LASTSAVE = %d, %v; saved after %d", last, err, before)
	}
	if got, err := c.Do(ctx, "bgsave").Result(); err != nil || got != "Background saving started" {
		t.Fatalf("BGSAVE = %v, %v", got, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(ctx, "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "rdb_bgsave_in_progress:0") {
			if !strings.Contains(info, "rdb_last_bgsave_status:ok") {
				t.Fatalf("INFO persistence = %q", info)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BGSAVE did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Do(ctx, "bgsave", "now").Err(); err == nil || err.Error() != errSyntax {
		t.Fatalf("BGSAVE now = %v", err)
	}
}

// restoreBackup restores a backup's snapshot into a new store.
func restoreBackup(t *testing.T, data []byte) *store.Store {
	t.Helper()
	acl, _ := NewACL("", nil)
	st := store.New()
	m := replica.NewStateMachine(st, replica.NewMembers(nil, nil), acl, 1, quietLogger(), nil)
	if err := m.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return st
}

// infoField returns a field of INFO.
func infoField(t *testing.T, c *redis.Client, name string) string {
	t.Helper()
	info, err := c.Info(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO has no %s", name)
	return ""
}

// TestClusterBackup: CLUSTER RKV-BACKUP on the leader answers a backup of
// everything committed, whose snapshot restores to the leader's digest,
// also after a pipelined command whose reply precedes it; a follower
// answers MOVED to the leader.
func TestClusterBackup(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader := leaderOf(t, nodes)
	for i := range 200 {
		if err := leader.client.Do(ctx, "set", fmt.Sprintf("k%d", i), strings.Repeat("v", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// RESP2's reply is streamed from the file, RESP3's captured first.
	for _, protocol := range []int{2, 3} {
		c := redis.NewClient(&redis.Options{Addr: leader.addr, Protocol: protocol})
		defer c.Close()
		checkBackup(t, c, leader)
	}
	for _, nd := range nodes {
		if nd == leader {
			continue
		}
		err := nd.client.Do(ctx, "cluster", "rkv-backup").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "MOVED 0 "+leader.addr) {
			t.Fatalf("CLUSTER RKV-BACKUP on a follower: %v, want MOVED to %s", err, leader.addr)
		}
	}
}

// checkBackup asks for a backup after a pipelined PING and checks both
// replies.
func checkBackup(t *testing.T, c *redis.Client, leader *testNode) {
	t.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	ping := pipe.Ping(ctx)
	backup := pipe.Do(ctx, "cluster", "rkv-backup")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if ping.Val() != "PONG" {
		t.Fatalf("PING before the backup = %q", ping.Val())
	}
	raw, err := backup.Text()
	if err != nil {
		t.Fatal(err)
	}
	info, data, err := replica.ReadBackup(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != 200 {
		t.Fatalf("backup holds %d keys, want 200", info.Keys)
	}
	if restoreBackup(t, data).Digest() != leader.store.Digest() {
		t.Fatal("the backup differs from the leader's store")
	}
}
