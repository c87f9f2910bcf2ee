package resp

import (
	"strings"
	"testing"
	"time"
)

// waitBlocked waits until n clients are blocked on srv.
func waitBlocked(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.blocked.count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients blocked, want %d", srv.blocked.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// async sends cmds on r in the background; the replies arrive on the
// returned channel.
func async(r *rawConn, cmds ...string) <-chan []string {
	ch := make(chan []string, 1)
	go func() { ch <- r.do(cmds...) }()
	return ch
}

// TestBlockingPops: a client blocks until another pushes, clients blocked on
// one key are served oldest first (one push of two elements serves two),
// each blocking command pops what it waits for, and CLIENT UNBLOCK ends a
// wait as a timeout or an error.
func TestBlockingPops(t *testing.T) {
	nodes := startCluster(t, 1)
	srv := nodes[0].srv
	a, b, c := dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr)

	first := async(a, "BLPOP q other 0")
	waitBlocked(t, srv, 1)
	second := async(b, "BLPOP other q 0")
	waitBlocked(t, srv, 2)
	if info := c.do("INFO clients")[0]; !strings.Contains(info, "blocked_clients:2\r\n") {
		t.Fatalf("INFO clients with two clients blocked: %q", info)
	}
	wantReplies(t, c.do("RPUSH q x y"), ":2\r\n")
	wantReplies(t, <-first, "*2\r\n$1\r\nq\r\n$1\r\nx\r\n")
	wantReplies(t, <-second, "*2\r\n$1\r\nq\r\n$1\r\ny\r\n")
	waitBlocked(t, srv, 0)

	for _, tc := range []struct{ block, push, want string }{
		{"BRPOP l 0", "RPUSH l 1 2", "*2\r\n$1\r\nl\r\n$1\r\n2\r\n"},
		{"BRPOPLPUSH src dst 0", "RPUSH src v", "$1\r\nv\r\n"},
		{"BLMOVE src dst RIGHT LEFT 0", "RPUSH src w", "$1\r\nw\r\n"},
		{"BLMPOP 0 2 e1 e2 LEFT COUNT 2", "RPUSH e2 a b c", "*2\r\n$2\r\ne2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{"BZPOPMIN z 0", "ZADD z 2 m2 1 m1", "*3\r\n$1\r\nz\r\n$2\r\nm1\r\n$1\r\n1\r\n"},
		{"BZPOPMAX y 0", "ZADD y 5 m5 4 m4", "*3\r\n$1\r\ny\r\n$2\r\nm5\r\n$1\r\n5\r\n"},
	} {
		reply := async(a, tc.block)
		waitBlocked(t, srv, 1)
		c.do(tc.push)
		wantReplies(t, <-reply, tc.want)
		waitBlocked(t, srv, 0)
	}
	wantReplies(t, c.do("LRANGE dst 0 -1"), "*2\r\n$1\r\nw\r\n$1\r\nv\r\n")

	aID := clientIDOf(t, a)
	reply := async(a, "BLPOP none 0")
	waitBlocked(t, srv, 1)
	wantReplies(t, c.do("CLIENT UNBLOCK "+aID+" ERROR", "CLIENT UNBLOCK 999999"), ":1\r\n", ":0\r\n")
	wantReplies(t, <-reply, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
	reply = async(a, "BLPOP none 0")
	waitBlocked(t, srv, 1)
	wantReplies(t, c.do("CLIENT UNBLOCK "+aID), ":1\r\n")
	wantReplies(t, <-reply, "*-1\r\n")
	wantReplies(t, c.do("CLIENT UNBLOCK 1 MAYBE"), "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n")
}

// TestBlockingNeverBlocksInMulti: in a transaction, and on keys already
// holding values, a blocking command answers at once; bad timeouts are
// refused.
func TestBlockingNeverBlocksInMulti(t *testing.T) {
	nodes := startCluster(t, 1)
	a := dialRaw(t, nodes[0].addr)
	wantReplies(t, a.do("MULTI", "BLPOP empty 0", "BRPOPLPUSH empty d 0", "EXEC"),
		"+OK\r\n", queued, queued, "*2\r\n*-1\r\n$-1\r\n")
	wantReplies(t, a.do("RPUSH full v", "BLPOP full 0"), ":1\r\n", "*2\r\n$4\r\nfull\r\n$1\r\nv\r\n")
	wantReplies(t, a.do("BLPOP q -1", "BLPOP q x", "BLPOP q 0.01"),
		"-ERR timeout is negative\r\n", "-ERR timeout is not a float or out of range\r\n", "*-1\r\n")
	wantReplies(t, a.do("SET s v", "BLPOP s 0"), "+OK\r\n", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
}

func clientIDOf(t *testing.T, r *rawConn) string {
	t.Helper()
	reply := r.do("CLIENT ID")[0]
	return reply[1 : len(reply)-2]
}

// TestXReadBlock: XREAD BLOCK waits for an entry after the ID given ("$":
// the last when it arrived), times out with a null, and without BLOCK or
// in MULTI answers at once.
func TestXReadBlock(t *testing.T) {
	nodes := startCluster(t, 1)
	srv := nodes[0].srv
	a, c := dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr)
	wantReplies(t, c.do("XADD s 1-1 f old"), "$3\r\n1-1\r\n")
	reply := async(a, "XREAD BLOCK 0 STREAMS s other $ 0")
	waitBlocked(t, srv, 1)
	wantReplies(t, c.do("XADD s 2-1 f new"), "$3\r\n2-1\r\n")
	wantReplies(t, <-reply, "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$3\r\nnew\r\n")
	waitBlocked(t, srv, 0)
	wantReplies(t, a.do("XREAD BLOCK 10 STREAMS s $", "XREAD BLOCK 0 STREAMS s 1-1"),
		"*-1\r\n", "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$3\r\nnew\r\n")
	wantReplies(t, a.do("MULTI", "XREAD BLOCK 0 STREAMS s $", "EXEC"), "+OK\r\n", queued, "*1\r\n*-1\r\n")
	wantReplies(t, a.do("XREAD BLOCK -1 STREAMS s $"), "-ERR timeout is negative\r\n")
}

// TestWait: WAIT counts the followers that hold the writes answered so
// far, waiting for as many as asked or for the timeout; a follower
// redirects it.
func TestWait(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	a := dialRaw(t, leader.addr)
	wantReplies(t, a.do("SET k v", "WAIT 2 0", "WAIT 3 50", "WAIT 0 0"), "+OK\r\n", ":2\r\n", ":2\r\n", ":2\r\n")
	wantReplies(t, a.do("WAIT x 0", "WAIT 1 -1"), "-ERR value is not an integer or out of range\r\n", "-ERR timeout is negative\r\n")
	for _, tn := range nodes {
		if tn != leader {
			if got := dialRaw(t, tn.addr).do("WAIT 1 0")[0]; !strings.HasPrefix(got, "-MOVED 0 "+leader.addr) {
				t.Fatalf("WAIT on a follower: %q", got)
			}
		}
	}
}

// TestBlockedClientHangsUp: a client that closes its connection while
// blocked stops waiting, as Redis frees it; a command pipelined behind a
// blocking one is kept and runs after it.
func TestBlockedClientHangsUp(t *testing.T) {
	nodes := startCluster(t, 1)
	srv := nodes[0].srv
	a, c := dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr)
	if _, err := a.c.Write([]byte("*3\r\n$5\r\nBLPOP\r\n$4\r\ngone\r\n$1\r\n0\r\n")); err != nil {
		t.Fatal(err)
	}
	waitBlocked(t, srv, 1)
	a.c.Close()
	waitBlocked(t, srv, 0)
	// BLPOP then PING in one write: the PING waits, then is answered.
	b := dialRaw(t, nodes[0].addr)
	reply := async(b, "BLPOP later 0", "PING")
	waitBlocked(t, srv, 1)
	wantReplies(t, c.do("RPUSH later v"), ":1\r\n")
	wantReplies(t, <-reply, "*2\r\n$5\r\nlater\r\n$1\r\nv\r\n", "+PONG\r\n")
}
