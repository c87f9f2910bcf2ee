package resp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/consensus/transport"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// testNode is one in-process rkv node: real transport on loopback, real
// RESP server, the log in memory.
type testNode struct {
	id     consensus.NodeID
	addr   string
	rep    *replica.Replica
	node   *consensus.Node
	srv    *Server
	tr     *transport.Transport
	store  *store.Store
	client *redis.Client
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startCluster starts n nodes and returns them once a leader is known.
func startCluster(t testing.TB, n int) []*testNode {
	t.Helper()
	clientLns := make([]net.Listener, n)
	trs := make([]*transport.Transport, n)
	var initial []replica.Member
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		clientLns[i] = ln
		tr, err := transport.New(transport.Config{ClusterID: 7, NodeID: consensus.NodeID(i + 1),
			ListenAddr: "127.0.0.1:0", Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
		initial = append(initial, replica.Member{ID: consensus.NodeID(i + 1), ClientAddr: ln.Addr().String(), BusAddr: tr.Addr().String()})
	}
	var peers []consensus.NodeID
	for _, m := range initial {
		peers = append(peers, m.ID)
	}
	nodes := make([]*testNode, n)
	for i := range n {
		id := consensus.NodeID(i + 1)
		tr := trs[i]
		members := replica.NewMembers(nil, func(m replica.Member, removed bool) {
			if m.ID == id {
				return
			}
			if removed {
				tr.RemovePeer(m.ID)
			} else {
				tr.SetPeer(m.ID, m.BusAddr)
			}
		})
		for _, m := range initial {
			members.Set(m)
		}
		acl, _ := NewACL("", nil)
		rep, err := replica.Start(replica.Config{
			Node: consensus.NodeConfig{
				Raft: consensus.Config{ID: id, Group: 1, ElectionTick: 10, HeartbeatTick: 1, Peers: peers,
					PreVote: true, CheckQuorum: true, Logger: quietLogger()},
				Storage:      consensus.NewMemoryStorage(),
				Transport:    tr,
				TickInterval: 20 * time.Millisecond,
				Logger:       quietLogger(),
			},
			Members: members, Users: acl, Logger: quietLogger(),
			Removal: replica.RemovalConfig{RequestTimeout: 5 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		node, st := rep.Node(), rep.Store()
		tr.Register(1, node.Step)
		addr := clientLns[i].Addr().String()
		srv := NewServer(Config{ID: id, Addr: addr, Logger: quietLogger(), RequestTimeout: 5 * time.Second, ACL: acl}, rep)
		go srv.Serve(clientLns[i])
		client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		nodes[i] = &testNode{id: id, addr: addr, rep: rep, node: node, srv: srv, tr: tr, store: st, client: client}
	}
	t.Cleanup(func() {
		for _, tn := range nodes {
			tn.client.Close()
			tn.srv.Close()
			tn.rep.Stop()
			tn.tr.Close()
		}
	})
	leaderOf(t, nodes)
	return nodes
}

// leaderOf waits until one node leads and every node knows it.
func leaderOf(t testing.TB, nodes []*testNode) *testNode {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, tn := range nodes {
			if !tn.node.IsLeader() {
				continue
			}
			agreed := true
			for _, o := range nodes {
				agreed = agreed && o.node.Leader() == tn.id
			}
			if agreed {
				return tn
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader within 10s")
	return nil
}

// errConn records the error replies written to it; any other write panics.
type errConn struct {
	redcon.Conn
	errs []string
}

func (c *errConn) WriteError(msg string) { c.errs = append(c.errs, msg) }

// A write whose outcome is unknown, from a deadline or from a snapshot that
// replaced the log around it, is answered TIMEOUT, never an error that
// says it did not run or one clients retry by themselves.
func TestWriteResultOutcomeUnknown(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{consensus.ErrOutcomeUnknown, "TIMEOUT the write's outcome is unknown: a snapshot from the leader replaced the log around it"},
		{fmt.Errorf("propose: %w", consensus.ErrOutcomeUnknown), "TIMEOUT the write's outcome is unknown: a snapshot from the leader replaced the log around it"},
		{context.DeadlineExceeded, "TIMEOUT the write's outcome is unknown: no quorum answered in time"},
	} {
		var conn errConn
		(&Server{}).writeResult(&conn, nil, nil, consensus.Result{Err: tt.err})
		if len(conn.errs) != 1 || conn.errs[0] != tt.want {
			t.Errorf("%v: replied %q, want %q", tt.err, conn.errs, tt.want)
		}
	}
}

func TestSingleNodeCommands(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	c := nodes[0].client
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []any
		want string
	}{
		{[]any{"get", "k"}, "v"},
		{[]any{"incr", "n"}, "1"},
		{[]any{"incrby", "n", "41"}, "42"},
		{[]any{"ping"}, "PONG"},
		{[]any{"echo", "hi"}, "hi"},
		{[]any{"exists", "k", "n", "missing"}, "2"},
		{[]any{"get"}, "ERR wrong number of arguments for 'get' command"},
		{[]any{"set", "k"}, "ERR wrong number of arguments for 'set' command"},
		{[]any{"nosuch", "a"}, "ERR unknown command 'nosuch', with args beginning with: 'a' "},
		{[]any{"select", "16"}, "ERR DB index is out of range"},
		{[]any{"hello", "4"}, "NOPROTO unsupported protocol version"},
		{[]any{"cluster", "keyslot", "{user1}.name"}, fmt.Sprint(store.KeySlot([]byte("user1")))},
		{[]any{"cluster", "myid"}, nodeName(1)},
		{[]any{"dbsize"}, "2"},
	}
	for _, tt := range tests {
		got, err := c.Do(ctx, tt.args...).Result()
		s := fmt.Sprint(got)
		if err != nil {
			s = err.Error()
		}
		if s != tt.want {
			t.Errorf("%v = %q, want %q", tt.args, s, tt.want)
		}
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	stats, err := c.Info(ctx, "stats").Result()
	if err != nil || !strings.Contains(stats, "total_commands_processed:1\r\n") ||
		!strings.Contains(stats, "total_connections_received:0\r\n") {
		t.Fatalf("INFO stats after CONFIG RESETSTAT = %q, %v", stats, err)
	}
	info, err := c.Info(ctx, "raft").Result()
	if err != nil || !strings.Contains(info, "raft_role:leader") {
		t.Fatalf("INFO raft = %q, %v", info, err)
	}
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || slots[0].Nodes[0].Addr != nodes[0].addr {
		t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
	}
}

func TestPipelinedWritesAndReads(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	pipe := nodes[0].client.Pipeline()
	for i := range 200 {
		pipe.Set(ctx, fmt.Sprint("p", i), i, 0)
		pipe.Get(ctx, fmt.Sprint("p", i))
		pipe.Incr(ctx, "counter")
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		// A read pipelined behind a write must see it.
		if got := cmds[3*i+1].(*redis.StringCmd).Val(); got != fmt.Sprint(i) {
			t.Fatalf("GET p%d = %q", i, got)
		}
		if got := cmds[3*i+2].(*redis.IntCmd).Val(); got != int64(i+1) {
			t.Fatalf("INCR #%d = %d", i, got)
		}
	}
}

func TestFollowersRedirect(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader := leaderOf(t, nodes)
	if err := leader.client.Set(ctx, "{user1}.name", "ann", 0).Err(); err != nil {
		t.Fatal(err)
	}
	slot := store.KeySlot([]byte("user1"))
	for _, tn := range nodes {
		if tn == leader {
			continue
		}
		want := fmt.Sprintf("MOVED %d %s", slot, leader.addr)
		if err := tn.client.Set(ctx, "{user1}.name", "bob", 0).Err(); err == nil || err.Error() != want {
			t.Errorf("SET on follower %d: %v, want %s", tn.id, err, want)
		}
		if err := tn.client.Get(ctx, "{user1}.name").Err(); err == nil || err.Error() != want {
			t.Errorf("GET on follower %d: %v, want %s", tn.id, err, want)
		}
		// READONLY reads the follower's own copy (poll: it may lag).
		conn := tn.client.Conn()
		if err := conn.ReadOnly(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			v, err := conn.Get(ctx, "{user1}.name").Result()
			if err == nil && v == "ann" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("READONLY GET on follower %d: %q, %v", tn.id, v, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		conn.Close()
	}
}

func TestMalformedProtocolIsRefused(t *testing.T) {
	nodes := startCluster(t, 1)
	for _, input := range []string{
		"*1\r\n$-5\r\nxx\r\n",
		"*2\r\n$3\r\nget\r\n$abc\r\n",
		"*x\r\n",
	} {
		conn, err := net.Dial("tcp", nodes[0].addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte(input)); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "-ERR Protocol error") {
			t.Errorf("%q: reply %q, %v", input, line, err)
		}
		conn.Close()
	}
	// The server still serves.
	if err := nodes[0].client.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}
