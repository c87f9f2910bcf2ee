package resp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rkv/rkv/store"
	"github.com/tidwall/redcon"
)

// DEBUG offers what operators and tests of a replicated store need:
// DIGEST, a hash of this node's whole state, equal on replicas that have
// applied the same entries; OBJECT, a key's encoding and serialized size;
// RELOAD, the state written to a snapshot and read back in place; SLEEP;
// and SET-ACTIVE-EXPIRE, which pauses the leader's expiry cycle. Redis's
// subcommands that crash, restart or poke at its allocator and encodings
// mean nothing here and are refused (debugMeaningless).
func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){"debug": (*Server).cmdDebug})
}

// debugMeaningless are Redis's DEBUG subcommands that have no counterpart
// in rkv: crashing or restarting the server, its allocator, its AOF and
// replication internals, its tunable encodings.
var debugMeaningless = map[string]bool{
	"segfault": true, "panic": true, "restart": true, "crash-and-recover": true, "assert": true,
	"oom": true, "jmap": true, "loadaof": true, "mallctl": true, "mallctl-str": true,
	"change-repl-id": true, "quicklist-packed-threshold": true, "listpack": true, "quicklist": true,
	"ziplist": true, "htstats": true, "htstats-key": true, "pause-cron": true, "replybuffer": true,
	"config-rewrite-force-all": true, "set-skip-checksum-validation": true, "populate": true,
	"stringmatch-len": true, "set-disable-deny-scripts": true, "sdslen": true, "log": true,
	"leak": true, "replicate": true, "script": true, "client-eviction": true,
}

var debugHelp = []string{
	"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DIGEST",
	"    Output a hex signature representing the current DB content.",
	"OBJECT <key>",
	"    Show low level info about the key and associated value.",
	"RELOAD",
	"    Write the dataset to a snapshot and load it back in place.",
	"SET-ACTIVE-EXPIRE <0|1>",
	"    Setting it to 0 disables the active expiry of keys past their deadline.",
	"SLEEP <seconds>",
	"    Stop this connection for <seconds> (a decimal number).",
	"HELP",
	"    Print this help.",
}

func (s *Server) cmdDebug(conn redcon.Conn, c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "digest" && len(args) == 2:
		conn.WriteString(fmt.Sprintf("%040x", s.home.Store().Digest()))
	case sub == "help" && len(args) == 2:
		conn.WriteArray(len(debugHelp))
		for _, h := range debugHelp {
			conn.WriteString(h)
		}
	case sub == "object" && len(args) == 3:
		line, ok := s.route.forSlot(store.KeySlot(args[2])).Store().DebugObject(c.db, time.Now().UnixMilli(), args[2])
		if !ok {
			conn.WriteError("ERR no such key")
			return
		}
		conn.WriteString(line)
	case sub == "reload":
		s.debugReload(conn, args)
	case sub == "sleep" && len(args) == 3:
		// Redis reads the seconds with strtod and ignores what does not
		// parse; only this connection waits here.
		if sec := debugSeconds(string(args[2])); sec > 0 {
			time.Sleep(time.Duration(sec * float64(time.Second)))
		}
		conn.WriteString("OK")
	case sub == "set-active-expire" && len(args) == 3:
		n, _ := strconv.Atoi(string(args[2]))
		s.home.Removal().SetActiveExpire(n != 0)
		conn.WriteString("OK")
	case debugMeaningless[sub]:
		conn.WriteError("ERR DEBUG " + strings.ToUpper(sub) + " has no meaning in rkv")
	default:
		// Redis's addReplySubcommandSyntaxError: DEBUG checks each
		// subcommand's arguments itself.
		conn.WriteError(fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP.", truncate(args[1])))
	}
}

// debugReload writes the home store to a snapshot and restores it in
// place, as Redis's DEBUG RELOAD saves and reloads its RDB: the state is
// the same before and after, so replicas stay in agreement. Its options
// choose which file Redis reads, which rkv has no use for.
func (s *Server) debugReload(conn redcon.Conn, args [][]byte) {
	if len(args) > 2 {
		conn.WriteError("ERR DEBUG RELOAD takes no options in rkv")
		return
	}
	if err := s.home.Store().Reload(); err != nil {
		conn.WriteError("ERR Error trying to reload the snapshot: " + err.Error())
		return
	}
	conn.WriteString("OK")
}

// debugSeconds parses a leading decimal number as strtod does: what
// follows it is ignored, nothing parsable is 0.
func debugSeconds(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	for end := len(s); end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil && !math.IsNaN(f) {
			return min(f, 1e9)
		}
	}
	return 0
}
