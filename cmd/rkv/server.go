package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/consensus/transport"
	"github.com/rkv/rkv/metrics"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/resp"
	"github.com/rkv/rkv/wal"
)

func runServer(args []string) error {
	cfg, err := parseFlags(args, os.Getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	slog.SetDefault(logger)
	tlsc, err := cfg.tls.load()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return fmt.Errorf("creating --dir: %w", err)
	}
	lock, err := lockDir(cfg.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	ident, err := loadIdentity(cfg.dir)
	if err != nil {
		return err
	}
	if ident != nil && consensus.NodeID(ident.NodeID) != cfg.id {
		return &usageError{fmt.Sprintf("--dir %s belongs to node %d, not --id %d", cfg.dir, ident.NodeID, cfg.id)}
	}
	if cfg.pprofAddr != "" {
		go func() {
			if err := http.ListenAndServe(cfg.pprofAddr, nil); err != nil {
				logger.Warn("pprof server stopped", "err", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if ident == nil {
		if cfg.join != nil {
			ident, err = joinCluster(ctx, cfg, tlsc.client, logger)
			if err != nil {
				return err
			}
		} else {
			ident = &identity{NodeID: uint64(cfg.id), ClusterID: replica.ClusterID(cfg.cluster), Members: cfg.cluster, Bootstrap: true}
		}
		if err := saveIdentity(cfg.dir, ident); err != nil {
			return fmt.Errorf("writing %s: %w", identityFile, err)
		}
	}

	// Listen first so that a port in use stops the node before it touches
	// the cluster.
	clientLn, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return fmt.Errorf("listening for clients: %w", err)
	}
	if tlsc.server != nil {
		clientLn = tls.NewListener(clientLn, tlsc.server)
	}
	var metricsLn net.Listener
	if cfg.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			clientLn.Close()
			return fmt.Errorf("listening for metrics: %w", err)
		}
		defer metricsLn.Close()
	}
	hist := metrics.NewHistograms()
	tr, err := transport.New(transport.Config{ClusterID: ident.ClusterID, NodeID: cfg.id,
		ListenAddr: cfg.busListen, Logger: logger, Secret: []byte(cfg.tls.secret), TLS: tlsc.bus})
	if err != nil {
		clientLn.Close()
		return fmt.Errorf("starting the Raft bus: %w", err)
	}
	defer tr.Close()
	if busHost, _, _ := net.SplitHostPort(cfg.busListen); cfg.tls.secret == "" && tlsc.bus == nil && !isLoopback(busHost) {
		logger.Warn("the Raft bus listens beyond loopback with no --cluster-secret and no --tls-cluster: anyone who can reach it and knows the member list can send Raft messages",
			"bus", cfg.busListen)
	}
	members := replica.NewMembers(nil, func(m replica.Member, removed bool) {
		if m.ID == cfg.id {
			return
		}
		if removed {
			tr.RemovePeer(m.ID)
		} else {
			tr.SetPeer(m.ID, m.BusAddr)
		}
	})
	for _, m := range ident.Members {
		members.Set(m)
	}
	members.Set(replica.Member{ID: cfg.id, ClientAddr: cfg.addr, BusAddr: cfg.busAddr})

	log, err := wal.Open(cfg.dir, wal.Options{Logger: logger, ObserveSync: hist.ObserveSync,
		WriteFault: diskFullFault(os.Getenv)})
	if err != nil {
		clientLn.Close()
		return fmt.Errorf("opening the log: %w", err)
	}
	defer log.Close()

	var peers []consensus.NodeID
	if ident.Bootstrap {
		for _, m := range ident.Members {
			peers = append(peers, m.ID)
		}
	}
	electionTick := int(cfg.electionTimeout / cfg.heartbeatInterval)
	rep, err := replica.Start(replica.Config{
		Databases: cfg.databases,
		Node: consensus.NodeConfig{
			Raft: consensus.Config{
				ID: cfg.id, Group: 1, ElectionTick: electionTick, HeartbeatTick: 1,
				Peers: peers, PreVote: true, CheckQuorum: true,
				LeaseRead: cfg.readMode == "lease", LeaseMargin: max(3, electionTick/5),
				// Seeded per process so that nodes do not time out in the
				// same order after every restart.
				Rand:   rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(cfg.id))),
				Logger: logger,
			},
			Storage:                log,
			Transport:              tr,
			TickInterval:           cfg.heartbeatInterval,
			SnapshotEntries:        cfg.snapshotEntries,
			SnapshotLogPercent:     cfg.snapshotLogPct,
			SnapshotCatchUpEntries: cfg.snapshotCatchUp,
			Logger:                 logger,
			ObserveLogWrite:        hist.ObserveLogWrite,
			ObserveSnapshot:        hist.ObserveSnapshot,
		},
		Members: members,
		Users:   cfg.acl,
		Removal: replica.RemovalConfig{MaxMemory: cfg.maxMemory, Policy: cfg.maxMemoryPolicy, Samples: cfg.maxMemorySamples},
		Logger:  logger,
	})
	if err != nil {
		clientLn.Close()
		return err
	}
	node := rep.Node()
	tr.Register(1, node.Step)
	shutdownAsked := make(chan struct{}, 1)
	srv := resp.NewServer(resp.Config{
		Shutdown: func() {
			select {
			case shutdownAsked <- struct{}{}:
			default:
			}
		},
		ID: cfg.id, ClusterID: ident.ClusterID, Addr: cfg.listenAddr, ReadMode: cfg.readMode, MaxClients: cfg.maxClients,
		ElectionTimeout: cfg.electionTimeout, HeartbeatInterval: cfg.heartbeatInterval,
		SnapshotEntries: cfg.snapshotEntries, Dir: cfg.dir, Logger: logger,
		ACL: cfg.acl, ACLFile: cfg.aclFile, ProtectedMode: cfg.protectedMode, Limits: cfg.limits,
		ConfigFile: cfg.configFile, FileDirectives: cfg.fileDirectives, Params: cfg.params,
	}, rep)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(clientLn) }()
	if metricsLn != nil {
		hs := &http.Server{Handler: metrics.Handler(hist, srv, rep), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				logger.Warn("metrics server stopped", "err", err)
			}
		}()
		defer hs.Close()
	}
	logger.Info("rkv serving", "addr", cfg.listenAddr, "bus", cfg.busListen, "announced", cfg.addr, "dir", cfg.dir, "members", len(ident.Members))

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case <-shutdownAsked:
		logger.Info("SHUTDOWN received; shutting down")
	case <-rep.Removed():
		logger.Info("removed from the cluster; shutting down")
	case <-node.Done():
		runErr = node.Failed()
		if runErr == nil {
			runErr = errors.New("the Raft node stopped")
		}
	case err := <-served:
		runErr = fmt.Errorf("client listener: %w", err)
	}
	if runErr == nil && handOver(node, cfg, logger) {
		// Still serving, this node answers its clients MOVED to the new
		// leader for a while, so that they move there before the port
		// closes instead of finding it refused and waiting for their
		// next refresh of the cluster's layout.
		time.Sleep(cfg.electionTimeout)
	}
	srv.Close()
	rep.Stop()
	return runErr
}

// handOver gives leadership to the most up-to-date voter before a leader
// exits, so clients see a short pause instead of an election timeout; it
// reports whether it did.
func handOver(node *consensus.Node, cfg *config, logger *slog.Logger) bool {
	if !node.IsLeader() {
		return false
	}
	st := node.Status()
	var best consensus.NodeID
	var bestMatch uint64
	for _, v := range st.Conf.Voters {
		if p, ok := st.Progress[v]; ok && v != cfg.id && (best == consensus.None || p.Match > bestMatch) {
			best, bestMatch = v, p.Match
		}
	}
	if best == consensus.None {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.electionTimeout)
	defer cancel()
	if err := node.TransferLeadership(ctx, best); err != nil {
		logger.Warn("leadership hand-over did not finish", "to", best, "err", err)
		return false
	}
	logger.Info("leadership handed over", "to", best)
	return true
}

// joinCluster asks the cluster reachable at cfg.join's addresses, tried in
// turn, to add this node as a learner (to stay one with --learner),
// following MOVED to the leader, and returns the identity it learns.
func joinCluster(ctx context.Context, cfg *config, tlsConf *tls.Config, logger *slog.Logger) (*identity, error) {
	via := strings.Join(cfg.join, ",")
	target := cfg.join[0]
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 0; ; attempt++ {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("joining via %s: gave up after 60s", via)
		}
		c := redis.NewClient(&redis.Options{Addr: target, MaxRetries: -1, DialTimeout: 2 * time.Second, TLSConfig: tlsConf,
			Username: cfg.masterUser, Password: cfg.masterAuth})
		req := []any{"cluster", "rkv-join", strconv.FormatUint(uint64(cfg.id), 10), cfg.addr, cfg.busAddr}
		if cfg.learner {
			req = append(req, "learner")
		}
		res, err := c.Do(ctx, req...).StringSlice()
		c.Close()
		if err == nil {
			return parseJoinReply(cfg, res)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := err.Error()
		for _, refusal := range []string{"NOAUTH", "WRONGPASS", "NOPERM"} {
			if strings.HasPrefix(msg, refusal) {
				// Retrying cannot help: the flags are wrong.
				return nil, fmt.Errorf("joining via %s: %s (give the cluster's user and password with --masteruser and --masterauth)", target, msg)
			}
		}
		if strings.HasPrefix(msg, "MOVED ") {
			if f := strings.Fields(msg); len(f) == 3 {
				target = f[2]
				continue
			}
		}
		logger.Warn("join attempt failed; retrying", "via", target, "err", err)
		target = cfg.join[(attempt+1)%len(cfg.join)]
		select {
		case <-time.After(time.Duration(min(attempt+1, 10)) * 200 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func parseJoinReply(cfg *config, res []string) (*identity, error) {
	if len(res) < 2 {
		return nil, errors.New("join: the cluster sent an empty member list")
	}
	cid, err := strconv.ParseUint(res[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("join: bad cluster id %q", res[0])
	}
	ident := &identity{NodeID: uint64(cfg.id), ClusterID: cid}
	for _, line := range res[1:] {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("join: bad member %q", line)
		}
		id, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("join: bad member %q", line)
		}
		ident.Members = append(ident.Members, replica.Member{ID: consensus.NodeID(id), ClientAddr: f[1], BusAddr: f[2]})
	}
	return ident, nil
}
