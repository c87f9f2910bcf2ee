package resp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
)

// SAVE, BGSAVE and LASTSAVE write this node's state, as a backup file
// (replica.WriteBackup: the group's snapshot at the index this node has
// applied, with its index and term), to dump.rkv in the data directory: a
// point-in-time copy, as Redis's dump.rdb, that rkv restore seeds a new
// cluster from. The Raft log and its own snapshots stay the durable state;
// this file is no part of recovery. Taking the snapshot is O(1)
// (copy-on-write), so writes go on while it is written, SAVE's included.
// CLUSTER RKV-BACKUP, which rkv backup sends, streams the leader's backup
// of everything committed before it instead.
func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){
		"save":     (*Server).cmdSave,
		"bgsave":   (*Server).cmdBgsave,
		"lastsave": (*Server).cmdLastsave,
		"shutdown": (*Server).cmdShutdown,
	})
}

// cmdShutdown asks the process to stop as SIGTERM does: a leader hands
// leadership over first (see Config.Shutdown). Like Redis it answers
// nothing when it goes ahead; NOSAVE, SAVE, NOW and FORCE change
// nothing, the Raft log being durable already.
func (s *Server) cmdShutdown(conn redcon.Conn, _ *client, args [][]byte) {
	flags := map[string]bool{}
	for _, a := range args[1:] {
		switch f := strings.ToLower(string(a)); f {
		case "nosave", "save", "now", "force", "abort":
			flags[f] = true
		default:
			conn.WriteError(errSyntax)
			return
		}
	}
	switch {
	case flags["abort"] && len(flags) > 1, flags["nosave"] && flags["save"]:
		conn.WriteError(errSyntax)
		return
	case flags["abort"]:
		// A shutdown here does not wait for anything that could be
		// aborted.
		conn.WriteError("ERR No shutdown in progress.")
		return
	}
	if s.cfg.Shutdown == nil {
		conn.WriteError("ERR this server cannot be shut down by a command")
		return
	}
	s.cfg.Shutdown()
}

// saveFile is the name of the file SAVE writes in the data directory.
const saveFile = "dump.rkv"

// saveState is what SAVE and BGSAVE share.
type saveState struct {
	mu      sync.Mutex
	running bool // a BGSAVE is writing
	again   bool // BGSAVE SCHEDULE asked for another when it ends
	// last is the Unix time of the last successful save (0: none yet);
	// failed reports whether the last attempt failed.
	last   atomic.Int64
	failed atomic.Bool
	// dirty is the store's Dirty count when the last successful save
	// captured it; count is the number of successful saves and took the
	// seconds the last one took (-1: none yet).
	dirty atomic.Uint64
	count atomic.Int64
	took  atomic.Int64
}

const errBgsaveRunning = "ERR Background save already in progress"

func (s *Server) cmdSave(conn redcon.Conn, _ *client, _ [][]byte) {
	s.saves.mu.Lock()
	running := s.saves.running
	s.saves.mu.Unlock()
	if running {
		conn.WriteError(errBgsaveRunning)
		return
	}
	if err := s.saveSnapshot(); err != nil {
		conn.WriteError("ERR " + err.Error())
		return
	}
	conn.WriteString("OK")
}

func (s *Server) cmdBgsave(conn redcon.Conn, _ *client, args [][]byte) {
	schedule := false
	if len(args) > 1 {
		if len(args) != 2 || !strings.EqualFold(string(args[1]), "schedule") {
			conn.WriteError(errSyntax)
			return
		}
		schedule = true
	}
	s.saves.mu.Lock()
	defer s.saves.mu.Unlock()
	if s.saves.running {
		if !schedule {
			conn.WriteError(errBgsaveRunning)
			return
		}
		s.saves.again = true
		conn.WriteString("Background saving scheduled")
		return
	}
	s.saves.running = true
	go s.backgroundSave()
	conn.WriteString("Background saving started")
}

// backgroundSave writes snapshots until no BGSAVE SCHEDULE is pending.
func (s *Server) backgroundSave() {
	for {
		if err := s.saveSnapshot(); err != nil {
			s.logger.Error("background save failed", "err", err)
		}
		s.saves.mu.Lock()
		if !s.saves.again {
			s.saves.running = false
			s.saves.mu.Unlock()
			return
		}
		s.saves.again = false
		s.saves.mu.Unlock()
	}
}

func (s *Server) cmdLastsave(conn redcon.Conn, _ *client, _ [][]byte) {
	conn.WriteInt64(s.lastSave())
}

// lastSave is LASTSAVE's answer: the last successful save, or the start
// of the server before any, as Redis counts it.
func (s *Server) lastSave() int64 {
	if t := s.saves.last.Load(); t != 0 {
		return t
	}
	return s.started.Unix()
}

// saveSnapshot writes a backup of what this node applied to a temporary
// file, syncs it and renames it over saveFile, so the file is always whole.
func (s *Server) saveSnapshot() (err error) {
	start := time.Now()
	dirty := s.home.Store().Dirty()
	defer func() {
		s.saves.failed.Store(err != nil)
		if err == nil {
			s.saves.last.Store(time.Now().Unix())
			s.saves.dirty.Store(dirty)
			s.saves.count.Add(1)
			s.saves.took.Store(int64(time.Since(start).Seconds()))
		}
	}()
	dir := s.dataDir()
	f, err := os.CreateTemp(dir, saveFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	_, err = s.home.WriteBackup(ctx, f, false)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, saveFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	return nil
}

// dataDir is the directory SAVE and CLUSTER RKV-BACKUP write in.
func (s *Server) dataDir() string {
	if s.cfg.Dir == "" {
		return "."
	}
	return s.cfg.Dir
}

// clusterBackup serves CLUSTER RKV-BACKUP: the leader answers, after a
// ReadIndex round, with one bulk string holding a backup file of
// everything committed before the command (replica.WriteBackup); any
// other node with MOVED to the leader. The backup goes to an unlinked
// temporary file in the data directory first, which gives the bulk
// string's length and keeps the serialized state out of memory; nothing
// is left behind however the node stops.
func (s *Server) clusterBackup(conn redcon.Conn) {
	if !s.home.Node().IsLeader() {
		s.redirectKeyless(conn)
		return
	}
	f, err := os.CreateTemp(s.dataDir(), "backup.tmp-*")
	if err != nil {
		conn.WriteError("ERR backup: " + err.Error())
		return
	}
	defer f.Close()
	os.Remove(f.Name())
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.home.WriteBackup(ctx, f, true); err != nil {
		s.writeResult(conn, nil, nil, consensus.Result{Err: err})
		return
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		conn.WriteError("ERR backup: " + err.Error())
		return
	}
	writeBulkFile(conn, f, size)
}

// writeBulkFile answers size bytes of f as one bulk string: streamed from
// the file when the reply goes straight to the connection, read into
// memory when it is captured first (a RESP3 connection's).
func writeBulkFile(conn redcon.Conn, f *os.File, size int64) {
	if ec, ok := conn.(*errorCountingConn); ok {
		conn = ec.Conn
	}
	if w := redcon.BaseWriter(conn); w != nil {
		// WriteBulkFrom writes ahead of the replies still buffered (a
		// pipeline's before this command): they go out first.
		w.Flush()
		w.WriteBulkFrom(size, f)
		return
	}
	b, err := io.ReadAll(f)
	if err != nil {
		conn.WriteError("ERR backup: " + err.Error())
		return
	}
	conn.WriteBulk(b)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bgsaveRunning is INFO's rdb_bgsave_in_progress.
func (s *Server) bgsaveRunning() int {
	s.saves.mu.Lock()
	defer s.saves.mu.Unlock()
	if s.saves.running {
		return 1
	}
	return 0
}

// lastSaveStatus is INFO's rdb_last_bgsave_status.
func (s *Server) lastSaveStatus() string {
	if s.saves.failed.Load() {
		return "err"
	}
	return "ok"
}

// lastSaveTook is INFO's rdb_last_bgsave_time_sec: -1 before any save.
func (s *Server) lastSaveTook() int64 {
	if s.saves.count.Load() == 0 {
		return -1
	}
	return s.saves.took.Load()
}

// okOrErr is an INFO status field: ok, or err when err is set.
func okOrErr(err error) string {
	if err != nil {
		return "err"
	}
	return "ok"
}

// storageCause names what a failed write ran into, as the system names
// it ("no space left on device"), or the whole error when it is not a
// system error; empty when err is nil.
func storageCause(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return ""
	case errors.As(err, &errno):
		return errno.Error()
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
}

// errMisconf is the error a write gets while the log cannot be written,
// worded after Redis's MISCONF (which it sends while it cannot persist
// its RDB snapshots). The node retries the write by itself and takes
// writes again once it succeeds.
func errMisconf(err error) string {
	return "MISCONF Errors writing to the log: " + storageCause(err) +
		". Writes are refused until the log can be written again (the node retries by itself); " +
		"reads are served. Check the disk of this node and INFO persistence."
}
