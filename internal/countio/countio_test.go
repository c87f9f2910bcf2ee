package countio

import (
	"bytes"
	"errors"
	"testing"
)

// shortWriter accepts at most limit bytes in all.
type shortWriter struct{ limit int }

func (s *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), s.limit)
	s.limit -= n
	if n < len(p) {
		return n, errors.New("full")
	}
	return n, nil
}

func TestWriterCountsAcceptedBytes(t *testing.T) {
	var buf bytes.Buffer
	w := &Writer{W: &buf}
	w.Write([]byte("hello"))
	w.Write([]byte(", world"))
	if w.N != 12 || buf.String() != "hello, world" {
		t.Fatalf("counted %d, wrote %q", w.N, buf.String())
	}
	short := &Writer{W: &shortWriter{limit: 3}}
	if _, err := short.Write([]byte("hello")); err == nil || short.N != 3 {
		t.Fatalf("short write: err %v, counted %d, want an error and 3", err, short.N)
	}
}
