package replica

import (
	"fmt"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// TestPublishEntries: each applied PUBLISH and SPUBLISH reaches the
// listener once, in log order, and its reply is the listener's count;
// entries before the feed's first index (committed before a restart) are
// applied without being delivered.
func TestPublishEntries(t *testing.T) {
	tm := newTestMachine(1, bootstrapDir(1))
	tm.publishes.from = 3
	var got []string
	tm.publishes.subs = map[*publishSub]struct{}{{fn: func(p Publish) int {
		got = append(got, fmt.Sprintf("%v %s %s", p.Shard, p.Channel, p.Message))
		return len(got)
	}}: {}}
	var ents []consensus.Entry
	for i, shard := range []bool{false, false, false, true} {
		ents = append(ents, consensus.Entry{Index: uint64(i + 1), Type: consensus.EntryNormal,
			Data: EncodePublish(100, shard, []byte("ch"), fmt.Appendf(nil, "m%d", i+1))})
	}
	results := tm.Apply(ents)
	want := []string{":0\r\n", ":0\r\n", ":1\r\n", ":2\r\n"}
	for i, r := range results {
		if string(r.([]byte)) != want[i] {
			t.Errorf("entry %d: reply %q, want %q", i+1, r, want[i])
		}
	}
	if fmt.Sprint(got) != "[false ch m3 true ch m4]" {
		t.Errorf("delivered %q", got)
	}
}
