package wal

import (
	"fmt"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// BenchmarkAppendSync measures Save of a batch of 100-byte entries with its
// fsync: the cost of one group commit.
func BenchmarkAppendSync(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			l := openT(b, b.TempDir(), Options{})
			defer l.Close()
			batch := make([]consensus.Entry, n)
			for k := range batch {
				batch[k] = consensus.Entry{Term: 1, Data: make([]byte, 100)}
			}
			b.SetBytes(int64(n * 100))
			next := uint64(1)
			for b.Loop() {
				for k := range batch {
					batch[k].Index = next
					next++
				}
				if err := l.Save(consensus.HardState{}, batch, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEntriesCached measures reading 64 recent entries, as a leader
// does to replicate them: they come from the cache, not the disk.
func BenchmarkEntriesCached(b *testing.B) { benchEntries(b, 0) }

// BenchmarkEntriesUncached reads the same entries with a cache too small
// to hold them, for comparison: each is read from tidwall/wal and checked.
func BenchmarkEntriesUncached(b *testing.B) { benchEntries(b, 1) }

func benchEntries(b *testing.B, cacheSize int) {
	l := openT(b, b.TempDir(), Options{NoSync: true, CacheSize: cacheSize})
	defer l.Close()
	batch := make([]consensus.Entry, 1024)
	for k := range batch {
		batch[k] = consensus.Entry{Index: uint64(k + 1), Term: 1, Data: make([]byte, 100)}
	}
	if err := l.Save(consensus.HardState{}, batch, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ents, err := l.Entries(900, 964, 1<<20); err != nil || len(ents) != 64 {
			b.Fatal(len(ents), err)
		}
	}
}
