package resp

// CONFIG: the parameters of the table in config_table.go, read and changed
// at run time as Redis 7.0 does.

import (
	"fmt"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/store"
)

// cfgIndex finds a parameter by its name or alias, lowercase.
var cfgIndex = func() map[string]*cfgParam {
	m := make(map[string]*cfgParam, 2*len(configTable))
	for i := range configTable {
		p := &configTable[i]
		m[p.name] = p
		if p.alias != "" {
			m[p.alias] = p
		}
	}
	return m
}()

// initConfig gives the stored parameters their defaults, and protected
// mode the value the node started with.
func (s *Server) initConfig() {
	s.cfgStored = make(map[string]string)
	for _, p := range configTable {
		if p.get == nil {
			s.cfgStored[p.name] = p.def
		}
	}
	s.cfgStored["protected-mode"] = yesNo(s.cfg.ProtectedMode)
}

func (s *Server) cmdConfig(conn redcon.Conn, _ *client, args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "get":
		s.configGet(conn, args[2:])
	case "set":
		s.configSet(conn, args[2:])
	case "resetstat":
		s.resetStats()
		conn.WriteString("OK")
	case "rewrite":
		if msg := s.configRewrite(); msg != "" {
			conn.WriteError(msg)
			return
		}
		conn.WriteString("OK")
	default:
		conn.WriteError(unknownSubcommand("config", args[1]))
	}
}

// configValue is a parameter's current value, as CONFIG GET shows it.
func (s *Server) configValue(p *cfgParam) string {
	if p.get != nil {
		return p.get(s)
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.cfgStored[p.name]
}

// configGet answers each parameter once: a name without glob characters
// as the client wrote it (hidden ones too), a pattern with every name and
// alias it matches but the hidden ones.
func (s *Server) configGet(conn redcon.Conn, pats [][]byte) {
	type match struct {
		name string
		p    *cfgParam
	}
	var out []match
	seen := map[string]bool{}
	for _, a := range pats {
		pat := strings.ToLower(string(a))
		if !strings.ContainsAny(pat, "[*?") {
			if p, ok := cfgIndex[pat]; ok && !seen[pat] {
				seen[pat] = true
				out = append(out, match{string(a), p})
			}
			continue
		}
		for i := range configTable {
			p := &configTable[i]
			if p.flags&cfgHidden != 0 {
				continue
			}
			for _, name := range [2]string{p.name, p.alias} {
				if name != "" && !seen[name] && store.GlobMatch(pat, name) {
					seen[name] = true
					out = append(out, match{name, p})
				}
			}
		}
	}
	conn.WriteArray(2 * len(out))
	for _, m := range out {
		conn.WriteBulkString(m.name)
		conn.WriteBulkString(s.configValue(m.p))
	}
}

// cfgChange is one pair of a CONFIG SET: the parameter, the name it was
// given by, its value as parsed and the value it had.
type cfgChange struct {
	p        *cfgParam
	arg      string
	val, old string
	applied  bool
}

// configSet changes the parameters of its pairs all together or not at
// all, in Redis's phases: the names (unknown, immutable, protected,
// duplicate), then every value, then the changes, undone in full (to the
// values from before any) if one of them cannot be made. The changes that
// go through the log are proposed last, once this node's have all been
// made.
func (s *Server) configSet(conn redcon.Conn, pairs [][]byte) {
	if len(pairs)%2 != 0 {
		conn.WriteError(errSyntax)
		return
	}
	changes := make([]cfgChange, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		arg := string(pairs[i])
		p, ok := cfgIndex[strings.ToLower(arg)]
		switch {
		case !ok:
			conn.WriteError(fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", arg))
			return
		case p.flags&cfgImmutable != 0:
			conn.WriteError(configSetError(arg, "can't set immutable config"))
			return
		case p.flags&cfgProtected != 0:
			conn.WriteError(configSetError(arg, "can't set protected config"))
			return
		}
		// A name and its alias are two parameters to Redis, which set
		// the same value in turn: only a name given twice is refused.
		for _, c := range changes {
			if strings.EqualFold(c.arg, arg) {
				conn.WriteError(configSetError(arg, "duplicate parameter"))
				return
			}
		}
		changes = append(changes, cfgChange{p: p, arg: arg, val: string(pairs[i+1])})
	}
	for i := range changes {
		c := &changes[i]
		v, msg := c.p.parse(c.val)
		if msg != "" {
			conn.WriteError(configSetError(strings.ToLower(c.arg), msg))
			return
		}
		c.val = v
	}
	s.cfgSetMu.Lock()
	defer s.cfgSetMu.Unlock()
	for i := range changes {
		changes[i].old = s.configValue(changes[i].p)
	}
	var logged []cfgChange
	for i := range changes {
		c := &changes[i]
		if c.p.effect == effLog {
			logged = append(logged, *c)
			continue
		}
		if s.configValue(c.p) == c.val {
			continue // no change, nothing to apply (Redis's "2")
		}
		if msg := s.applyConfig(c.p, c.val); msg != "" {
			s.undoConfig(changes[:i])
			conn.WriteError(configSetError(strings.ToLower(c.arg), msg))
			return
		}
		c.applied = true
	}
	if len(logged) > 0 && !s.proposeConfig(conn, logged) {
		s.undoConfig(changes)
		return
	}
	conn.WriteString("OK")
}

func configSetError(arg, msg string) string {
	return fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", arg, msg)
}

// applyConfig makes a parameter's value take effect on this node.
func (s *Server) applyConfig(p *cfgParam, v string) string {
	if p.apply != nil {
		return p.apply(s, v)
	}
	s.cfgMu.Lock()
	s.cfgStored[p.name] = v
	s.cfgMu.Unlock()
	return ""
}

// undoConfig puts back the values the changes applied had before, on
// this node, the last first.
func (s *Server) undoConfig(changes []cfgChange) {
	for i := len(changes) - 1; i >= 0; i-- {
		if c := changes[i]; c.applied {
			if msg := s.applyConfig(c.p, c.old); msg != "" {
				s.logger.Warn("CONFIG SET: could not restore a parameter", "name", c.p.name, "err", msg)
			}
		}
	}
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

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
