package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rkv/rkv/consensus"
)

// env is a fixed environment for parseFlags.
func env(kv map[string]string) func(string) string {
	return func(name string) string { return kv[name] }
}

func wantUsageError(t *testing.T, args []string, getenv func(string) string, contains string) {
	t.Helper()
	_, err := parseFlags(args, getenv)
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), contains) {
		t.Errorf("parseFlags(%q) = %v, want a usage error saying %q", args, err, contains)
	}
}

// TestIDFromHostname: a StatefulSet's pod NAME-N is node N+1, whether
// the host name is short or fully qualified; names without an ordinal
// are refused, and so is --id beside --id-from-hostname.
func TestIDFromHostname(t *testing.T) {
	for host, want := range map[string]consensus.NodeID{
		"rkv-0": 1, "rkv-2": 3, "my-cache-12": 13, "rkv-3.rkv.default.svc.cluster.local": 4,
	} {
		cfg, err := parseFlags([]string{"--id-from-hostname"}, env(map[string]string{"HOSTNAME": host}))
		if err != nil || cfg.id != want {
			t.Errorf("HOSTNAME=%s: id %v, %v; want %d", host, cfg, err, want)
		}
	}
	for _, host := range []string{"rkv", "rkv-", "rkv-x", "rkv-+1", "rkv-99999999999999999999"} {
		wantUsageError(t, []string{"--id-from-hostname"}, env(map[string]string{"HOSTNAME": host}), "does not end in -N")
	}
	wantUsageError(t, []string{"--id-from-hostname", "--id", "2"}, env(map[string]string{"HOSTNAME": "rkv-1"}), "give one")
	// Without $HOSTNAME the system's host name is read.
	if host, err := os.Hostname(); err == nil {
		want, werr := idFromHostname(host)
		cfg, err := parseFlags([]string{"--id-from-hostname"}, noEnv)
		if (werr == nil) != (err == nil) || err == nil && cfg.id != want {
			t.Errorf("host name %q: parseFlags gives %v, %v; idFromHostname %d, %v", host, cfg, err, want, werr)
		}
	}
}

// TestRequirepassSources: the password comes from --requirepass, from
// --requirepass-file's first line, or from $RKV_REQUIREPASS when neither
// flag is given; flags win over the environment, and both flags at once,
// a missing or an empty file are usage errors. Protected mode accepts a
// non-loopback --addr with any of them.
func TestRequirepassSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\r\nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withEnv := env(map[string]string{"RKV_REQUIREPASS": "from-env"})
	open := []string{"--addr", "0.0.0.0:6379"}
	for _, c := range []struct {
		args   []string
		getenv func(string) string
		want   string
	}{
		{nil, withEnv, "from-env"},
		{[]string{"--requirepass", "from-flag"}, withEnv, "from-flag"},
		{[]string{"--requirepass-file", file}, withEnv, "from-file"},
		{[]string{"--requirepass-file", file}, noEnv, "from-file"},
		// An explicit empty flag wins too: no password.
		{[]string{"--requirepass", ""}, withEnv, ""},
	} {
		args := append(slices.Clone(open), c.args...)
		if c.want == "" {
			args = c.args
		}
		cfg, err := parseFlags(args, c.getenv)
		if err != nil {
			t.Errorf("parseFlags(%q): %v", args, err)
			continue
		}
		if cfg.masterAuth != c.want || cfg.acl.PasswordRequired() != (c.want != "") {
			t.Errorf("parseFlags(%q): password %q (required %v), want %q", args, cfg.masterAuth, cfg.acl.PasswordRequired(), c.want)
		}
	}
	wantUsageError(t, open, noEnv, "protected mode")
	wantUsageError(t, []string{"--requirepass", "a", "--requirepass-file", file}, noEnv, "give one")
	wantUsageError(t, []string{"--requirepass-file", filepath.Join(dir, "missing")}, withEnv, "--requirepass-file")
	wantUsageError(t, []string{"--requirepass-file", empty}, withEnv, "first line is empty")
}

// TestStatefulSetArgs: one command line, as a StatefulSet's pod template
// gives it to every pod, makes the ordinals in --cluster its founding
// members and any other ordinal a node that joins through them; each
// listens on every interface and announces its own name.
func TestStatefulSetArgs(t *testing.T) {
	const founders = "1=rkv-0.rkv.ns.svc:6379,2=rkv-1.rkv.ns.svc:6379,3=rkv-2.rkv.ns.svc:6379"
	args := func(pod string) []string {
		return []string{"--id-from-hostname", "--addr", "0.0.0.0:6379", "--announce-addr", pod + ".rkv.ns.svc:6379",
			"--cluster", founders, "--requirepass", "pw"}
	}
	for ord, pod := range []string{"rkv-0", "rkv-1", "rkv-2", "rkv-3", "rkv-4"} {
		cfg, err := parseFlags(args(pod), env(map[string]string{"HOSTNAME": pod}))
		if err != nil {
			t.Fatalf("%s: %v", pod, err)
		}
		if cfg.id != consensus.NodeID(ord+1) || cfg.listenAddr != "0.0.0.0:6379" || cfg.busListen != "0.0.0.0:16379" ||
			cfg.addr != pod+".rkv.ns.svc:6379" || cfg.busAddr != pod+".rkv.ns.svc:16379" {
			t.Errorf("%s: id %d, listens on %s and %s, announces %s and %s", pod, cfg.id, cfg.listenAddr, cfg.busListen, cfg.addr, cfg.busAddr)
		}
		founder := ord < 3
		wantJoin := []string{"rkv-0.rkv.ns.svc:6379", "rkv-1.rkv.ns.svc:6379", "rkv-2.rkv.ns.svc:6379"}
		switch {
		case founder && (len(cfg.cluster) != 3 || cfg.join != nil):
			t.Errorf("%s: founder with cluster %v, join %v", pod, cfg.cluster, cfg.join)
		case !founder && (cfg.cluster != nil || !slices.Equal(cfg.join, wantJoin)):
			t.Errorf("%s: joiner with cluster %v, join %v; want join %v", pod, cfg.cluster, cfg.join, wantJoin)
		}
	}
	// The announced address must be the one --cluster lists for it.
	bad := args("rkv-0")
	bad[4] = "rkv-9.rkv.ns.svc:6379"
	wantUsageError(t, bad, env(map[string]string{"HOSTNAME": "rkv-0"}), "--announce-addr is rkv-9")
	bad = append(args("rkv-0"), "--announce-addr", "rkv-0.rkv.ns.svc:6379@rkv-0.rkv.ns.svc:7000")
	wantUsageError(t, bad, env(map[string]string{"HOSTNAME": "rkv-0"}), "bus")
	// Without --announce-addr a cluster member cannot tell 0.0.0.0.
	wantUsageError(t, []string{"--id", "4", "--addr", "0.0.0.0:6379", "--requirepass", "pw", "--join", "10.0.0.1:6379"}, noEnv, "--announce-addr")
	wantUsageError(t, []string{"--id", "1", "--addr", "0.0.0.0:6379", "--requirepass", "pw", "--cluster", "1=0.0.0.0:6379,2=10.0.0.2:6379"}, noEnv, "--announce-addr")
	// A node alone may listen on every interface: it redirects no one.
	if _, err := parseFlags([]string{"--addr", "0.0.0.0:6379", "--requirepass", "pw"}, noEnv); err != nil {
		t.Errorf("a node alone on 0.0.0.0: %v", err)
	}
}

// TestJoinList: --join takes several members, tried in turn.
func TestJoinList(t *testing.T) {
	cfg, err := parseFlags([]string{"--id", "4", "--addr", "127.0.0.1:7004", "--join", "127.0.0.1:7001,127.0.0.1:7002"}, noEnv)
	if err != nil || !slices.Equal(cfg.join, []string{"127.0.0.1:7001", "127.0.0.1:7002"}) || cfg.cluster != nil {
		t.Fatalf("join %v, cluster %v, %v", cfg.join, cfg.cluster, err)
	}
	wantUsageError(t, []string{"--join", "127.0.0.1:7001,nope"}, noEnv, "--join")
}
