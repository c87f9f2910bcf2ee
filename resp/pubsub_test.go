package resp

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rkv/rkv/store"
)

// next reads one pushed value.
func (r *rawConn) next() string {
	r.t.Helper()
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	if err := r.readValue(&b); err != nil {
		r.t.Fatalf("reading a pushed value: %v (read %q)", err, b.String())
	}
	return b.String()
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func push(words ...string) string {
	out := fmt.Sprintf("*%d\r\n", len(words))
	for _, w := range words {
		if strings.HasPrefix(w, ":") {
			out += w + "\r\n"
		} else {
			out += bulk(w)
		}
	}
	return out
}

// TestPublishReachesEveryNode: subscribers on the leader and on both
// followers receive each PUBLISH and SPUBLISH once, in the order the log
// has them, and the leader answers with its own receivers.
func TestPublishReachesEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	subs := make([]*rawConn, len(nodes))
	for i, tn := range nodes {
		subs[i] = dialRaw(t, tn.addr)
		wantReplies(t, subs[i].do("SUBSCRIBE news", "PSUBSCRIBE n*", "SSUBSCRIBE {s}orders"),
			push("subscribe", "news", ":1"), push("psubscribe", "n*", ":2"), push("ssubscribe", "{s}orders", ":1"))
	}
	ctx := context.Background()
	const n = 50
	for i := range n {
		got, err := leader.client.Publish(ctx, "news", fmt.Sprint("m", i)).Result()
		if err != nil || got != 2 {
			t.Fatalf("PUBLISH #%d = %d, %v; want 2 (the leader's channel and pattern subscriber)", i, got, err)
		}
		got, err = leader.client.SPublish(ctx, "{s}orders", fmt.Sprint("o", i)).Result()
		if err != nil || got != 1 {
			t.Fatalf("SPUBLISH #%d = %d, %v; want 1", i, got, err)
		}
	}
	for j, sub := range subs {
		for i := range n {
			m := fmt.Sprint("m", i)
			want := []string{push("message", "news", m), push("pmessage", "n*", "news", m),
				push("smessage", "{s}orders", fmt.Sprint("o", i))}
			for _, w := range want {
				if got := sub.next(); got != w {
					t.Fatalf("node %d, message %d: got %q, want %q", nodes[j].id, i, got, w)
				}
			}
		}
		// Nothing more: the next value is the reply to this PING.
		wantReplies(t, sub.do("PING"), push("pong", ""))
	}
	for _, tn := range nodes {
		if tn == leader {
			continue
		}
		if err := tn.client.Publish(ctx, "news", "x").Err(); err == nil || err.Error() != "MOVED 0 "+leader.addr {
			t.Errorf("PUBLISH on follower %d: %v, want MOVED 0 %s", tn.id, err, leader.addr)
		}
		want := fmt.Sprintf("MOVED %d %s", store.KeySlot([]byte("s")), leader.addr)
		if err := tn.client.SPublish(ctx, "{s}orders", "x").Err(); err == nil || err.Error() != want {
			t.Errorf("SPUBLISH on follower %d: %v, want %s", tn.id, err, want)
		}
	}
}

func TestSubscribedConnection(t *testing.T) {
	nodes := startCluster(t, 1)
	c := dialRaw(t, nodes[0].addr)
	wantReplies(t, c.do("UNSUBSCRIBE", "PUNSUBSCRIBE a", "SUNSUBSCRIBE"),
		"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n", push("punsubscribe", "a", ":0"), "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n")
	wantReplies(t, c.do("SET k v", "SUBSCRIBE a a b"), "+OK\r\n", push("subscribe", "a", ":1"))
	wantReplies(t, []string{c.next(), c.next()}, push("subscribe", "a", ":1"), push("subscribe", "b", ":2"))
	wantReplies(t, c.do("GET k", "CLIENT ID", "GETT", "PING", "PING hi", "PING a b"),
		"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
		"-ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
		"-ERR unknown command 'GETT', with args beginning with: \r\n",
		push("pong", ""), push("pong", "hi"), "-ERR wrong number of arguments for 'ping' command\r\n")
	wantReplies(t, c.do("PSUBSCRIBE p*", "SSUBSCRIBE s"), push("psubscribe", "p*", ":3"), push("ssubscribe", "s", ":1"))
	admin := nodes[0].client
	ctx := context.Background()
	chans, _ := admin.PubSubChannels(ctx, "*").Result()
	if slices.Sort(chans); strings.Join(chans, ",") != "a,b" {
		t.Errorf("PUBSUB CHANNELS = %q", chans)
	}
	if got, _ := admin.PubSubNumSub(ctx, "a", "z").Result(); got["a"] != 1 || got["z"] != 0 {
		t.Errorf("PUBSUB NUMSUB = %v", got)
	}
	if got, _ := admin.PubSubShardChannels(ctx, "*").Result(); strings.Join(got, ",") != "s" {
		t.Errorf("PUBSUB SHARDCHANNELS = %q", got)
	}
	if got, _ := admin.PubSubNumPat(ctx).Result(); got != 1 {
		t.Errorf("PUBSUB NUMPAT = %d", got)
	}
	// Unsubscribing from everything leaves subscribed mode; a pattern's
	// confirmation counts the channels left, a shard one the shard
	// channels.
	first, second := c.do("UNSUBSCRIBE")[0], c.next()
	if first+second != push("unsubscribe", "a", ":2")+push("unsubscribe", "b", ":1") &&
		first+second != push("unsubscribe", "b", ":2")+push("unsubscribe", "a", ":1") {
		t.Fatalf("UNSUBSCRIBE: %q then %q", first, second)
	}
	wantReplies(t, c.do("PUNSUBSCRIBE", "SUNSUBSCRIBE s", "GET k", "PING"),
		push("punsubscribe", "p*", ":0"), push("sunsubscribe", "s", ":0"), bulk("v"), "+PONG\r\n")
	if got, _ := admin.PubSubChannels(ctx, "*").Result(); len(got) != 0 {
		t.Errorf("PUBSUB CHANNELS after UNSUBSCRIBE = %q", got)
	}
}

// TestSlowSubscriberIsDisconnected: a subscriber that does not read is
// closed once its unread messages pass the pubsub class's hard limit,
// while PUBLISH goes on being answered.
func TestSlowSubscriberIsDisconnected(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	admin := nodes[0].client
	if err := admin.ConfigSet(ctx, "client-output-buffer-limit", "pubsub 256kb 128kb 60").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := admin.ConfigGet(ctx, "client-output-buffer-limit").Result(); !strings.Contains(got["client-output-buffer-limit"], "pubsub 262144 131072 60") {
		t.Fatalf("CONFIG GET client-output-buffer-limit = %q", got)
	}
	slow := dialRaw(t, nodes[0].addr)
	wantReplies(t, slow.do("SUBSCRIBE flood"), push("subscribe", "flood", ":1"))
	payload := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := admin.Publish(ctx, "flood", payload).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break // the subscriber is gone
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscriber that does not read is still subscribed")
		}
	}
	// Its connection is closed: reading ends in an error, not a wait.
	slow.c.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 1<<16)
	total := 0
	for {
		n, err := slow.c.Read(buf)
		total += n
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection of the slow subscriber was not closed (read %d bytes)", total)
			}
			break
		}
	}
}

// TestChannelPermissions: a user reaches only the channels its &patterns
// allow; a PSUBSCRIBE pattern must be one of them, literally.
func TestChannelPermissions(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	if err := nodes[0].client.Do(ctx, "ACL", "SETUSER", "ann", "on", ">pw", "+@all", "~*", "resetchannels", "&news.*").Err(); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, nodes[0].addr)
	const noperm = "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
	wantReplies(t, c.do("AUTH ann pw", "PUBLISH other x", "PUBLISH news.1 x", "SUBSCRIBE news.1 other", "PSUBSCRIBE news", "PSUBSCRIBE news.*"),
		"+OK\r\n", noperm, ":0\r\n", noperm, noperm, push("psubscribe", "news.*", ":1"))
	ann := redis.NewClient(&redis.Options{Addr: nodes[0].addr, Username: "ann", Password: "pw"})
	defer ann.Close()
	if n, err := ann.Publish(ctx, "news.2", "hi").Result(); err != nil || n != 1 {
		t.Fatalf("PUBLISH news.2 = %d, %v", n, err)
	}
	wantReplies(t, []string{c.next()}, push("pmessage", "news.*", "news.2", "hi"))
}
