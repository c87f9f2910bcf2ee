package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// A cache's heap is mostly its data set, which lives until overwritten.
// Go's GOGC lets the heap grow by a fixed share of the live heap before
// collecting, so a fixed share is either wasteful for a large data set
// (GOGC 100 doubles it) or costly for a small one (collections every few
// megabytes of requests). rkv instead keeps a headroom of gcHeadroom bytes
// of garbage, as a share of the live heap between gcMinPercent and
// gcMaxPercent, retuned as the data set grows or shrinks. Setting GOGC in
// the environment turns this off.
const (
	gcHeadroom   = 64 << 20
	gcMinPercent = 25
	gcMaxPercent = 100
	gcRetune     = 250 * time.Millisecond
)

// gcPercentFor is the GOGC that leaves about gcHeadroom bytes of garbage
// over a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(gcHeadroom*100/live, gcMinPercent), gcMaxPercent))
}

// tuneGC retunes the collector to the live heap, every gcRetune, forever.
func tuneGC() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := gcMaxPercent // Go's default, with GOGC unset
	for range time.Tick(gcRetune) {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64()); p != current {
			debug.SetGCPercent(p)
			current = p
		}
	}
}
