package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: the file is replaced whole and keeps its mode, a new one gets
// the mode asked for, and no temporary file is left beside it, not even
// when filling it fails (the old file then stays).
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rkv.conf")
	if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(p, 0o644, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "new\n" {
		t.Fatalf("content %q, %v", b, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode(), err)
	}
	boom := errors.New("boom")
	if err := Write(p, 0o644, func(f *os.File) error { f.WriteString("part"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed fill: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Fatalf("after a failed fill the file holds %q", b)
	}
	fresh := filepath.Join(dir, "fresh")
	if err := WriteBytes(fresh, 0o640, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("new file mode %v, %v; want 0640", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("directory holds %d entries, want the two files alone", len(entries))
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "rkv.conf"), 0o644, nil); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}
