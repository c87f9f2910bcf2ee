package resp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rkv/rkv/replica"
)

// A key stamped by a leader whose clock was an hour ahead expired by the
// log's clock: every read path of every node (the leader's linearizable
// reads, READONLY reads and keyless reads on followers), all running on a
// local clock an hour behind, sees it gone, and the leader's active expiry
// deletes it.
func TestExpiredKeyStaysGoneWithClockBehind(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader := leaderOf(t, nodes)
	ahead := time.Now().Add(time.Hour).UnixMilli()
	for _, e := range []struct {
		stamp int64
		cmd   string
	}{
		{ahead, "set k v px 100"},
		{ahead + 1000, "set other x"}, // the log's clock passes k's deadline
	} {
		var args [][]byte
		for _, f := range strings.Fields(e.cmd) {
			args = append(args, []byte(f))
		}
		if _, err := leader.node.Propose(ctx, replica.EncodeCommand(nil, e.stamp, args)); err != nil {
			t.Fatal(err)
		}
	}

	keyed := []struct{ cmd, want string }{
		{"get k", "nil"},
		{"mget k other", "[<nil> x]"},
		{"exists k", "0"},
		{"touch k", "0"},
		{"ttl k", "-2"},
		{"pttl k", "-2"},
		{"expiretime k", "-2"},
		{"pexpiretime k", "-2"},
		{"type k", "none"},
		{"strlen k", "0"},
		{"getrange k 0 -1", ""},
	}
	keyless := []struct{ cmd, want string }{
		{"keys *", "[other]"},
		{"scan 0 count 100", "[0 [other]]"},
		{"randomkey", "other"},
	}
	check := func(conn interface {
		Do(context.Context, ...any) *redis.Cmd
	}, who string, cases []struct{ cmd, want string }) {
		t.Helper()
		for _, c := range cases {
			var args []any
			for _, f := range strings.Fields(c.cmd) {
				args = append(args, f)
			}
			v, err := conn.Do(ctx, args...).Result()
			if errors.Is(err, redis.Nil) {
				v, err = "nil", nil
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", who, c.cmd, err)
			}
			if got := fmt.Sprint(v); got != c.want {
				t.Errorf("%s: %s = %q, want %q", who, c.cmd, got, c.want)
			}
		}
	}
	for _, tn := range nodes {
		if tn == leader {
			check(tn.client, "leader", append(keyed, keyless...))
			continue
		}
		conn := tn.client.Conn()
		defer conn.Close()
		if err := conn.ReadOnly(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// Poll until the follower has applied both writes.
		deadline := time.Now().Add(5 * time.Second)
		for conn.Get(ctx, "other").Val() != "x" {
			if time.Now().After(deadline) {
				t.Fatalf("follower %d did not apply the writes", tn.id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		check(conn, fmt.Sprintf("READONLY follower %d", tn.id), append(keyed, keyless...))
		check(tn.client, fmt.Sprintf("follower %d", tn.id), keyless)
	}

	// DBSIZE counts k until its deletion is applied, as in Redis.
	for _, tn := range nodes {
		deadline := time.Now().Add(5 * time.Second)
		for tn.client.DBSize(ctx).Val() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("node %d: DBSIZE = %d; the leader's active expiry did not delete k", tn.id, tn.client.DBSize(ctx).Val())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
