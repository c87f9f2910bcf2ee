package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/internal/atomicfile"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/resp"
	"github.com/rkv/rkv/store"
)

// config is the validated command line of one node.
type config struct {
	id consensus.NodeID
	// addr and busAddr are the addresses other nodes and clients are
	// told (MOVED, CLUSTER SLOTS, the member list); listenAddr and
	// busListen are where this node listens. They differ only with
	// --announce-addr.
	addr, busAddr         string
	listenAddr, busListen string
	dir                   string
	cluster               []replica.Member
	// join lists client addresses of members of the cluster to join,
	// tried in turn; nil for a founding member.
	join []string
	// learner joins as a non-voter that stays one.
	learner           bool
	electionTimeout   time.Duration
	heartbeatInterval time.Duration
	readMode          string
	snapshotEntries   uint64
	snapshotLogPct    uint64
	snapshotCatchUp   uint64
	maxClients        int
	// masterUser and masterAuth are what a joining node authenticates
	// with, as a Redis replica with its master.
	masterUser, masterAuth string
	databases              int
	maxMemory              int64
	maxMemoryPolicy        store.Policy
	maxMemorySamples       int
	acl                    *resp.ACL
	aclFile                string
	protectedMode          bool
	limits                 resp.Limits
	tls                    tlsOptions
	logLevel               slog.Level
	pprofAddr              string
	metricsAddr            string
	// configFile is --config's file, absolute ("": none); fileDirectives
	// are the names of rkv's own directives in it (its flags), and
	// params the CONFIG parameters the node starts with.
	configFile     string
	fileDirectives []string
	params         map[string]string
}

// parseFlags reads a node's command line; getenv is the environment's
// lookup (RKV_REQUIREPASS, HOSTNAME).
func parseFlags(args []string, getenv func(string) string) (_ *config, err error) {
	fs := flag.NewFlagSet("rkv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFile := fs.String("config", "", "read directives from this file in redis.conf's syntax: Redis's CONFIG parameters and these flags, by name (bind and port set --addr's host and port); a flag on the command line overrides the file, and CONFIG REWRITE writes the file")
	id := fs.Uint64("id", 1, "this node's id in the cluster (a positive integer)")
	idFromHost := fs.Bool("id-from-hostname", false, "take the id from the host name's trailing ordinal: NAME-N is node N+1 (a Kubernetes StatefulSet's pod rkv-0 is node 1); the host name is $HOSTNAME, else the system's")
	addr := fs.String("addr", "127.0.0.1:6379", "client address to listen on (`host:port`); the Raft bus listens on port+10000")
	announce := fs.String("announce-addr", "", "the client address (`host:port[@busport]`) other nodes and clients are told, when it is not --addr's (a DNS name, a published port); --addr and --bus are then where this node listens")
	bus := fs.String("bus", "", "Raft bus address (`host:port`); default: the client port + 10000")
	dir := fs.String("dir", "rkv-data", "data directory (Raft log, hard state, snapshots)")
	cluster := fs.String("cluster", "", "every member of a new cluster as `id=host:port[@busport],...`; default: this node alone. A node whose id is not listed joins the cluster through the listed members")
	join := fs.String("join", "", "client addresses (`host:port,...`) of members of an existing cluster to join as a new node, tried in turn")
	learner := fs.Bool("learner", false, "join (--join) as a learner: a member that receives the log and serves reads but never votes nor counts towards the quorum, until CLUSTER RKV-PROMOTE makes it a voter")
	election := fs.Duration("election-timeout", time.Second, "time without a leader before a follower starts an election")
	heartbeat := fs.Duration("heartbeat-interval", 100*time.Millisecond, "time between leader heartbeats (the Raft tick)")
	readMode := fs.String("read-mode", "linearizable", "how the leader confirms reads: linearizable (ReadIndex round) or lease")
	snapEntries := fs.Uint64("snapshot-entries", 100000, "take a snapshot every this many entries, compacting the log behind it (0: never)")
	snapLogPercent := fs.Uint64("snapshot-log-percent", 50, "also wait until the log written since the last snapshot is this percent of its size (0: entries alone decide)")
	snapCatchUp := fs.Uint64("snapshot-catchup-entries", 0, "keep this many entries behind a snapshot, for followers that install an older one (0: back to the previous snapshot)")
	maxClients := fs.Int("maxclients", 10000, "maximum number of client connections")
	databases := fs.Int("databases", store.DefaultDatabases, "number of databases clients may SELECT (the same on every node of a cluster)")
	maxMemory := fs.String("maxmemory", "0", "bound on the data set in `bytes` (k, kb, m, mb, g, gb as in redis.conf; 0: none)")
	maxMemoryPolicy := fs.String("maxmemory-policy", "noeviction", "what goes at maxmemory: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random or volatile-ttl")
	maxMemorySamples := fs.Int("maxmemory-samples", 5, "keys sampled per key evicted by the LRU, LFU and random policies")
	requirepass := fs.String("requirepass", "", "password of the default user, which clients give with AUTH (\"\": none; default: $RKV_REQUIREPASS)")
	requirepassFile := fs.String("requirepass-file", "", "file whose first line is --requirepass, so that the password is not on the command line")
	masterUser := fs.String("masteruser", "", "user --join authenticates as at the cluster it joins (\"\": the default user)")
	masterAuth := fs.String("masterauth", "", "password --join authenticates with at the cluster it joins (\"\": --requirepass's)")
	aclFile := fs.String("aclfile", "", "file of ACL users (as ACL LIST writes them) loaded at start and by ACL LOAD, written by ACL SAVE")
	protected := fs.String("protected-mode", "yes", "yes: refuse to listen beyond loopback while the default user has no password")
	idle := fs.Int("timeout", 0, "close a client idle this many `seconds` (0: never)")
	maxBulk := fs.String("proto-max-bulk-len", "512mb", "the longest bulk string a client may send")
	queryBuf := fs.String("client-query-buffer-limit", "1gb", "the largest command a client may send")
	outputBuf := fs.String("client-output-buffer-limit", "normal 0 0 0", "`<class> <hard> <soft> <seconds>`, repeated: close a client whose unread replies pass hard bytes, or soft bytes for seconds (0 0 0: no limit); class normal, or pubsub for a subscribed client (default pubsub 32mb 8mb 60)")
	tlsDone := tlsFlags(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	pprofAddr := fs.String("pprof", "", "serve Go's net/http/pprof profiles on this `host:port` (for profiling)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics (/metrics) and health checks (/livez, /readyz) over HTTP on this `host:port` (\"\": none)")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs)
			return nil, err
		}
		return nil, &usageError{err.Error() + " (run rkv -h for the flags)"}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q (run rkv -h for the flags)", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	file := &fileConfig{params: map[string]string{}}
	if *configFile != "" {
		if given, file, err = loadConfigFile(fs, *configFile, args, given); err != nil {
			return nil, err
		}
		defer func() {
			var ue *usageError
			if errors.As(err, &ue) {
				ue.msg = fileOrigin(ue.msg, file.origin)
			}
		}()
	}
	cfg := &config{
		id: consensus.NodeID(*id), listenAddr: *addr, dir: *dir, learner: *learner,
		electionTimeout: *election, heartbeatInterval: *heartbeat, readMode: *readMode,
		snapshotEntries: *snapEntries, snapshotLogPct: *snapLogPercent, snapshotCatchUp: *snapCatchUp,
		maxClients: *maxClients, databases: *databases, pprofAddr: *pprofAddr, metricsAddr: *metricsAddr,
		params: file.params,
	}
	if *configFile != "" {
		if cfg.configFile, err = filepath.Abs(*configFile); err != nil {
			return nil, &usageError{fmt.Sprintf("--config: %v", err)}
		}
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name != "config" {
				cfg.fileDirectives = append(cfg.fileDirectives, f.Name)
			}
		})
	}
	// CONFIG GET shows the parameters that are also flags as given.
	for name := range given {
		if resp.IsConfigParam(name) {
			cfg.params[name] = fs.Lookup(name).Value.String()
		}
	}
	if *idFromHost {
		if given["id"] {
			return nil, &usageError{"--id and --id-from-hostname: give one"}
		}
		host := getenv("HOSTNAME")
		if host == "" {
			var err error
			if host, err = os.Hostname(); err != nil {
				return nil, &usageError{fmt.Sprintf("--id-from-hostname: %v", err)}
			}
		}
		n, err := idFromHostname(host)
		if err != nil {
			return nil, &usageError{"--id-from-hostname: " + err.Error()}
		}
		cfg.id = n
	}
	if cfg.id == 0 {
		return nil, &usageError{"--id must be a positive integer"}
	}
	if _, _, err := net.SplitHostPort(cfg.listenAddr); err != nil {
		return nil, &usageError{fmt.Sprintf("--addr %q: %v", cfg.listenAddr, err)}
	}
	cfg.busListen = *bus
	if cfg.busListen != "" {
		if _, _, err := net.SplitHostPort(cfg.busListen); err != nil {
			return nil, &usageError{fmt.Sprintf("--bus %q: %v", cfg.busListen, err)}
		}
	} else {
		b, err := replica.DefaultBus(cfg.listenAddr)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("--addr %q: %v", cfg.listenAddr, err)}
		}
		cfg.busListen = b
	}
	cfg.addr, cfg.busAddr = cfg.listenAddr, cfg.busListen
	announceBus := false
	if *announce != "" {
		m, err := replica.ParseMember(*announce)
		if err != nil {
			return nil, &usageError{"--announce-addr: " + err.Error()}
		}
		cfg.addr, cfg.busAddr, announceBus = m.ClientAddr, m.BusAddr, strings.Contains(*announce, "@")
	}
	if cfg.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.metricsAddr); err != nil {
			return nil, &usageError{fmt.Sprintf("--metrics-addr %q: %v", cfg.metricsAddr, err)}
		}
	}
	if cfg.dir == "" {
		return nil, &usageError{"--dir must not be empty"}
	}
	if cfg.heartbeatInterval <= 0 {
		return nil, &usageError{"--heartbeat-interval must be positive"}
	}
	if cfg.electionTimeout < 3*cfg.heartbeatInterval {
		return nil, &usageError{"--election-timeout must be at least 3 times --heartbeat-interval"}
	}
	if cfg.readMode != "linearizable" && cfg.readMode != "lease" {
		return nil, &usageError{fmt.Sprintf("--read-mode %q: want linearizable or lease", cfg.readMode)}
	}
	if cfg.readMode == "lease" && cfg.electionTimeout < 5*cfg.heartbeatInterval {
		// The lease ends three heartbeat intervals short of the election
		// timeout, for tick granularity and clock drift.
		return nil, &usageError{"--read-mode lease needs --election-timeout at least 5 times --heartbeat-interval"}
	}
	if cfg.maxClients <= 0 {
		return nil, &usageError{"--maxclients must be positive"}
	}
	if cfg.databases < 1 || cfg.databases > store.MaxDatabases {
		return nil, &usageError{fmt.Sprintf("--databases must be between 1 and %d", store.MaxDatabases)}
	}
	var ok bool
	if cfg.maxMemory, ok = resp.ParseMemory(*maxMemory); !ok {
		return nil, &usageError{fmt.Sprintf("--maxmemory %q: want a number of bytes, optionally with k, kb, m, mb, g or gb", *maxMemory)}
	}
	if cfg.maxMemoryPolicy, ok = store.ParsePolicy(*maxMemoryPolicy); !ok {
		return nil, &usageError{fmt.Sprintf("--maxmemory-policy %q: want noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random or volatile-ttl", *maxMemoryPolicy)}
	}
	if cfg.maxMemorySamples = *maxMemorySamples; cfg.maxMemorySamples <= 0 {
		return nil, &usageError{"--maxmemory-samples must be positive"}
	}
	password := *requirepass
	if *requirepassFile != "" {
		if given["requirepass"] {
			return nil, &usageError{"--requirepass and --requirepass-file: give one"}
		}
		var err error
		if password, err = readFirstLine("--requirepass-file", *requirepassFile); err != nil {
			return nil, err
		}
	} else if !given["requirepass"] {
		password = getenv("RKV_REQUIREPASS")
	}
	cfg.masterUser, cfg.masterAuth = *masterUser, *masterAuth
	if cfg.masterAuth == "" {
		cfg.masterAuth = password
	}
	if err := cfg.security(password, *aclFile, *protected); err != nil {
		return nil, err
	}
	if cfg.limits, ok = resp.ParseLimits(*idle, *maxBulk, *queryBuf, *outputBuf); !ok {
		return nil, &usageError{"--timeout, --proto-max-bulk-len, --client-query-buffer-limit or --client-output-buffer-limit: want seconds, memory sizes (at least 1mb) and `<class> <hard> <soft> <seconds>`"}
	}
	if cfg.tls, err = tlsDone(); err != nil {
		return nil, err
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, &usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", *logLevel)}
	}
	if *cluster != "" && *join != "" {
		return nil, &usageError{"--cluster and --join exclude each other: a new cluster is listed, an existing one is joined"}
	}
	if *join != "" {
		for _, a := range strings.Split(*join, ",") {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, &usageError{fmt.Sprintf("--join %q: %v", a, err)}
			}
			cfg.join = append(cfg.join, a)
		}
		return cfg, cfg.reachable()
	}
	if *cluster == "" {
		if cfg.learner {
			return nil, &usageError{"--learner joins an existing cluster: give --join"}
		}
		cfg.cluster = []replica.Member{{ID: cfg.id, ClientAddr: cfg.addr, BusAddr: cfg.busAddr}}
		return cfg, nil
	}
	members, err := replica.ParseCluster(*cluster)
	if err != nil {
		return nil, &usageError{"--cluster: " + err.Error()}
	}
	self := slices.IndexFunc(members, func(m replica.Member) bool { return m.ID == cfg.id })
	if self < 0 {
		// Not a founder: one pod template (a StatefulSet's) serves the
		// founding members and the nodes added later, which join
		// through the founders.
		for _, m := range members {
			cfg.join = append(cfg.join, m.ClientAddr)
		}
		return cfg, cfg.reachable()
	}
	if cfg.learner {
		return nil, &usageError{fmt.Sprintf("--learner: node %d is a founding member in --cluster; a learner joins an existing cluster", cfg.id)}
	}
	if members[self].ClientAddr != cfg.addr {
		flagName := "--addr"
		if *announce != "" {
			flagName = "--announce-addr"
		}
		return nil, &usageError{fmt.Sprintf("--cluster lists node %d at %s but %s is %s", cfg.id, members[self].ClientAddr, flagName, cfg.addr)}
	}
	switch {
	case announceBus && members[self].BusAddr != cfg.busAddr:
		return nil, &usageError{fmt.Sprintf("--cluster lists node %d's bus at %s but --announce-addr's is %s", cfg.id, members[self].BusAddr, cfg.busAddr)}
	case *announce == "" && *bus != "" && members[self].BusAddr != *bus:
		return nil, &usageError{fmt.Sprintf("--cluster lists node %d's bus at %s but --bus is %s", cfg.id, members[self].BusAddr, *bus)}
	}
	cfg.busAddr = members[self].BusAddr
	if *announce == "" {
		cfg.busListen = cfg.busAddr
	}
	cfg.cluster = members
	return cfg, cfg.reachable()
}

// reachable refuses to tell other nodes an address such as 0.0.0.0:6379,
// which names no host: a node that listens on every interface and is
// part of a cluster says where it is reached with --announce-addr.
func (cfg *config) reachable() error {
	if len(cfg.cluster) == 1 && cfg.join == nil {
		return nil
	}
	for _, a := range []string{cfg.addr, cfg.busAddr} {
		host, _, _ := net.SplitHostPort(a)
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			return &usageError{fmt.Sprintf("%s listens on every interface but names none to other nodes: give --announce-addr host:port", a)}
		}
	}
	return nil
}

// idFromHostname reads the ordinal a StatefulSet gives its pods (NAME-0,
// NAME-1, ...) and returns it plus one, as node ids start at 1.
func idFromHostname(host string) (consensus.NodeID, error) {
	host, _, _ = strings.Cut(host, ".")
	i := strings.LastIndexByte(host, '-')
	n, err := strconv.ParseUint(host[i+1:], 10, 63)
	if i < 0 || err != nil {
		return 0, fmt.Errorf("host name %q does not end in -N", host)
	}
	return consensus.NodeID(n + 1), nil
}

// readFirstLine reads a secret from a file: its first line, without the
// line ending; an empty one is an error.
func readFirstLine(flagName, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &usageError{fmt.Sprintf("%s: %v", flagName, err)}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSuffix(line, "\r"); line == "" {
		return "", &usageError{fmt.Sprintf("%s %s: the first line is empty", flagName, path)}
	}
	return line, nil
}

func printUsage(fs *flag.FlagSet) {
	fs.SetOutput(os.Stdout)
	fmt.Println("usage: rkv [flags]        serve one node (alone, in a new --cluster, or --join an existing one)")
	fmt.Println("       rkv local [flags]  run a local N-node cluster on 127.0.0.1 (rkv local -h)")
	fmt.Println("       rkv backup [flags] write a backup of a running cluster to a file (rkv backup -h)")
	fmt.Println("       rkv restore --file FILE [node flags]  seed a new node's --dir from a backup")
	fmt.Println("       rkv recover --dir D --force-new-cluster")
	fmt.Println("                          make a stopped node the only member of a new cluster (rkv recover -h)")
	fs.PrintDefaults()
}

// identity is what a node must remember across restarts beyond its log:
// which cluster it belongs to and the members it started with.
type identity struct {
	NodeID    uint64           `json:"node_id"`
	ClusterID uint64           `json:"cluster_id"`
	Members   []replica.Member `json:"members"`
	// Bootstrap is true for a founding member (its log starts with the
	// founding membership) and false for a node that joined.
	Bootstrap bool `json:"bootstrap"`
}

const identityFile = "node.json"

func loadIdentity(dir string) (*identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, identityFile), err)
	}
	return &id, nil
}

// saveIdentity writes the identity atomically (temp file, fsync, rename,
// fsync of the directory).
func saveIdentity(dir string, id *identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, identityFile), 0o644, b)
}

// security reads the password, the ACL file and protected mode. Protected
// mode, as Redis's: a node that would accept clients beyond loopback while
// anyone may connect as the default user without a password is refused.
func (cfg *config) security(requirepass, aclFile, protected string) error {
	switch protected {
	case "yes", "no":
		cfg.protectedMode = protected == "yes"
	default:
		return &usageError{fmt.Sprintf("--protected-mode %q: want yes or no", protected)}
	}
	var lines []string
	if aclFile != "" {
		var err error
		if lines, err = resp.ReadACLFile(aclFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &usageError{fmt.Sprintf("--aclfile: %v", err)}
		}
	}
	acl, err := resp.NewACL(requirepass, lines)
	if err != nil {
		return &usageError{fmt.Sprintf("--aclfile %s: %v", aclFile, err)}
	}
	cfg.acl, cfg.aclFile = acl, aclFile
	host, _, _ := net.SplitHostPort(cfg.listenAddr)
	if cfg.protectedMode && !acl.PasswordRequired() && !isLoopback(host) {
		return &usageError{fmt.Sprintf("protected mode: --addr %s accepts clients beyond this machine, and the default user has no password. "+
			"Set one with --requirepass, --requirepass-file or $RKV_REQUIREPASS (or an --aclfile giving the default user a password), listen on 127.0.0.1, "+
			"or, on a network you trust, start with --protected-mode no", cfg.listenAddr)}
	}
	return nil
}

// isLoopback reports whether a listen host accepts only this machine's
// connections.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
