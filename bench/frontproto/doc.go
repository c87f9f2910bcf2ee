// Command frontproto is issue 29 step 4's measurement, not a product: rkv's
// replication stack, unchanged, behind an epoll event loop instead of resp/'s
// goroutine per connection on redcon, so that one benchmark run can say
// whether the network layer alone is worth building for real.
//
// It assembles a node as cmd/rkv does (the Raft bus, replica.Start with its
// consensus node, the WAL, the store) and takes rkv's flags for that (--id,
// --addr, --bus, --dir, --cluster, --read-mode, --pprof), so a cluster of
// prototypes starts as an rkv cluster does; a fresh --dir is assumed (no
// identity file, no --join).
//
// The front end is one goroutine locked to its thread, on Linux epoll
// (level-triggered) and non-blocking IPv4 sockets. Each iteration reads
// every ready connection once and parses its commands with redcon's
// ReadNextCommand. All the SETs of an iteration, over all connections, go
// into one Node.ProposeMany call, each encoded with replica.EncodeEntryDB as
// resp/ encodes a write, and all its GETs behind one Node.ReadIndex round,
// read from the store with Store.ReadDB as resp/ serves them; each batch runs
// on a goroutine of its own, which appends every reply to its connection's
// buffer and writes each connection's replies with one write(2). The loop
// hears of a finished batch through an eventfd, once per batch, not per
// request. A connection in a batch runs nothing more until its replies are
// written (what it sends meanwhile waits in its buffer), and a connection's
// run of commands stops where a command of another kind starts, so replies
// keep their order under pipelining.
//
// It knows SET, GET, PING, INFO (its Raft counters, for bench scripts),
// and answers CLIENT, CONFIG GET and COMMAND with no information, as
// redis-benchmark, redis-cli and go-redis ask them at connect; anything
// else gets an error. A follower answers SET and GET with MOVED. Database
// 0 only; no RESP3, AUTH, ACL, TLS, MULTI, Pub/Sub, blocking commands,
// MONITOR, client limits or statistics.
package main
