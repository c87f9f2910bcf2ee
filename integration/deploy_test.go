package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStatefulSetPods starts nodes as deploy/kubernetes's StatefulSet
// does: one command line for every pod, the node id from the host name's
// ordinal (HOSTNAME, as Kubernetes sets it to the pod's name), the
// password from RKV_REQUIREPASS (the Secret), each node listening on its
// own address and announcing a name (localhost here, the pod's DNS name
// there). The three ordinals --cluster lists found the cluster; a fourth
// pod, same command line, joins through them, and a restart keeps it the
// same member.
func TestStatefulSetPods(t *testing.T) {
	const password = "s3cret"
	c := &cluster{t: t, root: t.TempDir(), password: password, metrics: true}
	t.Cleanup(c.cleanup)
	announce := func(nd *node) string {
		_, port, _ := net.SplitHostPort(nd.addr)
		_, busPort, _ := net.SplitHostPort(nd.bus)
		return "localhost:" + port + "@localhost:" + busPort
	}
	var pods []*node
	var founders []string
	for ord := range 4 {
		nd := c.newNode(ord + 1)
		pods = append(pods, nd)
		if ord < 3 {
			founders = append(founders, fmt.Sprintf("%d=%s", ord+1, announce(nd)))
		}
	}
	for ord, nd := range pods {
		// The pod template's arguments; only what Kubernetes fills in
		// per pod ($(POD_NAME)) and the ports a test must pick differ.
		nd.args = []string{"--id-from-hostname", "--addr", nd.addr, "--bus", nd.bus, "--announce-addr", announce(nd),
			"--dir", nd.dir, "--metrics-addr", nd.metrics, "--cluster", strings.Join(founders, ","),
			"--heartbeat-interval", heartbeatInterval.String(), "--election-timeout", electionTimeout.String()}
		nd.env = []string{fmt.Sprintf("HOSTNAME=rkv-%d", ord), "RKV_REQUIREPASS=" + password}
	}
	for _, nd := range pods[:3] {
		nd.start()
	}
	leader := c.leader(10 * time.Second)
	ctx := context.Background()
	if err := leader.rdb.Set(ctx, "before-scale-up", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for ord, nd := range pods[:3] {
		checkIdentity(t, nd, uint64(ord+1), true)
	}
	// MOVED names the announced address, not the listening one.
	follower := c.followers(leader)[0]
	fc := redis.NewClient(&redis.Options{Addr: follower.addr, Password: password, MaxRetries: -1})
	defer fc.Close()
	_, leaderPort, _ := net.SplitHostPort(leader.addr)
	if _, addr, ok := movedTarget(fc.Set(ctx, "k", "v", 0).Err()); !ok || addr != "localhost:"+leaderPort {
		t.Fatalf("SET on a follower: MOVED to %q (%v), want localhost:%s", addr, ok, leaderPort)
	}

	// Scale-up: ordinal 3 is not in --cluster, so it joins.
	n4 := pods[3]
	n4.start()
	n4.waitVoter(t, 20*time.Second)
	c.waitConverged(10 * time.Second)
	checkIdentity(t, n4, 4, false)
	ro := redis.NewClient(&redis.Options{Addr: n4.addr, Password: password,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer ro.Close()
	if got, err := ro.Get(ctx, "before-scale-up").Result(); err != nil || got != "1" {
		t.Fatalf("GET before-scale-up on the joined node = %q, %v", got, err)
	}
	waitReady(t, n4)

	// A restarted pod is the member it was: its directory says so, and
	// it neither joins again nor founds anything.
	if code, _ := n4.terminate(20 * time.Second); code != 0 {
		t.Fatalf("node 4 exited %d on SIGTERM", code)
	}
	n4.start()
	waitReady(t, n4)
	checkIdentity(t, n4, 4, false)
	nodes, err := leader.rdb.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range pods {
		_, port, _ := net.SplitHostPort(nd.addr)
		if !strings.Contains(nodes, " localhost:"+port+"@") {
			t.Errorf("CLUSTER NODES does not list node %d at localhost:%s:\n%s", nd.id, port, nodes)
		}
	}
	if n := strings.Count(strings.TrimSpace(nodes), "\n") + 1; n != 4 {
		t.Errorf("CLUSTER NODES lists %d nodes, want 4:\n%s", n, nodes)
	}
}

// checkIdentity reads the node.json a node wrote when it first started.
func checkIdentity(t *testing.T, nd *node, id uint64, founder bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nd.dir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ident struct {
		NodeID    uint64 `json:"node_id"`
		Bootstrap bool   `json:"bootstrap"`
	}
	if err := json.Unmarshal(b, &ident); err != nil {
		t.Fatal(err)
	}
	if ident.NodeID != id || ident.Bootstrap != founder {
		t.Fatalf("%s: node %d founder %v, want node %d founder %v", nd.dir, ident.NodeID, ident.Bootstrap, id, founder)
	}
}

// waitReady waits for /readyz to answer 200, as a readiness probe would.
func waitReady(t *testing.T, nd *node) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("node %d /readyz", nd.id), func() error {
		code, body, err := nd.probe("/readyz")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("/readyz %d %q", code, body)
		}
		return err
	})
}
