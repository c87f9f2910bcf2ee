// Command peer is the comparison system of rkv's benchmark harness: the Go
// ecosystem's standard Raft stack at its fastest durable setting, as
// tidwall/uhaha runs it. hashicorp/raft replicates; a log store on
// tidwall/wal writes each batch of logs with one write and one fsync
// (walstore.go); raft-boltdb/v2 keeps only the stable store (term and
// vote); redcon is the RESP front end; and, as uhaha does, one goroutine
// gathers the writes of all connections into one log entry at a time
// (applyWrites). GET, SET and DEL act on a map. The leader answers a
// write once it has applied it, after a majority stored it. Reads are
// served from the local map without a leadership check: the peer has no
// linearizable read to compare with.
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
	s := &server{r: r, fsm: fsm, logs: logs, stable: stable, writes: make(chan *writeRequest, 1024)}
	go s.applyWrites()
	return redcon.ListenAndServe(addr, s.handle, nil, nil)
}

// A log entry is a batch of commands, as uhaha writes them: their count,
// then each command's op byte, its key and, for set, its value, each
// preceded by its length (uvarints).
const (
	opSet byte = 1
	opDel byte = 2
)

// maxApplyBatch is the most commands one entry carries (uhaha's).
const maxApplyBatch = 256

func appendCommand(b []byte, op byte, key, val []byte) []byte {
	b = append(b, op)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	if op == opSet {
		b = binary.AppendUvarint(b, uint64(len(val)))
		b = append(b, val...)
	}
	return b
}

// kv is the state machine: a map under a lock (reads come from the
// connections' goroutines).
type kv struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// Apply applies a batch of commands and returns their results, in order:
// nil for a SET, the number of keys removed for a DEL.
func (f *kv) Apply(l *raft.Log) any {
	d := l.Data
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(d)
		if k <= 0 || uint64(len(d)-k) < n {
			return nil, false
		}
		v := d[k : k+int(n) : k+int(n)]
		d = d[k+int(n):]
		return v, true
	}
	count, k := binary.Uvarint(d)
	if k <= 0 {
		return nil
	}
	d = d[k:]
	out := make([]any, 0, count)
	f.mu.Lock()
	defer f.mu.Unlock()
	for range count {
		if len(d) == 0 {
			break
		}
		op := d[0]
		d = d[1:]
		key, ok := next()
		if !ok {
			break
		}
		switch op {
		case opSet:
			val, ok := next()
			if !ok {
				return out
			}
			f.m[string(key)] = val
			out = append(out, nil)
		case opDel:
			_, found := f.m[string(key)]
			delete(f.m, string(key))
			if found {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
		}
	}
	return out
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
	writes chan *writeRequest
}

// writeRequest is one connection's writes (those it read together), for
// the applier.
type writeRequest struct {
	cmds    []byte // the commands, encoded
	n       int    // how many
	results []any  // set by the applier, then done is closed
	err     error
	done    chan struct{}
}

// applyWrites is uhaha's write applier: it gathers the writes waiting
// from every connection, up to maxApplyBatch commands, into one log entry,
// applies it and waits until it is applied before it gathers the next, so
// that each batch is one entry in one log write on every node.
func (s *server) applyWrites() {
	for {
		reqs := []*writeRequest{<-s.writes}
		n := reqs[0].n
	gather:
		for n < maxApplyBatch {
			select {
			case r := <-s.writes:
				reqs = append(reqs, r)
				n += r.n
			default:
				break gather
			}
		}
		data := binary.AppendUvarint(nil, uint64(n))
		for _, r := range reqs {
			data = append(data, r.cmds...)
		}
		f := s.r.Apply(data, 10*time.Second)
		err := f.Error()
		var results []any
		if err == nil {
			results, _ = f.Response().([]any)
			if len(results) != n {
				err = errors.New("a batch was not applied whole")
			}
		}
		for _, r := range reqs {
			if err != nil {
				r.err = err
			} else {
				r.results, results = results[:r.n], results[r.n:]
			}
			close(r.done)
		}
	}
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

// handle serves one command and everything pipelined behind it: the
// writes go to the applier as one request, and each command is answered
// in order once the writes are applied.
func (s *server) handle(conn redcon.Conn, first redcon.Command) {
	cmds := append([]redcon.Command{first}, conn.ReadPipeline()...)
	var req *writeRequest
	isWrite := make([]bool, len(cmds))
	for i, c := range cmds {
		var op byte
		switch name := strings.ToLower(string(c.Args[0])); {
		case name == "set" && len(c.Args) == 3:
			op = opSet
		case name == "del" && len(c.Args) == 2:
			op = opDel
		default:
			continue
		}
		if req == nil {
			req = &writeRequest{done: make(chan struct{})}
		}
		req.cmds = appendCommand(req.cmds, op, c.Args[1], c.Args[len(c.Args)-1])
		req.n++
		isWrite[i] = true
	}
	if req != nil {
		s.writes <- req
		<-req.done
	}
	for i, c := range cmds {
		switch name := strings.ToLower(string(c.Args[0])); {
		case isWrite[i] && req.err != nil:
			conn.WriteError("ERR " + req.err.Error())
		case isWrite[i]:
			if n, ok := req.results[0].(int); ok {
				conn.WriteInt(n)
			} else {
				conn.WriteString("OK")
			}
			req.results = req.results[1:]
		case name == "set" || name == "del":
			conn.WriteError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
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
// the role and the counters of log writes (with the entries and the
// client commands they carried) and fsyncs (the log store's
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
		"raft_log_writes:%d\r\nraft_log_entries_written:%d\r\nraft_log_commands_written:%d\r\n"+
		"raft_log_bytes_written:%d\r\nraft_log_fsyncs:%d\r\n",
		goroutineRuns(), role, st["term"], st["applied_index"], st["commit_index"],
		writes, s.logs.entries.Load(), s.logs.commands.Load(), s.logs.bytes.Load(), writes+2*s.stable.writes.Load())
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
