package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timings for test clusters: short enough that failover tests finish in a
// few seconds, long enough that two loaded cores do not cause spurious
// elections.
const (
	heartbeatInterval = 50 * time.Millisecond
	electionTimeout   = 500 * time.Millisecond
)

// rkvBin is the rkv binary built once by TestMain for the whole run.
var rkvBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rkv-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	rkvBin = filepath.Join(dir, "rkv")
	// go test runs in the package directory and puts GOROOT/bin first on
	// PATH, so this builds the module's binary with the same toolchain.
	// With -trimpath the build of the previous release (upgrade_test.go),
	// from another directory, reuses every package that did not change.
	build := exec.Command("go", "build", "-trimpath", "-o", rkvBin, "./cmd/rkv")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: building rkv:", err)
		return 1
	}
	return m.Run()
}

// requireTool returns the path of an external program the tests need. The
// README's test command installs them, so a missing one is a failure, not
// a skip: a skipped client test would hide a broken setup.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required by this test (apt-get install redis-tools redis-server python3-redis): %v", name, err)
	}
	return p
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort returns a 127.0.0.1 port nobody listens on. It draws from below
// Linux's ephemeral range (32768 and up) so that a port cannot be taken by
// an outgoing connection between two starts of the same node, and never
// hands out a port twice in one run.
func freePort(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		p := 15000 + rand.IntN(17000)
		if portsUsed[p] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		portsUsed[p] = true
		return p
	}
	t.Fatal("no free port found")
	return 0
}

// node is one rkv process: its ports and data directory outlive the
// process so that it can be restarted as the same member.
type node struct {
	t       *testing.T
	id      int
	addr    string // client address
	bus     string // Raft bus address
	metrics string // --metrics-addr, "" when not served
	dir     string
	logPath string
	args    []string
	// env is added to the process's environment (the test's own, less
	// RKV_REQUIREPASS, which would give every node a password).
	env []string
	// bin is the rkv binary the node starts; "" means rkvBin, the build
	// under test.
	bin string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	starts  int

	rdb *redis.Client // admin client; go-redis reconnects across restarts
}

// cluster is a set of rkv processes started by one test.
type cluster struct {
	t     *testing.T
	root  string
	nodes []*node
	// clientTLS, if set, is the TLS config of the nodes' admin clients.
	clientTLS *tls.Config
	// password is what the nodes' admin clients authenticate with.
	password string
	// metrics gives every node a --metrics-addr.
	metrics bool
	// bin is the binary new nodes start; "" means rkvBin.
	bin string
}

// clusterOpts are extra flags given to every node, and the password the
// harness's own clients give (the default user's, when the flags set one).
type clusterOpts struct {
	extraArgs []string
	// clientTLS is the TLS config the harness connects to nodes with,
	// when the flags make their client ports speak TLS.
	clientTLS *tls.Config
	password  string
	// metrics: each node serves /metrics, /livez and /readyz on a port
	// of its own.
	metrics bool
	// prepare, if set, is called for each node, its flags set, before it
	// first starts: it prepares the node's data directory (rkv restore,
	// a small filesystem).
	prepare func(nd *node)
	// bin is the rkv binary the nodes start with, "" for the build under
	// test (the rolling upgrade starts them on the previous release).
	bin string
}

// newCluster starts n nodes forming one new cluster and registers their
// cleanup. It does not wait for a leader.
func newCluster(t *testing.T, n int, opts clusterOpts) *cluster {
	t.Helper()
	// TempDir is registered before the cleanup that kills the processes,
	// so it runs after it: the processes are gone before their dirs go.
	c := &cluster{t: t, root: t.TempDir(), clientTLS: opts.clientTLS, password: opts.password, metrics: opts.metrics, bin: opts.bin}
	t.Cleanup(c.cleanup)
	var spec []string
	for i := 1; i <= n; i++ {
		nd := c.newNode(i)
		spec = append(spec, fmt.Sprintf("%d=%s@%s", i, nd.addr, nd.bus))
	}
	for _, nd := range c.nodes {
		nd.args = append(nd.baseArgs(), "--cluster", strings.Join(spec, ","))
		nd.args = append(nd.args, opts.extraArgs...)
	}
	for _, nd := range c.nodes {
		if opts.prepare != nil {
			opts.prepare(nd)
		}
		nd.start()
	}
	return c
}

// newNode allocates ports and a directory for node id without starting it.
func (c *cluster) newNode(id int) *node {
	nd := &node{
		t:       c.t,
		id:      id,
		addr:    fmt.Sprintf("127.0.0.1:%d", freePort(c.t)),
		bus:     fmt.Sprintf("127.0.0.1:%d", freePort(c.t)),
		dir:     filepath.Join(c.root, fmt.Sprintf("node%d", id)),
		logPath: filepath.Join(c.root, fmt.Sprintf("node%d.log", id)),
		bin:     c.bin,
	}
	if c.metrics {
		nd.metrics = fmt.Sprintf("127.0.0.1:%d", freePort(c.t))
	}
	nd.rdb = redis.NewClient(&redis.Options{
		Addr: nd.addr, Password: c.password, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, PoolSize: 4,
		TLSConfig: c.clientTLS,
	})
	c.nodes = append(c.nodes, nd)
	return nd
}

func (nd *node) baseArgs() []string {
	args := []string{
		"--id", strconv.Itoa(nd.id), "--addr", nd.addr, "--bus", nd.bus, "--dir", nd.dir,
		"--heartbeat-interval", heartbeatInterval.String(),
		"--election-timeout", electionTimeout.String(),
	}
	if nd.metrics != "" {
		args = append(args, "--metrics-addr", nd.metrics)
	}
	return args
}

// addJoiner starts a new node that joins the cluster through via.
func (c *cluster) addJoiner(id int, via string, extraArgs ...string) *node {
	nd := c.newNode(id)
	nd.args = append(nd.baseArgs(), "--join", via)
	nd.args = append(nd.args, extraArgs...)
	nd.start()
	return nd
}

func (c *cluster) cleanup() {
	for _, nd := range c.nodes {
		nd.kill()
		nd.rdb.Close()
	}
	if c.t.Failed() {
		for _, nd := range c.nodes {
			c.t.Logf("---- node %d (%s) log, last lines ----\n%s", nd.id, nd.addr, tailFile(nd.logPath, 150))
		}
	}
}

// tailFile returns the last n lines of a file, for failure reports.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines omitted)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// start launches the process with the node's flags; its stdout and stderr
// are appended to the node's log file, with a marker per start so a test
// can look at what one incarnation printed.
func (nd *node) start() {
	nd.t.Helper()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		select {
		case <-nd.done:
		default:
			nd.t.Fatalf("node %d: start while running", nd.id)
		}
	}
	f, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		nd.t.Fatal(err)
	}
	bin := nd.bin
	if bin == "" {
		bin = rkvBin
	}
	nd.starts++
	fmt.Fprintf(f, "==== harness: start %d of node %d: %s %s\n", nd.starts, nd.id, filepath.Base(bin), strings.Join(nd.args, " "))
	cmd := exec.Command(bin, nd.args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "RKV_REQUIREPASS=") })
	cmd.Env = append(cmd.Env, nd.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = nodeProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		nd.t.Fatalf("node %d: %v", nd.id, err)
	}
	done := make(chan struct{})
	nd.cmd, nd.done = cmd, done
	go func() {
		err := cmd.Wait()
		f.Close()
		nd.mu.Lock()
		nd.waitErr = err
		nd.mu.Unlock()
		close(done)
	}()
}

// running reports whether the process is alive.
func (nd *node) running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone: a crash with no
// chance to flush or hand over anything.
func (nd *node) kill() {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// terminate sends SIGTERM and waits up to timeout for the exit; it returns
// the exit status (-1 when killed by a signal) and how long the exit took.
func (nd *node) terminate(timeout time.Duration) (int, time.Duration) {
	nd.t.Helper()
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		nd.t.Fatalf("node %d: SIGTERM: %v", nd.id, err)
	}
	select {
	case <-done:
	case <-time.After(timeout):
		nd.kill()
		nd.t.Fatalf("node %d did not exit within %v of SIGTERM", nd.id, timeout)
	}
	return cmd.ProcessState.ExitCode(), time.Since(start)
}

// restart starts a stopped node again on the same ports and directory.
func (nd *node) restart() {
	nd.t.Helper()
	nd.kill()
	nd.start()
}

// currentLog returns what the node's latest incarnation has printed.
func (nd *node) currentLog() string {
	b, err := os.ReadFile(nd.logPath)
	if err != nil {
		return ""
	}
	s := string(b)
	marker := fmt.Sprintf("==== harness: start %d of node", nd.starts)
	if i := strings.LastIndex(s, marker); i >= 0 {
		s = s[i:]
	}
	return s
}

// info returns the fields of INFO <section> on the node.
func (nd *node) info(ctx context.Context, section string) (map[string]string, error) {
	s, err := nd.rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out, nil
}

// raftUint reads one numeric field of INFO raft.
func (nd *node) raftUint(ctx context.Context, field string) (uint64, error) {
	inf, err := nd.info(ctx, "raft")
	if err != nil {
		return 0, err
	}
	v, ok := inf[field]
	if !ok {
		return 0, fmt.Errorf("INFO raft has no %s", field)
	}
	return strconv.ParseUint(v, 10, 64)
}

// waitVoter waits until nd lists itself among the voters (a joiner is a
// learner until the leader promotes it).
func (nd *node) waitVoter(t *testing.T, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("node %d to be a voter", nd.id), func() error {
		inf, err := nd.info(context.Background(), "raft")
		if err != nil {
			return err
		}
		if !slices.Contains(strings.Split(inf["raft_voters"], ","), strconv.Itoa(nd.id)) {
			return fmt.Errorf("node %d reports raft_voters:%s raft_learners:%s", nd.id, inf["raft_voters"], inf["raft_learners"])
		}
		return nil
	})
}

// waitFor polls cond every 20ms until it returns nil or timeout passes,
// then fails the test with the last error.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running returns the nodes whose process is alive.
func (c *cluster) running() []*node {
	var out []*node
	for _, nd := range c.nodes {
		if nd.running() {
			out = append(out, nd)
		}
	}
	return out
}

// byID returns the node with the given id.
func (c *cluster) byID(id int) *node {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	c.t.Fatalf("no node %d", id)
	return nil
}

// others returns the running nodes other than nd.
func (c *cluster) others(nd *node) []*node {
	var out []*node
	for _, o := range c.running() {
		if o != nd {
			out = append(out, o)
		}
	}
	return out
}

// leaderNow returns the running node that is leader if every running node
// agrees on it, so that followers already redirect to it.
func (c *cluster) leaderNow(ctx context.Context) (*node, error) {
	var leader *node
	ids := map[string]bool{}
	for _, nd := range c.running() {
		inf, err := nd.info(ctx, "raft")
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", nd.id, err)
		}
		ids[inf["raft_leader_id"]] = true
		if inf["raft_role"] == "leader" {
			if leader != nil {
				return nil, fmt.Errorf("nodes %d and %d both report leader", leader.id, nd.id)
			}
			leader = nd
		}
	}
	if leader == nil {
		return nil, errors.New("no running node reports raft_role:leader")
	}
	if len(ids) != 1 || !ids[strconv.Itoa(leader.id)] {
		return nil, fmt.Errorf("running nodes disagree on the leader: %v", ids)
	}
	return leader, nil
}

// leader waits for a leader every running node agrees on.
func (c *cluster) leader(timeout time.Duration) *node {
	c.t.Helper()
	var l *node
	waitFor(c.t, timeout, "a leader", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var err error
		l, err = c.leaderNow(ctx)
		return err
	})
	return l
}

// followers returns the running nodes other than the leader.
func (c *cluster) followers(leader *node) []*node { return c.others(leader) }

// waitConverged waits until every running node has applied everything the
// leader has committed.
func (c *cluster) waitConverged(timeout time.Duration) *node {
	c.t.Helper()
	leader := c.leader(timeout)
	waitFor(c.t, timeout, "all nodes to apply the leader's commit index", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		commit, err := leader.raftUint(ctx, "raft_commit_index")
		if err != nil {
			return err
		}
		for _, nd := range c.running() {
			applied, err := nd.raftUint(ctx, "raft_applied_index")
			if err != nil {
				return fmt.Errorf("node %d: %w", nd.id, err)
			}
			if applied < commit {
				return fmt.Errorf("node %d applied %d < leader commit %d", nd.id, applied, commit)
			}
		}
		return nil
	})
	return leader
}

// client returns a plain go-redis client for addr that reports every error
// to the caller (no retries), closed at the end of the test.
func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// readonlyClient returns a client whose every connection sends READONLY
// first, so a follower serves reads from its own copy.
func readonlyClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			return cn.ReadOnly(ctx).Err()
		},
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// movedTarget parses "MOVED <slot> <addr>" errors.
func movedTarget(err error) (slot int, addr string, ok bool) {
	if err == nil {
		return 0, "", false
	}
	f := strings.Fields(err.Error())
	if len(f) != 3 || f[0] != "MOVED" {
		return 0, "", false
	}
	slot, perr := strconv.Atoi(f[1])
	if perr != nil {
		return 0, "", false
	}
	return slot, f[2], true
}

// keySlot is Redis Cluster's hash slot, written here independently of the
// server's so the test checks the server rather than itself: CRC16-XMODEM
// of the key, or of the first non-empty {hash tag}, mod 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// writeLoad is a stream of SETs of unique keys, recording which writes
// were acknowledged with OK and which failed: from several goroutines that
// follow MOVED and move on to the next node on errors (startWriteLoad), or
// from a cluster client (startClusterWriteLoad). Unacknowledged writes may
// or may not have happened; acknowledged ones must never be lost.
type writeLoad struct {
	mu        sync.Mutex
	acked     map[string]string
	fails     int
	firstFail error

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWriteLoad(c *cluster, prefix string, workers int) *writeLoad {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writeLoad{acked: map[string]string{}, cancel: cancel}
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	for g := range workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(ctx, addrs, g, prefix)
		}()
	}
	return w
}

// nodeClients keeps one single-connection client per node address, for a
// worker that follows MOVED from node to node.
type nodeClients struct {
	opts    redis.Options
	clients map[string]*redis.Client
}

func newNodeClients(opts redis.Options) *nodeClients {
	return &nodeClients{opts: opts, clients: map[string]*redis.Client{}}
}

func (nc *nodeClients) get(addr string) *redis.Client {
	if c, ok := nc.clients[addr]; ok {
		return c
	}
	opts := nc.opts
	opts.Addr = addr
	c := redis.NewClient(&opts)
	nc.clients[addr] = c
	return c
}

func (nc *nodeClients) close() {
	for _, c := range nc.clients {
		c.Close()
	}
}

func (w *writeLoad) run(ctx context.Context, addrs []string, g int, prefix string) {
	clients := newNodeClients(redis.Options{MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 1})
	defer clients.close()
	get := clients.get
	target := addrs[g%len(addrs)]
	next := g
	for i := 0; ctx.Err() == nil; i++ {
		key := fmt.Sprintf("%s:%d:%d", prefix, g, i)
		val := fmt.Sprintf("v%d.%d.%d", g, i, time.Now().UnixNano())
		err := get(target).Set(ctx, key, val, 0).Err()
		if err == nil {
			w.mu.Lock()
			w.acked[key] = val
			w.mu.Unlock()
			continue
		}
		w.fail(fmt.Errorf("SET %s: %w", key, err))
		if _, addr, ok := movedTarget(err); ok {
			target = addr
			continue
		}
		// Connection refused, CLUSTERDOWN or TRYAGAIN: try the next node
		// after a short back-off so a dead cluster is not spun on.
		next++
		target = addrs[next%len(addrs)]
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startClusterWriteLoad is a writeLoad of one go-redis ClusterClient with
// its default options, as an application would set it up, writing a key
// every 10ms. The client follows leadership changes by itself, so a write
// it reports failed is one an application would have seen fail.
func startClusterWriteLoad(c *cluster, prefix string) *writeLoad {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writeLoad{acked: map[string]string{}, cancel: cancel}
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cc.Close()
		for i := 0; ctx.Err() == nil; i++ {
			key, val := fmt.Sprintf("%s:%d", prefix, i), strconv.Itoa(i)
			// Not ctx: stopping the load must not fail the write in flight.
			if err := cc.Set(context.Background(), key, val, 0).Err(); err != nil {
				w.fail(fmt.Errorf("SET %s: %w", key, err))
			} else {
				w.mu.Lock()
				w.acked[key] = val
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *writeLoad) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fails++
	if w.firstFail == nil {
		w.firstFail = err
	}
}

// failures returns how many writes failed and the first failure.
func (w *writeLoad) failures() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fails, w.firstFail
}

// count returns how many writes have been acknowledged so far.
func (w *writeLoad) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// stop ends the load and returns the acknowledged writes.
func (w *writeLoad) stop() map[string]string {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// waitAcked waits until at least n writes have been acknowledged.
func (w *writeLoad) waitAcked(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d acknowledged writes", n), func() error {
		if got := w.count(); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}

// checkValues reads every key through rdb (in pipelined batches) and fails
// the test for each one whose value differs, reporting at most a few.
func checkValues(t *testing.T, rdb redis.Cmdable, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	bad := 0
	for start := 0; start < len(keys); start += 500 {
		batch := keys[start:min(start+500, len(keys))]
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, k := range batch {
			cmds[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("reading back %d keys: %v", len(batch), err)
		}
		for i, k := range batch {
			got, err := cmds[i].Result()
			if err != nil || got != want[k] {
				bad++
				if bad <= 10 {
					t.Errorf("key %s: got %q, %v; want %q", k, got, err, want[k])
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d acknowledged writes are missing or wrong", bad, len(keys))
	}
}

// signal sends sig to the running process (SIGSTOP/SIGCONT to freeze a
// node the way a long GC pause or a stalled VM would).
func (nd *node) signal(sig syscall.Signal) {
	nd.t.Helper()
	nd.mu.Lock()
	cmd := nd.cmd
	nd.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		nd.t.Fatalf("node %d: %v: %v", nd.id, sig, err)
	}
}
