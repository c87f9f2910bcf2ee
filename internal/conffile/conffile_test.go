package conffile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRead: words split as sdssplitargs does (both quotes, escapes),
// comments and blank lines skipped, names lowercased, each directive with
// its file and line, an include read in its place.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	inc := writeFile(t, dir, "inc.conf", "hz 20\n")
	p := writeFile(t, dir, "rkv.conf", strings.Join([]string{
		"# comment",
		"",
		"   MaxMemory 2gb  ",
		`logfile "a file\twith \"quotes\" \x41\n"`,
		`masterauth 'it\'s'`,
		"\tinclude " + inc,
		`save ""`,
		"save 60 1\r",
	}, "\n"))
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Directive{
		{p, 3, "MaxMemory 2gb", []string{"maxmemory", "2gb"}},
		{p, 4, `logfile "a file\twith \"quotes\" \x41\n"`, []string{"logfile", "a file\twith \"quotes\" A\n"}},
		{p, 5, `masterauth 'it\'s'`, []string{"masterauth", "it's"}},
		{inc, 1, "hz 20", []string{"hz", "20"}},
		{p, 7, `save ""`, []string{"save", ""}},
		{p, 8, "save 60 1", []string{"save", "60", "1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Read:\n got %#v\nwant %#v", got, want)
	}
}

// TestReadErrors: a bad line stops the read with its file, line number,
// text and Redis's reason.
func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.conf")
	writeFile(t, dir, "loop.conf", "include "+loop+"\n")
	for _, c := range []struct {
		content string
		line    int
		reason  string
	}{
		{"hz 10\ndir \"unbalanced\n", 2, "Unbalanced quotes in configuration line"},
		{"# x\n\nlogfile \"a\"b\n", 3, "Unbalanced quotes in configuration line"},
		{"logfile 'a\n", 1, "Unbalanced quotes in configuration line"},
		{"hz 1\nhz 2\ninclude\n", 3, "Bad directive or wrong number of arguments"},
		{"include " + filepath.Join(dir, "missing.conf") + "\n", 1, "can't open config file"},
		{"include " + loop + "\n", 1, "includes nested more than 16 deep"},
	} {
		p := writeFile(t, dir, "bad.conf", c.content)
		_, err := Read(p)
		var le *Error
		if !errors.As(err, &le) || !strings.Contains(le.Reason, c.reason) {
			t.Errorf("%q: %v, want a line error saying %q", c.content, err, c.reason)
			continue
		}
		if le.Line != c.line && le.Path == p {
			t.Errorf("%q: line %d, want %d", c.content, le.Line, c.line)
		}
		if !strings.HasPrefix(err.Error(), le.Path+":") {
			t.Errorf("%q: %q does not start with path:line", c.content, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "none.conf")); err == nil || !strings.Contains(err.Error(), "can't open config file") {
		t.Errorf("a missing file: %v", err)
	}
}

// options knows maxmemory, save, hz, port and lfu, and slave-read-only as
// an alias of replica-read-only.
func options(name string) (string, bool) {
	switch name {
	case "maxmemory", "save", "hz", "port", "lfu", "replica-read-only":
		return name, true
	case "slave-read-only":
		return "replica-read-only", true
	}
	return "", false
}

// TestRewrite: an option's new line takes its old line's place, aliases
// included; one not in the file is appended under the signature only when
// forced; old lines an option no longer uses are blanked; comments and
// the lines of options not rewritten stay; unknown lines become "# ???"
// comments; runs of blank lines become one.
func TestRewrite(t *testing.T) {
	old := strings.Join([]string{
		"# my cache",
		"maxmemory 1gb   # not a comment, but Redis keeps the line",
		"",
		"",
		"save 60 1",
		"port 7000",
		"save 300 10",
		"SAVE 900 1",
		"slave-read-only no",
		"bogus 1",
		"",
	}, "\n")
	r := NewRewrite([]byte(old), options)
	r.Set("maxmemory", "maxmemory 2gb", true)
	r.Set("save", "save 30 5", true)
	r.Drop("save")
	r.Set("replica-read-only", "replica-read-only yes", false)
	r.Set("hz", "hz 10", false)
	r.Set("lfu", "lfu 1", true)
	r.Set("lfu", "lfu 2", true)
	want := strings.Join([]string{
		"# my cache",
		"maxmemory 2gb",
		"",
		"save 30 5",
		"port 7000",
		"",
		"replica-read-only yes",
		"# ??? bogus 1",
		"",
		Signature,
		"lfu 1",
		"lfu 2",
		"",
	}, "\n")
	if got := string(r.Content()); got != want {
		t.Fatalf("rewrite:\n%s\nwant:\n%s", got, want)
	}
	// Rewriting the result again appends under the same signature, after
	// the blank line the file ends with (Redis keeps it as a line).
	r = NewRewrite([]byte(want), options)
	r.Set("lfu", "lfu 3", true)
	r.Set("hz", "hz 20", true)
	if got := string(r.Content()); strings.Count(got, Signature) != 1 || !strings.HasSuffix(got, Signature+"\nlfu 3\n\nhz 20\n") {
		t.Fatalf("second rewrite:\n%s", got)
	}
	// An empty file gets the signature and the forced lines alone.
	r = NewRewrite(nil, options)
	r.Set("hz", "hz 20", true)
	r.Set("port", "port 6379", false)
	if got := string(r.Content()); got != Signature+"\nhz 20\n" {
		t.Fatalf("rewrite of an empty file: %q", got)
	}
}
