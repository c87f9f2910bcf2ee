package integration

import (
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// diffConns are a raw connection to each server, in RESP2 or RESP3.
type diffConns struct{ rd, rk *respConn }

func diffDial(t *testing.T, rd, rk diffTarget, resp3 bool) diffConns {
	t.Helper()
	if resp3 {
		return diffConns{dialRESP3(t, "redis", rd.c.Options().Addr), dialRESP3(t, "rkv", rk.c.Options().Addr)}
	}
	return diffConns{dialRESP(t, "redis", rd.c.Options().Addr), dialRESP(t, "rkv", rk.c.Options().Addr)}
}

// configReply renders a reply, a CONFIG GET's pairs sorted by name: Redis
// answers them in its hash table's order.
func configReply(args []string, v respVal) string {
	if len(args) >= 2 && strings.EqualFold(args[0], "config") && strings.EqualFold(args[1], "get") && len(v.elems)%2 == 0 {
		pairs := make([]string, 0, len(v.elems)/2)
		for i := 0; i < len(v.elems); i += 2 {
			pairs = append(pairs, v.elems[i].String()+" "+v.elems[i+1].String())
		}
		slices.Sort(pairs)
		return string(v.typ) + "{" + strings.Join(pairs, ", ") + "}"
	}
	return v.String()
}

// TestDifferentialConfig: CONFIG GET and SET over the table of parameters
// against redis-server, in RESP2 and RESP3: several names and patterns,
// aliases, hidden parameters, every kind of value and its errors, the
// errors of names (unknown, immutable, protected, repeated), and
// all-or-nothing changes; then every parameter's value, but those where
// rkv differs by design.
func TestDifferentialConfig(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	steps := [][]string{
		{"CONFIG", "GET", "maxmemory", "maxmemory*", "*of"}, {"CONFIG", "GET", "MAXMEMORY", "maxmemory"},
		{"CONFIG", "GET", "maxmemory", "MAXMEMORY"}, {"CONFIG", "GET", "*ziplist*"}, {"CONFIG", "GET", "hash-max-*", "*-entries"},
		{"CONFIG", "GET", "key-load-delay"}, {"CONFIG", "GET", "key-load*"}, {"CONFIG", "GET", "nosuch"}, {"CONFIG", "GET"},
		{"CONFIG", "GET", "lua-time-limit", "slaveof", "SLAVE-READ-ONLY"}, {"CONFIG", "GET", "[lm]a*-*"},
		// Names.
		{"CONFIG", "SET", "a", "b", "c"}, {"CONFIG", "SET", "maxmemory"}, {"CONFIG", "SET", "nosuch", "1"},
		{"CONFIG", "SET", "maxmemory", "1", "Maxmemory", "2"}, {"CONFIG", "SET", "hash-max-listpack-entries", "1", "hash-max-ziplist-entries", "2"},
		{"CONFIG", "SET", "daemonize", "yes"}, {"CONFIG", "SET", "MAXMEMORY", "1", "daemonize", "yes", "foo", "bar"},
		{"CONFIG", "SET", "foo", "bar", "daemonize", "yes"}, {"CONFIG", "SET", "dir", "/tmp"}, {"CONFIG", "SET", "dbfilename", "x"},
		{"CONFIG", "SET", "SLAVEOF", "no", "one"}, {"CONFIG", "SET", "unixsocketperm", "777"},
		// Values: numbers, memory, percentages, bounds.
		{"CONFIG", "SET", "maxmemory", "10mb"}, {"CONFIG", "GET", "maxmemory"}, {"CONFIG", "SET", "maxmemory", "-1"},
		{"CONFIG", "SET", "maxmemory", "abc"}, {"CONFIG", "SET", "maxmemory", "1GB"}, {"CONFIG", "GET", "maxmemory"},
		{"CONFIG", "SET", "hash-max-listpack-entries", "-1"}, {"CONFIG", "SET", "maxmemory-samples", "0"},
		{"CONFIG", "SET", "timeout", "x"}, {"CONFIG", "SET", "timeout", "007"}, {"CONFIG", "SET", "maxclients", "0"},
		{"CONFIG", "SET", "maxmemory-clients", "10%"}, {"CONFIG", "GET", "maxmemory-clients"}, {"CONFIG", "SET", "maxmemory-clients", "200%"},
		{"CONFIG", "SET", "maxmemory-clients", "-5"}, {"CONFIG", "SET", "maxmemory-clients", "1kb"}, {"CONFIG", "GET", "maxmemory-clients"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "-2"}, {"CONFIG", "SET", "repl-backlog-size", "0"},
		{"CONFIG", "SET", "list-max-ziplist-size", "-3"}, {"CONFIG", "GET", "list-max-*"}, {"CONFIG", "SET", "hz", "100"},
		{"CONFIG", "SET", "active-expire-effort", "11"}, {"CONFIG", "SET", "tracking-table-max-keys", "5"},
		// Booleans, enums, strings.
		{"CONFIG", "SET", "lazyfree-lazy-eviction", "YES"}, {"CONFIG", "GET", "lazyfree-lazy-eviction"},
		{"CONFIG", "SET", "lazyfree-lazy-eviction", "maybe"}, {"CONFIG", "SET", "loglevel", "bogus"},
		{"CONFIG", "SET", "loglevel", "WARNING"}, {"CONFIG", "GET", "loglevel"}, {"CONFIG", "SET", "appendfsync", "bogus"},
		{"CONFIG", "SET", "maxmemory-policy", "allkeys-LRU"}, {"CONFIG", "GET", "maxmemory-policy"},
		{"CONFIG", "SET", "replica-announce-ip", "10.0.0.1"}, {"CONFIG", "GET", "slave-announce-ip"},
		{"CONFIG", "SET", "cluster-announce-hostname", "bad_host"}, {"CONFIG", "SET", "proc-title-template", "{title}"},
		{"CONFIG", "SET", "proc-title-template", "{bogus}"}, {"CONFIG", "SET", "proc-title-template", "{title} {port}"},
		// Values of several arguments.
		{"CONFIG", "SET", "save", "3000 5"}, {"CONFIG", "GET", "save"}, {"CONFIG", "SET", "save", "100  5"},
		{"CONFIG", "SET", "save", "1 a"}, {"CONFIG", "SET", "save", "0 1"}, {"CONFIG", "SET", "save", ""}, {"CONFIG", "GET", "save"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 2mb 60"}, {"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "master 0 0 0"}, {"CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal a 0 0"}, {"CONFIG", "SET", "client-output-buffer-limit", "replica 1 2 3 normal 0 0 0"},
		{"CONFIG", "GET", "client-output-buffer-limit"}, {"CONFIG", "SET", "client-output-buffer-limit", ""},
		{"CONFIG", "SET", "shutdown-on-sigint", "now nosave"}, {"CONFIG", "GET", "shutdown-on-sigint"},
		{"CONFIG", "SET", "shutdown-on-sigint", "save nosave"}, {"CONFIG", "SET", "shutdown-on-sigint", ""},
		{"CONFIG", "SET", "shutdown-on-sigint", "default"}, {"CONFIG", "GET", "shutdown-on-sig*"},
		{"CONFIG", "SET", "latency-tracking-info-percentiles", "50.5000 99"}, {"CONFIG", "GET", "latency-tracking-info-percentiles"},
		{"CONFIG", "SET", "latency-tracking-info-percentiles", "101"}, {"CONFIG", "SET", "latency-tracking-info-percentiles", "abc"},
		{"CONFIG", "SET", "oom-score-adj-values", "0 200"}, {"CONFIG", "SET", "oom-score-adj-values", "0 200 3000"},
		{"CONFIG", "SET", "oom-score-adj-values", "1 2 3"}, {"CONFIG", "GET", "oom-score-adj-values"},
		{"CONFIG", "SET", "notify-keyspace-events", "KEA"}, {"CONFIG", "GET", "notify-keyspace-events"},
		{"CONFIG", "SET", "notify-keyspace-events", "X"}, {"CONFIG", "SET", "notify-keyspace-events", ""},
		// All or nothing.
		{"CONFIG", "SET", "maxmemory", "10000002"},
		{"CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%", "client-query-buffer-limit", "invalid"},
		{"CONFIG", "GET", "maxmemory", "maxmemory-clients", "client-query-buffer-limit"},
		{"CONFIG", "SET", "maxmemory", "10000001", "hash-max-listpack-entries", "7", "save", "1 x"},
		{"CONFIG", "GET", "maxmemory", "hash-max-listpack-entries", "save"},
		{"CONFIG", "SET", "maxmemory", "10000001", "repl-backlog-size", "10000002", "save", "3000 5", "hash-max-ziplist-entries", "7"},
		{"CONFIG", "GET", "maxmemory", "repl-backlog-size", "save", "hash-max-listpack-entries"},
	}
	for _, resp3 := range []bool{false, true} {
		conns := diffDial(t, rd, rk, resp3)
		for _, args := range steps {
			a, b := configReply(args, conns.rd.do(t, args...)), configReply(args, conns.rk.do(t, args...))
			if a != b {
				t.Errorf("resp3=%v %q:\n  redis: %s\n  rkv:   %s", resp3, args, a, b)
			}
		}
	}
	// Every parameter, but those where rkv is what it is by design.
	differs := map[string]bool{`"port"`: true, `"dir"`: true, `"appendonly"`: true, `"appendfsync"`: true,
		`"cluster-enabled"`: true}
	all := func(rc *respConn) []string {
		v := rc.do(t, "CONFIG", "GET", "*")
		var out []string
		for i := 0; i+1 < len(v.elems); i += 2 {
			name := v.elems[i].String()
			if !differs[name] && !strings.HasPrefix(name, `"rkv-`) {
				out = append(out, name+" "+v.elems[i+1].String())
			}
		}
		slices.Sort(out)
		return out
	}
	conns := diffDial(t, rd, rk, false)
	a, b := all(conns.rd), all(conns.rk)
	for _, p := range a {
		if !slices.Contains(b, p) {
			t.Errorf("CONFIG GET *: redis has %s, rkv not", p)
		}
	}
	for _, p := range b {
		if !slices.Contains(a, p) {
			t.Errorf("CONFIG GET *: rkv has %s, redis not", p)
		}
	}
}

// TestConfigSetPortRollsBack: rkv cannot move its client port; CONFIG SET
// of a port in use gets Redis's error, and the other changes of the same
// CONFIG SET are undone.
func TestConfigSetPortRollsBack(t *testing.T) {
	rk := diffTarget{"rkv", diffStartRKV(t)}
	rc := dialRESP(t, "rkv", rk.c.Options().Addr)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	before := rc.do(t, "CONFIG", "GET", "maxmemory").String()
	v := rc.do(t, "CONFIG", "SET", "maxmemory", "10000001", "port", port, "client-query-buffer-limit", "10m")
	if want := "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."; v.String() != want {
		t.Fatalf("CONFIG SET of a port in use: %s, want %s", v, want)
	}
	if after := rc.do(t, "CONFIG", "GET", "maxmemory").String(); after != before {
		t.Fatalf("maxmemory after the failed CONFIG SET: %s, was %s", after, before)
	}
	if v := rc.do(t, "CONFIG", "GET", "client-query-buffer-limit").String(); v != `*["client-query-buffer-limit", "1073741824"]` {
		t.Fatalf("client-query-buffer-limit after the failed CONFIG SET: %s", v)
	}
	_, own, _ := net.SplitHostPort(rk.c.Options().Addr)
	if v := rc.do(t, "CONFIG", "SET", "port", own); v.String() != "+OK" {
		t.Fatalf("CONFIG SET port to its own port: %s", v)
	}
}

// monitorTime and monitorAddr mask what differs between two servers in a MONITOR line:
// the time and the client's address.
var (
	monitorTime = regexp.MustCompile(`^\+[0-9]+\.[0-9]+ `)
	monitorAddr = regexp.MustCompile(`^\+T \[([0-9]+) [0-9.]+:[0-9]+\]`)
)

// TestDifferentialMonitor: what a MONITOR connection (RESP2 and RESP3)
// sees of another client's commands against redis-server: commands as
// sent, a script's calls, a transaction, passwords redacted, and not the
// commands Redis keeps out of it (CONFIG, refused ones).
func TestDifferentialMonitor(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	mon2, mon3 := diffDial(t, rd, rk, false), diffDial(t, rd, rk, true)
	for _, m := range []*respConn{mon2.rd, mon2.rk, mon3.rd, mon3.rk} {
		if v := m.do(t, "MONITOR"); v.String() != "+OK" {
			t.Fatalf("%s: MONITOR = %s", m.name, v)
		}
	}
	cmds := [][]string{
		{"SET", "k", "v"}, {"GET", "k"}, {"INCR", "n"}, {"SET"}, {"LPUSH", "k", "x"},
		{"EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "k"}, {"MULTI"}, {"SET", "a", "1"}, {"INCR", "a"}, {"EXEC"},
		{"AUTH", "nosuch", "pw"}, {"HELLO", "2", "AUTH", "default", "pw"}, {"CLIENT", "SETNAME", "mon"},
		{"CONFIG", "SET", "maxmemory", "0"}, {"CONFIG", "GET", "maxmemory"}, {"SELECT", "3"}, {"SET", "k", "v3"},
		{"EVAL", "return redis.call('get', KEYS[1])", "1", "k"}, {"SELECT", "0"}, {"SELECT", "99999"},
		{"MULTI"}, {"SELECT", "2"}, {"SET", "k", "m"}, {"EXEC"}, {"GET", "k"}, {"SELECT", "0"},
		{"EVAL", "redis.call('select', 5) return redis.call('set', KEYS[1], 's')", "1", "k"}, {"GET", "k"},
		{"PING"}, {"ECHO", "monitor-end"},
	}
	client := diffDial(t, rd, rk, false)
	for _, args := range cmds {
		client.rd.do(t, args...)
		client.rk.do(t, args...)
	}
	lines := func(m *respConn) []string {
		var out []string
		for {
			v := m.read(t)
			line := monitorAddr.ReplaceAllString(monitorTime.ReplaceAllString(v.String(), "+T "), "+T [$1 ADDR]")
			out = append(out, line)
			if strings.HasSuffix(line, `"monitor-end"`) {
				return out
			}
		}
	}
	for _, conns := range []diffConns{mon2, mon3} {
		a, b := lines(conns.rd), lines(conns.rk)
		if !slices.Equal(a, b) {
			t.Errorf("MONITOR lines:\n  redis:\n    %s\n  rkv:\n    %s", strings.Join(a, "\n    "), strings.Join(b, "\n    "))
		}
	}
}

// TestDifferentialClientReply: which replies a client gets with CLIENT
// REPLY OFF, ON and SKIP, pipelined, errors included, against
// redis-server in RESP2 and RESP3.
func TestDifferentialClientReply(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	scenarios := [][][]string{
		{{"CLIENT", "REPLY", "OFF"}, {"SET", "a", "1"}, {"GET", "a"}, {"INCR", "a"}, {"CLIENT", "REPLY", "ON"}, {"GET", "a"}},
		{{"CLIENT", "REPLY", "SKIP"}, {"SET", "b", "1"}, {"GET", "b"}},
		{{"CLIENT", "REPLY", "SKIP"}, {"CLIENT", "REPLY", "SKIP"}, {"GET", "b"}, {"GET", "b"}},
		{{"CLIENT", "REPLY", "SKIP"}, {"CLIENT", "REPLY", "ON"}, {"GET", "b"}},
		{{"CLIENT", "REPLY", "SKIP"}, {"CLIENT", "REPLY", "OFF"}, {"GET", "b"}, {"CLIENT", "REPLY", "ON"}},
		{{"CLIENT", "REPLY", "OFF"}, {"CLIENT", "REPLY", "bogus"}, {"SET"}, {"CLIENT", "REPLY", "SKIP"}, {"GET", "b"}},
		{{"CLIENT", "REPLY", "bogus"}, {"CLIENT", "REPLY"}, {"CLIENT", "REPLY", "ON", "x"}, {"CLIENT", "REPLY", "on"}},
	}
	// Each scenario ends with replies back on and an ECHO, whose reply
	// ends what it answered.
	run := func(rc *respConn, cmds [][]string) []string {
		cmds = append(slices.Clone(cmds), []string{"CLIENT", "REPLY", "ON"}, []string{"ECHO", "reply-end"})
		for _, args := range cmds {
			if err := rc.send(args...); err != nil {
				t.Fatalf("%s: %v", rc.name, err)
			}
		}
		var out []string
		for {
			v := rc.read(t)
			out = append(out, v.String())
			if v.str == "reply-end" {
				return out
			}
		}
	}
	for _, resp3 := range []bool{false, true} {
		conns := diffDial(t, rd, rk, resp3)
		for _, sc := range scenarios {
			if a, b := run(conns.rd, sc), run(conns.rk, sc); !slices.Equal(a, b) {
				t.Errorf("resp3=%v %q:\n  redis: %s\n  rkv:   %s", resp3, sc, a, b)
			}
		}
	}
}

// closedByServer reports whether the server closed rc: a PING gets no
// answer but the connection's end.
func closedByServer(t *testing.T, rc *respConn) bool {
	rc.send("PING")
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	v, err := readRESP(rc.r)
	switch {
	case err == nil && v.String() == "+PONG":
		return false
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	t.Fatalf("%s: PING after CLIENT KILL: %s, %v", rc.name, v, err)
	return false
}

// TestDifferentialClientKill: CLIENT KILL by ID, by address (old and new
// forms), by local address, with SKIPME, with filters that all must
// match, and its errors, against redis-server: the replies, and which
// connections are closed.
func TestDifferentialClientKill(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	// Each step is run by a killer connection against fresh victims;
	// args make the command from the victims' and the killer's ids and
	// addresses; the outcome is the reply and which of the victims (and
	// the killer) the server closed.
	type ends struct{ killer, v1, v2 *respConn }
	id := func(t *testing.T, rc *respConn) string { return rc.do(t, "CLIENT", "ID").str }
	steps := []struct {
		name string
		args func(t *testing.T, e ends) []string
	}{
		{"by id", func(t *testing.T, e ends) []string { return []string{"CLIENT", "KILL", "ID", id(t, e.v1)} }},
		{"old form", func(t *testing.T, e ends) []string { return []string{"CLIENT", "KILL", e.v1.c.LocalAddr().String()} }},
		{"by addr", func(t *testing.T, e ends) []string {
			return []string{"CLIENT", "KILL", "ADDR", e.v2.c.LocalAddr().String()}
		}},
		{"id and another's addr", func(t *testing.T, e ends) []string {
			return []string{"CLIENT", "KILL", "ID", id(t, e.v1), "ADDR", e.v2.c.LocalAddr().String()}
		}},
		{"id and its addr", func(t *testing.T, e ends) []string {
			return []string{"CLIENT", "KILL", "ID", id(t, e.v1), "ADDR", e.v1.c.LocalAddr().String()}
		}},
		{"itself, skipme yes", func(t *testing.T, e ends) []string { return []string{"CLIENT", "KILL", "ID", id(t, e.killer)} }},
		{"itself, skipme no", func(t *testing.T, e ends) []string {
			return []string{"CLIENT", "KILL", "ID", id(t, e.killer), "SKIPME", "no"}
		}},
		{"old form, itself", func(t *testing.T, e ends) []string {
			return []string{"CLIENT", "KILL", e.killer.c.LocalAddr().String()}
		}},
		{"no such laddr", func(t *testing.T, e ends) []string { return []string{"CLIENT", "KILL", "LADDR", "1.1.1.1:1"} }},
		{"skipme maybe", func(t *testing.T, e ends) []string {
			return []string{"CLIENT", "KILL", "ID", id(t, e.v1), "SKIPME", "maybe"}
		}},
	}
	for _, args := range [][]string{
		{"CLIENT", "KILL", "ID", "abc"}, {"CLIENT", "KILL", "ID", "0"}, {"CLIENT", "KILL", "1.2.3.4:5"},
		{"CLIENT", "KILL", "ADDR", "nosuch"}, {"CLIENT", "KILL", "BOGUS", "x"}, {"CLIENT", "KILL", "TYPE", "bogus"},
		{"CLIENT", "KILL", "USER", "nosuch"}, {"CLIENT", "KILL", "ID", "99999"}, {"CLIENT", "KILL", "ID"},
		{"CLIENT", "KILL", "MAXAGE", "5"}, {"CLIENT", "KILL"},
	} {
		steps = append(steps, struct {
			name string
			args func(t *testing.T, e ends) []string
		}{strings.Join(args, " "), func(*testing.T, ends) []string { return args }})
	}
	for _, resp3 := range []bool{false, true} {
		for _, st := range steps {
			outcome := func(d diffTarget) string {
				e := ends{}
				for _, p := range []**respConn{&e.killer, &e.v1, &e.v2} {
					if resp3 {
						*p = dialRESP3(t, d.name, d.c.Options().Addr)
					} else {
						*p = dialRESP(t, d.name, d.c.Options().Addr)
					}
					// Answered: the server has taken the connection in.
					(*p).do(t, "PING")
				}
				out := e.killer.do(t, st.args(t, e)...).String()
				for _, c := range []struct {
					name string
					rc   *respConn
				}{{"killer", e.killer}, {"v1", e.v1}, {"v2", e.v2}} {
					if closedByServer(t, c.rc) {
						out += ", " + c.name + " closed"
					}
				}
				return out
			}
			if a, b := outcome(rd), outcome(rk); a != b {
				t.Errorf("resp3=%v %s:\n  redis: %s\n  rkv:   %s", resp3, st.name, a, b)
			}
		}
	}
}
