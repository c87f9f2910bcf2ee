package resp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/store"
)

// Users and permissions (AUTH, ACL). The users are replicated state: every
// change (ACL SETUSER, DELUSER, LOAD, CONFIG SET requirepass) is proposed
// through the log as an replica.KindACL entry and applied by the state machine on
// every node, and snapshots carry them, so every node enforces the same
// rules. Passwords enter the log only as SHA-256 hashes: the node a client
// asks turns ">password" into "#hash" before proposing. Enforcement is at
// the connection, before a command reaches the store or the log.

// aclCategories are Redis 7.0's ACL categories, in ACL CAT's order.
var aclCategories = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
	"bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
	"connection", "transaction", "scripting"}

// commandCategories lists the ACL categories of a command or, named
// "container|sub", of a subcommand.
func commandCategories(name string) []string {
	if sp, ok := command.Find(name); ok {
		return sp.ACL
	}
	return nil
}

// allCommandNames lists every command and subcommand, sorted.
func allCommandNames() []string {
	var names []string
	for _, sp := range command.All() {
		names = append(names, sp.Name)
		for _, sub := range sp.Subcommands {
			names = append(names, sub.Name)
		}
	}
	slices.Sort(names)
	return names
}

// keyPattern is one ~pattern (read and write), %R~pattern or %W~pattern.
type keyPattern struct {
	pattern     string
	read, write bool
}

func (k keyPattern) String() string {
	switch {
	case k.read && k.write:
		return "~" + k.pattern
	case k.read:
		return "%R~" + k.pattern
	}
	return "%W~" + k.pattern
}

// aclUser is one user. Values are never changed once published in an
// aclUsers map: a change builds a new user.
type aclUser struct {
	name    string
	enabled bool
	nopass  bool
	// sanitize is "sanitize-payload" or "skip-sanitize-payload" once a
	// rule set it (RESTORE's payload check: kept and shown, as rkv has no
	// RESTORE).
	sanitize  string
	passwords []string // SHA-256 hex, in the order added
	keys      []keyPattern
	allKeys   bool
	channels  []string
	allChans  bool
	// rules are the command rules since the last +@all or -@all (the
	// first rule), as ACL LIST shows them.
	rules []string
	// allowed says, per command name and per "command|subcommand" a rule
	// names, whether the rules let the user run it.
	allowed map[string]bool
}

func newUser(name string) *aclUser {
	u := &aclUser{name: name, rules: []string{"-@all"}}
	u.compile()
	return u
}

func (u *aclUser) clone() *aclUser {
	c := *u
	c.passwords = slices.Clone(u.passwords)
	c.keys = slices.Clone(u.keys)
	c.channels = slices.Clone(u.channels)
	c.rules = slices.Clone(u.rules)
	return &c
}

// unrestricted reports whether every command, key and channel is allowed:
// the common case, which needs no check per command.
func (u *aclUser) unrestricted() bool {
	return u.allKeys && u.allChans && len(u.rules) == 1 && u.rules[0] == "+@all"
}

// compile evaluates the rules, in order, for every command.
func (u *aclUser) compile() {
	u.allowed = map[string]bool{}
	for _, name := range allCommandNames() {
		cmd, sub, _ := strings.Cut(name, "|")
		u.allowed[name] = u.decide(cmd, sub)
	}
	for _, r := range u.rules {
		if cmd, sub, ok := strings.Cut(r[1:], "|"); ok {
			u.allowed[cmd+"|"+sub] = u.decide(cmd, sub)
		}
	}
}

// decide applies the rules to a command, or to one subcommand of it.
func (u *aclUser) decide(name, sub string) bool {
	allowed := false
	cats := commandCategories(name)
	if sub != "" {
		if sp, ok := command.Find(name + "|" + sub); ok {
			cats = sp.ACL
		}
	}
	for _, r := range u.rules {
		plus, what := r[0] == '+', r[1:]
		switch {
		case what == "@all":
			allowed = plus
		case strings.HasPrefix(what, "@"):
			if slices.Contains(cats, what[1:]) {
				allowed = plus
			}
		case what == name:
			allowed = plus
		case sub != "" && what == name+"|"+sub:
			allowed = plus
		}
	}
	return allowed
}

// mayRun reports whether the user may run the command (name, lower case)
// with these arguments.
func (u *aclUser) mayRun(name string, args [][]byte) bool {
	if len(args) > 1 {
		if ok, found := u.allowed[name+"|"+strings.ToLower(string(args[1]))]; found {
			return ok
		}
	}
	return u.allowed[name]
}

// mayAccess reports whether the user may touch every key of args as its
// key spec says: read it (access), write it (insert, delete, update) or
// both, as Redis judges %R~ and %W~ patterns.
func (u *aclUser) mayAccess(args [][]byte, keys []command.KeyPos) bool {
	for _, k := range keys {
		read := slices.Contains(k.Flags, "access")
		write := slices.ContainsFunc(k.Flags, func(f string) bool { return f == "insert" || f == "delete" || f == "update" })
		ok := false
		for _, p := range u.keys {
			if (!read || p.read) && (!write || p.write) && store.GlobMatch(p.pattern, string(args[k.Pos])) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (u *aclUser) checkPassword(pass []byte) bool {
	if u.nopass {
		return true
	}
	sum := sha256.Sum256(pass)
	h := hex.EncodeToString(sum[:])
	ok := false
	for _, p := range u.passwords {
		ok = subtle.ConstantTimeCompare([]byte(p), []byte(h)) == 1 || ok
	}
	return ok
}

// errACLRule is a rule ACL SETUSER cannot apply.
type errACLRule struct{ rule, why string }

func (e *errACLRule) Error() string {
	return fmt.Sprintf("ERR Error in ACL SETUSER modifier '%s': %s", e.rule, e.why)
}

const (
	whySyntax  = "Syntax error"
	whyUnknown = "Unknown command or category name in ACL"
)

// isHash reports whether s is a SHA-256 as ACL rules write it.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func hashPassword(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:])
}

// apply changes u by one rule.
func (u *aclUser) apply(rule string) error {
	lower := strings.ToLower(rule)
	switch {
	case lower == "on":
		u.enabled = true
	case lower == "off":
		u.enabled = false
	case lower == "nopass":
		u.nopass, u.passwords = true, nil
	case lower == "resetpass":
		u.nopass, u.passwords = false, nil
	case lower == "allkeys":
		u.allKeys, u.keys = true, nil
	case lower == "resetkeys":
		u.allKeys, u.keys = false, nil
	case lower == "allchannels":
		u.allChans, u.channels = true, nil
	case lower == "resetchannels":
		u.allChans, u.channels = false, nil
	case lower == "allcommands" || lower == "+@all":
		u.rules = []string{"+@all"}
	case lower == "nocommands" || lower == "-@all":
		u.rules = []string{"-@all"}
	case lower == "reset":
		*u = *newUser(u.name)
		u.sanitize = "sanitize-payload"
	case lower == "sanitize-payload" || lower == "skip-sanitize-payload":
		u.sanitize = lower
	case strings.HasPrefix(rule, ">"):
		u.addPassword(hashPassword(rule[1:]))
	case strings.HasPrefix(rule, "#"):
		if !isHash(rule[1:]) {
			return &errACLRule{rule, "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"}
		}
		u.addPassword(rule[1:])
	case strings.HasPrefix(rule, "<"), strings.HasPrefix(rule, "!"):
		h := rule[1:]
		if rule[0] == '<' {
			h = hashPassword(h)
		} else if !isHash(h) {
			return &errACLRule{rule, "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"}
		}
		i := slices.Index(u.passwords, h)
		if i < 0 {
			return &errACLRule{rule, "The password you are trying to remove from the user does not exist"}
		}
		u.passwords = slices.Delete(u.passwords, i, i+1)
	case rule == "~*":
		u.allKeys, u.keys = true, nil
	case strings.HasPrefix(rule, "~") || strings.HasPrefix(rule, "%"):
		// Redis's ACLSetSelector refuses a key pattern after allkeys
		// before it parses the pattern.
		if u.allKeys {
			return &errACLRule{rule, "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"}
		}
		k := keyPattern{rule[1:], true, true}
		if rule[0] == '%' {
			perm, pat, ok := strings.Cut(rule[1:], "~")
			perm = strings.ToUpper(perm)
			if !ok || perm == "" || strings.Trim(perm, "RW") != "" {
				return &errACLRule{rule, whySyntax}
			}
			k = keyPattern{pat, strings.Contains(perm, "R"), strings.Contains(perm, "W")}
		}
		if hasSpaces(k.pattern) {
			return &errACLRule{rule, whySyntax}
		}
		if k.pattern == "*" && k.read && k.write {
			u.allKeys, u.keys = true, nil
			return nil
		}
		u.keys = append(u.keys, k)
	case rule == "&*":
		u.allChans, u.channels = true, nil
	case strings.HasPrefix(rule, "&"):
		// Redis's ACLSetSelector refuses a pattern after allchannels
		// before it looks at the pattern's spaces.
		if u.allChans {
			return &errACLRule{rule, "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"}
		}
		if hasSpaces(rule) {
			return &errACLRule{rule, whySyntax}
		}
		u.channels = append(u.channels, rule[1:])
	case strings.HasPrefix(rule, "+") || strings.HasPrefix(rule, "-"):
		what := lower[1:]
		if cat, ok := strings.CutPrefix(what, "@"); ok {
			if !slices.Contains(aclCategories, cat) {
				return &errACLRule{rule, whyUnknown}
			}
		} else {
			cmd, _, _ := strings.Cut(what, "|")
			if _, known := command.Find(cmd); !known {
				return &errACLRule{rule, whyUnknown}
			}
		}
		u.rules = append(u.rules, lower[:1]+what)
	default:
		return &errACLRule{rule, whySyntax}
	}
	return nil
}

func (u *aclUser) addPassword(h string) {
	u.nopass = false
	if !slices.Contains(u.passwords, h) {
		u.passwords = append(u.passwords, h)
	}
}

// hasSpaces is Redis's ACLStringHasSpaces: names and patterns with white
// space or NUL are refused, since ACL LIST lines, ACL files and snapshots
// separate fields by white space.
func hasSpaces(s string) bool {
	return strings.ContainsAny(s, " \t\n\v\f\r\x00")
}

var errACLUserName = errors.New("ERR Usernames can't contain spaces or null characters")

// describe is the user as ACL LIST and an ACL file write it: a line that,
// applied rule by rule to a new user, gives it back.
func (u *aclUser) describe() string {
	parts := []string{"user", u.name, "off"}
	if u.enabled {
		parts[2] = "on"
	}
	if u.nopass {
		parts = append(parts, "nopass")
	}
	if u.sanitize != "" {
		parts = append(parts, u.sanitize)
	}
	for _, p := range u.passwords {
		parts = append(parts, "#"+p)
	}
	parts = append(parts, u.keyRules()...)
	parts = append(parts, u.channelRules()...)
	return strings.Join(append(parts, u.rules...), " ")
}

func (u *aclUser) keyRules() []string {
	if u.allKeys {
		return []string{"~*"}
	}
	var out []string
	for _, k := range u.keys {
		out = append(out, k.String())
	}
	return out
}

func (u *aclUser) channelRules() []string {
	if u.allChans {
		return []string{"&*"}
	}
	out := []string{"resetchannels"}
	for _, c := range u.channels {
		out = append(out, "&"+c)
	}
	return out
}

// CheckLine reports whether line is a user line ACL LIST writes, as a
// snapshot carries (replica.Users).
func (a *ACL) CheckLine(line string) error {
	_, err := parseUserLine(line)
	return err
}

// parseUserLine reads an ACL LIST / ACL file line into a user.
func parseUserLine(line string) (*aclUser, error) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "user" {
		return nil, fmt.Errorf("a line must be 'user <name> <rule>...': %q", line)
	}
	u := newUser(f[1])
	for _, r := range f[2:] {
		if err := u.apply(r); err != nil {
			return nil, fmt.Errorf("user %s: %w", f[1], err)
		}
	}
	u.compile()
	return u, nil
}

// defaultUser is Redis's default user: everything allowed, with no
// password unless requirepass (hashed) gives one.
func defaultUser(passHash string) *aclUser {
	u := newUser("default")
	u.enabled, u.nopass, u.allKeys, u.allChans, u.rules = true, true, true, true, []string{"+@all"}
	if passHash != "" {
		u.addPassword(passHash)
	}
	u.compile()
	return u
}

// ACL is the set of users of a node. Readers take the current map without
// a lock; every change publishes a new map.
type ACL struct {
	mu    sync.Mutex // serializes changes
	users atomic.Pointer[map[string]*aclUser]
	// replicated is set once a change came through the log; from then on
	// snapshots carry the users, where before they came from the command
	// line of each node.
	replicated bool
	// removed, if set, is told the users an applied change deleted, for
	// the server to close their connections.
	removed atomic.Pointer[func(names []string)]
}

// NewACL returns the users of a node started with requirepass (the default
// user's password, "" for none) and the lines of an ACL file (nil for
// none), as Redis reads them at start.
func NewACL(requirepass string, aclFile []string) (*ACL, error) {
	h := ""
	if requirepass != "" {
		h = hashPassword(requirepass)
	}
	users := map[string]*aclUser{"default": defaultUser(h)}
	for i, line := range aclFile {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		u, err := parseUserLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		users[u.name] = u
	}
	a := &ACL{}
	a.users.Store(&users)
	return a, nil
}

func (a *ACL) user(name string) *aclUser { return (*a.users.Load())[name] }

// PasswordRequired reports whether the default user needs a password (for
// protected mode: a node listening beyond loopback must have one).
func (a *ACL) PasswordRequired() bool {
	u := a.user("default")
	return u == nil || !u.enabled || !u.nopass
}

// list is every user's line, sorted by name.
func (a *ACL) list() []string {
	users := *a.users.Load()
	var out []string
	for _, n := range slices.Sorted(maps.Keys(users)) {
		out = append(out, users[n].describe())
	}
	return out
}

var errACLDefault = errors.New("ERR The 'default' user cannot be removed")

// errMalformedACL answers an replica.KindACL entry applyLog cannot read.
const errMalformedACL = "ERR malformed ACL entry"

// applyLog applies an replica.KindACL entry and returns its reply: its args are
// "setuser <name> <rule>...", "deluser <name>..." or "load <user line>..."
// (lines as ACL LIST writes them). Every node applies the same entries alike.
func (a *ACL) ApplyLog(args [][]byte) []byte {
	if len(args) == 0 {
		return []byte("-" + errMalformedACL + "\r\n")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	users := maps.Clone(*a.users.Load())
	var reply []byte
	switch strings.ToLower(string(args[0])) {
	case "setuser":
		if len(args) < 2 {
			return []byte("-" + errMalformedACL + "\r\n")
		}
		name := string(args[1])
		if hasSpaces(name) {
			return []byte("-" + errACLUserName.Error() + "\r\n")
		}
		u := newUser(name)
		if old, ok := users[name]; ok {
			u = old.clone()
		}
		for _, r := range args[2:] {
			if err := u.apply(string(r)); err != nil {
				return []byte("-" + err.Error() + "\r\n")
			}
		}
		u.compile()
		users[name] = u
		reply = []byte("+OK\r\n")
	case "deluser":
		var gone []string
		for _, name := range args[1:] {
			if string(name) == "default" {
				return []byte("-" + errACLDefault.Error() + "\r\n")
			}
			if _, ok := users[string(name)]; ok {
				delete(users, string(name))
				gone = append(gone, string(name))
			}
		}
		reply = fmt.Appendf(nil, ":%d\r\n", len(gone))
		// As Redis's ACL DELUSER, the deleted users' connections close:
		// on every node, since every node applies the entry.
		if fn := a.removed.Load(); fn != nil && len(gone) > 0 {
			defer (*fn)(gone)
		}
	case "load":
		loaded := map[string]*aclUser{}
		for _, line := range args[1:] {
			u, err := parseUserLine(string(line))
			if err != nil {
				return []byte("-ERR " + err.Error() + "\r\n")
			}
			loaded[u.name] = u
		}
		if _, ok := loaded["default"]; !ok {
			loaded["default"] = defaultUser("")
		}
		users = loaded
		reply = []byte("+OK\r\n")
	default:
		return []byte("-" + errMalformedACL + "\r\n")
	}
	a.users.Store(&users)
	a.replicated = true
	return reply
}

// snapshotLines are the users a snapshot carries: none until a change
// came through the log (see replicated).
func (a *ACL) SnapshotLines() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.replicated {
		return nil
	}
	return a.list()
}

// restoreLines makes the users a snapshot's; none leaves them as they are.
func (a *ACL) RestoreLines(lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	users := map[string]*aclUser{}
	for _, line := range lines {
		u, err := parseUserLine(line)
		if err != nil {
			return err
		}
		users[u.name] = u
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users.Store(&users)
	a.replicated = true
	return nil
}

// genPass is ACL GENPASS: bits of randomness as hex.
func genPass(bits int) string {
	b := make([]byte, (bits+7)/8)
	rand.Read(b)
	s := hex.EncodeToString(b)
	return s[:(bits+3)/4]
}
