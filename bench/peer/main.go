// Command peer is the comparison system of rkv's benchmark harness: the Go
// ecosystem's standard Raft stack at its fastest durable setting, the one
// tidwall/uhaha runs: hashicorp/raft replicates, a log store on tidwall/wal
// writes each batch of logs with one write and one fsync (walstore.go),
// raft-boltdb/v2 keeps only the stable store (term and vote), redcon is
// the RESP front end, and GET, SET and DEL act on a map. The leader answers a write once it has applied it,
// after a majority stored it. Reads are served from the local map without
// a leadership check: the peer has no linearizable read to compare with.
//
// It lives in a module of its own so that rkv does not depend on a second
// Raft; the harness (bench/) builds and starts it, nothing else does.
//
//	peer --id 1 --addr 127.0.0.1:7001 --dir d1 \
//	     --cluster 1=127.0.0.1:17001,2=127.0.0.1:17002,3=127.0.0.1:17003
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/tidwall/redcon"
)

func main() {
	id := flag.String("id", "", "this node's id, one of --cluster's")
	addr := flag.String("addr", "127.0.0.1:6379", "client (RESP) address")
	dir := flag.String("dir", "peer-data", "data directory (Raft log, stable store, snapshots)")
	cluster := flag.String("cluster", "", "every member as id=raft-host:port, comma separated")
	pprof := flag.String("pprof", "", "serve net/http/pprof on this host:port (for the per-write breakdown in bench/README.md)")
	flag.Parse()
	if *pprof != "" {
		go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*pprof, nil)) }()
	}
	servers, self, err := parseCluster(*cluster, *id)
	if err != nil {
		fmt.Fprintf(os.Stderr, "peer: %v\n", err)
		os.Exit(2)
	}
	if err := run(*addr, *dir, servers, self); err != nil {
		fmt.Fprintf(os.Stderr, "peer: %v\n", err)
		os.Exit(1)
	}
}

func parseCluster(spec, id string) ([]raft.Server, raft.Server, error) {
	var servers []raft.Server
	var self raft.Server
	for _, m := range strings.Split(spec, ",") {
		mid, maddr, ok := strings.Cut(m, "=")
		if !ok {
			return nil, self, fmt.Errorf("--cluster: %q is not id=host:port", m)
		}
		s := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(mid), Address: raft.ServerAddress(maddr)}
		servers = append(servers, s)
		if mid == id {
			self = s
		}
	}
	if self.ID == "" {
		return nil, self, fmt.Errorf("--id %q is not in --cluster", id)
	}
	return servers, self, nil
}

func run(addr, dir string, servers []raft.Server, self raft.Server) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := raft.DefaultConfig()
	conf.LocalID = self.ID
	// rkv's defaults: 1 s election timeout, 100 ms heartbeats.
	conf.HeartbeatTimeout = time.Second
	conf.ElectionTimeout = time.Second
	conf.LeaderLeaseTimeout = 500 * time.Millisecond
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: os.Stderr})
	logs, err := openWALStore(filepath.Join(dir, "log"))
	if err != nil {
		return err
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "stable.db")})
	if err != nil {
		return err
	}
	stable := &countingStable{StableStore: bolt}
	// The cache of recent logs Consul and Nomad put in front of their log
	// store: replication reads new logs from memory.
	cached, err := raft.NewLogCache(512, logs)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, os.Stderr)
	if err != nil {
		return err
	}
	tcpAddr, err := net.ResolveTCPAddr("tcp", string(self.Address))
	if err != nil {
		return err
	}
	trans, err := raft.NewTCPTransport(string(self.Address), tcpAddr, 3, 10*time.Second, os.Stderr)
	if err != nil {
		return err
	}
	fsm := &kv{m: make(map[string][]byte)}
	r, err := raft.NewRaft(conf, fsm, cached, stable, snaps, trans)
	if err != nil {
		return err
	}
	// Every member bootstraps with the same configuration; on a restart
	// the stored one wins and this is refused.
	if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return err
	}
	s := &server{r: r, fsm: fsm, logs: logs, stable: stable}
	return redcon.ListenAndServe(addr, s.handle, nil, nil)
}

// Commands in the log: an op byte, then the key's length (uvarint), the key
// and, for set, the value.
const (
	opSet byte = 1
	opDel byte = 2
)

func encode(op byte, key, val []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(key)+len(val))
	b = append(b, op)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, val...)
}

// kv is the state machine: a map under a lock (reads come from the
// connections' goroutines).
type kv struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// Apply returns, for a DEL, the number of keys removed.
func (f *kv) Apply(l *raft.Log) any {
	d := l.Data
	if len(d) < 2 {
		return nil
	}
	n, k := binary.Uvarint(d[1:])
	if k <= 0 || uint64(len(d)-1-k) < n {
		return nil
	}
	key := string(d[1+k : 1+k+int(n)])
	f.mu.Lock()
	defer f.mu.Unlock()
	switch d[0] {
	case opSet:
		f.m[key] = d[1+k+int(n):]
	case opDel:
		_, ok := f.m[key]
		delete(f.m, key)
		if ok {
			return 1
		}
		return 0
	}
	return nil
}

func (f *kv) get(key []byte) ([]byte, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.m[string(key)]
	return v, ok
}

func (f *kv) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return snapshot(maps.Clone(f.m)), nil
}

func (f *kv) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := make(map[string][]byte)
	r := bufio.NewReader(rc)
	for {
		key, err := readBytes(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		val, err := readBytes(r)
		if err != nil {
			return err
		}
		m[string(key)] = val
	}
	f.mu.Lock()
	f.m = m
	f.mu.Unlock()
	return nil
}

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

// snapshot is a copy of the map, written as uvarint-length-prefixed key and
// value pairs.
type snapshot map[string][]byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	for k, v := range s {
		w.Write(binary.AppendUvarint(nil, uint64(len(k))))
		w.WriteString(k)
		w.Write(binary.AppendUvarint(nil, uint64(len(v))))
		w.Write(v)
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}

type server struct {
	r      *raft.Raft
	fsm    *kv
	logs   *walStore
	stable *countingStable
}

// countingStable counts the stable store's writes: each is a bbolt
// commit, which fsyncs twice (the pages, then the meta page).
type countingStable struct {
	raft.StableStore
	writes atomic.Uint64
}

func (c *countingStable) Set(key, val []byte) error {
	c.writes.Add(1)
	return c.StableStore.Set(key, val)
}

func (c *countingStable) SetUint64(key []byte, val uint64) error {
	c.writes.Add(1)
	return c.StableStore.SetUint64(key, val)
}

// handle serves one command and everything pipelined behind it: the writes
// are handed to raft together (so that they share a log write) and answered
// once each is applied.
func (s *server) handle(conn redcon.Conn, first redcon.Command) {
	cmds := append([]redcon.Command{first}, conn.ReadPipeline()...)
	futures := make([]raft.ApplyFuture, len(cmds))
	for i, c := range cmds {
		var data []byte
		switch name := strings.ToLower(string(c.Args[0])); {
		case name == "set" && len(c.Args) == 3:
			data = encode(opSet, c.Args[1], c.Args[2])
		case name == "del" && len(c.Args) == 2:
			data = encode(opDel, c.Args[1], nil)
		default:
			continue
		}
		if s.r.State() == raft.Leader {
			futures[i] = s.r.Apply(data, 10*time.Second)
		}
	}
	for i, c := range cmds {
		switch name := strings.ToLower(string(c.Args[0])); {
		case futures[i] != nil:
			if err := futures[i].Error(); err != nil {
				conn.WriteError("ERR " + err.Error())
			} else if n, ok := futures[i].Response().(int); ok {
				conn.WriteInt(n)
			} else {
				conn.WriteString("OK")
			}
		case name == "set" || name == "del":
			if len(c.Args) != map[string]int{"set": 3, "del": 2}[name] {
				conn.WriteError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
			} else {
				conn.WriteError("ERR not the leader")
			}
		case name == "get" && len(c.Args) == 2:
			if v, ok := s.fsm.get(c.Args[1]); ok {
				conn.WriteBulk(v)
			} else {
				conn.WriteNull()
			}
		case name == "ping":
			conn.WriteString("PONG")
		case name == "info":
			conn.WriteBulkString(s.info())
		case name == "config" && len(c.Args) == 3:
			// redis-benchmark asks CONFIG GET save and appendonly at start.
			conn.WriteArray(2)
			conn.WriteBulk(c.Args[2])
			conn.WriteBulkString("")
		default:
			conn.WriteError(fmt.Sprintf("ERR unknown command '%s'", c.Args[0]))
		}
	}
}

// info is INFO's reply, in the fields the harness reads of rkv's INFO:
// the role and the counters of log writes and fsyncs (the log store's
// and the stable store's; snapshots' are not counted), and the goroutine
// runs as rkv estimates them.
func (s *server) info() string {
	role := "follower"
	switch s.r.State() {
	case raft.Leader:
		role = "leader"
	case raft.Candidate:
		role = "candidate"
	}
	st := s.r.Stats()
	writes := s.logs.writes.Load()
	return fmt.Sprintf("# CPU\r\ngo_goroutine_runs:%d\r\n\r\n"+
		"# Raft\r\nraft_role:%s\r\nraft_term:%s\r\nraft_applied_index:%s\r\nraft_commit_index:%s\r\n"+
		"raft_log_writes:%d\r\nraft_log_entries_written:%d\r\nraft_log_bytes_written:%d\r\nraft_log_fsyncs:%d\r\n",
		goroutineRuns(), role, st["term"], st["applied_index"], st["commit_index"],
		writes, s.logs.entries.Load(), s.logs.bytes.Load(), writes+2*s.stable.writes.Load())
}

// goroutineRuns estimates how many times a goroutine was put on a thread
// to run, most of them wake-ups: the runtime samples one in 8 of these
// transitions into /sched/latencies:seconds. rkv's INFO counts the same way.
func goroutineRuns() uint64 {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(sample)
	var n uint64
	for _, c := range sample[0].Value.Float64Histogram().Counts {
		n += c
	}
	return 8 * n
}
