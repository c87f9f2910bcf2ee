package resp

import (
	"fmt"
	"strings"

	"github.com/tidwall/redcon"
)

// DEBUG offers only what operators and tests of a replicated store need:
// DIGEST, a hash of this node's whole state, equal on replicas that have
// applied the same entries. Redis's other subcommands change or crash the
// server and have no place here.
func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){"debug": (*Server).cmdDebug})
}

func (s *Server) cmdDebug(conn redcon.Conn, _ *client, args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "digest":
		if len(args) != 2 {
			conn.WriteError(arityError("debug|digest"))
			return
		}
		conn.WriteString(fmt.Sprintf("%040x", s.home.Store().Digest()))
	case "help":
		conn.WriteArray(2)
		conn.WriteString("DIGEST")
		conn.WriteString("    Output a hex signature representing the current DB content.")
	default:
		conn.WriteError(unknownSubcommand("debug", args[1]))
	}
}
