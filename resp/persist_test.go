package resp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rkv/rkv/store"
)

// TestSaveWritesRestorableSnapshot: SAVE leaves a whole snapshot of the
// keyspace in the data directory, which a store restores to the same
// digest; BGSAVE writes one too, and LASTSAVE and INFO report them.
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
	if got, err := c.Do(ctx, "save").Result(); err != nil || got != "OK" {
		t.Fatalf("SAVE = %v, %v", got, err)
	}
	f, err := os.Open(filepath.Join(nd.srv.cfg.Dir, saveFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	restored := store.New()
	if err := restored.Restore(f); err != nil {
		t.Fatal(err)
	}
	if restored.Digest() != nd.store.Digest() {
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
