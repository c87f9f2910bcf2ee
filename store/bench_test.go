package store

import (
	"bytes"
	"fmt"
	"testing"
)

func BenchmarkApplySet(b *testing.B) {
	s := New()
	keys := make([][][]byte, 100_000)
	val := bytes.Repeat([]byte("v"), 100)
	for i := range keys {
		keys[i] = [][]byte{[]byte("SET"), fmt.Appendf(nil, "key:%012d", i), val}
	}
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = s.Apply(1, keys[i%len(keys)], out[:0])
	}
}

func BenchmarkReadGet(b *testing.B) {
	s := New()
	fill(s, 100_000)
	keys := make([][][]byte, 100_000)
	for i := range keys {
		keys[i] = [][]byte{[]byte("GET"), fmt.Appendf(nil, "key:%08d", i)}
	}
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		out := bytes.Clone(out)
		i := 0
		for pb.Next() {
			out = s.Read(1, keys[i%len(keys)], out[:0])
			i++
		}
	})
}

func BenchmarkSnapshotWrite(b *testing.B) {
	s := New()
	fill(s, 100_000)
	var buf bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		s.Snapshot().WriteTo(&buf)
	}
	b.SetBytes(int64(buf.Len()))
}

func BenchmarkRestore(b *testing.B) {
	s := New()
	fill(s, 100_000)
	var buf bytes.Buffer
	s.Snapshot().WriteTo(&buf)
	data := buf.Bytes()
	r := New()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Restore(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvictionCandidates is one round of the leader's eviction under
// allkeys-lru: choosing 1,024 keys from 200,000 with the default samples.
func BenchmarkEvictionCandidates(b *testing.B) {
	s := New()
	fill(s, 200_000)
	s.SetPolicy(AllKeysLRU, 5, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if keys, _ := s.EvictionCandidates(0, int64(1000+i), 1<<30, 1024); len(keys) != 1024 {
			b.Fatalf("%d keys", len(keys))
		}
	}
}
