package command

import "slices"

// Where is where rkv runs a command: what path a request takes.
type Where uint8

const (
	// OnConnection: answered from the connection's own state (AUTH,
	// MULTI, CLIENT ...), before any replica is involved.
	OnConnection Where = iota + 1
	// OnServer: answered by the node about itself or its cluster
	// (CLUSTER, INFO, CONFIG ...).
	OnServer
	// AsWrite: a replicated write, applied from the Raft log.
	AsWrite
	// AsRead: a linearizable read of the keyspace (ReadIndex, then local).
	AsRead
	// AsScript: a Lua script, replicated through the log as a write or,
	// read-only, run as a linearizable read.
	AsScript
)

// connectionCommands, serverCommands and scriptCommands are the commands
// the front end answers; every other command is a write or a read of the keyspace, as
// its "write" flag says.
var (
	connectionCommands = []string{"auth", "client", "discard", "echo", "exec", "hello", "monitor", "multi", "ping", "psubscribe",
		"punsubscribe", "quit", "readonly", "readwrite", "reset", "select", "ssubscribe", "subscribe", "sunsubscribe",
		"unsubscribe", "unwatch", "watch"}
	// PUBLISH and SPUBLISH go through the log, but as entries of their
	// own the front end proposes, not as writes of the keyspace.
	serverCommands = []string{"acl", "bgsave", "cluster", "command", "config", "debug", "function", "info", "lastsave", "latency",
		"memory", "migrate", "publish", "pubsub", "role", "save", "script", "shutdown", "slowlog", "spublish", "time", "wait"}
	scriptCommands = []string{"eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro"}
	// PFCOUNT is flagged readonly, but Redis stores the estimate it
	// computes in the value's header. rkv runs it through the log so
	// that the cache is written at one point of the log on every
	// replica, and the value's bytes stay Redis's.
	cachingReads = []string{"pfcount"}
)

// whereOf is where the command named name with these flags runs; a
// subcommand runs where its container does.
func whereOf(name string, s *Spec) Where {
	switch {
	case slices.Contains(connectionCommands, name):
		return OnConnection
	case slices.Contains(serverCommands, name):
		return OnServer
	case slices.Contains(scriptCommands, name):
		return AsScript
	case s.Has("write") || slices.Contains(cachingReads, name):
		return AsWrite
	}
	return AsRead
}
