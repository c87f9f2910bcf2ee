package integration

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/consensus/transport"
	"github.com/rkv/rkv/internal/testcert"
)

// tlsFiles are the certificates of a TLS test: the cluster's CA, a node
// certificate every node uses, a client certificate, and a certificate of
// another CA that nothing trusts.
type tlsFiles struct {
	ca                    *testcert.CA
	caFile                string
	nodeCert, nodeKey     string
	clientCert, clientKey string
	rogueCert, rogueKey   string
}

func newTLSFiles(t *testing.T) *tlsFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := testcert.NewCA("rkv test CA")
	if err != nil {
		t.Fatal(err)
	}
	rogueCA, err := testcert.NewCA("rogue CA")
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFiles{ca: ca, caFile: filepath.Join(dir, "ca.crt")}
	if err := os.WriteFile(f.caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	issue := func(ca *testcert.CA, name string) (string, string) {
		leaf, err := ca.Issue(name)
		if err != nil {
			t.Fatal(err)
		}
		c, k, err := leaf.Write(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	f.nodeCert, f.nodeKey = issue(ca, "node")
	f.clientCert, f.clientKey = issue(ca, "client")
	f.rogueCert, f.rogueKey = issue(rogueCA, "rogue")
	return f
}

// clientConfig is a go-redis TLS config with the certificate in certFile.
func (f *tlsFiles) clientConfig(t *testing.T, certFile, keyFile string) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	// GetClientCertificate sends the certificate whatever CAs the server
	// names; with Certificates Go sends none that another CA signed, and
	// the untrusted case would test a client without a certificate.
	return &tls.Config{RootCAs: f.ca.Pool(), MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
}

func (f *tlsFiles) nodeArgs() []string {
	return []string{"--tls-cert-file", f.nodeCert, "--tls-key-file", f.nodeKey, "--tls-ca-cert-file", f.caFile}
}

// TestTLSCluster runs a 3-node cluster whose client ports speak TLS with
// required client certificates and whose bus is mutual TLS: go-redis and
// redis-cli --tls are served, follow MOVED and read CLUSTER SLOTS; a
// client with an untrusted certificate, without one, or without TLS gets
// nothing.
func TestTLSCluster(t *testing.T) {
	cli := requireTool(t, "redis-cli")
	f := newTLSFiles(t)
	good := f.clientConfig(t, f.clientCert, f.clientKey)
	c := newCluster(t, 3, clusterOpts{
		extraArgs: append(f.nodeArgs(), "--tls-cluster", "yes", "--cluster-secret", "s3cret"),
		clientTLS: good,
	})
	leader := c.waitConverged(20 * time.Second)
	follower := c.followers(leader)[0]
	ctx := context.Background()

	rdb := redis.NewClient(&redis.Options{Addr: leader.addr, TLSConfig: good, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Set(ctx, "tlskey", "v1", 0).Err(); err != nil {
		t.Fatalf("SET over TLS: %v", err)
	}
	frdb := redis.NewClient(&redis.Options{Addr: follower.addr, TLSConfig: good, MaxRetries: -1})
	defer frdb.Close()
	err := frdb.Set(ctx, "tlskey", "v2", 0).Err()
	if _, addr, ok := movedTarget(err); !ok || addr != leader.addr {
		t.Fatalf("SET on a follower over TLS: %v, want MOVED to %s", err, leader.addr)
	}
	// The cluster client learns the nodes from CLUSTER SLOTS and
	// connects to the addresses it names, with the same TLS config.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{follower.addr}, TLSConfig: good})
	defer cc.Close()
	if err := cc.Set(ctx, "tlskey", "v3", 0).Err(); err != nil {
		t.Fatalf("cluster client SET over TLS: %v", err)
	}
	if got, err := cc.Get(ctx, "tlskey").Result(); err != nil || got != "v3" {
		t.Fatalf("cluster client GET = %q, %v; want v3", got, err)
	}

	tlsArgs := []string{"--tls", "--cacert", f.caFile, "--cert", f.clientCert, "--key", f.clientKey}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	host, port, _ := net.SplitHostPort(follower.addr)
	if out, err := run(append(tlsArgs, "-h", host, "-p", port, "-c", "SET", "clikey", "fromcli")...); err != nil || out != "OK" {
		t.Fatalf("redis-cli --tls -c SET via a follower: %q, %v; want OK", out, err)
	}
	if out, err := run(append(tlsArgs, "-h", host, "-p", port, "-c", "GET", "clikey")...); err != nil || out != "fromcli" {
		t.Fatalf("redis-cli --tls -c GET via a follower: %q, %v; want fromcli", out, err)
	}
	lhost, lport, _ := net.SplitHostPort(leader.addr)
	refused := map[string][]string{
		"an untrusted certificate": {"--tls", "--cacert", f.caFile, "--cert", f.rogueCert, "--key", f.rogueKey},
		"no certificate":           {"--tls", "--cacert", f.caFile},
		"no TLS":                   nil,
	}
	for what, args := range refused {
		out, _ := run(append(args, "-h", lhost, "-p", lport, "GET", "tlskey")...)
		if strings.Contains(out, "v3") || strings.Contains(out, "PONG") {
			t.Errorf("redis-cli with %s was served: %q", what, out)
		}
	}
	// A node joins over TLS: its join request goes to a follower's TLS
	// client port and follows MOVED, and it catches up over the mutual
	// TLS bus.
	n4 := c.addJoiner(4, follower.addr, append(f.nodeArgs(), "--tls-cluster", "yes", "--cluster-secret", "s3cret")...)
	n4.waitVoter(t, 30*time.Second)
	// Strangers on the mutual TLS bus, knowing even the secret: one with
	// a certificate another CA signed, one without TLS. Both are
	// disconnected before they can say anything, and no term moves.
	before := raftTerms(t, c)
	rogue, err := tls.LoadX509KeyPair(f.rogueCert, f.rogueKey)
	if err != nil {
		t.Fatal(err)
	}
	cluster := clusterIDOf(t, leader)
	for _, nd := range c.running() {
		for _, withTLS := range []bool{true, false} {
			raw, err := net.DialTimeout("tcp", nd.bus, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			conn := raw
			if withTLS {
				// With TLS 1.3 the client's side of the TLS handshake ends
				// before the server has checked its certificate: the
				// refusal comes with the first read.
				tc := tls.Client(raw, &tls.Config{Certificates: []tls.Certificate{rogue}, InsecureSkipVerify: true})
				tc.Handshake()
				conn = tc
			}
			err = transport.DialHandshake(conn, &transport.Config{ClusterID: cluster, NodeID: 99, Secret: []byte("s3cret")}, consensus.NodeID(nd.id))
			if err == nil {
				t.Fatalf("node %d: a stranger (TLS %v) passed the bus handshake", nd.id, withTLS)
			}
			expectBusClosed(t, conn, "stranger on the TLS bus")
			raw.Close()
		}
	}
	if after := raftTerms(t, c); !maps.Equal(before, after) {
		t.Fatalf("terms changed from %v to %v", before, after)
	}
	for what, conf := range map[string]*tls.Config{
		"an untrusted certificate": f.clientConfig(t, f.rogueCert, f.rogueKey),
		"no certificate":           {RootCAs: f.ca.Pool()},
		"no TLS":                   nil,
	} {
		bad := redis.NewClient(&redis.Options{Addr: leader.addr, TLSConfig: conf, MaxRetries: -1,
			DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
		got, err := bad.Get(ctx, "tlskey").Result()
		bad.Close()
		if err == nil || got == "v3" {
			t.Errorf("go-redis with %s: GET = %q, %v; want an error and no value", what, got, err)
		}
	}
}

// TestTLSOptionalClientCertificates: with --tls-auth-clients optional a
// client without a certificate is served, one with an untrusted
// certificate is not.
func TestTLSOptionalClientCertificates(t *testing.T) {
	f := newTLSFiles(t)
	noCert := &tls.Config{RootCAs: f.ca.Pool(), MinVersion: tls.VersionTLS12}
	c := newCluster(t, 1, clusterOpts{extraArgs: append(f.nodeArgs(), "--tls-auth-clients", "optional"), clientTLS: noCert})
	nd := c.leader(20 * time.Second)
	ctx := context.Background()
	if err := nd.rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET without a client certificate: %v", err)
	}
	bad := redis.NewClient(&redis.Options{Addr: nd.addr, TLSConfig: f.clientConfig(t, f.rogueCert, f.rogueKey), MaxRetries: -1})
	defer bad.Close()
	if got, err := bad.Get(ctx, "k").Result(); err == nil {
		t.Fatalf("GET with an untrusted certificate = %q, want an error", got)
	}
}

// clusterIDOf reads the cluster id from a node's identity file: all a
// stranger needs to know to pass the handshake of a cluster without a
// secret.
func clusterIDOf(t *testing.T, nd *node) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nd.dir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		ClusterID uint64 `json:"cluster_id"`
	}
	if err := json.Unmarshal(b, &id); err != nil {
		t.Fatal(err)
	}
	return id.ClusterID
}

// raftTerms returns every running node's term.
func raftTerms(t *testing.T, c *cluster) map[int]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := map[int]uint64{}
	for _, nd := range c.running() {
		term, err := nd.raftUint(ctx, "raft_term")
		if err != nil {
			t.Fatalf("node %d: %v", nd.id, err)
		}
		out[nd.id] = term
	}
	return out
}

// expectBusClosed checks that a node closed a bus connection: a read ends
// with an error that is not a timeout.
func expectBusClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := conn.Read(make([]byte, 64))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("%s: read = %v, want the connection closed", what, err)
	}
}

// TestBusStrangerCannotDisturb attacks the bus of a cluster with a
// secret (given in a file, as --cluster-secret-file reads it): a stranger
// that knows the cluster id and claims to be a member is disconnected
// before its vote request is read, the term stays, and a member that sends
// a frame over the size limit is disconnected too while the cluster keeps
// serving.
func TestBusStrangerCannotDisturb(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "cluster-secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--cluster-secret-file", secretFile}})
	leader := c.waitConverged(20 * time.Second)
	before := raftTerms(t, c)
	cluster := clusterIDOf(t, leader)

	// A vote request for a far later term: had it been read, every node
	// would have moved to that term.
	vote := transport.EncodeMessage(nil, &consensus.Message{Group: 1, Type: consensus.MsgVote, From: 3, To: 1, Term: before[leader.id] + 100})
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(vote)))
	frame = binary.BigEndian.AppendUint32(frame, 0)
	frame = append(frame, vote...)
	for _, nd := range c.nodes {
		for _, key := range []string{"", "guess"} {
			conn, err := net.DialTimeout("tcp", nd.bus, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			from := consensus.NodeID(nd.id%3 + 1)
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			err = transport.DialHandshake(conn, &transport.Config{ClusterID: cluster, NodeID: from, Secret: []byte(key)}, consensus.NodeID(nd.id))
			if !errors.Is(err, transport.ErrAuth) {
				t.Fatalf("node %d: the stranger's handshake with key %q: %v, want ErrAuth", nd.id, key, err)
			}
			// Carry on regardless: a wrong proof, then the vote.
			conn.Write(append(make([]byte, 32), frame...))
			expectBusClosed(t, conn, "stranger")
			conn.Close()
		}
	}
	if after := raftTerms(t, c); !maps.Equal(before, after) {
		t.Fatalf("terms changed from %v to %v", before, after)
	}
	for _, nd := range c.nodes {
		if !strings.Contains(nd.currentLog(), "peer failed authentication") {
			t.Errorf("node %d did not log the refused stranger", nd.id)
		}
	}

	// A node that holds the secret, announcing a frame larger than the
	// 64 MB limit, is disconnected at the header. It uses an id of its
	// own: a member's id would replace that member's connection, and the
	// member's reconnecting would replace it in turn.
	fol := c.followers(leader)[0]
	conn, err := net.DialTimeout("tcp", fol.bus, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := transport.DialHandshake(conn, &transport.Config{ClusterID: cluster, NodeID: 99, Secret: []byte("s3cret")}, consensus.NodeID(fol.id)); err != nil {
		t.Fatalf("handshake with the secret: %v", err)
	}
	conn.Write([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	expectBusClosed(t, conn, "oversized frame")
	waitFor(t, 10*time.Second, "the oversized frame to be logged", func() error {
		if !strings.Contains(fol.currentLog(), "frame too large") {
			return errors.New("no \"frame too large\" in the follower's log")
		}
		return nil
	})
	ctx := context.Background()
	waitFor(t, 20*time.Second, "a write after the attacks", func() error {
		return c.leader(20*time.Second).rdb.Set(ctx, "after", "ok", 0).Err()
	})
	if !fol.running() {
		t.Fatalf("node %d exited", fol.id)
	}
}
