package main

import "testing"

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{16 << 20, gcMaxPercent},  // small data set: Go's default
		{128 << 20, 50},           // 64 MiB over 128 MiB
		{256 << 20, gcMinPercent}, // 64 MiB over 256 MiB
		{4 << 30, gcMinPercent},   // never below a quarter
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}
