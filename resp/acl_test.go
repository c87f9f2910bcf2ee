package resp

import (
	"strings"
	"testing"

	"github.com/rkv/rkv/store"
)

func userFrom(t *testing.T, rules ...string) *aclUser {
	t.Helper()
	u := newUser("u")
	for _, r := range rules {
		if err := u.apply(r); err != nil {
			t.Fatalf("rule %q: %v", r, err)
		}
	}
	u.compile()
	return u
}

func argvOf(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

func TestACLRules(t *testing.T) {
	u := userFrom(t, "on", ">secret", "~cached:*", "%R~ro:*", "+get", "+@hash", "-hdel", "+client|setname")
	authed := &client{user: "u", authed: true}
	for _, c := range []struct {
		cmd, want string
	}{
		{"get cached:1", ""},
		{"get ro:1", ""},
		{"get other", errNoPermKey},
		{"set cached:1 v", "NOPERM this user has no permissions to run the 'set' command"},
		{"hset cached:h f v", ""},
		{"hset ro:h f v", errNoPermKey},
		{"hdel cached:h f", "NOPERM this user has no permissions to run the 'hdel' command"},
		{"client setname x", ""},
		{"client list", "NOPERM this user has no permissions to run the 'client|list' command"},
		{"auth u secret", ""},
	} {
		if got := permit(authed, u, argvOf(c.cmd)); got != c.want {
			t.Errorf("%s: %q, want %q", c.cmd, got, c.want)
		}
	}
	// Without @dangerous, no user may change the users, however many
	// other commands it has.
	ops := userFrom(t, "on", "nopass", "allkeys", "+@all", "-@dangerous")
	for cmd, want := range map[string]string{
		"acl setuser x on": "NOPERM this user has no permissions to run the 'acl|setuser' command",
		"acl list":         "NOPERM this user has no permissions to run the 'acl|list' command",
		"acl whoami":       "",
		"cluster failover": "NOPERM this user has no permissions to run the 'cluster|failover' command",
		"config set a b":   "NOPERM this user has no permissions to run the 'config|set' command",
		"flushall":         "NOPERM this user has no permissions to run the 'flushall' command",
		"set k v":          "",
	} {
		if got := permit(authed, ops, argvOf(cmd)); got != want {
			t.Errorf("+@all -@dangerous, %s: %q, want %q", cmd, got, want)
		}
	}
	if got := permit(&client{user: "u"}, u, argvOf("get cached:1")); got != errNoAuth {
		t.Errorf("unauthenticated GET: %q", got)
	}
	if !u.checkPassword([]byte("secret")) || u.checkPassword([]byte("wrong")) {
		t.Error("password check")
	}
	want := "user u on #" + hashPassword("secret") + " ~cached:* %R~ro:* resetchannels -@all +get +@hash -hdel +client|setname"
	if got := u.describe(); got != want {
		t.Errorf("describe:\n got %s\nwant %s", got, want)
	}
	back, err := parseUserLine(u.describe())
	if err != nil || back.describe() != u.describe() {
		t.Errorf("a described user does not read back: %v\n%s", err, back.describe())
	}
}

func TestACLRuleErrors(t *testing.T) {
	for rule, want := range map[string]string{
		"badrule":   "ERR Error in ACL SETUSER modifier 'badrule': Syntax error",
		"+nosuch":   "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL",
		"-@nosuch":  "ERR Error in ACL SETUSER modifier '-@nosuch': Unknown command or category name in ACL",
		"#abc":      "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
		"<missing":  "ERR Error in ACL SETUSER modifier '<missing': The password you are trying to remove from the user does not exist",
		"%X~pat":    "ERR Error in ACL SETUSER modifier '%X~pat': Syntax error",
		"(+get ~k)": "ERR Error in ACL SETUSER modifier '(+get ~k)': Syntax error",
	} {
		err := newUser("u").apply(rule)
		if err == nil || err.Error() != want {
			t.Errorf("rule %q: %v, want %q", rule, err, want)
		}
	}
}

// A key pattern after allkeys is refused for that before its own syntax
// is looked at, as Redis's ACLSetSelector does; ~* stays allowed.
func TestACLPatternAfterAllKeys(t *testing.T) {
	const afterAll = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	for _, rule := range []string{"~k*", "~a b", "%R~a\rb", "%X~k", "%R~*"} {
		u := newUser("u")
		if err := u.apply("allkeys"); err != nil {
			t.Fatal(err)
		}
		want := "ERR Error in ACL SETUSER modifier '" + rule + "': " + afterAll
		if err := u.apply(rule); err == nil || err.Error() != want {
			t.Errorf("rule %q after allkeys: %v, want %q", rule, err, want)
		}
	}
	u := newUser("u")
	if err := u.apply("allkeys"); err != nil {
		t.Fatal(err)
	}
	if err := u.apply("~*"); err != nil || !u.allKeys {
		t.Errorf("~* after allkeys: %v, allKeys %v", err, u.allKeys)
	}
}

// Changes come from the log and a snapshot carries them; before any, a
// snapshot carries no users, so each node keeps its command line's.
func TestACLReplicatedState(t *testing.T) {
	a, err := NewACL("pw", []string{"user ops on >ops ~* +@all"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.PasswordRequired() || a.user("ops") == nil {
		t.Fatal("command-line users missing")
	}
	if lines := a.SnapshotLines(); lines != nil {
		t.Fatalf("users in a snapshot before any change came through the log: %q", lines)
	}
	if got := string(a.ApplyLog(argvOf("setuser bob on nopass +get ~b*"))); got != "+OK\r\n" {
		t.Fatalf("setuser: %q", got)
	}
	if got := string(a.ApplyLog(argvOf("deluser default"))); !strings.Contains(got, "cannot be removed") {
		t.Fatalf("deluser default: %q", got)
	}
	b, _ := NewACL("", nil)
	if err := b.RestoreLines(a.SnapshotLines()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(b.list(), "\n") != strings.Join(a.list(), "\n") {
		t.Fatalf("restored users differ:\n%s\n---\n%s", strings.Join(b.list(), "\n"), strings.Join(a.list(), "\n"))
	}
	if got := string(a.ApplyLog(argvOf("deluser bob nobody"))); got != ":1\r\n" {
		t.Fatalf("deluser: %q", got)
	}
}

// A known command's wrong arity or unknown subcommand is what a client is
// told before NOAUTH or NOPERM, as Redis checks them first; the refusal
// closure in handle asks malformed before permit.
func TestMalformedBeforePermission(t *testing.T) {
	for cmd, want := range map[string]string{
		"acl getuser":     "ERR wrong number of arguments for 'acl|getuser' command",
		"acl":             "ERR wrong number of arguments for 'acl' command",
		"acl nosuch":      "ERR unknown subcommand 'nosuch'. Try ACL HELP.",
		"get":             "ERR wrong number of arguments for 'get' command",
		"get k":           "",
		"acl getuser u":   "",
		"exec x":          "",
		"nosuchcommand x": "",
	} {
		args := argvOf(cmd)
		sc, _ := store.Lookup(args[0])
		if got := malformed(sc, args); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
}
