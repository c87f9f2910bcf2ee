package script

import (
	"bytes"
	"strings"
	"testing"
)

const libA = `#!lua name=liba
local function helper(x) return x .. '!' end
redis.register_function('echo_a', function(keys, args) return helper(args[1]) end)
redis.register_function{function_name='keys_a', callback=function(keys) return keys end, flags={'no-writes'}, description='returns keys'}
redis.register_function{function_name='set_a', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end}
`

func TestFunctionLoadAndCall(t *testing.T) {
	e := New(nil)
	name, err := e.FunctionLoad([]byte(libA), false)
	if err != nil || name != "liba" {
		t.Fatalf("FunctionLoad = %q, %v", name, err)
	}
	h := newFakeHost()
	if got := string(e.FCall("echo_a", nil, [][]byte{[]byte("hi")}, h, Options{}).Reply); got != "$3\r\nhi!\r\n" {
		t.Fatalf("echo_a: %q", got)
	}
	if got := string(e.FCall("keys_a", [][]byte{[]byte("k1"), []byte("k2")}, nil, h, Options{ReadOnly: true}).Reply); got != "*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n" {
		t.Fatalf("keys_a: %q", got)
	}
	if got := string(e.FCall("set_a", [][]byte{[]byte("k")}, [][]byte{[]byte("v")}, h, Options{ReadOnly: true}).Reply); got != "-ERR Can not execute a script with write flag using *_ro command.\r\n" {
		t.Fatalf("set_a via FCALL_RO: %q", got)
	}
	r := e.FCall("set_a", [][]byte{[]byte("k")}, [][]byte{[]byte("v")}, h, Options{})
	if string(r.Reply) != "+OK\r\n" || !r.Wrote || h.strs["k"] != "v" {
		t.Fatalf("set_a: %q wrote %v", r.Reply, r.Wrote)
	}
	if got := string(e.FCall("nosuch", nil, nil, h, Options{}).Reply); got != "-ERR Function not found\r\n" {
		t.Fatalf("nosuch: %q", got)
	}
	if f, ok := e.FunctionFlags("keys_a"); !ok || f != FlagNoWrites {
		t.Fatalf("FunctionFlags = %v %v", f, ok)
	}
	// Functions do not see KEYS/ARGV as globals; the error names the function.
	e.FunctionLoad([]byte("#!lua name=libb\nredis.register_function('g', function() return KEYS end)"), false)
	if got := string(e.FCall("g", nil, nil, h, Options{}).Reply); got != "-ERR user_function:2: Script attempted to access nonexistent global variable 'KEYS' script: g, on @user_function:2.\r\n" {
		t.Fatalf("g: %q", got)
	}
}

func TestFunctionLoadErrors(t *testing.T) {
	e := New(nil)
	if _, err := e.FunctionLoad([]byte(libA), false); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ code, want string }{
		{libA, "ERR Library 'liba' already exists"},
		{"return 1", "ERR Missing library metadata"},
		{"#!lua name=x", "ERR Invalid library metadata"},
		{"#!lua\nreturn 1", "ERR Library name was not given"},
		{"#!lua name=a name=b\n", "ERR Invalid metadata value, name argument was given multiple times"},
		{"#!lua foo=bar\n", "ERR Invalid metadata value given: foo=bar"},
		{"#!lua name=bad-name\n", errBadName},
		{"#!js name=x\n", "ERR Engine 'js' not found"},
		{"#!lua name=x\nreturn 1", "ERR No functions registered"},
		{"#!lua name=x\nreturn +", "ERR Error compiling function: user_function:2:"},
		{"#!lua name=x\nredis.register_function('echo_a', function() end)", "ERR Function echo_a already exists"},
		{"#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)", "ERR Error registering functions: ERR Function already exists in the library"},
		{"#!lua name=x\nredis.register_function('bad-name', function() end)", "ERR Error registering functions: ERR Library names can only contain"},
		{"#!lua name=x\nredis.register_function('f', function() end, 3)", "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"},
		{"#!lua name=x\nredis.register_function('f', 1)", "ERR Error registering functions: ERR second argument to redis.register_function must be a function"},
		{"#!lua name=x\nredis.register_function{function_name='f'}", "ERR Error registering functions: ERR redis.register_function must get a callback argument"},
		{"#!lua name=x\nredis.register_function{callback=function() end}", "ERR Error registering functions: ERR redis.register_function must get a function name argument"},
		{"#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}", "ERR Error registering functions: ERR unknown flag given"},
		{"#!lua name=x\nredis.register_function{function_name='f', callback=function() end, other=1}", "ERR Error registering functions: ERR unknown argument given to redis.register_function"},
		{"#!lua name=x\nredis.register_function(1)", "ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."},
		{"#!lua name=x\nlocal s = string.format('a')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'"},
		{"#!lua name=x\nredis.call('get', 'x')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"},
	}
	for _, c := range cases {
		_, err := e.FunctionLoad([]byte(c.code), false)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want prefix %q", c.code, err, c.want)
		}
	}
	// Nothing of the failed loads stayed.
	if libs := e.FunctionList(nil, false); len(libs) != 1 || len(libs[0].Functions) != 3 {
		t.Fatalf("libraries after failed loads: %+v", libs)
	}
	// register_function outside a load.
	e.FunctionLoad([]byte("#!lua name=r\nlocal reg = redis.register_function\nredis.register_function('late', function() reg('x', function() end) end)"), false)
	if got := string(e.FCall("late", nil, nil, newFakeHost(), Options{}).Reply); !strings.HasPrefix(got, "-ERR redis.register_function can only be called on FUNCTION LOAD command script: late") {
		t.Fatalf("late register: %q", got)
	}
}

func TestFunctionReplaceDeleteFlushList(t *testing.T) {
	e := New(nil)
	e.FunctionLoad([]byte(libA), false)
	v2 := "#!lua name=liba\nredis.register_function('echo_a', function() return 2 end)"
	if _, err := e.FunctionLoad([]byte(v2), true); err != nil {
		t.Fatal(err)
	}
	if got := string(e.FCall("echo_a", nil, nil, newFakeHost(), Options{}).Reply); got != ":2\r\n" {
		t.Fatalf("replaced echo_a: %q", got)
	}
	if _, ok := e.FunctionFlags("keys_a"); ok {
		t.Fatal("replace kept a function of the old library")
	}
	e.FunctionLoad([]byte("#!lua name=other\nredis.register_function{function_name='o', callback=function() return 1 end, description='d', flags={'allow-oom', 'no-writes'}}"), false)
	libs := e.FunctionList(func(n string) bool { return strings.HasPrefix(n, "o") }, true)
	if len(libs) != 1 || libs[0].Name != "other" || libs[0].Engine != "LUA" || !strings.HasPrefix(libs[0].Code, "#!lua name=other") {
		t.Fatalf("list: %+v", libs)
	}
	fi := libs[0].Functions[0]
	if fi.Name != "o" || fi.Description == nil || *fi.Description != "d" || strings.Join(fi.Flags.Names(), ",") != "no-writes,allow-oom" {
		t.Fatalf("function info: %+v", fi)
	}
	if all := e.FunctionList(nil, false); len(all) != 2 || all[0].Name != "liba" || all[0].Code != "" {
		t.Fatalf("list all: %+v", all)
	}
	if err := e.FunctionDelete("nosuch"); err == nil || err.Error() != "ERR Library not found" {
		t.Fatalf("delete nosuch: %v", err)
	}
	if err := e.FunctionDelete("liba"); err != nil {
		t.Fatal(err)
	}
	if got := string(e.FCall("echo_a", nil, nil, newFakeHost(), Options{}).Reply); got != "-ERR Function not found\r\n" {
		t.Fatalf("deleted echo_a: %q", got)
	}
	e.FunctionFlush()
	if len(e.FunctionList(nil, false)) != 0 {
		t.Fatal("flush kept libraries")
	}
}

func TestFunctionDumpRestoreSnapshot(t *testing.T) {
	e := New(nil)
	e.FunctionLoad([]byte(libA), false)
	e.FunctionLoad([]byte("#!lua name=other\nredis.register_function('o', function() return 1 end)"), false)
	dump := e.FunctionDump()
	snap := e.SnapshotLibraries()

	f := New(nil)
	if err := f.FunctionRestore(dump, ""); err != nil {
		t.Fatal(err)
	}
	if got := string(f.FCall("echo_a", nil, [][]byte{[]byte("x")}, newFakeHost(), Options{}).Reply); got != "$2\r\nx!\r\n" {
		t.Fatalf("restored echo_a: %q", got)
	}
	if err := f.FunctionRestore(dump, "APPEND"); err == nil || err.Error() != "ERR Library liba already exists" {
		t.Fatalf("APPEND over existing: %v", err)
	}
	if err := f.FunctionRestore(dump, "REPLACE"); err != nil {
		t.Fatal(err)
	}
	f.FunctionLoad([]byte("#!lua name=extra\nredis.register_function('x', function() return 1 end)"), false)
	if err := f.FunctionRestore(dump, "FLUSH"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.FunctionFlags("x"); ok {
		t.Fatal("FLUSH kept a library")
	}
	if err := f.FunctionRestore(dump, "bogus"); err == nil || !strings.HasPrefix(err.Error(), "ERR Wrong restore policy") {
		t.Fatalf("bad policy: %v", err)
	}
	bad := bytes.Clone(dump)
	bad[len(bad)/2] ^= 1
	if err := f.FunctionRestore(bad, ""); err != errBadPayload {
		t.Fatalf("corrupt payload: %v", err)
	}
	if err := f.FunctionRestore([]byte("junk"), ""); err != errBadPayload {
		t.Fatalf("junk payload: %v", err)
	}

	g := New(nil)
	if err := g.RestoreLibraries(snap); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.SnapshotLibraries(), "|"); got != strings.Join(snap, "|") {
		t.Fatalf("snapshot round trip: %q", got)
	}
	// A failing restore leaves the libraries as they were.
	if err := g.RestoreLibraries([]string{"#!lua name=z\nreturn +"}); err == nil {
		t.Fatal("bad snapshot accepted")
	}
	if len(g.SnapshotLibraries()) != 2 {
		t.Fatal("failed restore changed the libraries")
	}
}

// TestFunctionsSurviveScriptFlush checks that the two states are apart:
// SCRIPT FLUSH keeps functions and FUNCTION FLUSH keeps cached scripts.
func TestFunctionsSurviveScriptFlush(t *testing.T) {
	e := New(nil)
	e.FunctionLoad([]byte(libA), false)
	sha, _ := e.Load([]byte("return 1"))
	e.Flush()
	if _, ok := e.FunctionFlags("echo_a"); !ok || e.Exists(sha) {
		t.Fatal("SCRIPT FLUSH dropped a function or kept a script")
	}
	e.Load([]byte("return 1"))
	e.FunctionFlush()
	if !e.Exists(sha) {
		t.Fatal("FUNCTION FLUSH dropped a script")
	}
}
