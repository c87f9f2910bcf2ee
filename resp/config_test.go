package resp

import (
	"os"
	"strings"
	"testing"
)

// configTableMarkdown renders the CONFIG table as the README shows it.
func configTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| Parameter | Default | What rkv does with it |\n|---|---|---|\n")
	for _, p := range configTable {
		name := "`" + p.name + "`"
		if p.alias != "" {
			name += " (`" + p.alias + "`)"
		}
		var flags []string
		for _, f := range []struct {
			on   bool
			word string
		}{{p.flags&cfgImmutable != 0, "immutable"}, {p.flags&cfgProtected != 0, "protected"}, {p.flags&cfgHidden != 0, "hidden"}} {
			if f.on {
				flags = append(flags, f.word)
			}
		}
		if len(flags) > 0 {
			name += " " + strings.Join(flags, ", ")
		}
		def := "`" + p.def + "`"
		if p.def == "" {
			def = ""
		}
		var what string
		switch p.effect {
		case effLocal:
			what = "honoured by the node it is set on"
		case effLog:
			what = "set cluster-wide through the log"
			if p.why != "" {
				what += "; " + p.why
			}
		case effFixed:
			what = "fixed: " + p.why
		default:
			what = "accepted without effect: " + p.why
		}
		b.WriteString("| " + name + " | " + def + " | " + what + " |\n")
	}
	return b.String()
}

// TestConfigTableInREADME: the README's table of parameters is the one
// CONFIG works from.
func TestConfigTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := configTableMarkdown(); !strings.Contains(string(readme), want) {
		t.Fatalf("README.md lacks the CONFIG table as config_table.go has it; it should read:\n%s", want)
	}
}

// TestConfigTableNames: every name and alias appears once.
func TestConfigTableNames(t *testing.T) {
	n := 0
	for _, p := range configTable {
		n++
		if p.alias != "" {
			n++
		}
		if p.parse == nil {
			t.Errorf("%s has no parser", p.name)
		}
	}
	if len(cfgIndex) != n {
		t.Fatalf("%d names and aliases, %d distinct", n, len(cfgIndex))
	}
}
