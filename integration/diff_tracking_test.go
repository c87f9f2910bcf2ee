package integration

import (
	"strings"
	"testing"
)

// Client-side caching compared with redis-server: each case runs on fresh
// connections to both servers, a RESP3 connection "a" that tracks and a
// RESP2 connection "w" that writes, and every reply is compared, pushes
// included: after each step, "a" is sent a PING and everything it
// receives up to the PONG (its invalidations, in order) is part of the
// step's rendering.

type trackingStep struct {
	on   string // "a" or "w"
	args []string
}

func trackingSteps(lines ...string) []trackingStep {
	steps := make([]trackingStep, len(lines))
	for i, l := range lines {
		on, cmd, _ := strings.Cut(l, " ")
		steps[i] = trackingStep{on: on, args: strings.Fields(cmd)}
	}
	return steps
}

var trackingCases = []struct {
	name  string
	steps []trackingStep
}{
	{"option errors", trackingSteps(
		"a CLIENT TRACKING on PREFIX x", "a CLIENT TRACKING on BCAST OPTIN", "a CLIENT TRACKING on OPTIN OPTOUT",
		"a CLIENT TRACKING maybe", "a CLIENT TRACKING on REDIRECT 999999", "a CLIENT TRACKING on REDIRECT x",
		"a CLIENT TRACKING on BOGUS", "a CLIENT TRACKING on BCAST PREFIX ab PREFIX a", "a CLIENT CACHING yes",
		"a CLIENT CACHING maybe", "a CLIENT TRACKINGINFO", "a CLIENT GETREDIR", "a CLIENT TRACKING")},
	{"default mode", trackingSteps(
		"a CLIENT TRACKING on", "a CLIENT TRACKINGINFO", "a GET k1", "a MGET k2 k3", "w SET k1 1", "w SET k4 1",
		"w MSET k2 2 k3 3", "w SET k1 2", "a GET k1", "w DEL k1", "a CLIENT TRACKING off", "a CLIENT GETREDIR")},
	{"own writes come after the reply", trackingSteps(
		"a CLIENT TRACKING on", "a HSET h f 1", "a HGET h f", "a HDEL h f", "a GET s", "a MULTI", "a INCR s",
		"a GET s", "a EXEC")},
	{"noloop", trackingSteps(
		"a CLIENT TRACKING on NOLOOP", "a GET k", "a SET k 1", "a GET k", "w SET k 2", "a CLIENT TRACKINGINFO")},
	{"bcast", trackingSteps(
		"a CLIENT TRACKING on BCAST PREFIX p: PREFIX q:", "a CLIENT TRACKINGINFO", "w MSET p:1 x q:1 y r:1 z",
		"w SET p:2 x", "a CLIENT TRACKING on BCAST PREFIX r:", "a CLIENT TRACKING on BCAST PREFIX p:x",
		"a CLIENT TRACKING on", "w SET r:9 1", "a CLIENT TRACKING off", "a CLIENT TRACKING on BCAST",
		"w SET any 1", "a CLIENT TRACKING on BCAST NOLOOP", "a SET mine 1", "w SET theirs 1")},
	{"optin and optout", trackingSteps(
		"a CLIENT TRACKING on OPTIN", "a GET k", "w SET k 1", "a CLIENT CACHING yes", "a CLIENT TRACKINGINFO",
		"a GET k", "w SET k 2", "a CLIENT CACHING no", "a CLIENT TRACKING on OPTOUT", "a CLIENT TRACKING off",
		"a CLIENT TRACKING on OPTOUT", "a CLIENT CACHING no", "a GET k", "w SET k 3", "a GET k", "w SET k 4",
		"a CLIENT CACHING yes")},
	{"flush", trackingSteps(
		"a CLIENT TRACKING on", "a GET k", "w FLUSHALL", "a GET k", "w FLUSHDB", "a CLIENT TRACKING on BCAST",
		"a CLIENT TRACKING off", "a CLIENT TRACKING on BCAST", "w FLUSHALL")},
}

// render is a step's reply on conn, and what "a" received up to the PONG
// of a PING sent after it (not while "a" queues a transaction, where the
// PING would be queued too).
func (s trackingStep) render(t *testing.T, a, w *respConn, inTx bool) string {
	t.Helper()
	conn := w
	if s.on == "a" {
		conn = a
	}
	out := []string{conn.do(t, s.args...).String()}
	if inTx {
		return out[0]
	}
	if err := a.send("PING"); err != nil {
		t.Fatal(err)
	}
	for {
		v := a.read(t)
		out = append(out, v.String())
		if v.typ == '+' && v.str == "PONG" {
			break
		}
	}
	return strings.Join(out, " ; ")
}

func TestDifferentialTracking(t *testing.T) {
	rd, rk := diffStartRedis(t), diffStartRKV(t)
	for _, c := range trackingCases {
		conns := make([][2]*respConn, 2)
		for i, d := range []diffTarget{{"redis", rd}, {"rkv", rk}} {
			addr := d.c.Options().Addr
			w := dialRESP(t, d.name, addr)
			if v := w.do(t, "FLUSHALL"); v.String() != "+OK" {
				t.Fatalf("%s: FLUSHALL = %s", d.name, v)
			}
			conns[i] = [2]*respConn{dialRESP3(t, d.name, addr), w}
		}
		inTx := false
		for i, s := range c.steps {
			if s.on == "a" && len(s.args) > 0 {
				switch strings.ToUpper(s.args[0]) {
				case "MULTI":
					inTx = true
				case "EXEC", "DISCARD":
					inTx = false
				}
			}
			a, b := s.render(t, conns[0][0], conns[0][1], inTx), s.render(t, conns[1][0], conns[1][1], inTx)
			if a != b {
				t.Errorf("%s, step %d (%s %q):\n  redis: %s\n  rkv:   %s", c.name, i, s.on, s.args, a, b)
				break
			}
		}
	}
}
