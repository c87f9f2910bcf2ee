// Command gen writes command/redis7.json, the facts of rkv's command table,
// from a running redis-server 7.0: for every command and subcommand rkv
// has, the arity, flags, key positions, ACL categories, tips, key specs,
// group, since-version and argument structure that COMMAND INFO and
// COMMAND DOCS report there. Prose (summaries, complexity, history, key
// spec notes) is left out: rkv's summaries are its own, in summaries.go.
//
// Usage, from the repository root:
//
//	go run ./command/internal/gen -addr 127.0.0.1:6379 [-add name ...]
//
// Names come from the current command/redis7.json, plus -add (a command,
// or "container|sub" for one subcommand); "-drop name" removes one.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rkv/rkv/command"
)

const path = "command/redis7.json"

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, strings.ToLower(s)); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "redis-server 7.0 to ask")
	var add, drop list
	flag.Var(&add, "add", "a command or container|sub to add (repeatable)")
	flag.Var(&drop, "drop", "a command or container|sub to drop (repeatable)")
	flag.Parse()
	want := map[string][]string{} // command -> subcommands wanted
	if b, err := os.ReadFile(path); err == nil {
		var old []*command.Spec
		if err := json.Unmarshal(b, &old); err != nil {
			log.Fatalf("%s: %v", path, err)
		}
		for _, s := range old {
			want[s.Name] = nil
			for _, sub := range s.Subcommands {
				want[s.Name] = append(want[s.Name], sub.Name)
			}
		}
	}
	for _, n := range add {
		c, _, isSub := strings.Cut(n, "|")
		if _, ok := want[c]; !ok {
			want[c] = nil
		}
		if isSub {
			want[c] = append(want[c], n)
		}
	}
	for _, n := range drop {
		c, _, isSub := strings.Cut(n, "|")
		if isSub {
			want[c] = slices.DeleteFunc(want[c], func(s string) bool { return s == n })
		} else {
			delete(want, c)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, Protocol: 2})
	ctx := context.Background()
	var out []*command.Spec
	for name, subs := range want {
		s := fetch(ctx, rdb, name)
		s.Subcommands = slices.DeleteFunc(s.Subcommands, func(sub *command.Spec) bool { return !slices.Contains(subs, sub.Name) })
		slices.SortFunc(s.Subcommands, func(a, b *command.Spec) int { return strings.Compare(a.Name, b.Name) })
		if len(s.Subcommands) != len(subs) {
			log.Fatalf("%s: redis-server has only %d of the subcommands %v", name, len(s.Subcommands), subs)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *command.Spec) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d commands\n", path, len(out))
}

func fetch(ctx context.Context, rdb *redis.Client, name string) *command.Spec {
	info, err := rdb.Do(ctx, "command", "info", name).Slice()
	if err != nil || len(info) != 1 || info[0] == nil {
		log.Fatalf("COMMAND INFO %s: %v %v", name, info, err)
	}
	docs, err := rdb.Do(ctx, "command", "docs", name).Slice()
	if err != nil || len(docs) != 2 {
		log.Fatalf("COMMAND DOCS %s: %v %v", name, docs, err)
	}
	s := fromInfo(info[0].([]any))
	addDocs(s, pairs(docs[1]))
	return s
}

func fromInfo(v []any) *command.Spec {
	s := &command.Spec{Name: v[0].(string), Arity: num(v[1]), Flags: strs(v[2]),
		FirstKey: num(v[3]), LastKey: num(v[4]), Step: num(v[5]), Tips: strs(v[7])}
	for _, c := range strs(v[6]) {
		s.ACL = append(s.ACL, strings.TrimPrefix(c, "@"))
	}
	for _, ks := range v[8].([]any) {
		m := pairs(ks)
		s.KeySpecs = append(s.KeySpecs, command.KeySpec{Flags: strs(m["flags"]),
			BeginSearch: search(m["begin_search"]), FindKeys: search(m["find_keys"])})
	}
	for _, sub := range v[9].([]any) {
		s.Subcommands = append(s.Subcommands, fromInfo(sub.([]any)))
	}
	return s
}

// search reads a begin_search or find_keys reply: its type and the fields
// of its spec.
func search(v any) command.Search {
	m := pairs(v)
	f := pairs(m["spec"])
	s := command.Search{Type: m["type"].(string), Index: num(f["index"]), StartFrom: num(f["startfrom"]),
		LastKey: num(f["lastkey"]), KeyStep: num(f["keystep"]), Limit: num(f["limit"]),
		KeyNumIdx: num(f["keynumidx"]), FirstKey: num(f["firstkey"])}
	s.Keyword, _ = f["keyword"].(string)
	return s
}

func num(v any) int {
	n, _ := v.(int64)
	return int(n)
}

func addDocs(s *command.Spec, d map[string]any) {
	s.Group, _ = d["group"].(string)
	s.Since, _ = d["since"].(string)
	s.DocFlags = strs(d["doc_flags"])
	s.DeprecatedSince, _ = d["deprecated_since"].(string)
	if a, ok := d["arguments"].([]any); ok {
		s.Args = args(a)
	}
	subs := pairs(d["subcommands"])
	for _, sub := range s.Subcommands {
		addDocs(sub, pairs(subs[sub.Name]))
	}
}

func args(v []any) []command.Arg {
	var out []command.Arg
	for _, x := range v {
		m := pairs(x)
		a := command.Arg{Name: m["name"].(string), Type: m["type"].(string), Flags: strs(m["flags"])}
		if i, ok := m["key_spec_index"].(int64); ok {
			n := int(i)
			a.KeySpecIndex = &n
		}
		a.Token, _ = m["token"].(string)
		a.Since, _ = m["since"].(string)
		a.DeprecatedSince, _ = m["deprecated_since"].(string)
		if sub, ok := m["arguments"].([]any); ok {
			a.Args = args(sub)
		}
		out = append(out, a)
	}
	return out
}

// pairs reads a RESP2 flattened map.
func pairs(v any) map[string]any {
	m := map[string]any{}
	l, _ := v.([]any)
	for i := 0; i+1 < len(l); i += 2 {
		m[l[i].(string)] = l[i+1]
	}
	return m
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}
