package integration

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MIGRATE across servers: Redis and rkv, seeded with the same keys by the
// type families' commands, each MIGRATE to a redis-server of its own with
// the same arguments from the same database, replies compared exactly,
// then the sources' and the targets' final states (databases 0 to 3, and
// 9). Error cases: no key, a port nothing listens on, a
// dead target (accepts, never answers: the timeout), wrong passwords
// (AUTH and AUTH2), BUSYKEY without REPLACE, a bad db, bad timeouts and
// options, KEYS with a key.

// diffMigrateSeeds and diffMigrateSteps size the test: seeds, and steps
// per seed after the seeding commands, MIGRATEs mixed with the type
// families' commands, which keep giving it keys to move.
const (
	diffMigrateSeeds = 6
	diffMigrateSteps = 80
)

// diffMigrateUser is the ACL user both targets have, for AUTH2.
const diffMigrateUser, diffMigratePass = "mig", "mig-pass"

// diffMigratePorts are the ports a MIGRATE names, but for the target,
// which each source has its own of: "target" stands for it.
type diffMigratePorts struct{ closed, dead string }

func (g *diffGen) migrateArgs(p diffMigratePorts) []string {
	w := g.word
	port := "target"
	timeout := g.pick([]string{"1000", "5000", "0", "-3"})
	switch r := g.rng.IntN(24); {
	case r == 0:
		port = p.closed
	case r == 1:
		port, timeout = p.dead, "200"
	case r == 2:
		port = "not-a-port"
	}
	db := "0"
	switch g.rng.IntN(20) {
	case 0, 1:
		db = "9"
	case 2:
		db = "1"
	case 3:
		db = "-1"
	case 4:
		db = "x"
	}
	if g.rng.IntN(30) == 0 {
		timeout = "x"
	}
	key := g.key()
	var opts []string
	for range g.rng.IntN(3) {
		switch g.rng.IntN(9) {
		case 0, 1:
			opts = append(opts, w("COPY"))
		case 2, 3:
			opts = append(opts, w("REPLACE"))
		case 4:
			opts = append(opts, w("AUTH"), "wrong")
		case 5:
			opts = append(opts, w("AUTH2"), diffMigrateUser, diffMigratePass)
		case 6:
			opts = append(opts, w("AUTH2"), diffMigrateUser, "wrong")
		case 7:
			opts = append(opts, g.pick([]string{w("AUTH"), w("AUTH2"), w("FOO")}))
		default:
			opts = append(opts, w("REPLACE"), w("COPY"))
		}
	}
	if g.rng.IntN(3) == 0 {
		if g.rng.IntN(10) > 0 {
			key = ""
		}
		opts = append(opts, w("KEYS"))
		opts = append(opts, g.keys(0, 4)...)
	}
	return append([]string{w("MIGRATE"), "127.0.0.1", port, key, db, timeout}, opts...)
}

// diffDeadTarget listens on a port and accepts connections it never
// answers, until the test ends: MIGRATE's timeout meets it.
func diffDeadTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func diffPortOf(d diffTarget) string {
	_, port, _ := net.SplitHostPort(d.c.Options().Addr)
	return port
}

// diffMigrateInfo is a server's migrate_cached_sockets.
func diffMigrateInfo(t *testing.T, d diffTarget) string {
	t.Helper()
	v, err := d.do(t, []string{"INFO", "stats"})
	if err != nil {
		t.Fatalf("%s: INFO: %v", d.name, err)
	}
	for _, line := range strings.Split(v.(string), "\r\n") {
		if n, ok := strings.CutPrefix(line, "migrate_cached_sockets:"); ok {
			return n
		}
	}
	t.Fatalf("%s: no migrate_cached_sockets in INFO", d.name)
	return ""
}

func TestDifferentialMigrate(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	td := diffTarget{"redis's target", diffStartRedis(t)}
	tk := diffTarget{"rkv's target", diffStartRedis(t)}
	ports := diffMigratePorts{closed: strconv.Itoa(freePort(t)), dead: diffDeadTarget(t)}
	for _, d := range []diffTarget{td, tk} {
		if v, err := d.do(t, []string{"ACL", "SETUSER", diffMigrateUser, "on", ">" + diffMigratePass, "~*", "+@all"}); err != nil || v != "OK" {
			t.Fatalf("%s: ACL SETUSER: %v %v", d.name, v, err)
		}
	}
	var typed []*diffFamily
	for _, f := range diffFamilies {
		if f.typ != "" {
			typed = append(typed, f)
		}
	}
	for seed := uint64(1); seed <= diffMigrateSeeds; seed++ {
		for _, d := range []diffTarget{rd, rk, td, tk} {
			if v, err := d.do(t, []string{"FLUSHALL"}); err != nil || v != "OK" {
				t.Fatalf("seed %d: %s FLUSHALL: %v %v", seed, d.name, v, err)
			}
		}
		g := &diffGen{rng: rand.New(rand.NewPCG(seed, 0x3197a7e)), t0: time.Now().Unix()}
		// The sources get values of every type, the targets a few keys
		// of the same names (BUSYKEY), alike.
		for i := 0; i < 60; i++ {
			c := typed[g.rng.IntN(len(typed))].gen(g)
			if out := diffRun(t, rd, rk, c); !out.ok {
				t.Fatalf("seed %d, seeding %s\n  redis: %s\n  rkv:   %s", seed, c, out.redis, out.rkv)
			}
		}
		for i := 0; i < 3; i++ {
			if out := diffRun(t, td, tk, diffCmd{args: []string{"SET", g.key(), g.val()}}); !out.ok {
				t.Fatalf("seed %d: targets disagree: %s / %s", seed, out.redis, out.rkv)
			}
		}
		var hist []string
		for i := range diffMigrateSteps {
			if g.rng.IntN(2) == 0 {
				c := typed[g.rng.IntN(len(typed))].gen(g)
				if g.rng.IntN(8) == 0 {
					// MIGRATE moves keys of the client's database.
					c = diffCmd{args: []string{"SELECT", g.pick([]string{"0", "0", "1", "2"})}}
				}
				out := diffRun(t, rd, rk, c)
				step := fmt.Sprintf("%s\n        redis: %s\n        rkv:   %s", c, out.redis, out.rkv)
				if !out.ok {
					t.Fatalf("seed %d, step %d: %s\npreceding:\n    %s", seed, i, step, strings.Join(hist[max(0, len(hist)-8):], "\n    "))
				}
				hist = append(hist, step)
				continue
			}
			args := g.migrateArgs(ports)
			replies := make([]string, 2)
			for j, d := range []diffTarget{rd, rk} {
				a := append([]string(nil), args...)
				if a[2] == "target" {
					a[2] = diffPortOf([]diffTarget{td, tk}[j])
				}
				replies[j] = diffReply(d.do(t, a))
			}
			step := fmt.Sprintf("%q\n        redis: %s\n        rkv:   %s", args, replies[0], replies[1])
			if replies[0] != replies[1] {
				t.Fatalf("seed %d, step %d: %s\npreceding:\n    %s", seed, i, step, strings.Join(hist[max(0, len(hist)-8):], "\n    "))
			}
			hist = append(hist, step)
		}
		if a, b := diffState(t, rd), diffState(t, rk); a != b {
			t.Fatalf("seed %d: sources differ\nredis:\n%s\nrkv:\n%s", seed, a, b)
		}
		if a, b := diffState(t, td), diffState(t, tk); a != b {
			t.Fatalf("seed %d: targets differ\nredis's:\n%s\nrkv's:\n%s", seed, a, b)
		}
		for _, db := range []string{"9", "0"} {
			if out := diffRun(t, td, tk, diffCmd{args: []string{"SELECT", db}}); !out.ok {
				t.Fatalf("SELECT %s: %s / %s", db, out.redis, out.rkv)
			}
			if db == "9" {
				if a, b := diffKeysState(t, td), diffKeysState(t, tk); a != b {
					t.Fatalf("seed %d: targets' db 9 differ\nredis's:\n%s\nrkv's:\n%s", seed, a, b)
				}
			}
		}
		if a, b := diffMigrateInfo(t, rd), diffMigrateInfo(t, rk); a != b {
			t.Fatalf("seed %d: migrate_cached_sockets %s on Redis, %s on rkv", seed, a, b)
		}
	}
}
