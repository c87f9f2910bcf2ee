package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func fill(s *Store, n int) {
	for i := range n {
		args := [][]byte{[]byte("set"), fmt.Appendf(nil, "key:%08d", i), bytes.Repeat([]byte{byte('a' + i%26)}, 100)}
		if i%3 == 0 {
			args = append(args, []byte("px"), fmt.Appendf(nil, "%d", 1000+i))
		}
		s.Apply(1_000_000, args, nil)
	}
}

func snapshotBytes(t testing.TB, s *Store) []byte {
	var b bytes.Buffer
	n, err := s.Snapshot().WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo: %d, %v (wrote %d)", n, err, b.Len())
	}
	return b.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		s := New()
		fill(s, n)
		apply(s, 1_000_500, "set empty-value-key x")
		s.Apply(1_000_500, [][]byte{[]byte("set"), {}, {}}, nil) // empty key and value
		data := snapshotBytes(t, s)
		r := New()
		apply(r, 1, "set stale 1") // replaced entirely
		if err := r.Restore(bytes.NewReader(data)); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if r.Digest() != s.Digest() || r.Len() != s.Len() {
			t.Fatalf("n=%d: restored state differs", n)
		}
		if r.MemoryBytes() != s.MemoryBytes() || r.ttls.Len() != s.ttls.Len() || *r.slots != *s.slots {
			t.Fatalf("n=%d: restored indexes differ", n)
		}
		if got := read(r, 0, "get stale"); got != null {
			t.Fatalf("old state survived restore: %q", got)
		}
		// The clock travels with the snapshot: relative TTLs agree afterwards.
		apply(s, 5, "set t v ex 10")
		apply(r, 5, "set t v ex 10")
		if r.Digest() != s.Digest() {
			t.Fatal("diverged after restore")
		}
	}
}

func TestRestoreCorrupt(t *testing.T) {
	s := New()
	fill(s, 100)
	data := snapshotBytes(t, s)
	r := New()
	apply(r, 1, "set keep me")
	before := r.Digest()
	check := func(name string, bad []byte) {
		t.Helper()
		err := r.Restore(bytes.NewReader(bad))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
		if r.Digest() != before {
			t.Fatalf("%s: state changed by a failed restore", name)
		}
	}
	check("empty", nil)
	check("truncated header", data[:10])
	check("truncated body", data[:len(data)/2])
	check("no checksum", data[:len(data)-4])
	for _, i := range []int{0, 9, 20, 30, len(data) / 2, len(data) - 10, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		check(fmt.Sprintf("flipped byte %d", i), bad)
	}
	huge := bytes.Clone(data[:24])
	huge = append(huge, 0xff, 0xff, 0xff, 0xff, 0x0f) // a 4 GiB key length
	check("huge length", huge)
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestSnapshotWriteError(t *testing.T) {
	s := New()
	fill(s, 5000)
	if _, err := s.Snapshot().WriteTo(&failWriter{n: 100_000}); err == nil {
		t.Fatal("write error not reported")
	}
}

// A snapshot is a point in time: writes applied while it is being written do
// not show in it (run with -race).
func TestSnapshotWhileApplying(t *testing.T) {
	s := New()
	fill(s, 5000)
	apply(s, 1_000_000, "set counter 0")
	apply(s, 1_000_000, "append counter x") // now with spare capacity: later appends write in place
	sn := s.Snapshot()
	want := s.Digest()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 5000 {
			s.Apply(1_000_000+int64(i), argv(fmt.Sprintf("set key:%08d changed", i)), nil)
			s.Apply(1_000_000+int64(i), argv("append counter x"), nil)
			s.Apply(1_000_000+int64(i), argv(fmt.Sprintf("del key:%08d", 4999-i)), nil)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 2000 {
			s.Read(1_000_000, argv(fmt.Sprintf("get key:%08d", i)), nil)
		}
	}()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	r := New()
	if err := r.Restore(&b); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != want {
		t.Fatal("snapshot saw later writes")
	}
	if got := read(r, 1_000_000, "get counter"); got != bulk("0x") {
		t.Fatalf("counter in snapshot: %q", got)
	}
}

// The snapshot bytes are a function of the logical state only (which
// includes each key's version, so the order of the writes): stores that
// reached one state by different paths (reads and expiry samples in
// between or not; a restore on the way, so other tree shapes; spare capacity
// from APPEND) write identical snapshots. Replicas'
// snapshots of one index must agree byte for byte, since a follower may
// assemble one from chunks sent by different leaders.
func TestSnapshotDeterministic(t *testing.T) {
	const n = 2000
	cmds := make([]string, 0, n+3)
	for i := range n {
		c := fmt.Sprintf("set key:%05d v%d", i, i)
		if i%4 == 0 {
			c += fmt.Sprintf(" px %d", 50+i)
		}
		cmds = append(cmds, c)
	}
	tail := []string{"append key:00001 more", "expire key:00002 100", "del key:00003"}

	forward := New()
	for _, c := range cmds {
		apply(forward, 1_000_000, c)
		read(forward, 2_000_000, "get key:00000")
		forward.ExpiredSample(0, 2_000_000, 10)
	}
	for _, c := range tail {
		apply(forward, 1_000_100, c)
	}

	half := New()
	for _, c := range cmds[:n/2] {
		apply(half, 1_000_000, c)
	}
	restored := New()
	if err := restored.Restore(bytes.NewReader(snapshotBytes(t, half))); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds[n/2:] {
		apply(restored, 1_000_000, c)
	}
	for _, c := range tail {
		apply(restored, 1_000_100, c)
	}

	want := snapshotBytes(t, forward)
	if got := snapshotBytes(t, restored); !bytes.Equal(got, want) {
		t.Errorf("restored midway: snapshot differs (%d bytes, want %d)", len(got), len(want))
	}
	if got := snapshotBytes(t, forward); !bytes.Equal(got, want) {
		t.Error("two snapshots of one unchanged store differ")
	}
}
