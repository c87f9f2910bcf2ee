package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParseFlags feeds arbitrary command lines, one argument per NUL
// (which no real argument can hold), to the flag and configuration
// parser. Bad configuration must stop the process with one clear message:
// a usage error of one line, never a panic. What it accepts must be a
// configuration a node can start from.
func FuzzParseFlags(f *testing.F) {
	for _, args := range [][]string{
		{},
		{"--id", "1", "--addr", "127.0.0.1:7001", "--dir", "d1",
			"--cluster", "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003@17999"},
		{"--id=4", "--addr=[::1]:7004", "--join", "127.0.0.1:7001"},
		{"--bus", "10.0.0.1:9000", "--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"},
		{"--election-timeout", "300ms", "--heartbeat-interval", "1s", "--read-mode", "lease"},
		{"--cluster", "1=127.0.0.1:6379@7000", "--snapshot-entries", "0", "--log-level", "debug"},
		{"--metrics-addr", "127.0.0.1:9121"},
		{"--id-from-hostname", "--addr", "0.0.0.0:6379", "--announce-addr", "rkv-2.rkv.ns.svc:6379", "--requirepass-file", "pw",
			"--cluster", "1=rkv-0.rkv.ns.svc:6379,2=rkv-1.rkv.ns.svc:6379,3=rkv-2.rkv.ns.svc:6379"},
		{"--id", "4", "--addr", "0.0.0.0:7004", "--announce-addr", "10.0.0.4:7004@17004", "--join", "10.0.0.1:7001,10.0.0.2:7002"},
		{"--metrics-addr", "9121"},
		{"--addr", "127.0.0.1:60000", "extra"},
		{"--addr", "0.0.0.0:7000", "--requirepass", "pw", "--protected-mode", "yes", "--timeout", "30",
			"--proto-max-bulk-len", "1mb", "--client-query-buffer-limit", "2mb", "--client-output-buffer-limit", "normal 1mb 512kb 10"},
		{"--tls-cert-file", "c.pem", "--tls-key-file", "k.pem", "--tls-ca-cert-file", "ca.pem",
			"--tls-auth-clients", "optional", "--tls-cluster", "yes", "--cluster-secret", "s3cret"},
	} {
		f.Add(strings.Join(args, "\x00"))
	}
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		if slices.ContainsFunc(args, asksForHelp) {
			return // -h prints the usage to stdout, which is not parsing
		}
		cfg, err := parseFlags(args, fuzzEnv)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseFlags(%q): %v is not a usage error", args, err)
			}
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("parseFlags(%q): the message %q is not one line", args, msg)
			}
			return
		}
		checkConfig(t, args, cfg)
		again, err := parseFlags(args, fuzzEnv)
		if err != nil {
			t.Fatalf("parseFlags(%q) fails the second time: %v", args, err)
		}
		// The users sit behind an atomic pointer, a new one each time.
		if again.acl.PasswordRequired() != cfg.acl.PasswordRequired() {
			t.Fatalf("parseFlags(%q) requires a password only once", args)
		}
		again.acl, cfg.acl = nil, nil
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("parseFlags(%q) differs the second time: %+v", args, again)
		}
	})
}

// fuzzEnv is the environment the fuzzed command lines see: a pod's host
// name, so that --id-from-hostname gives node 3, and a password.
func fuzzEnv(name string) string {
	return map[string]string{"HOSTNAME": "rkv-2", "RKV_REQUIREPASS": "from-env"}[name]
}

// asksForHelp reports whether a might be read as -h or -help.
func asksForHelp(a string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return strings.HasPrefix(a, "-") && (name == "h" || name == "help")
}

// checkConfig checks what a node relies on in an accepted configuration.
func checkConfig(t *testing.T, args []string, cfg *config) {
	t.Helper()
	fail := func(what string) { t.Fatalf("parseFlags(%q) accepted %s: %+v", args, what, cfg) }
	hostPort := func(addr string) bool {
		_, _, err := net.SplitHostPort(addr)
		return err == nil
	}
	switch {
	case cfg.id == 0:
		fail("node id 0")
	case !hostPort(cfg.addr), !hostPort(cfg.busAddr), !hostPort(cfg.listenAddr), !hostPort(cfg.busListen):
		fail("an address that is not host:port")
	case cfg.dir == "":
		fail("an empty --dir")
	case cfg.heartbeatInterval <= 0 || cfg.electionTimeout < 3*cfg.heartbeatInterval:
		fail("timeouts the Raft ticker cannot run on")
	case cfg.maxClients <= 0 || cfg.maxMemory < 0 || cfg.maxMemorySamples <= 0:
		fail("a limit out of range")
	case cfg.join != nil && (cfg.cluster != nil || len(cfg.join) == 0 || slices.ContainsFunc(cfg.join, func(a string) bool { return !hostPort(a) })):
		fail("a join that is not a list of host:port alone")
	case cfg.join == nil && len(cfg.cluster) == 0:
		fail("no members")
	case cfg.metricsAddr != "" && !hostPort(cfg.metricsAddr):
		fail("a --metrics-addr that is not host:port")
	case (cfg.join != nil || len(cfg.cluster) > 1) && (unspecified(cfg.addr) || unspecified(cfg.busAddr)):
		fail("telling other nodes an address that names no host")
	}
	self := 0
	for i, m := range cfg.cluster {
		if m.ID == 0 || !hostPort(m.ClientAddr) || !hostPort(m.BusAddr) || i > 0 && m.ID <= cfg.cluster[i-1].ID {
			fail("a member list that is not sorted, unique, valid members")
		}
		if m.ID == cfg.id {
			self++
			if m.ClientAddr != cfg.addr || m.BusAddr != cfg.busAddr {
				fail("a member list that disagrees with --addr and --bus")
			}
		}
	}
	if cfg.join == nil && self != 1 {
		fail("a member list without this node")
	}
}

// TestClusterSecretFile: the secret is the file's first line, without its
// line ending; a missing or empty file, or both flags, is a usage error.
func TestClusterSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "s3cret\r\nignored\n")
	cfg, err := parseFlags([]string{"--cluster-secret-file", good}, noEnv)
	if err != nil || cfg.tls.secret != "s3cret" {
		t.Fatalf("secret %q, %v; want s3cret", cfg.tls.secret, err)
	}
	for _, args := range [][]string{
		{"--cluster-secret-file", filepath.Join(dir, "missing")},
		{"--cluster-secret-file", write("empty", "\nsecond line\n")},
		{"--cluster-secret-file", good, "--cluster-secret", "other"},
	} {
		var ue *usageError
		if _, err := parseFlags(args, noEnv); !errors.As(err, &ue) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", args, err)
		}
	}
}

// unspecified reports whether addr's host is empty or 0.0.0.0 / ::.
func unspecified(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }
