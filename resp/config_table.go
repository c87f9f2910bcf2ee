package resp

// The CONFIG table: every parameter Redis 7.0.15 has, as its config.c
// declares it (type, bounds, default, alias, flags), and what rkv does
// with it. CONFIG GET and SET (config.go) are driven by it alone.

import (
	"math"
	"strconv"
	"time"

	"github.com/rkv/rkv/store"
)

// cfgFlags are config.c's flags that rkv honours, and the numeric forms.
type cfgFlags uint16

const (
	cfgImmutable   cfgFlags = 1 << iota // set at start only: CONFIG SET refuses it
	cfgHidden                           // not matched by CONFIG GET patterns, only by name
	cfgProtected                        // refused, as Redis does with enable-protected-configs no
	cfgUnsigned                         // bounds compared (and printed) unsigned, as for size_t
	cfgMemory                           // a number may carry a unit: 10mb, 1gb
	cfgPercent                          // or be a percentage: 50%
	cfgOctal                            // read and shown in octal
	cfgMultiArg                         // takes several words on a config file's line
	cfgEmptyIsNull                      // a string whose "" is no value: CONFIG REWRITE leaves it out
)

// cfgEffect is what rkv does with a parameter (the README's table).
type cfgEffect uint8

const (
	effStored cfgEffect = iota // accepted, validated and stored, without effect in rkv
	effLocal                   // honoured by the node it is set on
	effLog                     // honoured cluster-wide: set through the log
	effFixed                   // a fact of rkv: the same value is accepted, another refused
)

// cfgKind is how CONFIG REWRITE writes a parameter's value.
type cfgKind uint8

const (
	kindString cfgKind = iota // quoted as sdscatrepr does
	kindWord                  // as is: yes/no, an enum's names
	kindNumber                // a memory value with a unit where one fits
)

// cfgParam is one parameter.
type cfgParam struct {
	name, alias string
	flags       cfgFlags
	kind        cfgKind
	def         string // the default, as CONFIG GET shows it
	// parse turns a value into the form CONFIG GET shows, or returns
	// Redis's complaint about it.
	parse  func(v string) (string, string)
	effect cfgEffect
	why    string // for effStored and effFixed: why
	// get reads the live value (nil: the stored one); apply makes a
	// parsed value take effect (nil: it is only stored) or returns why
	// it cannot.
	get   func(s *Server) string
	apply func(s *Server, v string) string
}

// The reasons a parameter has no effect in rkv, by kind.
const (
	whyPersist  = "rkv persists through its Raft log and snapshots, not RDB or AOF files"
	whyRepl     = "rkv's replicas are Raft members, not Redis replicas"
	whyCluster  = "rkv's cluster is its Raft membership; there is no cluster bus"
	whyTLS      = "rkv's TLS is set by its --tls-* flags at start"
	whyProcess  = "process management (logging, daemon, process title, OOM score, signals) is rkv's own"
	whyMemory   = "Go's runtime manages rkv's memory: no jemalloc and no defragmentation"
	whyDebug    = "a Redis test and debugging hook"
	whyLoop     = "rkv has no Redis event loop: its timers and expiry cycle are its own"
	whyEviction = "rkv's eviction uses Redis's default tuning"
	whyNet      = "Go's net package sets up rkv's sockets"
	// The list settings are kept alike on every node but change nothing.
	whyQuicklist = "reported only: lists are quicklists in Redis 7.0 whatever it says"
)

func boolCfg(name, alias string, flags cfgFlags, def bool) cfgParam {
	return cfgParam{name: name, alias: alias, flags: flags, kind: kindWord, def: yesNo(def), parse: parseYesNo}
}

func enumCfg(name, alias string, flags cfgFlags, def string, names ...string) cfgParam {
	return cfgParam{name: name, alias: alias, flags: flags, kind: kindWord, def: def, parse: enumParser(names)}
}

func intCfg(name, alias string, flags cfgFlags, lo, hi, def int64) cfgParam {
	p := cfgParam{name: name, alias: alias, flags: flags, kind: kindNumber}
	p.parse = func(v string) (string, string) { return parseNumber(v, flags, lo, hi) }
	p.def = formatNumber(def, flags)
	return p
}

func strCfg(name, alias string, flags cfgFlags, def string) cfgParam {
	return cfgParam{name: name, alias: alias, flags: flags, def: def, parse: func(v string) (string, string) { return v, "" }}
}

func specialCfg(name, alias string, flags cfgFlags, kind cfgKind, def string, parse func(string) (string, string)) cfgParam {
	return cfgParam{name: name, alias: alias, flags: flags, kind: kind, def: def, parse: parse}
}

// lazyfreeCfg is a lazyfree-lazy-* switch: whether the deletions it names
// release big values in the background on this node (store/lazyfree.go);
// what they reply does not depend on it, so each node has its own.
func lazyfreeCfg(name string, bit store.LazyFree) cfgParam {
	return boolCfg(name, "", 0, false).local(
		func(s *Server) string { return yesNo(s.home.Store().LazyFree()&bit != 0) },
		func(s *Server, v string) string {
			s.home.Store().SetLazyFree(bit, v == "yes")
			return ""
		})
}

// stored marks a parameter accepted without effect in rkv.
func (p cfgParam) stored(why string) cfgParam {
	p.effect, p.why = effStored, why
	return p
}

// local marks a parameter this node honours.
func (p cfgParam) local(get func(s *Server) string, apply func(s *Server, v string) string) cfgParam {
	p.effect, p.get, p.apply = effLocal, get, apply
	return p
}

// fixed marks a parameter whose value is a fact of rkv: get reads it, and
// another value is refused for the reason why.
func (p cfgParam) fixed(get func(s *Server) string, why string) cfgParam {
	p.effect, p.get, p.why = effFixed, get, why
	p.apply = func(*Server, string) string { return why }
	return p
}

// replicated marks an encoding setting (or notify-keyspace-events): the
// store holds it and the log changes it, so the store checks its values.
// note says what else there is to know, if anything.
func (p cfgParam) replicated(note string) cfgParam {
	p.effect, p.why = effLog, note
	p.parse = func(v string) (string, string) {
		_, canon, msg := store.CheckEncodingSetting(p.name, v)
		return canon, msg
	}
	p.get = func(s *Server) string { return s.home.Store().EncodingSettings()[p.name] }
	return p
}

// constant answers v.
func constant(v string) func(*Server) string { return func(*Server) string { return v } }

func limitGetter(f func(l *Limits) int64) func(*Server) string {
	return func(s *Server) string { return strconv.FormatInt(f(s.conns.Load()), 10) }
}

func atomicGetter(f func(s *Server) int64) func(*Server) string {
	return func(s *Server) string { return strconv.FormatInt(f(s), 10) }
}

var (
	maxmemoryPolicies = []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
		"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"}
	shutdownFlags = []string{"default", "save", "nosave", "now", "force"}
)

const (
	intMax   = math.MaxInt32
	intMin   = math.MinInt32
	longMax  = math.MaxInt64
	llongMax = math.MaxInt64
	mem      = cfgMemory
	unsig    = cfgUnsigned
	immut    = cfgImmutable
	hiddenF  = cfgHidden
)

// configTable is in config.c's order.
var configTable = []cfgParam{
	boolCfg("rdbchecksum", "", immut, true).stored(whyPersist),
	boolCfg("daemonize", "", immut, false).stored(whyProcess),
	boolCfg("io-threads-do-reads", "", immut, false).stored("rkv reads each connection in its own goroutine"),
	boolCfg("always-show-logo", "", immut, false).stored(whyProcess),
	boolCfg("protected-mode", "", 0, true).stored("checked once, at start (--protected-mode): a node refuses to start open to the network without a password"),
	boolCfg("rdbcompression", "", 0, true).stored(whyPersist),
	boolCfg("rdb-del-sync-files", "", 0, false).stored(whyPersist),
	boolCfg("activerehashing", "", 0, true).stored("Go's maps rehash by themselves"),
	boolCfg("stop-writes-on-bgsave-error", "", 0, true).stored(whyPersist + "; writes stop (MISCONF) while the log cannot be written, whatever this says"),
	boolCfg("set-proc-title", "", immut, true).stored(whyProcess),
	boolCfg("dynamic-hz", "", 0, true).stored(whyLoop),
	lazyfreeCfg("lazyfree-lazy-eviction", store.LazyEviction),
	lazyfreeCfg("lazyfree-lazy-expire", store.LazyExpire),
	lazyfreeCfg("lazyfree-lazy-server-del", store.LazyServerDel),
	lazyfreeCfg("lazyfree-lazy-user-del", store.LazyUserDel),
	lazyfreeCfg("lazyfree-lazy-user-flush", store.LazyUserFlush),
	boolCfg("repl-disable-tcp-nodelay", "", 0, false).stored(whyRepl),
	boolCfg("repl-diskless-sync", "", 0, true).stored(whyRepl),
	boolCfg("aof-rewrite-incremental-fsync", "", 0, true).stored(whyPersist),
	boolCfg("no-appendfsync-on-rewrite", "", 0, false).stored(whyPersist),
	boolCfg("cluster-require-full-coverage", "", 0, true).stored(whyCluster),
	boolCfg("rdb-save-incremental-fsync", "", 0, true).stored(whyPersist),
	boolCfg("aof-load-truncated", "", 0, true).stored(whyPersist),
	boolCfg("aof-use-rdb-preamble", "", 0, true).stored(whyPersist),
	boolCfg("aof-timestamp-enabled", "", 0, false).stored(whyPersist),
	boolCfg("cluster-replica-no-failover", "cluster-slave-no-failover", 0, false).stored(whyCluster),
	boolCfg("replica-lazy-flush", "slave-lazy-flush", 0, false).stored(whyRepl),
	boolCfg("replica-serve-stale-data", "slave-serve-stale-data", 0, true).stored(whyRepl + "; READONLY chooses stale reads"),
	boolCfg("replica-read-only", "slave-read-only", 0, true).stored(whyRepl + "; followers always redirect writes"),
	boolCfg("replica-ignore-maxmemory", "slave-ignore-maxmemory", 0, true).stored(whyRepl),
	boolCfg("jemalloc-bg-thread", "", 0, true).stored(whyMemory),
	specialCfg("activedefrag", "", 0, kindWord, "no", func(v string) (string, string) {
		if v, msg := parseYesNo(v); msg != "" || v == "no" {
			return v, msg
		}
		return "", "Active defragmentation cannot be enabled: " + whyMemory
	}).stored(whyMemory),
	boolCfg("syslog-enabled", "", immut, false).stored(whyProcess),
	boolCfg("cluster-enabled", "", immut, true).fixed(constant("yes"), "rkv always runs as a cluster"),
	boolCfg("appendonly", "", 0, true).fixed(constant("yes"), "rkv logs every write before applying it"),
	boolCfg("cluster-allow-reads-when-down", "", 0, false).stored(whyCluster),
	boolCfg("cluster-allow-pubsubshard-when-down", "", 0, true).stored(whyCluster),
	boolCfg("crash-log-enabled", "", 0, true).stored(whyProcess),
	boolCfg("crash-memcheck-enabled", "", 0, true).stored(whyProcess),
	boolCfg("use-exit-on-panic", "", hiddenF, false).stored(whyDebug),
	boolCfg("disable-thp", "", immut, true).stored(whyMemory),
	boolCfg("cluster-allow-replica-migration", "", 0, true).stored(whyCluster),
	boolCfg("replica-announced", "", 0, true).stored(whyRepl),
	boolCfg("latency-tracking", "", 0, true).stored("rkv keeps no per-command latency histograms"),
	boolCfg("aof-disable-auto-gc", "", 0, false).stored(whyPersist),
	boolCfg("replica-ignore-disk-write-errors", "", 0, false).stored(whyRepl),

	strCfg("aclfile", "", immut, "").fixed(func(s *Server) string { return s.cfg.ACLFile }, "set by --aclfile"),
	strCfg("unixsocket", "", immut|cfgEmptyIsNull, "").stored(whyNet),
	strCfg("pidfile", "", immut|cfgEmptyIsNull, "").stored(whyProcess),
	strCfg("replica-announce-ip", "slave-announce-ip", cfgEmptyIsNull, "").stored(whyRepl),
	strCfg("masteruser", "", cfgEmptyIsNull, "").stored(whyRepl),
	strCfg("cluster-announce-ip", "", cfgEmptyIsNull, "").stored(whyCluster),
	strCfg("cluster-config-file", "", immut, "nodes.conf").stored(whyCluster),
	specialCfg("cluster-announce-hostname", "", cfgEmptyIsNull, kindString, "", checkHostname).stored(whyCluster),
	strCfg("syslog-ident", "", immut, "redis").stored(whyProcess),
	specialCfg("dbfilename", "", cfgProtected, kindString, "dump.rdb", checkBaseName("dbfilename", false, "a filename")).stored(whyPersist),
	specialCfg("appendfilename", "", immut, kindString, "appendonly.aof", checkBaseName("appendfilename", true, "a filename")).stored(whyPersist),
	specialCfg("appenddirname", "", immut, kindString, "appendonlydir", checkBaseName("appenddirname", true, "a dirname")).stored(whyPersist),
	strCfg("server_cpulist", "", immut|cfgEmptyIsNull, "").stored(whyProcess),
	strCfg("bio_cpulist", "", immut|cfgEmptyIsNull, "").stored(whyProcess),
	strCfg("aof_rewrite_cpulist", "", immut|cfgEmptyIsNull, "").stored(whyPersist),
	strCfg("bgsave_cpulist", "", immut|cfgEmptyIsNull, "").stored(whyPersist),
	strCfg("ignore-warnings", "", 0, "").stored(whyProcess),
	specialCfg("proc-title-template", "", 0, kindString, "{title} {listen-addr} {server-mode}", checkProcTitle).stored(whyProcess),
	strCfg("bind-source-addr", "", cfgEmptyIsNull, "").stored(whyRepl),
	strCfg("logfile", "", immut, "").stored(whyProcess),

	strCfg("masterauth", "", cfgEmptyIsNull, "").stored(whyRepl),
	cfgParam{name: "requirepass", def: "", parse: func(v string) (string, string) { return v, "" }, effect: effLog,
		why: "an ACL change of the default user; CONFIG GET answers \"\" (passwords are kept hashed)",
		// The password is kept only as a hash (acl.go): CONFIG GET
		// answers "", and a change is an ACL entry in the log.
		get: constant("")},

	enumCfg("supervised", "", immut, "no", "upstart", "systemd", "auto", "no").stored(whyProcess),
	enumCfg("syslog-facility", "", immut, "local0", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7").stored(whyProcess),
	enumCfg("repl-diskless-load", "", 0, "disabled", "disabled", "on-empty-db", "swapdb").stored(whyRepl),
	enumCfg("loglevel", "", 0, "notice", "debug", "verbose", "notice", "warning").stored("rkv's log level is --log-level"),
	enumCfg("maxmemory-policy", "", 0, "noeviction", maxmemoryPolicies...).
		local(func(s *Server) string { return s.home.Removal().Policy().String() }, func(s *Server, v string) string { return s.setPolicy(v) }),
	enumCfg("appendfsync", "", 0, "always", "everysec", "always", "no").fixed(constant("always"), "rkv syncs its log before it answers a write"),
	enumCfg("oom-score-adj", "", 0, "no", "no", "yes", "relative", "absolute").stored(whyProcess),
	enumCfg("acl-pubsub-default", "", 0, "resetchannels", "allchannels", "resetchannels").stored("new ACL users start with rkv's own channel permissions"),
	enumCfg("sanitize-dump-payload", "", 0, "no", "no", "yes", "clients").stored("rkv always checks a RESTORE payload in full"),
	enumCfg("enable-protected-configs", "", immut, "no", "no", "yes", "local").stored("protected parameters are always refused"),
	enumCfg("enable-debug-command", "", immut, "no", "no", "yes", "local").stored("rkv's DEBUG has its own subcommands"),
	enumCfg("enable-module-command", "", immut, "no", "no", "yes", "local").stored("rkv loads no modules"),
	enumCfg("cluster-preferred-endpoint-type", "", 0, "ip", "ip", "hostname", "unknown-endpoint").stored(whyCluster),
	enumCfg("propagation-error-behavior", "", 0, "ignore", "ignore", "panic", "panic-on-replicas").stored(whyRepl),
	specialCfg("shutdown-on-sigint", "", cfgMultiArg, kindWord, "default", parseShutdownFlags).stored(whyProcess),
	specialCfg("shutdown-on-sigterm", "", cfgMultiArg, kindWord, "default", parseShutdownFlags).stored(whyProcess),

	intCfg("databases", "", immut, 1, intMax, 16).fixed(func(s *Server) string { return strconv.Itoa(s.home.Store().Databases()) }, "set by --databases"),
	intCfg("port", "", 0, 0, 65535, 6379).fixed(func(s *Server) string {
		_, port := splitHostPort(s.cfg.Addr)
		return strconv.Itoa(port)
	}, "rkv's client address is --addr, which the other members know it by").
		withApply(checkPort),
	intCfg("io-threads", "", immut, 1, 128, 1).stored("rkv reads each connection in its own goroutine"),
	intCfg("auto-aof-rewrite-percentage", "", 0, 0, intMax, 100).stored(whyPersist),
	intCfg("cluster-replica-validity-factor", "cluster-slave-validity-factor", 0, 0, intMax, 10).stored(whyCluster),
	intCfg("list-max-listpack-size", "list-max-ziplist-size", 0, intMin, intMax, -2).replicated(whyQuicklist),
	intCfg("tcp-keepalive", "", 0, 0, intMax, 300).stored(whyNet),
	intCfg("cluster-migration-barrier", "", 0, 0, intMax, 1).stored(whyCluster),
	intCfg("active-defrag-cycle-min", "", 0, 1, 99, 1).stored(whyMemory),
	intCfg("active-defrag-cycle-max", "", 0, 1, 99, 25).stored(whyMemory),
	intCfg("active-defrag-threshold-lower", "", 0, 0, 1000, 10).stored(whyMemory),
	intCfg("active-defrag-threshold-upper", "", 0, 0, 1000, 100).stored(whyMemory),
	intCfg("lfu-log-factor", "", 0, 0, intMax, 10).stored(whyEviction),
	intCfg("lfu-decay-time", "", 0, 0, intMax, 1).stored(whyEviction),
	intCfg("replica-priority", "slave-priority", 0, 0, intMax, 100).stored(whyRepl),
	intCfg("repl-diskless-sync-delay", "", 0, 0, intMax, 5).stored(whyRepl),
	intCfg("maxmemory-samples", "", 0, 1, intMax, 5).
		local(atomicGetter(func(s *Server) int64 { return s.home.Removal().Samples() }), intApply(func(s *Server, n int64) { s.home.Removal().SetSamples(n) })),
	intCfg("maxmemory-eviction-tenacity", "", 0, 0, 100, 10).stored(whyEviction),
	intCfg("timeout", "", 0, 0, intMax, 0).local(limitGetter(func(l *Limits) int64 { return int64(l.IdleTimeout / time.Second) }),
		limitSetter(func(l *Limits, n int64) { l.IdleTimeout = time.Duration(n) * time.Second })),
	intCfg("replica-announce-port", "slave-announce-port", 0, 0, 65535, 0).stored(whyRepl),
	intCfg("tcp-backlog", "", immut, 0, intMax, 511).stored(whyNet),
	intCfg("cluster-port", "", immut, 0, 65535, 0).stored(whyCluster),
	intCfg("cluster-announce-bus-port", "", 0, 0, 65535, 0).stored(whyCluster),
	intCfg("cluster-announce-port", "", 0, 0, 65535, 0).stored(whyCluster),
	intCfg("cluster-announce-tls-port", "", 0, 0, 65535, 0).stored(whyCluster),
	intCfg("repl-timeout", "", 0, 1, intMax, 60).stored(whyRepl),
	intCfg("repl-ping-replica-period", "repl-ping-slave-period", 0, 1, intMax, 10).stored(whyRepl),
	intCfg("list-compress-depth", "", 0, 0, intMax, 0).replicated(whyQuicklist),
	intCfg("rdb-key-save-delay", "", hiddenF, intMin, intMax, 0).stored(whyDebug),
	intCfg("key-load-delay", "", hiddenF, intMin, intMax, 0).stored(whyDebug),
	intCfg("active-expire-effort", "", 0, 1, 10, 1).stored(whyLoop),
	intCfg("hz", "", 0, 0, intMax, 10).stored(whyLoop),
	intCfg("min-replicas-to-write", "min-slaves-to-write", 0, 0, intMax, 0).
		local(atomicGetter(func(s *Server) int64 { return s.minReplicas.Load() }), intApply(func(s *Server, n int64) { s.minReplicas.Store(n) })),
	intCfg("min-replicas-max-lag", "min-slaves-max-lag", 0, 0, intMax, 10).
		local(atomicGetter(func(s *Server) int64 { return s.minReplicasLag.Load() }), intApply(func(s *Server, n int64) { s.minReplicasLag.Store(n) })),
	intCfg("watchdog-period", "", hiddenF, 0, intMax, 0).stored(whyDebug),
	intCfg("shutdown-timeout", "", 0, 0, intMax, 10).stored(whyProcess),
	intCfg("repl-diskless-sync-max-replicas", "", 0, 0, intMax, 0).stored(whyRepl),

	intCfg("maxclients", "", unsig, 1, math.MaxUint32, 10000).
		local(atomicGetter(func(s *Server) int64 { return s.maxClients.Load() }), intApply(func(s *Server, n int64) { s.maxClients.Store(n) })),
	intCfg("unixsocketperm", "", immut|unsig|cfgOctal, 0, 0o777, 0).stored(whyNet),
	intCfg("socket-mark-id", "", immut|unsig, 0, math.MaxUint32, 0).stored(whyNet),

	intCfg("active-defrag-max-scan-fields", "", 0, 1, longMax, 1000).stored(whyMemory),
	intCfg("slowlog-max-len", "", 0, 0, longMax, 128).
		local(atomicGetter(func(s *Server) int64 { return s.slowlog.maxLen.Load() }), intApply((*Server).setSlowlogMaxLen)),
	intCfg("acllog-max-len", "", 0, 0, longMax, 128).stored("rkv keeps no ACL LOG"),

	intCfg("busy-reply-threshold", "lua-time-limit", 0, 0, longMax, 5000).
		local(atomicGetter(func(s *Server) int64 { return s.busyMs.Load() }), intApply(func(s *Server, n int64) { s.busyMs.Store(n) })),
	intCfg("cluster-node-timeout", "", 0, 0, llongMax, 15000).stored(whyCluster + "; failure detection is Raft's election timeout"),
	intCfg("slowlog-log-slower-than", "", 0, -1, llongMax, 10000).
		local(atomicGetter(func(s *Server) int64 { return s.slowlog.slowerThan.Load() }), intApply(func(s *Server, n int64) { s.slowlog.slowerThan.Store(n) })),
	intCfg("latency-monitor-threshold", "", 0, 0, llongMax, 0).
		local(atomicGetter(func(s *Server) int64 { return s.latency.thresholdMs.Load() }), intApply(func(s *Server, n int64) { s.latency.thresholdMs.Store(n) })),
	intCfg("proto-max-bulk-len", "", mem, 1<<20, longMax, 512<<20).local(limitGetter(func(l *Limits) int64 { return l.ProtoMaxBulkLen }),
		limitSetter(func(l *Limits, n int64) { l.ProtoMaxBulkLen = n })),
	intCfg("stream-node-max-entries", "", 0, 0, llongMax, 100).replicated(""),
	intCfg("repl-backlog-size", "", mem, 1, llongMax, 1<<20).stored(whyRepl),

	intCfg("maxmemory", "", mem|unsig, 0, -1, 0).
		local(atomicGetter(func(s *Server) int64 { return s.home.Removal().MaxMemory() }), intApply(func(s *Server, n int64) { s.home.Removal().SetMaxMemory(n) })),
	intCfg("cluster-link-sendbuf-limit", "", mem|unsig, 0, -1, 0).stored(whyCluster),

	intCfg("hash-max-listpack-entries", "hash-max-ziplist-entries", unsig, 0, longMax, 512).replicated(""),
	intCfg("set-max-intset-entries", "", unsig, 0, longMax, 512).replicated(""),
	intCfg("zset-max-listpack-entries", "zset-max-ziplist-entries", unsig, 0, longMax, 128).replicated(""),
	intCfg("active-defrag-ignore-bytes", "", mem|unsig, 1, llongMax, 100<<20).stored(whyMemory),
	intCfg("hash-max-listpack-value", "hash-max-ziplist-value", mem|unsig, 0, longMax, 64).replicated(""),
	intCfg("stream-node-max-bytes", "", mem|unsig, 0, longMax, 4096).replicated(""),
	intCfg("zset-max-listpack-value", "zset-max-ziplist-value", mem|unsig, 0, longMax, 64).replicated(""),
	intCfg("hll-sparse-max-bytes", "", mem|unsig, 0, longMax, 3000).replicated(""),
	intCfg("tracking-table-max-keys", "", unsig, 0, longMax, 1000000).
		local(atomicGetter(func(s *Server) int64 { return s.tracking.maxKeys.Load() }), intApply(func(s *Server, n int64) { s.tracking.setMaxKeys(n) })),
	intCfg("client-query-buffer-limit", "", mem|unsig, 1<<20, longMax, 1<<30).local(limitGetter(func(l *Limits) int64 { return l.QueryBufferMax }),
		limitSetter(func(l *Limits, n int64) { l.QueryBufferMax = n })),
	intCfg("maxmemory-clients", "", mem|cfgPercent, -100, longMax, 0).stored("rkv does not evict clients for their memory"),

	intCfg("repl-backlog-ttl", "", 0, 0, longMax, 3600).stored(whyRepl),
	intCfg("auto-aof-rewrite-min-size", "", mem, 0, llongMax, 64<<20).stored(whyPersist),
	intCfg("loading-process-events-interval-bytes", "", hiddenF, 1024, intMax, 2<<20).stored(whyDebug),

	intCfg("tls-port", "", 0, 0, 65535, 0).stored(whyTLS),
	intCfg("tls-session-cache-size", "", 0, 0, intMax, 20*1024).stored(whyTLS),
	intCfg("tls-session-cache-timeout", "", 0, 0, intMax, 300).stored(whyTLS),
	boolCfg("tls-cluster", "", 0, false).stored(whyTLS),
	boolCfg("tls-replication", "", 0, false).stored(whyTLS),
	enumCfg("tls-auth-clients", "", 0, "yes", "no", "yes", "optional").stored(whyTLS),
	boolCfg("tls-prefer-server-ciphers", "", 0, false).stored(whyTLS),
	boolCfg("tls-session-caching", "", 0, true).stored(whyTLS),
	strCfg("tls-cert-file", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-key-file", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-key-file-pass", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-client-cert-file", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-client-key-file", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-client-key-file-pass", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-dh-params-file", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-ca-cert-file", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-ca-cert-dir", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-protocols", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-ciphers", "", cfgEmptyIsNull, "").stored(whyTLS),
	strCfg("tls-ciphersuites", "", cfgEmptyIsNull, "").stored(whyTLS),

	strCfg("dir", "", cfgProtected, "").fixed(func(s *Server) string { return s.cfg.Dir }, "set by --dir"),
	specialCfg("save", "", cfgMultiArg, kindWord, "", parseSave).stored(whyPersist + " (--snapshot-entries decides when to snapshot)"),
	specialCfg("client-output-buffer-limit", "", cfgMultiArg, kindWord, "", checkOutputLimit).local(func(s *Server) string { return formatOutputLimit(*s.conns.Load()) },
		func(s *Server, v string) string {
			l := *s.conns.Load()
			if msg := parseOutputLimit(v, &l); msg != "" {
				return msg
			}
			s.conns.Store(&l)
			return ""
		}),
	specialCfg("oom-score-adj-values", "", cfgMultiArg, kindWord, "0 200 800", parseOOMValues).stored(whyProcess),
	strCfg("notify-keyspace-events", "", 0, "").replicated(""),
	specialCfg("bind", "", cfgMultiArg, kindWord, "", parseBind).fixed(func(s *Server) string {
		host, _ := splitHostPort(s.cfg.Addr)
		return host
	}, "rkv's client address is --addr, which the other members know it by"),
	strCfg("replicaof", "slaveof", immut|cfgMultiArg, "").stored(whyRepl),
	specialCfg("latency-tracking-info-percentiles", "", cfgMultiArg, kindWord, "50 99 99.9", parsePercentiles).stored("rkv keeps no per-command latency histograms"),

	// rkv's own, set on its command line; hidden, so that patterns
	// answer as Redis's do.
	strCfg("rkv-read-mode", "", hiddenF, "").fixed(func(s *Server) string { return s.cfg.ReadMode }, "set by --read-mode"),
	strCfg("rkv-election-timeout", "", hiddenF, "").fixed(func(s *Server) string { return s.cfg.ElectionTimeout.String() }, "set by --election-timeout"),
	strCfg("rkv-heartbeat-interval", "", hiddenF, "").fixed(func(s *Server) string { return s.cfg.HeartbeatInterval.String() }, "set by --heartbeat-interval"),
	strCfg("rkv-snapshot-entries", "", hiddenF, "").fixed(func(s *Server) string { return strconv.FormatUint(s.cfg.SnapshotEntries, 10) }, "set by --snapshot-entries"),
}

// withApply replaces a fixed parameter's apply.
func (p cfgParam) withApply(apply func(s *Server, v string) string) cfgParam {
	p.apply = apply
	return p
}
