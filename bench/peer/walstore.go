package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tidwall/wal"
)

// walStore is a raft.LogStore on tidwall/wal, the log store tidwall/uhaha
// runs hashicorp/raft on: StoreLogs writes every log of one call as one
// batch, one write and one fsync, before it returns (raft-boltdb's commit
// fsyncs at least twice). It counts those writes for INFO.
type walStore struct {
	dir string
	mu  sync.Mutex
	log *wal.Log
	// batch and buf are reused by every write, under mu.
	batch wal.Batch
	buf   []byte

	// commands counts the client commands in the entries written: an
	// entry is a batch of them, led by their count.
	writes, entries, commands, bytes atomic.Uint64
}

var _ raft.LogStore = (*walStore)(nil)

func openWALStore(dir string) (*walStore, error) {
	s := &walStore{dir: dir}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *walStore) open() error {
	opts := *wal.DefaultOptions
	// An empty log (all of it deleted after a snapshot) is a state
	// hashicorp/raft asks for; tidwall/wal refuses it otherwise.
	opts.AllowEmpty = true
	l, err := wal.Open(s.dir, &opts)
	if err != nil {
		return fmt.Errorf("log store %s: %w", s.dir, err)
	}
	s.log = l
	return nil
}

// reset replaces the log with an empty one whose next index is next:
// tidwall/wal takes a log's first index from the name of its first
// segment file, and appends must follow the last index without a gap.
func (s *walStore) reset(next uint64) error {
	if err := s.log.Close(); err != nil {
		return err
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("%020d", next)))
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return s.open()
}

// bounds are the first and last index, both 0 when the log is empty, as
// hashicorp/raft expects (tidwall/wal says first = last+1 then).
func (s *walStore) bounds() (first, last uint64, err error) {
	if first, err = s.log.FirstIndex(); err != nil {
		return 0, 0, err
	}
	if last, err = s.log.LastIndex(); err != nil {
		return 0, 0, err
	}
	if first > last {
		return 0, 0, nil
	}
	return first, last, nil
}

func (s *walStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, _, err := s.bounds()
	return first, err
}

func (s *walStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, last, err := s.bounds()
	return last, err
}

// A log's record: type, term, AppendedAt (Unix ns), then the lengths and
// bytes of Data and Extensions, the integers as uvarints.
func appendRecord(b []byte, l *raft.Log) []byte {
	b = append(b, byte(l.Type))
	b = binary.AppendUvarint(b, l.Term)
	var at uint64
	if !l.AppendedAt.IsZero() {
		at = uint64(l.AppendedAt.UnixNano())
	}
	b = binary.AppendUvarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

var errBadRecord = errors.New("log store: malformed record")

func decodeRecord(b []byte, l *raft.Log) error {
	if len(b) == 0 {
		return errBadRecord
	}
	l.Type = raft.LogType(b[0])
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	bytes := func() ([]byte, bool) {
		n, ok := next()
		if !ok || uint64(len(b)) < n {
			return nil, false
		}
		v := b[:n:n]
		b = b[n:]
		return v, true
	}
	var ok bool
	if l.Term, ok = next(); !ok {
		return errBadRecord
	}
	at, ok := next()
	if !ok {
		return errBadRecord
	}
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, int64(at))
	}
	if l.Data, ok = bytes(); !ok {
		return errBadRecord
	}
	if l.Extensions, ok = bytes(); !ok || len(b) != 0 {
		return errBadRecord
	}
	return nil
}

func (s *walStore) GetLog(index uint64, l *raft.Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.log.Read(index)
	if errors.Is(err, wal.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	l.Index = index
	return decodeRecord(b, l)
}

func (s *walStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs writes logs, consecutive indexes, with one write and one
// fsync. A first index past the end follows a snapshot the leader sent,
// after which hashicorp/raft deleted the whole log: the log then starts
// over at that index.
func (s *walStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last, err := s.bounds()
	if err != nil {
		return err
	}
	if idx := logs[0].Index; first == 0 && idx > last+1 {
		if err := s.reset(idx); err != nil {
			return err
		}
	}
	s.batch.Clear()
	n, cmds := 0, uint64(0)
	for _, l := range logs {
		s.buf = appendRecord(s.buf[:0], l)
		n += len(s.buf)
		s.batch.Write(l.Index, s.buf)
		if l.Type == raft.LogCommand {
			c, _ := binary.Uvarint(l.Data)
			cmds += c
		}
	}
	if err := s.log.WriteBatch(&s.batch); err != nil {
		return err
	}
	s.writes.Add(1)
	s.entries.Add(uint64(len(logs)))
	s.commands.Add(cmds)
	s.bytes.Add(uint64(n))
	return nil
}

// DeleteRange removes [min, max], which hashicorp/raft asks for at either
// end of the log: a prefix after a snapshot, a suffix that conflicts with
// a new leader's log.
func (s *walStore) DeleteRange(min, max uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last, err := s.bounds()
	if err != nil || first == 0 {
		return err
	}
	switch {
	case min <= first && max >= last:
		return s.log.TruncateFront(last + 1)
	case min <= first:
		return s.log.TruncateFront(max + 1)
	case max >= last:
		return s.log.TruncateBack(min - 1)
	}
	return fmt.Errorf("log store: cannot delete %d-%d from the middle of %d-%d", min, max, first, last)
}

func (s *walStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Close()
}
