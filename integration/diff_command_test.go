package integration

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// rkvOnlyCommands are what rkv has beyond Redis 7.0.
var rkvOnlyCommands = map[string]bool{"client|setinfo": true, "cluster|rkv-join": true, "cluster|rkv-backup": true,
	"cluster|rkv-promote": true}

// TestDifferentialCommandTable compares COMMAND's replies with
// redis-server's for every command and subcommand rkv has: COMMAND LIST
// and COUNT, COMMAND INFO (arity, flags, key positions, ACL categories,
// tips, key specs; Redis's prose notes aside) and COMMAND DOCS (group,
// since, doc flags and arguments; the summary is rkv's own and must not be
// Redis's), then the ACL categories as ACL CAT lists them.
func TestDifferentialCommandTable(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	names := diffStrings(t, rk, "COMMAND", "LIST")
	redisHas := map[string]bool{}
	for _, n := range diffStrings(t, rd, "COMMAND", "LIST") {
		redisHas[n] = true
	}
	top := 0
	for _, n := range names {
		if !strings.Contains(n, "|") {
			top++
		}
	}
	if v, _ := rk.do(t, []string{"COMMAND", "COUNT"}); v != int64(top) {
		t.Errorf("COMMAND COUNT %v, COMMAND LIST holds %d commands", v, top)
	}
	rkvHas, shared := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		rkvHas[n] = true
		shared[n] = !rkvOnlyCommands[n]
	}
	for _, n := range names {
		if rkvOnlyCommands[n] {
			continue
		}
		if !redisHas[n] {
			t.Errorf("rkv lists %s, which Redis 7.0 does not have", n)
			continue
		}
		ri, ki := diffCommandInfo(t, rd, n, shared), diffCommandInfo(t, rk, n, shared)
		if !reflect.DeepEqual(ri, ki) {
			t.Errorf("COMMAND INFO %s\n  redis: %v\n  rkv:   %v", n, ri, ki)
		}
		rdocs, kdocs := diffCommandDocs(t, rd, n), diffCommandDocs(t, rk, n)
		for _, field := range []string{"group", "since", "doc_flags", "deprecated_since", "arguments"} {
			if !reflect.DeepEqual(rdocs[field], kdocs[field]) {
				t.Errorf("COMMAND DOCS %s: %s\n  redis: %v\n  rkv:   %v", n, field, rdocs[field], kdocs[field])
			}
		}
		if s, _ := kdocs["summary"].(string); s == "" || strings.EqualFold(s, fmt.Sprint(rdocs["summary"])) {
			t.Errorf("COMMAND DOCS %s: summary %q, want one of rkv's own", n, s)
		}
	}
	// Every subcommand listed has an executor: with arguments enough for
	// its arity it is never an unknown subcommand.
	for _, n := range names {
		container, sub, ok := strings.Cut(n, "|")
		if !ok {
			continue
		}
		v, err := rk.do(t, []string{"COMMAND", "INFO", n})
		if err != nil {
			t.Fatal(err)
		}
		arity := int(v.([]any)[0].([]any)[1].(int64))
		args := []string{container, sub}
		for len(args) < max(arity, -arity) {
			args = append(args, "x")
		}
		if _, err := rk.do(t, args); err != nil && strings.Contains(err.Error(), "unknown subcommand") {
			t.Errorf("%s is listed but answers %v", n, err)
		}
	}
	// CONFIG REWRITE has no file to write, as Redis without one.
	_, rerr := rd.do(t, []string{"CONFIG", "REWRITE"})
	if _, kerr := rk.do(t, []string{"CONFIG", "REWRITE"}); fmt.Sprint(kerr) != fmt.Sprint(rerr) {
		t.Errorf("CONFIG REWRITE: rkv %v, redis %v", kerr, rerr)
	}
	for _, cat := range diffStrings(t, rd, "ACL", "CAT") {
		var want []string
		for _, n := range diffStrings(t, rd, "ACL", "CAT", cat) {
			if rkvHas[n] {
				want = append(want, n)
			}
		}
		var got []string
		for _, n := range diffStrings(t, rk, "ACL", "CAT", cat) {
			if !rkvOnlyCommands[n] {
				got = append(got, n)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("ACL CAT %s\n  redis: %v\n  rkv:   %v", cat, want, got)
		}
	}
}

func diffStrings(t *testing.T, d diffTarget, args ...string) []string {
	t.Helper()
	v, err := d.do(t, args)
	if err != nil {
		t.Fatalf("%s: %v: %v", d.name, args, err)
	}
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// diffCommandInfo is the COMMAND INFO entry of name, without key spec
// notes (Redis's prose) and with only the subcommands rkv has, sorted.
func diffCommandInfo(t *testing.T, d diffTarget, name string, keep map[string]bool) []any {
	t.Helper()
	v, err := d.do(t, []string{"COMMAND", "INFO", name})
	if err != nil {
		t.Fatalf("%s: COMMAND INFO %s: %v", d.name, name, err)
	}
	return diffNormalInfo(v.([]any)[0].([]any), keep)
}

func diffNormalInfo(info []any, keep map[string]bool) []any {
	info = slices.Clone(info)
	var specs []any
	for _, ks := range info[8].([]any) {
		m := ks.([]any)
		var out []any
		for i := 0; i+1 < len(m); i += 2 {
			if m[i] != "notes" {
				out = append(out, m[i], m[i+1])
			}
		}
		specs = append(specs, out)
	}
	info[8] = specs
	var subs []any
	for _, s := range info[9].([]any) {
		if sub := s.([]any); keep[sub[0].(string)] {
			subs = append(subs, diffNormalInfo(sub, keep))
		}
	}
	slices.SortFunc(subs, func(a, b any) int { return strings.Compare(a.([]any)[0].(string), b.([]any)[0].(string)) })
	info[9] = subs
	return info
}

// diffCommandDocs is the COMMAND DOCS map of name.
func diffCommandDocs(t *testing.T, d diffTarget, name string) map[string]any {
	t.Helper()
	v, err := d.do(t, []string{"COMMAND", "DOCS", name})
	if err != nil {
		t.Fatalf("%s: COMMAND DOCS %s: %v", d.name, name, err)
	}
	l := v.([]any)
	if len(l) != 2 {
		t.Fatalf("%s: COMMAND DOCS %s: %v", d.name, name, v)
	}
	m := map[string]any{}
	kv := l[1].([]any)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// TestDifferentialACLCategories runs every command and subcommand rkv has
// as a user allowed one ACL category only, for each category, on rkv and
// on redis-server: each is refused (NOPERM) on both or on neither. The
// arguments only fill the arity, so what runs does little; commands that
// change the connection itself (QUIT, MULTI, AUTH, ...) are left out, and
// DEBUG, which redis-server refuses before its ACL check unless
// enable-debug-command is set.
func TestDifferentialACLCategories(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	// Commands that change the connection or end the server are left out.
	connState := map[string]bool{"quit": true, "multi": true, "exec": true, "discard": true, "hello": true,
		"auth": true, "select": true, "watch": true, "unwatch": true, "readonly": true, "readwrite": true, "debug": true,
		"shutdown": true}
	type call struct {
		name string
		args []string
	}
	var calls []call
	for _, n := range diffStrings(t, rk, "COMMAND", "LIST") {
		container, _, _ := strings.Cut(n, "|")
		if rkvOnlyCommands[n] || connState[container] {
			continue
		}
		v, err := rk.do(t, []string{"COMMAND", "INFO", n})
		if err != nil {
			t.Fatal(err)
		}
		info := v.([]any)[0].([]any)
		if len(info[9].([]any)) > 0 {
			continue // a container: its subcommands are checked
		}
		arity := int(info[1].(int64))
		args := strings.Split(n, "|")
		for len(args) < max(arity, -arity) {
			args = append(args, "x")
		}
		calls = append(calls, call{n, args})
	}
	for _, cat := range diffStrings(t, rd, "ACL", "CAT") {
		for _, d := range []diffTarget{rd, rk} {
			for _, args := range [][]string{{"AUTH", "default", "x"},
				{"ACL", "SETUSER", "limited", "reset", "on", "nopass", "~*", "&*", "+@" + cat},
				{"AUTH", "limited", "x"}} {
				if _, err := d.do(t, args); err != nil {
					t.Fatalf("%s: %v: %v", d.name, args, err)
				}
			}
		}
		for _, c := range calls {
			_, rerr := rd.do(t, c.args)
			_, kerr := rk.do(t, c.args)
			rno := rerr != nil && strings.HasPrefix(rerr.Error(), "NOPERM")
			kno := kerr != nil && strings.HasPrefix(kerr.Error(), "NOPERM")
			if rno != kno {
				t.Errorf("+@%s: %s\n  redis: %v\n  rkv:   %v", cat, c.name, rerr, kerr)
			}
		}
	}
}

// TestDifferentialGetKeys compares COMMAND GETKEYS and GETKEYSANDFLAGS with
// redis-server's for every command rkv has, its arity filled with dummy
// arguments, and for the commands whose keys only a keyword or a count
// locates.
func TestDifferentialGetKeys(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	calls := [][]string{
		{"zunionstore", "d", "2", "a", "b", "weights", "1", "2"}, {"zinter", "2", "a", "b"}, {"zdiff", "3", "a", "b"},
		{"sintercard", "2", "a", "b", "limit", "1"}, {"lmpop", "2", "a", "b", "left"},
		{"xread", "count", "1", "streams", "s1", "s2", "0", "0"}, {"xread", "streams", "s", "0"},
		{"mset", "a", "1", "b", "2"}, {"mget", "a", "b", "c"}, {"del", "a", "b"}, {"set", "k", "v", "get"},
		{"object", "encoding", "k"}, {"rename", "a", "b"}, {"zunionstore", "d", "x", "a"}, {"zinter", "-1", "a"},
		{"sintercard", "5", "a"}, {"zrangestore", "dst", "src", "0", "-1"}, {"lmove", "a", "b", "left", "right"},
	}
	for _, n := range diffStrings(t, rk, "COMMAND", "LIST") {
		if rkvOnlyCommands[n] {
			continue
		}
		v, err := rk.do(t, []string{"COMMAND", "INFO", n})
		if err != nil {
			t.Fatal(err)
		}
		arity := int(v.([]any)[0].([]any)[1].(int64))
		args := strings.Split(n, "|")
		for len(args) < max(arity, -arity) {
			args = append(args, "x")
		}
		calls = append(calls, args)
	}
	for _, c := range calls {
		for _, sub := range []string{"GETKEYS", "GETKEYSANDFLAGS"} {
			args := append([]string{"COMMAND", sub}, c...)
			rv, rerr := rd.do(t, args)
			kv, kerr := rk.do(t, args)
			if a, b := diffReply(rv, rerr), diffReply(kv, kerr); a != b {
				t.Errorf("%v\n  redis: %s\n  rkv:   %s", args, a, b)
			}
		}
	}
}

// TestDifferentialACLKeys runs commands whose keys an index, a keyword or a
// count locates as a user limited to some keys (read and write, read only,
// write only) on rkv and on redis-server: each is refused (NOPERM) on both
// or on neither.
func TestDifferentialACLKeys(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	for _, d := range []diffTarget{rd, rk} {
		for _, args := range [][]string{
			{"ACL", "SETUSER", "keyed", "on", "nopass", "+@all", "~foo:*", "%R~ro:*", "%W~wo:*"},
			{"AUTH", "keyed", "x"},
		} {
			if _, err := d.do(t, args); err != nil {
				t.Fatalf("%s: %v: %v", d.name, args, err)
			}
		}
	}
	for _, c := range []string{
		"set foo:a 1", "set ro:a 1", "set wo:a 1", "set wo:a 1 get", "get ro:a", "get wo:a", "get other",
		"mset foo:a 1 wo:b 2", "mset foo:a 1 other 2", "mget foo:a ro:b", "mget foo:a wo:b",
		"zunionstore foo:d 2 foo:a foo:b", "zunionstore foo:d 2 foo:a other", "zunionstore wo:d 2 ro:a ro:b",
		"zunionstore ro:d 2 ro:a ro:b", "zinter 2 foo:a other", "zinter 2 ro:a ro:b", "zinter 2 wo:a ro:b",
		"sintercard 2 foo:a other", "sintercard 2 ro:a foo:b", "lmpop 2 foo:a other left", "lmpop 1 wo:a left",
		"xread streams foo:s other 0 0", "xread count 1 streams ro:s 0", "xread streams wo:s 0",
		"rename foo:a other", "rename foo:a foo:b", "lmove ro:a wo:b left right", "lmove wo:a ro:b left right",
		"del wo:a", "del ro:a", "exists wo:a", "exists other", "object encoding ro:a", "object encoding wo:a",
		"zinter x foo:a", "zinter 5 foo:a",
	} {
		args := strings.Fields(c)
		_, rerr := rd.do(t, args)
		_, kerr := rk.do(t, args)
		rno := rerr != nil && strings.HasPrefix(rerr.Error(), "NOPERM")
		kno := kerr != nil && strings.HasPrefix(kerr.Error(), "NOPERM")
		if rno != kno {
			t.Errorf("%s\n  redis: %v\n  rkv:   %v", c, rerr, kerr)
		}
	}
}
