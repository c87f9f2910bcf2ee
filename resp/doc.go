// Package resp is rkv's Redis protocol front end, built on tidwall/redcon.
//
// Every connection's commands are taken a pipeline at a time: consecutive
// write commands are checked for arity, stamped with the leader's clock and
// proposed together through the Raft log (so one log write covers them), and
// answered with the store's reply once applied; consecutive reads share one
// ReadIndex round and are then served from the local store. A node that is
// not the leader answers -MOVED <slot> <leader> (the slot of the command's
// first key, hash tags honoured), or -CLUSTERDOWN when no leader is known;
// a connection that sent READONLY reads locally instead, possibly stale, as
// a Redis Cluster replica does.
//
// The package also answers the introspection commands clients and tools
// expect (CLUSTER SLOTS/SHARDS/NODES/INFO, ROLE, INFO, COMMAND with key
// specs, CLIENT, CONFIG, HELLO) in Redis 7's formats, with the leader as the
// master of all 16384 slots and the other members as its replicas.
//
// Server commands go one file per concern: dispatch.go (their registry
// and the checks before they run, all read from the command table),
// connection.go, client.go, config.go, info.go, cluster.go, command.go,
// memory.go, debug.go, auth.go and acl.go; multi.go has transactions,
// scripting.go the Lua commands, migrate.go MIGRATE (the leader sends the
// keys to the target over a connection it caches, then deletes them
// through the log in a transaction conditioned on their being unchanged).
// Which of them runs where (connection, server, write, read) is the
// table's Spec.Runs.
//
// Each keyed command goes to the replica that owns its key's slot
// (router.go: one replica owns them all until sharding); the home replica
// holds the members and the ACL users and answers for the cluster. The
// state machine, the log entries, the member directory and the leader's
// expiry and eviction are the replica package's; this one proposes
// entries, refuses writes with OOM when replica.Removal cannot make room,
// enforces the ACL users the state machine applies changes to, and marks a
// WATCHing connection's transaction broken when the replica reports that a
// watched key changed (watch.go).
//
// Every client connection is read through a guard (guard.go) that follows
// the RESP framing before redcon buffers anything, refuses what Redis
// refuses (counts, lengths and lines past the limits) and hands redcon
// whole commands where it can, so redcon's buffer shrinks back; replies are
// written out every 64 KB as a pipeline is served, so a client that does
// not read stops being read instead of growing the node's memory. What the
// guard holds is the connection's query buffer (querybuf.go), sized and
// released as Redis's is.
//
// CONFIG (config.go) works from one table of Redis 7.0's parameters
// (config_table.go), each with what rkv does with it.
//
// Pub/Sub (pubsub.go) proposes each PUBLISH through the log and delivers
// it on every node as the replica applies it; PUBLISH's reply counts the
// receivers on the node that answered, the leader. A connection that
// subscribes writes everything through its outbox (outbox.go), a queue
// with a writer goroutine of its own, so the applier never waits for a
// client, bounded by client-output-buffer-limit pubsub. The pushed
// replies and messages are written in one place, RESP2's form for now.
//
// Blocking commands (blocking.go) wait on the leader: a pop is proposed,
// and while it finds nothing the client waits for the replica to report a
// change of one of its keys, then it is proposed again on the client's
// behalf, the oldest waiter on a key first; XREAD BLOCK is a read that
// reads again. A leader change ends every wait with MOVED.
package resp
