package command

// extras are the commands and subcommands rkv has that Redis 7.0 does
// not: CLIENT SETINFO as Redis 7.2 has it (clients send it when they
// connect), CLUSTER RKV-JOIN, which a node started with --join sends to
// the leader, CLUSTER RKV-BACKUP, which rkv backup sends, and CLUSTER
// RKV-PROMOTE, which makes a learner a voter.
var extras = []*Spec{
	{Name: "client|setinfo", Arity: 4, Flags: []string{"noscript", "loading", "stale"},
		ACL: []string{"slow", "connection"}, Group: "connection", Since: "7.2.0",
		Args: []Arg{{Name: "attr", Type: "oneof", Args: []Arg{
			{Name: "libname", Type: "string", Token: "LIB-NAME"},
			{Name: "libver", Type: "string", Token: "LIB-VER"}}}}},
	{Name: "cluster|rkv-join", Arity: -5, Flags: []string{"admin", "stale"},
		ACL: []string{"admin", "slow", "dangerous"}, Group: "cluster", Since: "1.0.0",
		Args: []Arg{{Name: "node-id", Type: "integer"}, {Name: "client-address", Type: "string"},
			{Name: "bus-address", Type: "string"},
			{Name: "learner", Type: "pure-token", Token: "LEARNER", Flags: []string{"optional"}}}},
	{Name: "cluster|rkv-backup", Arity: 2, Flags: []string{"admin", "noscript", "no_multi"},
		ACL: []string{"admin", "slow", "dangerous"}, Group: "cluster", Since: "1.0.0"},
	{Name: "cluster|rkv-promote", Arity: 3, Flags: []string{"admin", "stale"},
		ACL: []string{"admin", "slow", "dangerous"}, Group: "cluster", Since: "1.0.0",
		Args: []Arg{{Name: "node-id", Type: "string"}}},
}
