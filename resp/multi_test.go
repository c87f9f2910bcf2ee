package resp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rkv/rkv/store"
)

// rawConn speaks RESP on one connection, so that tests see replies byte
// for byte (EXEC's must be one array) and pipelines stay on one connection.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

// do sends the commands in one write and returns their raw replies.
func (r *rawConn) do(cmds ...string) []string {
	r.t.Helper()
	var out []byte
	for _, cmd := range cmds {
		f := strings.Fields(cmd)
		out = fmt.Appendf(out, "*%d\r\n", len(f))
		for _, a := range f {
			out = fmt.Appendf(out, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(out); err != nil {
		r.t.Fatal(err)
	}
	replies := make([]string, len(cmds))
	for i := range replies {
		var b strings.Builder
		if err := r.readValue(&b); err != nil {
			r.t.Fatalf("reply %d of %q: %v (read so far %q)", i, cmds, err, replies[:i])
		}
		replies[i] = b.String()
	}
	return replies
}

func (r *rawConn) readValue(b *strings.Builder) error {
	line, err := r.rd.ReadString('\n')
	if err != nil {
		return err
	}
	b.WriteString(line)
	if len(line) < 3 {
		return fmt.Errorf("short line %q", line)
	}
	n, _ := strconv.Atoi(line[1 : len(line)-2])
	switch line[0] {
	case '$':
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r.rd, buf); err != nil {
				return err
			}
			b.Write(buf)
		}
	case '*':
		for range n {
			if err := r.readValue(b); err != nil {
				return err
			}
		}
	}
	return nil
}

func wantReplies(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("replies\n got %q\nwant %q", got, want)
	}
}

const queued = "+QUEUED\r\n"

func TestTransactionPipelined(t *testing.T) {
	nodes := startCluster(t, 1)
	a := dialRaw(t, nodes[0].addr)
	wantReplies(t, a.do("MULTI", "PING", "SET a 1", "ECHO x", "INCR a", "GET a", "UNWATCH", "EXEC", "GET a"),
		"+OK\r\n", queued, queued, queued, queued, queued, queued,
		"*6\r\n+PONG\r\n+OK\r\n$1\r\nx\r\n:2\r\n$1\r\n2\r\n+OK\r\n", "$1\r\n2\r\n")
	// Front-end commands alone, and a transaction of nothing.
	wantReplies(t, a.do("MULTI", "PING", "ECHO y", "EXEC", "MULTI", "EXEC"),
		"+OK\r\n", queued, queued, "*2\r\n+PONG\r\n$1\r\ny\r\n", "+OK\r\n", "*0\r\n")
	// Errors at run time are elements; refused commands abort.
	wantReplies(t, a.do("MULTI", "SET s abc", "INCR s", "PING a b", "EXEC"),
		"+OK\r\n", queued, queued, queued,
		"*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n-ERR wrong number of arguments for 'ping' command\r\n")
	wantReplies(t, a.do("MULTI", "SET s x", "GET", "NOSUCH a", "CLIENT", "EXEC", "GET s"),
		"+OK\r\n", queued,
		"-ERR wrong number of arguments for 'get' command\r\n",
		"-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n",
		"-ERR wrong number of arguments for 'client' command\r\n",
		"-"+errExecAbort+"\r\n", "$3\r\nabc\r\n")
	wantReplies(t, a.do("EXEC", "DISCARD", "MULTI", "MULTI", "WATCH k", "SET s y", "DISCARD", "GET s"),
		"-ERR EXEC without MULTI\r\n", "-ERR DISCARD without MULTI\r\n", "+OK\r\n",
		"-"+errNestedMult+"\r\n", "-"+errWatchMulti+"\r\n", queued, "+OK\r\n", "$3\r\nabc\r\n")
	wantReplies(t, a.do("MULTI", "EXEC x", "EXEC"),
		"+OK\r\n", "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
		"-ERR EXEC without MULTI\r\n")
}

func TestWatch(t *testing.T) {
	nodes := startCluster(t, 1)
	a, b := dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr)
	wantReplies(t, a.do("WATCH k other", "WATCH k"), "+OK\r\n", "+OK\r\n")
	b.do("SET k 1")
	wantReplies(t, a.do("MULTI", "SET x 1", "EXEC", "EXISTS x"), "+OK\r\n", queued, "*-1\r\n", ":0\r\n")
	// EXEC forgot the watches.
	b.do("SET k 2")
	wantReplies(t, a.do("MULTI", "SET x 1", "EXEC"), "+OK\r\n", queued, "*1\r\n+OK\r\n")
	// Untouched keys, and UNWATCH.
	wantReplies(t, a.do("WATCH k", "MULTI", "INCR k", "EXEC"), "+OK\r\n", "+OK\r\n", queued, "*1\r\n:3\r\n")
	wantReplies(t, a.do("WATCH k", "UNWATCH"), "+OK\r\n", "+OK\r\n")
	b.do("SET k 1")
	wantReplies(t, a.do("MULTI", "INCR k", "EXEC"), "+OK\r\n", queued, "*1\r\n:2\r\n")
	// A watch alone decides, even with no store command queued.
	wantReplies(t, a.do("WATCH k"), "+OK\r\n")
	b.do("DEL k")
	wantReplies(t, a.do("MULTI", "PING", "EXEC"), "+OK\r\n", queued, "*-1\r\n")
	// A wrong EXEC outside MULTI forgets them too, as in Redis.
	wantReplies(t, a.do("WATCH k", "EXEC x"), "+OK\r\n",
		"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n")
	b.do("SET k 1")
	wantReplies(t, a.do("MULTI", "GET k", "EXEC"), "+OK\r\n", queued, "*1\r\n$1\r\n1\r\n")
	// WATCH's keys are known to COMMAND, as Redis's.
	wantReplies(t, a.do("COMMAND GETKEYS watch a b"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
}

// TestWatchAbortsWithoutTheLog: a change applied after WATCH marks the
// transaction broken, so EXEC answers the abort without proposing an entry;
// a change applied before WATCH breaks nothing, on any key and on FLUSHALL.
// After a FLUSHALL the log decides (it aborts only if the key existed).
func TestWatchAbortsWithoutTheLog(t *testing.T) {
	nodes := startCluster(t, 1)
	a, b := dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr)
	last := func() uint64 { return nodes[0].node.Status().Commit }
	wantReplies(t, a.do("WATCH k"), "+OK\r\n")
	b.do("SET k 1")
	before := last()
	wantReplies(t, a.do("MULTI", "SET x 1", "EXEC"), "+OK\r\n", queued, "*-1\r\n")
	if got := last(); got != before {
		t.Fatalf("the aborted EXEC reached the log: commit index %d, was %d", got, before)
	}
	wantReplies(t, a.do("WATCH k", "MULTI", "SET x 1", "EXEC"), "+OK\r\n", "+OK\r\n", queued, "*1\r\n+OK\r\n")
	wantReplies(t, a.do("WATCH k"), "+OK\r\n")
	b.do("FLUSHALL")
	wantReplies(t, a.do("MULTI", "SET x 1", "EXEC"), "+OK\r\n", queued, "*-1\r\n")
	// Another connection's watch and a watch of another key stay intact.
	c := dialRaw(t, nodes[0].addr)
	wantReplies(t, a.do("WATCH k"), "+OK\r\n")
	wantReplies(t, c.do("WATCH j"), "+OK\r\n")
	b.do("SET j 1")
	wantReplies(t, a.do("MULTI", "INCR k", "EXEC"), "+OK\r\n", queued, "*1\r\n:1\r\n")
	wantReplies(t, c.do("MULTI", "INCR j", "EXEC"), "+OK\r\n", queued, "*-1\r\n")
}

func TestTransactionOnFollower(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	var f *testNode
	for _, tn := range nodes {
		if tn != leader {
			f = tn
		}
	}
	moved := func(key string) string {
		slot := 0
		if key != "" {
			slot = store.KeySlot([]byte(key))
		}
		return fmt.Sprintf("-MOVED %d %s\r\n", slot, leader.addr)
	}
	a := dialRaw(t, f.addr)
	wantReplies(t, a.do("WATCH k"), moved("k"))
	// A keyed command is refused where it is queued, as Redis does for a
	// slot it does not serve.
	wantReplies(t, a.do("MULTI", "SET k v", "PING", "EXEC"), "+OK\r\n", moved("k"), queued, "-"+errExecAbort+"\r\n")
	// Keyless: the front end's commands run here, the store's need the
	// leader.
	wantReplies(t, a.do("MULTI", "PING", "EXEC"), "+OK\r\n", queued, "*1\r\n+PONG\r\n")
	wantReplies(t, a.do("MULTI", "DBSIZE", "EXEC", "MULTI", "EXEC"), "+OK\r\n", queued, moved(""), "+OK\r\n", "*0\r\n")

	l := dialRaw(t, leader.addr)
	wantReplies(t, l.do("WATCH k", "MULTI", "SET k v", "INCR n", "EXEC"),
		"+OK\r\n", "+OK\r\n", queued, queued, "*2\r\n+OK\r\n:1\r\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		same := true
		for _, tn := range nodes {
			same = same && tn.store.Digest() == leader.store.Digest()
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replicas differ after EXEC")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Transactions on some connections while others list the clients: the
// state of a connection is its own (run with -race).
func TestTransactionStateIsPerConnection(t *testing.T) {
	nodes := startCluster(t, 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			nodes[0].client.ClientList(context.Background())
		}
	}()
	conns := make([]*rawConn, 4)
	for i := range conns {
		conns[i] = dialRaw(t, nodes[0].addr)
	}
	for round := range 20 {
		for i, c := range conns {
			wantReplies(t, c.do("MULTI", fmt.Sprintf("SET c%d %d", i, round)), "+OK\r\n", queued)
		}
		for i, c := range conns {
			wantReplies(t, c.do(fmt.Sprintf("GET c%d", i), "EXEC"), queued, "*2\r\n+OK\r\n"+bulkOf(round))
		}
	}
	close(stop)
	wg.Wait()
	// A connection closed in MULTI leaves nothing behind.
	c := dialRaw(t, nodes[0].addr)
	c.do("MULTI", "SET gone 1")
	c.c.Close()
	if got := dialRaw(t, nodes[0].addr).do("EXISTS gone", "EXEC"); got[0] != ":0\r\n" || got[1] != "-ERR EXEC without MULTI\r\n" {
		t.Fatalf("after a closed MULTI: %q", got)
	}
}

func bulkOf(n int) string {
	s := strconv.Itoa(n)
	return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s)
}

// TestTransactionHoldsScripts: a script queued in MULTI runs inside the EXEC
// entry, in its place among the other commands, and a key a script changes
// breaks a WATCH on it.
func TestTransactionHoldsScripts(t *testing.T) {
	nodes := startCluster(t, 1)
	a, b := dialRaw(t, nodes[0].addr), dialRaw(t, nodes[0].addr)
	incr := "EVAL return(redis.call('incr',KEYS[1])) 1 k"
	b.do("SET warm 1") // the leader's first entry of its term is behind this
	before := nodes[0].node.Status().Commit
	wantReplies(t, a.do("MULTI", "SET k 1", incr, "PING", incr, "EXEC"),
		"+OK\r\n", queued, queued, queued, queued, "*4\r\n+OK\r\n:2\r\n+PONG\r\n:3\r\n")
	if got := nodes[0].node.Status().Commit; got != before+1 {
		t.Fatalf("the transaction took %d entries, want one", got-before)
	}
	wantReplies(t, a.do("WATCH w"), "+OK\r\n")
	wantReplies(t, b.do("EVAL return(redis.call('set',KEYS[1],'x')) 1 w"), "+OK\r\n")
	wantReplies(t, a.do("MULTI", "SET y 1", "EXEC"), "+OK\r\n", queued, "*-1\r\n")
}

// TestQuitStopsThePipeline: commands pipelined after QUIT are not run.
func TestQuitStopsThePipeline(t *testing.T) {
	nodes := startCluster(t, 1)
	a := dialRaw(t, nodes[0].addr)
	a.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := a.c.Write([]byte("*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(a.rd)
	if string(rest) != "+OK\r\n" {
		t.Fatalf("after QUIT the connection sent %q", rest)
	}
	wantReplies(t, dialRaw(t, nodes[0].addr).do("EXISTS foo"), ":0\r\n")
}

// TestReset: RESET ends a transaction, the watches and the subscriptions,
// and answers +RESET, as Redis.
func TestReset(t *testing.T) {
	nodes := startCluster(t, 1)
	a := dialRaw(t, nodes[0].addr)
	wantReplies(t, a.do("MULTI", "SET x 1", "RESET", "EXEC"), "+OK\r\n", queued, "+RESET\r\n", "-ERR EXEC without MULTI\r\n")
	wantReplies(t, a.do("CLIENT SETNAME n", "RESET", "CLIENT GETNAME"), "+OK\r\n", "+RESET\r\n", "$-1\r\n")
	wantReplies(t, a.do("SUBSCRIBE c", "RESET", "PING"),
		"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n", "+RESET\r\n", "+PONG\r\n")
	wantReplies(t, dialRaw(t, nodes[0].addr).do("PUBLISH c m"), ":0\r\n")
}
