package resp

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/replica"
)

// Connections and their user (see acl.go for the users themselves).

const (
	errNoAuth    = "NOAUTH Authentication required."
	errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
	errNoPermKey = "NOPERM this user has no permissions to access one of the keys used as arguments"
	errACLSave   = "ERR There was an error trying to save the ACLs. Please check the server logs for more information"
	errNoACLFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
)

// permit returns the error that refuses cmd to the connection's user, or ""
// when it may run. u is the connection's user, nil when it was deleted.
func permit(c *client, u *aclUser, args [][]byte) string {
	name := strings.ToLower(string(args[0]))
	sp, ok := specFor(args)
	// Commands flagged no_auth (AUTH, HELLO, QUIT, RESET) run before a
	// connection authenticates and whatever its user's rules, as Redis.
	noAuth := ok && sp.Has("no_auth")
	if !c.authed && !noAuth {
		return errNoAuth
	}
	if u == nil || u.unrestricted() || noAuth {
		return ""
	}
	if !u.mayRun(name, args) {
		// A container names its subcommand ('client|setname').
		shown := name
		if ok && strings.Contains(sp.Name, "|") {
			shown = sp.Name
		}
		return fmt.Sprintf("NOPERM this user has no permissions to run the '%s' command", shown)
	}
	if msg := channelRefusal(u, name, args); msg != "" {
		return msg
	}
	if !ok || u.allKeys {
		return ""
	}
	// Keys a count cannot locate are none: the command refuses the count.
	if keys, _ := sp.KeysBySpecs(args); !u.mayAccess(args, keys) {
		return errNoPermKey
	}
	return sortRefusal(name, args)
}

// admissible reports whether the connection may go on; if not, it is
// closed: its user was deleted since it authenticated, as Redis
// disconnects a deleted user's clients.
func (s *Server) admissible(conn redcon.Conn, c *client) bool {
	if c != nil && s.acl.user(c.user) == nil {
		conn.WriteError("ERR the user of this connection was deleted")
		conn.Close()
		return false
	}
	return true
}

// crossProtocol reports whether a command is an HTTP request line ("POST",
// "Host:"): someone made a browser or proxy talk to the client port, a
// cross-protocol attack on which Redis closes the connection.
func crossProtocol(args [][]byte) bool {
	name := string(args[0])
	return strings.EqualFold(name, "post") || strings.EqualFold(name, "host:")
}

// refusal is the error that refuses the command to the connection now, or
// "" when it may run.
func (s *Server) refusal(c *client, args [][]byte) string {
	if c == nil {
		return ""
	}
	u := s.acl.user(c.user)
	if c.authed && u != nil && u.unrestricted() {
		return ""
	}
	return permit(c, u, args)
}

// authenticate checks name and password; on success the connection is
// that user's.
func (s *Server) authenticate(c *client, name, pass []byte) bool {
	u := s.acl.user(string(name))
	if u == nil || !u.enabled || !u.checkPassword(pass) {
		return false
	}
	s.setClient(c, func(c *client) { c.user, c.authed = u.name, true })
	return true
}

func (s *Server) cmdAuth(conn redcon.Conn, c *client, args [][]byte) {
	switch len(args) {
	case 2:
		if d := s.acl.user("default"); d != nil && d.enabled && d.nopass {
			conn.WriteError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		args = [][]byte{args[0], []byte("default"), args[1]}
	case 3:
	default:
		conn.WriteError(errSyntax)
		return
	}
	if !s.authenticate(c, args[1], args[2]) {
		conn.WriteError(errWrongPass)
		return
	}
	conn.WriteString("OK")
}

func init() {
	addServerCommands(map[string]func(s *Server, conn redcon.Conn, c *client, args [][]byte){"acl": (*Server).cmdACL})
}

var aclHelp = []string{
	"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CAT [<category>]",
	"    List all commands that belong to <category>, or all command categories",
	"    when no category is specified.",
	"DELUSER <username> [<username> ...]",
	"    Delete a list of users.",
	"GETUSER <username>",
	"    Get the user's details.",
	"GENPASS [<bits>]",
	"    Generate a secure 256-bit user password. The optional `bits` argument can",
	"    be used to specify a different size.",
	"LIST",
	"    Show users details in config file format.",
	"LOAD",
	"    Reload users from the ACL file.",
	"LOG [<count> | RESET]",
	"    Show the ACL log entries.",
	"SAVE",
	"    Save the current config to the ACL file.",
	"SETUSER <username> <attribute> [<attribute> ...]",
	"    Create or modify a user with the specified attributes.",
	"USERS",
	"    List all the registered usernames.",
	"WHOAMI",
	"    Return the current connection username.",
	"HELP",
	"    Prints this help.",
}

// cmdACL serves ACL, its subcommand and arity already checked. Changes go
// through the log (proposeACL); the rest answers from this node's users.
func (s *Server) cmdACL(conn redcon.Conn, c *client, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); sub {
	case "setuser":
		if hasSpaces(string(args[2])) {
			conn.WriteError(errACLUserName.Error())
			return
		}
		rules := make([][]byte, 0, len(args)-1)
		rules = append(rules, []byte("setuser"), args[2])
		scratch := newUser(string(args[2]))
		if old := s.acl.user(string(args[2])); old != nil {
			scratch = old.clone()
		}
		for _, r := range args[3:] {
			if err := scratch.apply(string(r)); err != nil {
				conn.WriteError(err.Error())
				return
			}
			rules = append(rules, []byte(logRule(string(r))))
		}
		s.proposeACL(conn, rules)
	case "deluser":
		for _, n := range args[2:] {
			if string(n) == "default" {
				conn.WriteError(errACLDefault.Error())
				return
			}
		}
		s.proposeACL(conn, append([][]byte{[]byte("deluser")}, args[2:]...))
	case "load":
		lines, err := s.readACLFile()
		if err != nil {
			conn.WriteError(err.Error())
			return
		}
		entry := [][]byte{[]byte("load")}
		for _, l := range lines {
			entry = append(entry, []byte(l))
		}
		s.proposeACL(conn, entry)
	case "save":
		if s.cfg.ACLFile == "" {
			conn.WriteError(errNoACLFile)
			return
		}
		data := strings.Join(s.acl.list(), "\n") + "\n"
		tmp := s.cfg.ACLFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
			conn.WriteError(errACLSave)
			return
		}
		if err := os.Rename(tmp, s.cfg.ACLFile); err != nil {
			conn.WriteError(errACLSave)
			return
		}
		conn.WriteString("OK")
	case "list":
		lines := s.acl.list()
		conn.WriteArray(len(lines))
		for _, l := range lines {
			conn.WriteBulkString(l)
		}
	case "users":
		lines := s.acl.list()
		conn.WriteArray(len(lines))
		for _, l := range lines {
			conn.WriteBulkString(strings.Fields(l)[1])
		}
	case "getuser":
		u := s.acl.user(string(args[2]))
		if u == nil {
			conn.WriteNull()
			return
		}
		writeUser(conn, u)
	case "whoami":
		conn.WriteBulkString(c.user)
	case "cat":
		s.aclCat(conn, args)
	case "genpass":
		bits := 256
		if len(args) == 3 {
			n, err := strconv.Atoi(string(args[2]))
			if err != nil {
				conn.WriteError(errNotInteger)
				return
			}
			if n <= 0 || n > 4096 {
				conn.WriteError("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
				return
			}
			bits = n
		}
		conn.WriteBulkString(genPass(bits))
	case "log":
		// Refusals are not logged: the log is always empty.
		if len(args) == 3 {
			if strings.EqualFold(string(args[2]), "reset") {
				conn.WriteString("OK")
				return
			}
			if _, err := strconv.ParseInt(string(args[2]), 10, 64); err != nil {
				conn.WriteError(errNotInteger)
				return
			}
		}
		conn.WriteArray(0)
	default:
		conn.WriteArray(len(aclHelp))
		for _, h := range aclHelp {
			conn.WriteString(h)
		}
	}
}

// logRule is a rule as it goes into the log: a clear password becomes its
// hash, so that no password is written to disk.
func logRule(r string) string {
	switch {
	case strings.HasPrefix(r, ">"):
		return "#" + hashPassword(r[1:])
	case strings.HasPrefix(r, "<"):
		return "!" + hashPassword(r[1:])
	}
	return r
}

func writeUser(conn redcon.Conn, u *aclUser) {
	var flags []string
	if u.enabled {
		flags = append(flags, "on")
	} else {
		flags = append(flags, "off")
	}
	if u.nopass {
		flags = append(flags, "nopass")
	}
	if u.sanitize != "" {
		flags = append(flags, u.sanitize)
	}
	conn.WriteArray(12)
	conn.WriteBulkString("flags")
	conn.WriteArray(len(flags))
	for _, f := range flags {
		conn.WriteBulkString(f)
	}
	conn.WriteBulkString("passwords")
	conn.WriteArray(len(u.passwords))
	for _, p := range u.passwords {
		conn.WriteBulkString(p)
	}
	conn.WriteBulkString("commands")
	conn.WriteBulkString(strings.Join(u.rules, " "))
	conn.WriteBulkString("keys")
	conn.WriteBulkString(strings.Join(u.keyRules(), " "))
	conn.WriteBulkString("channels")
	if u.allChans {
		conn.WriteBulkString("&*")
	} else {
		conn.WriteBulkString(strings.TrimPrefix(strings.Join(u.channelRules()[1:], " "), " "))
	}
	conn.WriteBulkString("selectors")
	conn.WriteArray(0)
}

func (s *Server) aclCat(conn redcon.Conn, args [][]byte) {
	if len(args) == 2 {
		conn.WriteArray(len(aclCategories))
		for _, c := range aclCategories {
			conn.WriteBulkString(c)
		}
		return
	}
	if len(args) > 3 {
		conn.WriteError("ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.")
		return
	}
	cat := strings.ToLower(string(args[2]))
	if !slices.Contains(aclCategories, cat) {
		conn.WriteError(fmt.Sprintf("ERR Unknown category '%s'", truncate(args[2])))
		return
	}
	var names []string
	for _, n := range allCommandNames() {
		if slices.Contains(commandCategories(n), cat) {
			names = append(names, n)
		}
	}
	conn.WriteArray(len(names))
	for _, n := range names {
		conn.WriteBulkString(n)
	}
}

// readACLFile reads the --aclfile and checks every line.
func (s *Server) readACLFile() ([]string, error) {
	if s.cfg.ACLFile == "" {
		return nil, fmt.Errorf("%s", errNoACLFile)
	}
	lines, err := ReadACLFile(s.cfg.ACLFile)
	if err != nil {
		return nil, fmt.Errorf("ERR %v", err)
	}
	return lines, nil
}

// ReadACLFile reads an ACL file (lines as ACL LIST writes them; blank lines
// and # comments are skipped) and checks each line.
func ReadACLFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if _, err := parseUserLine(l); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// proposeACL proposes a change of the users through the log and writes its
// reply; a follower redirects it to the leader.
func (s *Server) proposeACL(conn redcon.Conn, args [][]byte) {
	s.propose(conn, s.home, routeOf("acl"), nil, func() []byte {
		return replica.EncodeEntry(nil, replica.KindACL, time.Now().UnixMilli(), args)
	})
}

// requirepassRules are the ACL entry of CONFIG SET requirepass: the
// default user's only password becomes pass ("" for none).
func requirepassRules(pass string) [][]byte {
	rules := [][]byte{[]byte("setuser"), []byte("default"), []byte("resetpass")}
	if pass == "" {
		return append(rules, []byte("nopass"))
	}
	return append(rules, []byte("#"+hashPassword(pass)))
}
