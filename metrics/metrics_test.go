package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rkv/rkv/consensus"
)

func TestLatencyHistogram(t *testing.T) {
	pow2 := make([]int64, 40)
	pow2[0] = 2  // at most 1µs
	pow2[3] = 1  // (4µs, 8µs]
	pow2[4] = 5  // (8µs, 16µs]
	pow2[20] = 1 // about a second
	pow2[39] = 1 // beyond every bound
	count, buckets := latencyHistogram(pow2)
	if count != 10 {
		t.Fatalf("count %d, want 10", count)
	}
	want := map[float64]uint64{8e-6: 3, 32e-6: 8, 128e-6: 8, 512e-6: 8, 0.002048: 8, 0.008192: 8, 0.032768: 8,
		0.131072: 8, 0.524288: 8, 2.097152: 9, 8.388608: 9, 33.554432: 9}
	if len(buckets) != len(want) {
		t.Fatalf("buckets %v, want %v", buckets, want)
	}
	for le, n := range want {
		if buckets[le] != n {
			t.Fatalf("bucket le=%g holds %d, want %d (all: %v)", le, buckets[le], n, buckets)
		}
	}
}

func TestNotReady(t *testing.T) {
	cases := []struct {
		name   string
		states []consensus.Status // what successive calls return; the last repeats
		want   string
	}{
		{"no leader", []consensus.Status{{Commit: 5, Applied: 5}}, "no leader known"},
		{"caught up", []consensus.Status{{Lead: 2, Commit: 5, Applied: 5}}, ""},
		{"catches up", []consensus.Status{{Lead: 2, Commit: 5, Applied: 3}, {Lead: 2, Commit: 9, Applied: 4}, {Lead: 2, Commit: 9, Applied: 5}}, ""},
		{"stays behind", []consensus.Status{{Lead: 2, Commit: 5, Applied: 3}}, "applied index 3 behind commit index 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			status := func() consensus.Status {
				st := c.states[min(calls, len(c.states)-1)]
				calls++
				return st
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if got := notReady(ctx, status); !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
				t.Fatalf("notReady = %q, want %q", got, c.want)
			}
		})
	}
}
