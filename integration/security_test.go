package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCli runs redis-cli against nd with args and returns what it printed.
func redisCli(t *testing.T, nd *node, args ...string) string {
	t.Helper()
	cli := requireTool(t, "redis-cli")
	host, port, _ := net.SplitHostPort(nd.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", port, "--no-auth-warning"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestAuthAndACL: with --requirepass on three nodes, clients must
// authenticate (redis-cli and go-redis); an ACL user made on the leader is
// enforced on a follower (READONLY) and after every node restarts; ACL SAVE
// and LOAD go through the --aclfile; a deleted user's connection is closed.
func TestAuthAndACL(t *testing.T) {
	dir := t.TempDir()
	aclFiles := map[int]string{}
	c := newCluster(t, 3, clusterOpts{password: "s3cret", extraArgs: []string{"--requirepass", "s3cret"}})
	// Each node's own ACL file, from its first restart on.
	for _, nd := range c.nodes {
		aclFiles[nd.id] = filepath.Join(dir, fmt.Sprintf("users%d.acl", nd.id))
		nd.args = append(nd.args, "--aclfile", aclFiles[nd.id])
	}
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	if out := redisCli(t, leader, "SET", "app:1", "v"); out != "NOAUTH Authentication required." {
		t.Errorf("redis-cli without a password: %q", out)
	}
	if out := redisCli(t, leader, "-a", "wrong", "GET", "app:1"); !strings.Contains(out, "WRONGPASS invalid username-password pair or user is disabled.") {
		t.Errorf("redis-cli with a wrong password: %q", out)
	}
	if out := redisCli(t, leader, "-a", "s3cret", "SET", "app:1", "v"); out != "OK" {
		t.Errorf("redis-cli -a: %q", out)
	}
	if out := redisCli(t, leader, "-a", "s3cret", "ACL", "SETUSER", "alice", "on", ">alicepw", "~app:*", "+@read", "+@write", "+@connection", "-@dangerous"); out != "OK" {
		t.Fatalf("ACL SETUSER: %q", out)
	}
	c.waitConverged(30 * time.Second)
	follower := c.followers(leader)[0]
	alice := redis.NewClient(&redis.Options{Addr: follower.addr, Username: "alice", Password: "alicepw", MaxRetries: -1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer alice.Close()
	check := func(when string) {
		t.Helper()
		if got, err := alice.Get(ctx, "app:1").Result(); err != nil || got != "v" {
			t.Errorf("%s: alice's GET app:1 on a follower: %q, %v", when, got, err)
		}
		if err := alice.Get(ctx, "other").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("%s: alice's GET of a key outside her pattern: %v", when, err)
		}
		if err := alice.FlushAll(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("%s: alice's FLUSHALL: %v", when, err)
		}
	}
	check("after ACL SETUSER")
	wrong := redis.NewClient(&redis.Options{Addr: follower.addr, Username: "alice", Password: "nope", MaxRetries: -1})
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("go-redis with a wrong password: %v", err)
	}
	wrong.Close()
	for _, nd := range c.nodes {
		nd.kill()
	}
	for _, nd := range c.nodes {
		nd.start()
	}
	leader = c.leader(10 * time.Second)
	c.waitConverged(30 * time.Second)
	check("after every node restarted")

	// ACL SAVE writes the leader's file; a line added to it comes in with
	// ACL LOAD, on every node.
	if out := redisCli(t, leader, "-a", "s3cret", "ACL", "SAVE"); out != "OK" {
		t.Fatalf("ACL SAVE: %q", out)
	}
	saved, err := os.ReadFile(aclFiles[leader.id])
	if err != nil || !strings.Contains(string(saved), "user alice on #") || strings.Contains(string(saved), "alicepw") {
		t.Fatalf("the saved ACL file (with hashes, never passwords):\n%s (%v)", saved, err)
	}
	added := string(saved) + "user bob on >bobpw ~* +@all\n"
	if err := os.WriteFile(aclFiles[leader.id], []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := redisCli(t, leader, "-a", "s3cret", "ACL", "LOAD"); out != "OK" {
		t.Fatalf("ACL LOAD: %q", out)
	}
	c.waitConverged(30 * time.Second)
	for _, nd := range c.nodes {
		if out := redisCli(t, nd, "--user", "bob", "--pass", "bobpw", "ACL", "WHOAMI"); out != "bob" {
			t.Errorf("node %d: bob after ACL LOAD: %q", nd.id, out)
		}
	}

	// Deleting alice closes her connections.
	if err := alice.Ping(ctx).Err(); err != nil {
		t.Fatalf("alice before DELUSER: %v", err)
	}
	if out := redisCli(t, leader, "-a", "s3cret", "ACL", "DELUSER", "alice"); out != "1" {
		t.Fatalf("ACL DELUSER: %q", out)
	}
	c.waitConverged(30 * time.Second)
	waitFor(t, 10*time.Second, "alice's connection to be refused", func() error {
		if err := alice.Get(ctx, "app:1").Err(); err == nil {
			return errors.New("alice still served")
		}
		return nil
	})
	again := redis.NewClient(&redis.Options{Addr: follower.addr, Username: "alice", Password: "alicepw", MaxRetries: -1})
	defer again.Close()
	if err := again.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("alice connecting after DELUSER: %v", err)
	}
}

// TestProtectedMode: a node asked to listen beyond loopback without a
// password refuses to start, saying how to fix it.
func TestProtectedMode(t *testing.T) {
	cmd := exec.Command(rkvBin, "--addr", "0.0.0.0:"+strconv.Itoa(freePort(t)), "--dir", t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("rkv --addr 0.0.0.0 without a password: %v\n%s", err, out)
	}
	for _, want := range []string{"protected mode", "--requirepass", "--protected-mode no"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, out)
		}
	}
}

// rssKB is the VmRSS of a process, from /proc.
func rssKB(t *testing.T, pid int) int64 { return statusKB(t, pid, "VmRSS") }

// statusKB reads one of the kB fields of /proc/<pid>/status.
func statusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s for %d", field, pid)
	return 0
}

// sendRaw writes b to addr and reads until the server closes the
// connection or stops answering, returning what it answered and whether it
// closed.
func sendRaw(t *testing.T, addr string, b []byte) (string, bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(b); err != nil {
		return "", true
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			return string(got), !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// TestHostileClients attacks a live 3-node cluster while its leadership
// moves: malformed and oversized requests, an endless line, 10,000 idle
// connections and a client that pipelines 1,000,000 GETs without reading.
// Each gets an error or a closed connection, the nodes' memory stays
// bounded, no election happens but the one caused, and an ordinary client
// is served throughout.
func TestHostileClients(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	const idle = 10_000
	if lim.Max < idle+1000 {
		t.Fatalf("RLIMIT_NOFILE's hard limit %d is below the %d descriptors this test needs", lim.Max, idle+1000)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// A longer election timeout than the harness's: the machine is made
	// busy on purpose, and an election must come only from the failover.
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--election-timeout", "3s", "--heartbeat-interval", "100ms",
		"--client-output-buffer-limit", "normal 0 1kb 2"}})
	leader := c.leader(20 * time.Second)
	ctx := context.Background()
	termBefore, err := leader.raftUint(ctx, "raft_term")
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.rdb.Set(ctx, "hot", strings.Repeat("v", 100), 0).Err(); err != nil {
		t.Fatal(err)
	}

	// An ordinary client, following MOVED, throughout.
	var served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var addrs []string
		for _, nd := range c.nodes {
			addrs = append(addrs, nd.addr)
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 8})
		defer cc.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if cc.Set(ctx, fmt.Sprintf("ok:%d", i%100), i, 0).Err() == nil {
				served.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	rssBefore := map[int]int64{}
	for _, nd := range c.nodes {
		rssBefore[nd.id] = rssKB(t, nd.cmd.Process.Pid)
	}
	attacks := []struct {
		name  string
		input []byte
		reply string // "" when only a closed connection is expected
	}{
		{"*2147483648", []byte("*2147483648\r\n"), "-ERR Protocol error: invalid multibulk length"},
		{"$-5 in a command", []byte("*1\r\n$-5\r\n"), "-ERR Protocol error: invalid bulk length"},
		{"$600000000", []byte("*2\r\n$3\r\nSET\r\n$600000000\r\n"), "-ERR Protocol error: invalid bulk length"},
		{"nested arrays", []byte("*1\r\n*1\r\n*1\r\n$1\r\na\r\n"), "-ERR Protocol error: expected '$', got '*'"},
		{"70 KB without CRLF", []byte(strings.Repeat("x", 70<<10)), "-ERR Protocol error: too big inline request"},
		{"an HTTP request", []byte("POST / HTTP/1.1\r\nHost: example.com\r\n\r\n"), ""},
	}
	for _, nd := range c.nodes {
		for _, a := range attacks {
			got, closed := sendRaw(t, nd.addr, a.input)
			if !closed || !strings.HasPrefix(got, a.reply) {
				t.Errorf("node %d, %s: answered %q, closed %v; want %q and a closed connection", nd.id, a.name, got, closed, a.reply)
			}
		}
	}

	// 10,000 idle connections to the leader: each is accepted or refused
	// with an error, and the node goes on serving.
	var conns []net.Conn
	refused := 0
	for range idle {
		conn, err := net.DialTimeout("tcp", leader.addr, 5*time.Second)
		if err != nil {
			refused++
			continue
		}
		conns = append(conns, conn)
	}
	// Half way through, the leadership moves.
	fs := c.followers(leader)
	if err := fs[0].rdb.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER: %v", err)
	}

	// A client that pipelines 1,000,000 GETs and reads nothing: its
	// connection is closed once its replies sit unread past the limit.
	greedy, err := net.DialTimeout("tcp", leader.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	greedyDone := make(chan error, 1)
	go func() {
		var b strings.Builder
		for range 10_000 {
			b.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nhot\r\n")
		}
		chunk := []byte(b.String())
		greedy.SetWriteDeadline(time.Now().Add(60 * time.Second))
		for range 100 {
			if _, err := greedy.Write(chunk); err != nil {
				greedyDone <- err
				return
			}
		}
		greedyDone <- nil
	}()
	var timeout net.Error
	switch err := <-greedyDone; {
	case err == nil:
		t.Error("the server took 1,000,000 GETs from a client that read no reply")
	case errors.As(err, &timeout) && timeout.Timeout():
		t.Error("the greedy client's connection was still open after 60 s")
	}
	greedy.Close()

	peak := map[int]int64{}
	for _, nd := range c.nodes {
		peak[nd.id] = rssKB(t, nd.cmd.Process.Pid)
	}
	for _, conn := range conns {
		conn.Close()
	}
	newLeader := c.leader(20 * time.Second)
	before := served.Load()
	waitFor(t, 30*time.Second, "the ordinary client to be served after the attacks", func() error {
		if served.Load() < before+20 {
			return fmt.Errorf("%d requests served since", served.Load()-before)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	termAfter, err := newLeader.raftUint(ctx, "raft_term")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d idle connections held, %d refused; %d ordinary requests served; term %d -> %d; RSS before/after KB: %v / %v",
		len(conns), refused, served.Load(), termBefore, termAfter, rssBefore, peak)
	if termAfter != termBefore+1 {
		t.Errorf("term went from %d to %d: an election besides the failover", termBefore, termAfter)
	}
	for id, kb := range peak {
		// 10,000 connections cost some tens of KB each; the bound is
		// what a leak or an unbounded buffer would break.
		if kb > 1<<20 {
			t.Errorf("node %d: RSS %d MB under attack", id, kb>>10)
		}
	}
}

// TestUnreadRepliesStayBounded: with Redis's default of no output limit
// for normal clients, a client that pipelines GETs of a 1 MB value and
// reads nothing makes the node stop reading from it, not hold the replies:
// its memory peak stays far below the replies' size, and every reply still
// arrives whole once the client reads.
func TestUnreadRepliesStayBounded(t *testing.T) {
	c := newCluster(t, 1, clusterOpts{})
	nd := c.leader(20 * time.Second)
	ctx := context.Background()
	value := strings.Repeat("v", 1<<20)
	if err := nd.rdb.Set(ctx, "big", value, 0).Err(); err != nil {
		t.Fatal(err)
	}
	stats := func() int64 {
		inf, err := nd.info(ctx, "stats")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(inf["total_commands_processed"], 10, 64)
		return n
	}
	const gets = 500
	greedy, err := net.DialTimeout("tcp", nd.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer greedy.Close()
	base := stats()
	// 500 GETs are 11 KB: the kernel takes them all without the node
	// reading, and they answer 500 MB.
	greedy.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := greedy.Write([]byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", gets))); err != nil {
		t.Fatal(err)
	}
	// The node has taken the GETs off the socket (counted as a batch is
	// taken) and writes their replies to a client that does not read.
	waitFor(t, 30*time.Second, "the node to take the GETs", func() error {
		if got := stats() - base; got < gets {
			return fmt.Errorf("%d of %d taken", got, gets)
		}
		return nil
	})
	pid := nd.cmd.Process.Pid
	peakWhileUnread := statusKB(t, pid, "VmHWM")
	rd := bufio.NewReaderSize(greedy, 1<<16)
	for i := range gets {
		line, err := rd.ReadString('\n')
		if err != nil || line != fmt.Sprintf("$%d\r\n", len(value)) {
			t.Fatalf("reply %d: %q, %v", i, line, err)
		}
		if _, err := rd.Discard(len(value) + 2); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	peak := statusKB(t, pid, "VmHWM")
	t.Logf("peak RSS %d MB while %d MB of replies were unread, %d MB after reading them", peakWhileUnread>>10, gets, peak>>10)
	// A node holding a batch's replies (redcon alone writes after the
	// whole batch it read: some 170 GETs, 170 MB) passes the bound.
	if peak > 100<<10 {
		t.Errorf("peak RSS %d MB: the node held unread replies", peak>>10)
	}
}
