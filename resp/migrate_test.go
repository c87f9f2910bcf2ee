package resp

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"
)

// migrateArgv splits a MIGRATE command; "_" is the empty key.
func migrateArgv(s string) [][]byte {
	args := argvOf(s)
	for i, a := range args {
		if string(a) == "_" {
			args[i] = nil
		}
	}
	return args
}

func TestParseMigrate(t *testing.T) {
	const errKeysKey = "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
	for _, tc := range []struct {
		cmd           string
		msg           string
		keys          []string
		db            int64
		copy, replace bool
		user, pass    string
		timeout       time.Duration
	}{
		{cmd: "migrate h 1 k 0 200", keys: []string{"k"}, timeout: 200 * time.Millisecond},
		{cmd: "migrate h 1 k 3 0 copy REPLACE", keys: []string{"k"}, db: 3, copy: true, replace: true, timeout: time.Second},
		{cmd: "migrate h 1 k 0 -5 AUTH pw", keys: []string{"k"}, pass: "pw", timeout: time.Second},
		{cmd: "migrate h 1 _ 9 10 auth2 u pw replace keys a b a", keys: []string{"a", "b", "a"}, db: 9, replace: true,
			user: "u", pass: "pw", timeout: 10 * time.Millisecond},
		{cmd: "migrate h 1 _ 0 10 keys", timeout: 10 * time.Millisecond},
		{cmd: "migrate h 1 k 0 10 auth2 u p1 auth p2", keys: []string{"k"}, user: "u", pass: "p2", timeout: 10 * time.Millisecond},
		{cmd: "migrate h 1 k 0 10 keys a", msg: errKeysKey},
		{cmd: "migrate h 1 k 0 10 auth2 u", msg: errSyntax},
		{cmd: "migrate h 1 k 0 10 auth", msg: errSyntax},
		{cmd: "migrate h 1 k 0 10 bogus", msg: errSyntax},
		// Options are checked before the timeout, the timeout before the db.
		{cmd: "migrate h 1 k x y bogus", msg: errSyntax},
		{cmd: "migrate h 1 k x y", msg: errNotInteger},
		{cmd: "migrate h 1 k x 10", msg: errNotInteger},
	} {
		o, msg := parseMigrate(migrateArgv(tc.cmd))
		if msg != tc.msg {
			t.Errorf("%s: error %q, want %q", tc.cmd, msg, tc.msg)
			continue
		}
		if msg != "" {
			continue
		}
		var keys []string
		for _, k := range o.keys {
			keys = append(keys, string(k))
		}
		if !slices.Equal(keys, tc.keys) || o.db != tc.db || o.copy != tc.copy || o.replace != tc.replace ||
			string(o.user) != tc.user || string(o.password) != tc.pass || o.auth != (tc.pass != "") || o.timeout != tc.timeout {
			t.Errorf("%s: %+v", tc.cmd, o)
		}
	}
}

func TestMigrateRedacted(t *testing.T) {
	args := migrateArgv("migrate h 1 _ 0 10 auth p1 auth2 u p2 keys auth x")
	var hidden []string
	for i, r := range redactedArgs("migrate", args) {
		if r {
			hidden = append(hidden, string(args[i]))
		}
	}
	if !slices.Equal(hidden, []string{"p1", "u", "p2"}) {
		t.Fatalf("redacted %q", hidden)
	}
}

// TestMigrateCacheBound checks the connection cache holds at most
// migrateCacheMax connections: a new target drops an idle one, and when
// every cached one is in use the new one serves its MIGRATE uncached.
func TestMigrateCacheBound(t *testing.T) {
	closing := make(chan struct{})
	defer close(closing)
	mc := newMigrateCache(closing)
	var ports []string
	for range migrateCacheMax + 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	var held []*migrateConn
	for _, p := range ports[:migrateCacheMax] {
		cs, err := mc.get("127.0.0.1", p, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, cs)
	}
	if n := mc.size(); n != migrateCacheMax {
		t.Fatalf("%d cached, want %d", n, migrateCacheMax)
	}
	busy, err := mc.get("127.0.0.1", ports[migrateCacheMax], time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mc.release(busy, false)
	if n := mc.size(); n != migrateCacheMax || !busy.closed {
		t.Fatalf("with every cached connection in use: %d cached, the new one closed %v", n, busy.closed)
	}
	for _, cs := range held {
		mc.release(cs, false)
	}
	again, err := mc.get("127.0.0.1", ports[0], time.Second)
	if err != nil || again != held[0] {
		t.Fatalf("a cached target got a new connection (%v)", err)
	}
	mc.release(again, true)
	if n := mc.size(); n != migrateCacheMax-1 || !held[0].closed {
		t.Fatalf("a broken connection stayed: %d cached", n)
	}
	extra, err := mc.get("127.0.0.1", ports[migrateCacheMax+1], time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mc.release(extra, false)
	other, err := mc.get("127.0.0.1", ports[migrateCacheMax], time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mc.release(other, false)
	if n := mc.size(); n != migrateCacheMax || extra.closed || other.closed {
		t.Fatalf("filling the cache: %d cached", n)
	}
	closed := 0
	for _, cs := range held[1:] {
		if cs.closed {
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("a full cache dropped %d idle connections for a new target, want 1", closed)
	}
}
