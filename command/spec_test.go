package command

import (
	"slices"
	"strings"
	"testing"
)

func TestTableWellFormed(t *testing.T) {
	all := All()
	if len(all) == 0 {
		t.Fatal("empty table")
	}
	seen := map[string]bool{}
	check := func(sp *Spec) {
		if seen[sp.Name] {
			t.Errorf("%s twice", sp.Name)
		}
		seen[sp.Name] = true
		if sp.Name != strings.ToLower(sp.Name) || sp.Arity == 0 || sp.Group == "" || sp.Since == "" {
			t.Errorf("%s: incomplete spec %+v", sp.Name, sp)
		}
		if sp.Summary == "" {
			t.Errorf("%s: no summary", sp.Name)
		}
		for _, ks := range sp.KeySpecs {
			if ks.BeginSearch.Type == "" || ks.FindKeys.Type == "" {
				t.Errorf("%s: key spec without a search type: %+v", sp.Name, ks)
			}
		}
	}
	for i, sp := range all {
		if i > 0 && all[i-1].Name >= sp.Name {
			t.Errorf("not sorted at %s", sp.Name)
		}
		check(sp)
		for j, sub := range sp.Subcommands {
			if j > 0 && sp.Subcommands[j-1].Name >= sub.Name {
				t.Errorf("%s: subcommands not sorted at %s", sp.Name, sub.Name)
			}
			if !strings.HasPrefix(sub.Name, sp.Name+"|") {
				t.Errorf("%s: subcommand %s", sp.Name, sub.Name)
			}
			check(sub)
			if got, ok := sp.Sub(strings.ToUpper(strings.TrimPrefix(sub.Name, sp.Name+"|"))); !ok || got != sub {
				t.Errorf("Sub does not find %s", sub.Name)
			}
			if got, ok := Find(strings.ToUpper(sub.Name)); !ok || got != sub {
				t.Errorf("Find does not find %s", sub.Name)
			}
		}
	}
	for name := range summaries {
		if !seen[name] {
			t.Errorf("summary of %s, which the table does not hold", name)
		}
	}
}

func TestLookup(t *testing.T) {
	sp, ok := Lookup([]byte("GeT"))
	if !ok || sp.Name != "get" || sp.Arity != 2 || sp.FirstKey != 1 || !sp.Has("readonly") {
		t.Fatalf("GET: %+v %v", sp, ok)
	}
	for _, name := range []string{"", "nope", "client|list", strings.Repeat("g", 100)} {
		if _, ok := Lookup([]byte(name)); ok {
			t.Errorf("Lookup(%q) found", name)
		}
	}
	name := []byte("Set")
	if n := testing.AllocsPerRun(100, func() { Lookup(name) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	set, _ := Lookup([]byte("set"))
	if !set.Has("write") || !set.ArityFits(3) || set.ArityFits(2) || !slices.Equal(set.ACL, []string{"write", "string", "slow"}) {
		t.Errorf("SET: %+v", set)
	}
	if sp, _ := Find("client|setinfo"); sp == nil || sp.Group != "connection" {
		t.Errorf("CLIENT SETINFO: %+v", sp)
	}
	args := func(s string) [][]byte {
		var out [][]byte
		for _, f := range strings.Fields(s) {
			out = append(out, []byte(f))
		}
		return out
	}
	for _, tt := range []struct {
		cmd  string
		want []int
		ok   bool
	}{
		{"mset a 1 b 2", []int{1, 3}, true},
		{"zunionstore d 2 a b weights 1 2", []int{1, 3, 4}, true},
		{"zinter 3 a b", nil, false},
		{"zinter x a", nil, false},
		{"xread count 2 streams s t 0 0", []int{4, 5}, true},
		{"xread count 2 s t 0 0", nil, true},
	} {
		a := args(tt.cmd)
		sp, _ := Lookup(a[0])
		keys, ok := sp.KeysBySpecs(a)
		var got []int
		for _, k := range keys {
			got = append(got, k.Pos)
		}
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("%s: keys at %v, %v; want %v, %v", tt.cmd, got, ok, tt.want, tt.ok)
		}
	}
	for cmd, want := range map[string]string{"set k v": "OW update", "set k v nx GET": "RW access update"} {
		if keys, _ := set.KeysBySpecs(args(cmd)); len(keys) != 1 || strings.Join(keys[0].Flags, " ") != want {
			t.Errorf("%s: %+v, want flags %s", cmd, keys, want)
		}
	}
}
