package replica

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/store"
)

// TestBackupSeedsNewGroup: a backup read back gives its position, key count
// and snapshot; seeded for a new group, the snapshot restores the same
// keyspace and users with the new group's members in place of the old.
func TestBackupSeedsNewGroup(t *testing.T) {
	src := newTestMachine(1, bootstrapDir(1))
	src.Apply(history())
	src.Apply([]consensus.Entry{{Term: 2, Index: 12, Data: EncodeEntry(nil, KindACL, 4000, [][]byte{[]byte("setuser"), []byte("alice")})}})
	var buf bytes.Buffer
	taken := time.UnixMilli(5000)
	if err := writeBackup(&buf, BackupInfo{Index: 12, Term: 2, Taken: taken}, src.Snapshot()); err != nil {
		t.Fatal(err)
	}
	info, data, err := ReadBackup(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if info.Index != 12 || info.Term != 2 || !info.Taken.Equal(taken) || info.Keys != 3 {
		t.Fatalf("backup info %+v: want index 12, term 2, taken %v, 3 keys", info, taken)
	}
	fresh := []Member{{ID: 1, ClientAddr: "127.0.0.1:9001", BusAddr: "127.0.0.1:19001"},
		{ID: 2, ClientAddr: "127.0.0.1:9002", BusAddr: "127.0.0.1:19002"}}
	seeded, err := Seed(data, fresh)
	if err != nil {
		t.Fatal(err)
	}
	dst := newTestMachine(2, fresh)
	if err := dst.Restore(bytes.NewReader(seeded)); err != nil {
		t.Fatal(err)
	}
	if dst.store.Digest() != src.store.Digest() {
		t.Fatal("the seeded snapshot's keyspace differs from the backed-up one")
	}
	if got := dst.users.(*testUsers).lines; len(got) != 1 || got[0] != "setuser alice" {
		t.Fatalf("users after restore: %q", got)
	}
	dir := dst.directory()
	if len(dir) != 2 || dir[1] != fresh[0] || dir[2] != fresh[1] {
		t.Fatalf("directory after restore: %+v, want the new group's %+v", dir, fresh)
	}
}

// TestReadBackupRefusesDamage: a backup cut short, grown, with a byte
// flipped, or not a backup at all is refused with ErrBadBackup.
func TestReadBackupRefusesDamage(t *testing.T) {
	st := store.New()
	st.Apply(1000, [][]byte{[]byte("set"), []byte("a"), []byte("1")}, nil)
	m := NewStateMachine(st, NewMembers(nil, nil), &testUsers{}, 1, quietLogger(), nil)
	var buf bytes.Buffer
	if err := writeBackup(&buf, BackupInfo{Index: 5, Term: 1}, m.Snapshot()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	cases := map[string][]byte{
		"truncated":         good[:len(good)-5],
		"cut to the header": good[:backupHeader],
		"grown":             append(bytes.Clone(good), 0),
		"flipped":           flipped,
		"empty":             nil,
		"snapshot":          good[backupHeader : len(good)-backupTrailer],
	}
	for name, b := range cases {
		if _, _, err := ReadBackup(bytes.NewReader(b)); !errors.Is(err, ErrBadBackup) {
			t.Errorf("%s: ReadBackup = %v, want ErrBadBackup", name, err)
		}
	}
}
