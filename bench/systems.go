package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// redisServer is one redis-server process.
type redisServer struct {
	addr string
	p    *proc
}

// redisMode names the persistence a redis-server runs with.
type redisMode int

const (
	redisNoPersist redisMode = iota // --save "" --appendonly no
	redisAOFAlways                  // --appendonly yes --appendfsync always
)

// startRedis starts a redis-server; extra are more of its flags.
func (h *harness) startRedis(ctx context.Context, name string, mode redisMode, replicaOf string, extra ...string) (*redisServer, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	args := []string{"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", "",
		// Redis waits 5 s by default before a diskless full sync, for more
		// replicas to join; the catch-up figure is about the transfer.
		"--repl-diskless-sync-delay", "0"}
	switch mode {
	case redisNoPersist:
		args = append(args, "--appendonly", "no")
	case redisAOFAlways:
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	if replicaOf != "" {
		host, port, _ := strings.Cut(replicaOf, ":")
		args = append(args, "--replicaof", host, port)
	}
	args = append(args, extra...)
	p, err := h.procs.start(name, filepath.Join(h.dir, name+".log"), "redis-server", args...)
	if err != nil {
		return nil, err
	}
	r := &redisServer{addr: addr, p: p}
	if err := h.waitPing(ctx, p, addr); err != nil {
		return nil, err
	}
	return r, nil
}

// waitPing waits until addr answers PING with PONG.
func (h *harness) waitPing(ctx context.Context, p *proc, addr string) error {
	return poll(ctx, 30*time.Second, 10*time.Millisecond, p.name+" to answer PING", func() (bool, error) {
		if p.exited() {
			return false, &fatalError{p.errExited()}
		}
		v, err := command(ctx, addr, "PING")
		return v == "PONG", err
	})
}

// rkvNode is one node of the rkv cluster.
type rkvNode struct {
	id   int
	addr string
	p    *proc
}

// rkvCluster is an rkv cluster with the settings the issue asks for:
// durable (rkv always fsyncs before acknowledging) and linearizable reads,
// or lease reads for the figures that show what the lease saves. The peer
// (startPeer) is held in one too: its INFO answers the role and term the
// same way.
type rkvCluster struct {
	name     string
	nodes    []*rkvNode // index i holds id i+1
	spec     string     // the --cluster flag
	readMode string     // the --read-mode flag
}

func (h *harness) rkvArgs(id int, addr, dir, readMode string) []string {
	return []string{"--id", strconv.Itoa(id), "--addr", addr, "--dir", dir,
		"--read-mode", readMode}
}

// startRKV starts an n-node cluster and waits for its leader; extra are
// more flags of every node.
func (h *harness) startRKV(ctx context.Context, name string, n int, readMode string, extra ...string) (*rkvCluster, error) {
	return h.startCluster(ctx, name, n, readMode, h.rkvBin, rkvMember, h.rkvNodeArgs(readMode, extra...))
}

// rkvMember is one node's entry of rkv's --cluster list.
func rkvMember(id, client, bus int) string { return fmt.Sprintf("%d=127.0.0.1:%d@%d", id, client, bus) }

// rkvNodeArgs returns startCluster's args for rkv nodes; extra are more
// flags of every node.
func (h *harness) rkvNodeArgs(readMode string, extra ...string) func(id int, addr, dir, spec string) []string {
	return func(id int, addr, dir, spec string) []string {
		args := append(h.rkvArgs(id, addr, dir, readMode), "--cluster", spec)
		return append(args, extra...)
	}
}

// startCluster starts n nodes of bin on fresh ports and waits for a
// leader. member writes one node's entry of the --cluster list from its id
// and ports, args a node's flags from its id, client address, data
// directory and that list.
func (h *harness) startCluster(ctx context.Context, name string, n int, readMode, bin string,
	member func(id, client, bus int) string, args func(id int, addr, dir, spec string) []string) (*rkvCluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &rkvCluster{name: name, readMode: readMode}
	var spec []string
	for i := range n {
		spec = append(spec, member(i+1, ports[2*i], ports[2*i+1]))
	}
	c.spec = strings.Join(spec, ",")
	for i := range n {
		id := i + 1
		addr := fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		nodeName := fmt.Sprintf("%s-n%d", name, id)
		p, err := h.procs.start(nodeName, filepath.Join(h.dir, nodeName+".log"), bin,
			args(id, addr, filepath.Join(h.dir, nodeName), c.spec)...)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, &rkvNode{id: id, addr: addr, p: p})
	}
	if _, err := c.waitLeader(ctx, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// buildPeer builds bench/peer, a module of its own (so that rkv's does not
// depend on hashicorp/raft), with its go.sum pinning what the Go proxy or
// the module cache supplies. GOWORK=off keeps a go.work above the checkout
// from folding it into another build.
func (h *harness) buildPeer(ctx context.Context) error {
	h.logf("building the peer (bench/peer)")
	build := exec.CommandContext(ctx, "go", "build", "-o", h.peerBin, ".")
	build.Dir = filepath.Join(h.cfg.Root, "bench", "peer")
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: building the peer in %s (its modules come from the Go proxy or the module cache): %v\n%s", build.Dir, err, out)
	}
	return nil
}

// buildBaseline builds rkv as of the git revision cfg.Baseline into
// baseBin. git archive copies that commit's tree into the temporary
// directory, so the repository gains no worktree to clean up and the
// working tree is not touched.
func (h *harness) buildBaseline(ctx context.Context) error {
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", h.cfg.Root}, args...)...).Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return strings.TrimSpace(string(out)), err
	}
	commit, err := git("rev-parse", "--verify", h.cfg.Baseline+"^{commit}")
	if err != nil {
		return fmt.Errorf("bench: baseline %q: %w", h.cfg.Baseline, err)
	}
	if h.rep.Now, err = git("describe", "--always", "--dirty"); err != nil {
		return fmt.Errorf("bench: git describe: %w", err)
	}
	h.rep.Baseline = commit
	h.logf("building rkv as of %s (%s)", h.cfg.Baseline, commit)
	tar, src := filepath.Join(h.dir, "baseline.tar"), filepath.Join(h.dir, "baseline-src")
	if _, err := git("archive", "-o", tar, commit); err != nil {
		return fmt.Errorf("bench: git archive %s: %w", commit, err)
	}
	if err := os.Mkdir(src, 0o755); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "tar", "-x", "-f", tar, "-C", src).CombinedOutput(); err != nil {
		return fmt.Errorf("bench: unpacking the baseline: %v\n%s", err, out)
	}
	h.baseBin = filepath.Join(h.dir, "rkv-baseline")
	// -buildvcs=false: the copy is no checkout, and a -dir inside one
	// would stamp that repository's state on it.
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", h.baseBin, "./cmd/rkv")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: building the baseline rkv: %v\n%s", err, out)
	}
	return nil
}

// startPeer starts n nodes of the peer, each bootstrapping the same
// configuration (its --cluster names the Raft addresses only), and waits
// for a leader.
func (h *harness) startPeer(ctx context.Context, name string, n int) (*rkvCluster, error) {
	member := func(id, _, bus int) string { return fmt.Sprintf("%d=127.0.0.1:%d", id, bus) }
	return h.startCluster(ctx, name, n, "", h.peerBin, member, func(id int, addr, dir, spec string) []string {
		return []string{"--id", strconv.Itoa(id), "--addr", addr, "--dir", dir, "--cluster", spec}
	})
}

// raftInfo is what INFO raft says about a node.
func raftInfo(ctx context.Context, addr string) (map[string]string, error) {
	return info(ctx, addr, "raft")
}

// raftCounters are a node's INFO counters of batched work, which show how
// many client requests share one fsync or one leadership confirmation, and
// what the log's writes cost. The peer reports the log counters and the
// goroutine runs but no read rounds; a baseline build may predate the
// fsync and goroutine counters (has* false).
type raftCounters struct {
	up, leader                               bool
	logWrites, logEntries, readRounds, reads uint64
	fsyncs, goRuns                           uint64
	hasFsyncs, hasGoRuns                     bool
}

// counters reads the counters of every running node of c, indexed like
// c.nodes.
func (c *rkvCluster) counters(ctx context.Context) ([]raftCounters, error) {
	out := make([]raftCounters, len(c.nodes))
	for i, n := range c.nodes {
		if n.p.exited() {
			continue
		}
		m, err := raftInfo(ctx, n.addr)
		if err != nil {
			return nil, err
		}
		cpu, err := info(ctx, n.addr, "cpu")
		if err != nil {
			return nil, err
		}
		if v, ok := cpu["go_goroutine_runs"]; ok {
			m["go_goroutine_runs"] = v
		}
		// The peer's entries are batches of commands (uhaha's write
		// applier): what a log write carried is its commands.
		if v, ok := m["raft_log_commands_written"]; ok {
			m["raft_log_entries_written"] = v
		}
		rc := &out[i]
		rc.up, rc.leader = true, m["raft_role"] == "leader"
		for _, f := range []struct {
			key      string
			dst      *uint64
			reported *bool // nil: every build reports it
		}{{"raft_log_writes", &rc.logWrites, nil}, {"raft_log_entries_written", &rc.logEntries, nil},
			{"raft_read_rounds", &rc.readRounds, new(bool)}, {"raft_reads_confirmed", &rc.reads, new(bool)},
			{"raft_log_fsyncs", &rc.fsyncs, &rc.hasFsyncs}, {"go_goroutine_runs", &rc.goRuns, &rc.hasGoRuns}} {
			v, ok := m[f.key]
			if !ok && f.reported != nil {
				continue
			}
			if *f.dst, err = strconv.ParseUint(v, 10, 64); err != nil {
				return nil, fmt.Errorf("%s: INFO %s: %w", n.p.name, f.key, err)
			}
			if f.reported != nil {
				*f.reported = true
			}
		}
	}
	return out, nil
}

// batching describes one workload from the counters before and after it:
// for SET, how many entries each log write (one fsync) carried on the
// leader and on each follower; for GET, how many reads each leadership
// confirmation covered.
func (c *rkvCluster) batching(cmd string, bc benchCase, before, after []raftCounters) string {
	per := func(a, b uint64) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f", float64(a)/float64(b))
	}
	var leader string
	var followers []string
	var rounds, reads uint64
	for i, n := range c.nodes {
		a, b := after[i], before[i]
		if !a.up || !b.up {
			continue // a node that died has no meaningful delta
		}
		writes, ents := a.logWrites-b.logWrites, a.logEntries-b.logEntries
		rounds += a.readRounds - b.readRounds
		reads += a.reads - b.reads
		if a.leader {
			leader = fmt.Sprintf("leader n%d %d log writes, %s entries per write", n.id, writes, per(ents, writes))
		} else {
			followers = append(followers, fmt.Sprintf("n%d %s", n.id, per(ents, writes)))
		}
	}
	if cmd == "GET" {
		return fmt.Sprintf("%s: %s reads per confirmation round (%d rounds)", rpsKey(cmd, bc), per(reads, rounds), rounds)
	}
	if len(followers) == 0 {
		return fmt.Sprintf("%s: %s", rpsKey(cmd, bc), leader)
	}
	return fmt.Sprintf("%s: %s; followers %s entries per write", rpsKey(cmd, bc), leader, strings.Join(followers, ", "))
}

// waitLeader waits until some running node other than skip reports itself
// leader and returns it.
func (c *rkvCluster) waitLeader(ctx context.Context, skip *rkvNode) (*rkvNode, error) {
	var leader *rkvNode
	err := poll(ctx, 30*time.Second, 10*time.Millisecond, c.name+" to elect a leader", func() (bool, error) {
		var last error
		for _, n := range c.nodes {
			if n == skip || n.p.exited() {
				continue
			}
			m, err := raftInfo(ctx, n.addr)
			if err != nil {
				last = err
				continue
			}
			if m["raft_role"] == "leader" {
				leader = n
				return true, nil
			}
		}
		return false, last
	})
	if err != nil {
		return nil, c.withLogs(err)
	}
	return leader, nil
}

// leaderAfter reports whether a running node leads in a term after term.
func (c *rkvCluster) leaderAfter(ctx context.Context, term uint64) bool {
	for _, n := range c.nodes {
		if n.p.exited() {
			continue
		}
		m, err := raftInfo(ctx, n.addr)
		if err != nil || m["raft_role"] != "leader" {
			continue
		}
		if t, err := strconv.ParseUint(m["raft_term"], 10, 64); err == nil && t > term {
			return true
		}
	}
	return false
}

// withLogs adds the end of every node's log to err, so that a cluster that
// failed to elect, apply or serve in time leaves the evidence in the
// failure (the temporary directory is removed after it).
func (c *rkvCluster) withLogs(err error) error {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "\n--- %s (%s) log %s ends:\n%s", n.p.name, n.addr, n.p.log, n.p.logTail())
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// appliedIndex reads raft_applied_index of the node at addr.
func appliedIndex(ctx context.Context, addr string) (uint64, error) {
	m, err := raftInfo(ctx, addr)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(m["raft_applied_index"], 10, 64)
}

// waitApplied waits until every running node has applied as far as the
// leader, so that a measurement after a load sees every node holding it.
func (c *rkvCluster) waitApplied(ctx context.Context, leader *rkvNode) error {
	err := poll(ctx, 60*time.Second, 20*time.Millisecond, c.name+" followers to apply the load", func() (bool, error) {
		want, err := appliedIndex(ctx, leader.addr)
		if err != nil {
			return false, err
		}
		for _, n := range c.nodes {
			if n.p.exited() {
				continue
			}
			got, err := appliedIndex(ctx, n.addr)
			if err != nil || got < want {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return c.withLogs(err)
	}
	return nil
}

// readOnlyGet reads key on the node at addr after READONLY, so a follower
// answers from its own copy instead of redirecting. It returns the value,
// or an error while the node is not serving.
func readOnlyGet(ctx context.Context, addr, key string) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if _, err := cl.do(2*time.Second, "READONLY"); err != nil {
		return nil, err
	}
	return cl.do(2*time.Second, "GET", key)
}

// leaderFunc returns the address writes must go to now.
func (c *rkvCluster) leaderFunc(ctx context.Context) func() (string, error) {
	return func() (string, error) {
		l, err := c.waitLeader(ctx, nil)
		if err != nil {
			return "", err
		}
		return l.addr, nil
	}
}

// elections counts, in the logs of c's nodes, the leaders elected and the
// leaders that stepped down for want of a quorum. Under a benchmark's load
// a healthy cluster elects once at start and once per killed leader; more
// means heartbeats were starved.
func (c *rkvCluster) elections() (elected, stepDowns int) {
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.p.log)
		if err != nil {
			continue
		}
		elected += strings.Count(string(b), `msg="became leader"`)
		stepDowns += strings.Count(string(b), `msg="stepping down: no quorum`)
	}
	return elected, stepDowns
}

// electionNote records c's elections in the report's notes.
func (h *harness) electionNote(c *rkvCluster, expected int) {
	el, sd := c.elections()
	note := fmt.Sprintf("%s: %d leader election(s) (%d expected), %d step-down(s) for lack of quorum", c.name, el, expected, sd)
	if el > expected || sd > 0 {
		note += " — leadership was lost under load"
	}
	h.rep.Notes = append(h.rep.Notes, note)
	h.logf("%s", note)
}
