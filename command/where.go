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
)

// connectionCommands and serverCommands are the commands the front end
// answers; every other command is a write or a read of the keyspace, as
// its "write" flag says.
var (
	connectionCommands = []string{"auth", "client", "discard", "echo", "exec", "hello", "multi", "ping", "quit",
		"readonly", "readwrite", "select", "unwatch", "watch"}
	serverCommands = []string{"acl", "cluster", "command", "config", "debug", "info", "memory", "role", "time"}
)

// whereOf is where the command named name with these flags runs; a
// subcommand runs where its container does.
func whereOf(name string, s *Spec) Where {
	switch {
	case slices.Contains(connectionCommands, name):
		return OnConnection
	case slices.Contains(serverCommands, name):
		return OnServer
	case s.Has("write"):
		return AsWrite
	}
	return AsRead
}
