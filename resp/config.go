package resp

// CONFIG: the settings that can be read and changed at run time.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/store"
)

func (s *Server) cmdConfig(conn redcon.Conn, _ *client, args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "get":
		settings := s.settings()
		// Pairs of the name to reply and the setting; as Redis, a name
		// without glob characters is answered as the client wrote it.
		var out [][2]string
		seen := map[string]bool{}
		for _, pat := range args[2:] {
			lower := strings.ToLower(string(pat))
			if !strings.ContainsAny(lower, "[*?") {
				if _, ok := settings[lower]; ok && !seen[lower] {
					seen[lower] = true
					out = append(out, [2]string{string(pat), lower})
				}
				continue
			}
			for _, k := range sortedKeys(settings) {
				if store.GlobMatch(lower, k) && !seen[k] {
					seen[k] = true
					out = append(out, [2]string{k, k})
				}
			}
		}
		conn.WriteArray(2 * len(out))
		for _, p := range out {
			conn.WriteBulkString(p[0])
			conn.WriteBulkString(settings[p[1]])
		}
	case "set":
		if len(args)%2 != 0 { // pairs of name and value
			conn.WriteError(arityError("config|set"))
			return
		}
		if len(args) == 4 && strings.EqualFold(string(args[2]), "requirepass") {
			s.setRequirepass(conn, string(args[3]))
			return
		}
		settings := s.settings()
		if msg := checkSetNames(settings, args[2:]); msg != "" {
			conn.WriteError(msg)
			return
		}
		enc, msg := encodingEntry(args[2:])
		if msg != "" {
			conn.WriteError(msg)
			return
		}
		for i := 2; i < len(args); i += 2 {
			k := strings.ToLower(string(args[i]))
			if store.IsEncodingSetting(k) {
				continue
			}
			if set, ok := runtimeSettings[k]; ok {
				if msg := set(s, string(args[i+1])); msg != "" {
					conn.WriteError(fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", k, msg))
					return
				}
				continue
			}
			if settings[k] != string(args[i+1]) {
				// rkv's settings come from its command line; changing them
				// at run time is not supported.
				conn.WriteError(fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - rkv settings are set on the command line", k))
				return
			}
		}
		if len(enc) > 0 {
			s.proposeEncodings(conn, enc)
			return
		}
		conn.WriteString("OK")
	case "resetstat":
		s.resetStats()
		conn.WriteString("OK")
	case "rewrite":
		// There is no configuration file to write yet: the flags are the
		// configuration.
		conn.WriteError("ERR The server is running without a config file")
	default:
		conn.WriteError(unknownSubcommand("config", args[1]))
	}
}

// runtimeSettings are the settings CONFIG SET may change on this node:
// each applies a value or returns Redis's complaint about it.
var runtimeSettings = map[string]func(s *Server, v string) string{
	"maxmemory":         (*Server).setMaxmemory,
	"maxmemory-policy":  (*Server).setPolicy,
	"maxmemory-samples": (*Server).setSamples,
	"timeout": limitSetter(func(l *Limits, v string) string {
		n, msg := parseIntSetting(v, 0, 1<<31-1)
		if msg == "" {
			l.IdleTimeout = time.Duration(n) * time.Second
		}
		return msg
	}),
	"proto-max-bulk-len":        sizeLimitSetter(func(l *Limits) *int64 { return &l.ProtoMaxBulkLen }),
	"client-query-buffer-limit": sizeLimitSetter(func(l *Limits) *int64 { return &l.QueryBufferMax }),
	"client-output-buffer-limit": limitSetter(func(l *Limits, v string) string {
		return parseOutputLimit(v, l)
	}),
	"busy-reply-threshold":      (*Server).setBusyThreshold,
	"lua-time-limit":            (*Server).setBusyThreshold,
	"slowlog-log-slower-than":   (*Server).setSlowlogSlowerThan,
	"slowlog-max-len":           (*Server).setSlowlogMaxLen,
	"latency-monitor-threshold": (*Server).setLatencyThreshold,
	"min-replicas-to-write":     (*Server).setMinReplicas,
	"min-slaves-to-write":       (*Server).setMinReplicas,
	"min-replicas-max-lag":      (*Server).setMinReplicasLag,
	"min-slaves-max-lag":        (*Server).setMinReplicasLag,
	"tracking-table-max-keys": func(s *Server, v string) string {
		n, msg := parseIntSetting(v, 0, 1<<63-1)
		if msg == "" {
			s.tracking.setMaxKeys(n)
		}
		return msg
	},
}

// parseIntSetting parses an integer setting that must lie in [lo, hi],
// or returns Redis's complaint about it.
func parseIntSetting(v string, lo, hi int64) (int64, string) {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return 0, "argument couldn't be parsed into an integer"
	case n < lo || n > hi:
		return 0, fmt.Sprintf("argument must be between %d and %d inclusive", lo, hi)
	}
	return n, ""
}

// sizeLimitSetter makes a CONFIG SET of a connection limit in bytes, at
// least 1mb as Redis requires.
func sizeLimitSetter(field func(l *Limits) *int64) func(s *Server, v string) string {
	return limitSetter(func(l *Limits, v string) string {
		n, ok := ParseMemory(v)
		switch {
		case !ok:
			return "argument must be a memory value"
		case n < 1<<20:
			return "argument must be between 1048576 and 9223372036854775807 inclusive"
		}
		*field(l) = n
		return ""
	})
}

// limitSetter makes a CONFIG SET of one connection limit: change applies
// the value to a copy, which every connection then reads.
func limitSetter(change func(l *Limits, v string) string) func(s *Server, v string) string {
	return func(s *Server, v string) string {
		l := *s.conns.Load()
		if msg := change(&l, v); msg != "" {
			return msg
		}
		s.conns.Store(&l)
		return ""
	}
}

func (s *Server) settings() map[string]string {
	_, port := splitHostPort(s.cfg.Addr)
	lim := s.conns.Load()
	settings := map[string]string{
		"save":            "",
		"appendonly":      "yes",
		"appendfsync":     "always",
		"databases":       strconv.Itoa(s.home.Store().Databases()),
		"cluster-enabled": "yes",
		"port":            strconv.Itoa(port),
		"maxclients":      strconv.Itoa(s.cfg.MaxClients),
		"dir":             s.cfg.Dir,
		// The password is kept only as a hash (see acl.go).
		"requirepass":                "",
		"aclfile":                    s.cfg.ACLFile,
		"protected-mode":             yesNo(s.cfg.ProtectedMode),
		"timeout":                    strconv.FormatInt(int64(lim.IdleTimeout/time.Second), 10),
		"client-query-buffer-limit":  strconv.FormatInt(lim.QueryBufferMax, 10),
		"client-output-buffer-limit": formatOutputLimit(*lim),
		"maxmemory":                  strconv.FormatInt(s.home.Removal().MaxMemory(), 10),
		"maxmemory-policy":           s.home.Removal().Policy().String(),
		"maxmemory-samples":          strconv.FormatInt(s.home.Removal().Samples(), 10),
		"proto-max-bulk-len":         strconv.FormatInt(lim.ProtoMaxBulkLen, 10),
		"busy-reply-threshold":       strconv.FormatInt(s.busyMs.Load(), 10),
		"lua-time-limit":             strconv.FormatInt(s.busyMs.Load(), 10),
		"tracking-table-max-keys":    strconv.FormatInt(s.tracking.maxKeys.Load(), 10),
		"slowlog-log-slower-than":    strconv.FormatInt(s.slowlog.slowerThan.Load(), 10),
		"slowlog-max-len":            strconv.FormatInt(s.slowlog.maxLen.Load(), 10),
		"latency-monitor-threshold":  strconv.FormatInt(s.latency.thresholdMs.Load(), 10),
		"min-replicas-to-write":      strconv.FormatInt(s.minReplicas.Load(), 10),
		"min-slaves-to-write":        strconv.FormatInt(s.minReplicas.Load(), 10),
		"min-replicas-max-lag":       strconv.FormatInt(s.minReplicasLag.Load(), 10),
		"min-slaves-max-lag":         strconv.FormatInt(s.minReplicasLag.Load(), 10),
		"rkv-read-mode":              s.cfg.ReadMode,
		"rkv-election-timeout":       s.cfg.ElectionTimeout.String(),
		"rkv-heartbeat-interval":     s.cfg.HeartbeatInterval.String(),
		"rkv-snapshot-entries":       strconv.FormatUint(s.cfg.SnapshotEntries, 10),
	}
	s.addReplicatedSettings(settings)
	return settings
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// resetStats zeroes the counters INFO reports, as CONFIG RESETSTAT does in
// Redis: this node's, since statistics are not replicated.
func (s *Server) resetStats() {
	s.totalConns.Store(0)
	s.totalCmds.Store(0)
	s.rejected.Store(0)
	s.stats.reset()
	s.home.Store().ResetStats()
}
