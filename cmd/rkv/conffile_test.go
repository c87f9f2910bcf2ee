package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rkv/rkv/consensus"
)

// writeConfig writes a config file of lines into a new directory.
func writeConfig(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rkv.conf")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFile: a file sets rkv's flags by name and Redis's parameters
// (units and quotes as in redis.conf, aliases, save lines adding up),
// bind and port set --addr, and the command line overrides the file.
func TestConfigFile(t *testing.T) {
	p := writeConfig(t,
		"# a node",
		"id 3",
		"bind 127.0.0.2 -::1",
		"port 7003",
		`dir "/var/lib/rkv data"`,
		"heartbeat-interval 50ms",
		"election-timeout 1s",
		"read-mode lease",
		"maxmemory 2GB",
		"maxmemory-policy allkeys-lru",
		"maxclients 100",
		"id-from-hostname no",
		"slowlog-max-len 256",
		"hash-max-ziplist-entries 512",
		"save 60 1",
		"save 300 10",
		"client-output-buffer-limit pubsub 64mb 16mb 90",
		"list-max-ziplist-entries 512",
	)
	cfg, err := parseFlags([]string{"--config", p, "--maxclients", "200"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.id != 3 || cfg.listenAddr != "127.0.0.2:7003" || cfg.busListen != "127.0.0.2:17003" || cfg.dir != "/var/lib/rkv data" ||
		cfg.heartbeatInterval != 50*time.Millisecond || cfg.readMode != "lease" || cfg.maxMemory != 2<<30 || cfg.maxMemoryPolicy.String() != "allkeys-lru" {
		t.Errorf("config from the file: %+v", cfg)
	}
	if cfg.maxClients != 200 {
		t.Errorf("maxclients %d: the command line's 200 should win over the file's 100", cfg.maxClients)
	}
	if cfg.limits.PubsubHard != 64<<20 || cfg.limits.PubsubSoftFor != 90*time.Second {
		t.Errorf("client-output-buffer-limit: %+v", cfg.limits)
	}
	want := map[string]string{"slowlog-max-len": "256", "hash-max-listpack-entries": "512", "save": "60 1 300 10",
		"maxmemory": "2147483648", "maxmemory-policy": "allkeys-lru", "maxclients": "200", "dir": "/var/lib/rkv data",
		"client-output-buffer-limit": "pubsub 64mb 16mb 90"}
	for name, v := range want {
		if cfg.params[name] != v {
			t.Errorf("params[%s] = %q, want %q", name, cfg.params[name], v)
		}
	}
	if abs, _ := filepath.Abs(p); cfg.configFile != abs || !slices.Contains(cfg.fileDirectives, "read-mode") {
		t.Errorf("configFile %q, directives %v", cfg.configFile, cfg.fileDirectives)
	}
	// A flag on the command line drops the file's flag it excludes.
	cfg, err = parseFlags([]string{"--config", p, "--id-from-hostname"}, env(map[string]string{"HOSTNAME": "rkv-4"}))
	if err != nil || cfg.id != consensus.NodeID(5) {
		t.Errorf("--id-from-hostname over the file's id: %v, %v", cfg, err)
	}
	// --addr on the command line overrides bind and port.
	cfg, err = parseFlags([]string{"--config", p, "--addr", "127.0.0.1:7010"}, noEnv)
	if err != nil || cfg.listenAddr != "127.0.0.1:7010" {
		t.Errorf("--addr over bind and port: %v, %v", cfg, err)
	}
}

// TestConfigFileErrors: a bad line is a usage error naming the file and
// the line; a bad value of a flag the file set, found once every flag is
// read, says which line set it.
func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct {
		line, want string
	}{
		{"bogus 1", "Bad directive or wrong number of arguments"},
		{"maxmemory 1 2", "wrong number of arguments"},
		{"maxmemory lots", "argument must be a memory value"},
		{"hz 0x10", "argument couldn't be parsed into an integer"},
		{"maxmemory-policy sometimes", "argument(s) must be one of the following"},
		{"election-timeout 1x", "argument must be a duration"},
		{"id-from-hostname maybe", "argument must be 'yes' or 'no'"},
		{`logfile "unbalanced`, "Unbalanced quotes"},
		{"appendonly no", "rkv logs every write before applying it"},
		{"notify-keyspace-events KEA", "notify-keyspace-events is set cluster-wide through the log"},
		{"replicaof 10.0.0.1 6379", "replicaof directive not allowed in cluster mode"},
		{"rename-command FLUSHALL x", "rkv does not rename commands"},
		{"bind 10.0.0.1 10.0.0.2", "rkv listens on one address"},
		{"port 0", "argument must be a port"},
		{"config other.conf", "a config file cannot name another with config: use include"},
	} {
		p := writeConfig(t, "# line 1", "hz 10", c.line)
		wantUsageError(t, []string{"--config", p}, noEnv, p+":3 >>> '"+c.line+"': "+c.want)
	}
	p := writeConfig(t, "read-mode fast")
	wantUsageError(t, []string{"--config", p}, noEnv, "(read-mode is set at "+p+":1)")
	wantUsageError(t, []string{"--config", filepath.Join(t.TempDir(), "missing.conf")}, noEnv, "can't open config file")
}
