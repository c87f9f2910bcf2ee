package replica

import (
	"bytes"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// A KindConfig entry changes the store's encoding settings on every node
// that applies it, and a snapshot carries them to a node that did not.
func TestConfigEntryAppliesAndSnapshots(t *testing.T) {
	tm := newTestMachine(1, bootstrapDir(1))
	entry := EncodeEntry(nil, KindConfig, 1000, [][]byte{[]byte("zset-max-listpack-entries"), []byte("1")})
	res := tm.Apply([]consensus.Entry{
		{Term: 1, Index: 1, Data: entry},
		commandEntry(2, 1000, "zadd z 1 a 2 b"),
	})
	if string(res[0].([]byte)) != "+OK\r\n" {
		t.Fatalf("config entry: %q", res[0])
	}
	st := tm.store
	if got := string(st.Read(1000, [][]byte{[]byte("object"), []byte("encoding"), []byte("z")}, nil)); got != "$8\r\nskiplist\r\n" {
		t.Fatalf("object encoding z = %q", got)
	}
	other := newTestMachine(2, bootstrapDir(2))
	if err := other.Restore(bytes.NewReader(tm.snapshot(t))); err != nil {
		t.Fatal(err)
	}
	if got := other.store.EncodingSettings()["zset-max-ziplist-entries"]; got != "1" {
		t.Fatalf("restored zset-max-ziplist-entries = %s", got)
	}
	if other.store.Digest() != st.Digest() {
		t.Fatal("digests differ after restore")
	}
}
