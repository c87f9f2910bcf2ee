package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func testLogs(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: i / 3, Type: raft.LogCommand,
			Data: []byte{byte(i), 'd'}, Extensions: []byte{'x'}, AppendedAt: time.Unix(0, int64(i))})
	}
	return out
}

func checkBounds(t *testing.T, s *walStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("bounds %d-%d, want %d-%d", f, l, first, last)
	}
}

func checkLog(t *testing.T, s *walStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		t.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
		!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) || !got.AppendedAt.Equal(want.AppendedAt) {
		t.Fatalf("GetLog(%d) = %+v, want %+v", want.Index, got, *want)
	}
}

func TestWALStore(t *testing.T) {
	dir := t.TempDir()
	s, err := openWALStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 0, 0)
	logs := testLogs(1, 10)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if s.writes.Load() != 1 || s.entries.Load() != 10 {
		t.Fatalf("%d writes of %d entries, want 1 of 10", s.writes.Load(), s.entries.Load())
	}
	checkBounds(t, s, 1, 10)
	checkLog(t, s, logs[4])

	// A suffix a new leader replaces, then a prefix a snapshot covers.
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLog(testLogs(8, 8)[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 4, 8)
	var l raft.Log
	if err := s.GetLog(2, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog of a deleted log: %v, want ErrLogNotFound", err)
	}

	// Everything deleted after a leader's snapshot: the log goes on past it.
	if err := s.DeleteRange(4, 8); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 0, 0)
	more := testLogs(20, 22)
	if err := s.StoreLogs(more); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 20, 22)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = openWALStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBounds(t, s, 20, 22)
	checkLog(t, s, more[2])
}
