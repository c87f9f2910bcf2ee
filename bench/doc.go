// Package bench is rkv's benchmark harness: it builds rkv, starts two
// redis-server instances (one without persistence, one with appendonly yes
// and appendfsync always), a durable 3-node rkv cluster, a single rkv node
// and the peer (bench/peer: hashicorp/raft with raft-boltdb and redcon, a
// module of its own that only the harness builds) side by side on loopback
// ports, drives all of them with the same redis-benchmark runs, and reports
// every figure with the ratios of rkv to redis and to the peer and the
// project's goals.
//
// Everything is measured in one run on one machine so that the ratios compare
// like with like: the same CPU, the same disk (whose fsync latency is reported
// next to the figures) and the same client. Each figure is the median of
// several runs; the systems are interleaved within a run so that a slow phase
// of the machine does not fall on one system only.
//
// The harness owns every process it starts: they run in their own process
// group with a parent-death signal, are killed when Run returns (also when
// its context is cancelled, as on Ctrl-C), and their temporary directories
// are removed.
//
// Run it with
//
//	go run ./bench/cmd/rkvbench            # full suite, writes bench/RESULTS.md
//	go run ./bench/cmd/rkvbench -quick     # a small smoke run
package bench
