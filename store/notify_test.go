package store

import (
	"bytes"
	"strings"
	"testing"
)

// events applies cmds one by one and returns the events each yielded, as
// "name key" strings joined by ", ".
func events(t *testing.T, s *Store, cmds ...string) []string {
	t.Helper()
	var out []string
	for _, c := range cmds {
		s.Apply(1000, argv(c), nil)
		var got []string
		for _, e := range s.TakeChanges().Events {
			got = append(got, e.Name+" "+e.Key)
		}
		out = append(out, strings.Join(got, ", "))
	}
	return out
}

func TestNotifyFlags(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""}, {"gKE", "gKE"}, {"$lshzxeKE", "$lshzxeKE"}, {"KA", "AK"}, {"EA", "AE"},
		{"Amn", "Am"}, {"nKm", "nKm"}, {"g$lshzxetdKE", "AKE"}, {"KKgg", "gK"},
	} {
		f, ok := parseNotifyFlags(c.in)
		if !ok || formatNotifyFlags(f) != c.want {
			t.Errorf("%q: %q %v, want %q", c.in, formatNotifyFlags(f), ok, c.want)
		}
	}
	for _, bad := range []string{"a", "KEAq", " ", "k"} {
		if _, ok := parseNotifyFlags(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, _, msg := CheckEncodingSetting("notify-keyspace-events", "xyz"); msg != "Invalid event class character. Use 'Ag$lshzxeKEtmdn'." {
		t.Errorf("complaint %q", msg)
	}
}

// The events of commands whose notifications do not simply follow their
// name: containers emptied, moves, renames, a key created ("new", class
// n), and a mask that leaves classes out.
func TestNotifyEvents(t *testing.T) {
	s := New()
	config(s, "notify-keyspace-events", "KEA")
	got := events(t, s,
		"rpush src a", "lmove src dst left right", "smove nokey s x",
		"sadd s1 a", "smove s1 s2 a",
		"set k v ex 100", "rename k k2", "rename k2 k2",
		"mset m 1 m 2", "decr m", "hset h f v", "hdel h f", "del nothing h",
		"zadd z incr 1 a", "set b 1", "setbit b 0 0", "set b 2 pxat 1",
	)
	want := []string{
		"rpush src", "rpush dst, lpop src, del src", "",
		"sadd s1", "srem s1, del s1, sadd s2",
		"set k, expire k", "rename_from k, rename_to k2", "",
		"set m, set m", "incrby m", "hset h", "hdel h, del h", "",
		"zincr z", "set b", "", "set b, expire b, expired b",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
	config(s, "notify-keyspace-events", "Eln")
	if got := events(t, s, "lpush nl a", "set x 1"); got[0] != "new nl, lpush nl" || got[1] != "new x" {
		t.Errorf("Eln: %q", got)
	}
	if e := (events(t, s, "lpush nl b")); e[0] != "lpush nl" {
		t.Errorf("lpush on an existing list: %q", e)
	}
}

// Expiry and eviction notify "expired" and "evicted"; the transaction's
// events come in the order of its commands.
func TestNotifyExpiryAndExec(t *testing.T) {
	s := New()
	config(s, "notify-keyspace-events", "KEA")
	apply(s, 1000, "set gone 1 px 10")
	apply(s, 1000, "set e 1")
	s.TakeChanges()
	s.ApplyOp(OpExpire, 0, 5000, [][]byte{[]byte("gone")}, nil)
	if e := s.TakeChanges().Events; len(e) != 1 || e[0].Name != "expired" || e[0].Key != "gone" {
		t.Errorf("expire: %+v", e)
	}
	s.ApplyOp(OpEvict, 0, 5000, [][]byte{[]byte("e")}, nil)
	if e := s.TakeChanges().Events; len(e) != 1 || e[0].Name != "evicted" {
		t.Errorf("evict: %+v", e)
	}
}

// The setting is replicated state: in snapshots and in the digest.
func TestNotifySettingSnapshot(t *testing.T) {
	s := New()
	d := s.Digest()
	config(s, "notify-keyspace-events", "Amn")
	if s.Digest() == d {
		t.Error("the digest ignores notify-keyspace-events")
	}
	r := New()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	if got := r.EncodingSettings()["notify-keyspace-events"]; got != "Am" || r.enc[encNotify]&notifyNew == 0 {
		t.Errorf("restored %q", got)
	}
}

// With notifications off, a write allocates nothing for them.
func TestNotifyOffAllocs(t *testing.T) {
	s := New()
	set := argv("set key value")
	out := make([]byte, 0, 64)
	s.Apply(1, set, out)
	// Off, then channels without a class: nothing to record.
	for _, f := range []string{"", "KE"} {
		config(s, "notify-keyspace-events", f)
		if n := testing.AllocsPerRun(100, func() { s.Apply(1, set, out[:0]) }); n > 1 {
			t.Errorf("%q: Apply SET allocates %v", f, n)
		}
	}
}
