package resp

// CONFIG SET of the parameters that go through the log: the encoding
// thresholds and notify-keyspace-events, which every replica must apply
// alike (the store holds them), and requirepass, an ACL change.

import (
	"context"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
)

// proposeConfig proposes changes, whose values the table checked: the
// store's settings as one KindConfig entry, requirepass as a KindACL
// one. It returns false, having written the error, when one was not
// applied; the settings entry is then proposed back with the old values
// if it was.
func (s *Server) proposeConfig(conn redcon.Conn, changes []cfgChange) bool {
	var enc, old [][]byte
	pass, setPass := "", false
	for _, c := range changes {
		if c.p.name == "requirepass" {
			pass, setPass = c.val, true
			continue
		}
		enc = append(enc, []byte(c.p.name), []byte(c.val))
		old = append(old, []byte(c.p.name), []byte(c.old))
	}
	if len(enc) > 0 && !s.proposeQuiet(conn, replica.KindConfig, "config", enc) {
		return false
	}
	if setPass && !s.proposeQuiet(conn, replica.KindACL, "acl", requirepassRules(pass)) {
		if len(old) > 0 {
			s.proposeQuiet(nil, replica.KindConfig, "config", old)
		}
		return false
	}
	return true
}

// proposeQuiet proposes an entry of kind on the home replica and reports
// whether it was applied with +OK; if not, the reply (a redirection, the
// store's error) is written to conn unless it is nil.
func (s *Server) proposeQuiet(conn redcon.Conn, kind replica.Kind, cmd string, args [][]byte) bool {
	rep, route := s.home, routeOf(cmd)
	if !rep.Node().IsLeader() {
		if conn != nil {
			s.redirect(conn, route, nil, rep.Node().Leader())
		}
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	v, err := rep.Node().Propose(ctx, replica.EncodeEntry(nil, kind, time.Now().UnixMilli(), args))
	if out, ok := v.([]byte); err == nil && ok && len(out) > 0 && out[0] == '+' {
		return true
	}
	if conn != nil {
		s.writeResult(conn, route, nil, consensus.Result{Val: v, Err: err})
	}
	return false
}
