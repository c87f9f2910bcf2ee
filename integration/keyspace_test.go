package integration

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestKeyspaceNotificationsOnFollower: notify-keyspace-events set through
// the leader reaches every node (it is replicated), and a subscriber on
// each follower receives the events of writes sent to the leader, once
// each and in the order they were applied.
func TestKeyspaceNotificationsOnFollower(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := leader.rdb.ConfigSet(ctx, "notify-keyspace-events", "KEA").Err(); err != nil {
		t.Fatalf("CONFIG SET on the leader: %v", err)
	}
	var subs []*keyspaceListener
	for _, f := range c.followers(leader) {
		subs = append(subs, newKeyspaceListener(t, f.addr))
	}
	writes := [][]any{
		{"SET", "ks:a", "1"}, {"INCR", "ks:a"}, {"LPUSH", "ks:l", "x", "y"}, {"RPOP", "ks:l"},
		{"RPOP", "ks:l"}, {"HSET", "ks:h", "f", "v"}, {"EXPIRE", "ks:a", "100"}, {"RENAME", "ks:a", "ks:b"},
		{"DEL", "ks:b", "ks:h"}, {"PUBLISH", "ks:done", "end"},
	}
	for _, w := range writes {
		if err := leader.rdb.Do(ctx, w...).Err(); err != nil {
			t.Fatalf("%v: %v", w, err)
		}
	}
	want := []string{
		"__keyspace@0__:ks:a set", "__keyevent@0__:set ks:a",
		"__keyspace@0__:ks:a incrby", "__keyevent@0__:incrby ks:a",
		"__keyspace@0__:ks:l lpush", "__keyevent@0__:lpush ks:l",
		"__keyspace@0__:ks:l rpop", "__keyevent@0__:rpop ks:l",
		"__keyspace@0__:ks:l rpop", "__keyevent@0__:rpop ks:l",
		"__keyspace@0__:ks:l del", "__keyevent@0__:del ks:l",
		"__keyspace@0__:ks:h hset", "__keyevent@0__:hset ks:h",
		"__keyspace@0__:ks:a expire", "__keyevent@0__:expire ks:a",
		"__keyspace@0__:ks:a rename_from", "__keyevent@0__:rename_from ks:a",
		"__keyspace@0__:ks:b rename_to", "__keyevent@0__:rename_to ks:b",
		"__keyspace@0__:ks:b del", "__keyevent@0__:del ks:b",
		"__keyspace@0__:ks:h del", "__keyevent@0__:del ks:h",
	}
	for i, s := range subs {
		if got := s.until(t, "ks:done"); !slices.Equal(got, want) {
			t.Errorf("follower subscriber %d got\n%q\nwant\n%q", i, got, want)
		}
	}
}

// keyspaceListener is a raw PSUBSCRIBE to every keyspace channel and
// ks:done.
type keyspaceListener struct{ rc *respConn }

func newKeyspaceListener(t *testing.T, addr string) *keyspaceListener {
	t.Helper()
	rc := dialRESP(t, "subscriber@"+addr, addr)
	for _, p := range []string{"__key*__:*", "ks:done"} {
		if v := rc.do(t, "PSUBSCRIBE", p); len(v.elems) != 3 || v.elems[0].str != "psubscribe" {
			t.Fatalf("PSUBSCRIBE %s on %s = %s", p, addr, v)
		}
	}
	return &keyspaceListener{rc}
}

// until returns the messages received before one on channel done.
func (l *keyspaceListener) until(t *testing.T, done string) []string {
	t.Helper()
	l.rc.c.SetDeadline(time.Now().Add(20 * time.Second))
	var out []string
	for {
		v := l.rc.read(t)
		if len(v.elems) != 4 {
			t.Fatalf("not a pmessage: %s", v)
		}
		if v.elems[2].str == done {
			return out
		}
		out = append(out, v.elems[2].str+" "+v.elems[3].str)
	}
}
