package store

import (
	"bytes"
	"slices"
	"strings"
)

// Command describes one command for routing and for COMMAND INFO replies.
type Command struct {
	Name                    string   // lower case
	Arity                   int      // Redis convention: >0 exact, <0 at least -Arity (counting the name)
	Flags                   []string // Redis 7 flags, e.g. "write", "denyoom", "fast"
	FirstKey, LastKey, Step int      // Redis key positions (LastKey -1 = last argument)
	Write                   bool     // must go through the Raft log

	exec func(s *Store, m mode, args [][]byte, out []byte) []byte
}

// Keyless reports whether the command names no key at all (DBSIZE, KEYS,
// SCAN): not merely keys that only its arguments locate, which Redis
// flags "movablekeys" (ZUNION, SINTERCARD, XREAD...).
func (c *Command) Keyless() bool {
	return c.FirstKey == 0 && !slices.Contains(c.Flags, "movablekeys")
}

// DenyOOM reports whether the command may grow memory, so that it is
// refused while memory is over maxmemory (Redis's "denyoom" flag).
func (c *Command) DenyOOM() bool { return slices.Contains(c.Flags, "denyoom") }

// ArityOK reports whether n arguments (the name included) fit the arity.
func (c *Command) ArityOK(n int) bool { return ArityFits(c.Arity, n) }

// ArityFits reports whether n arguments (the name included) fit a Redis
// arity: exactly arity when positive, at least -arity when negative.
func ArityFits(arity, n int) bool {
	if arity >= 0 {
		return n == arity
	}
	return n >= -arity
}

var (
	wr   = []string{"write"}
	wrD  = []string{"write", "denyoom"}
	wrF  = []string{"write", "fast"}
	wrDF = []string{"write", "denyoom", "fast"}
	ro   = []string{"readonly"}
	roF  = []string{"readonly", "fast"}
)

// commands is the table, sorted by name: each file's commands, beside their
// code. Arity, flags and key positions are Redis 7.0's.
var commands = table(stringCommands, keyCommands, hashCommands, listCommands,
	setCommands, zsetCommands, streamCommands)

// groupOf names each command's group, after the file that holds it:
// string, keyspace, hash, list, set, sortedset or stream, the names of
// Redis's ACL categories for them.
var groupOf = func() map[string]string {
	m := map[string]string{}
	for group, cmds := range map[string][]*Command{"string": stringCommands, "keyspace": keyCommands,
		"hash": hashCommands, "list": listCommands, "set": setCommands, "sortedset": zsetCommands, "stream": streamCommands} {
		for _, c := range cmds {
			m[c.Name] = group
		}
	}
	return m
}()

// Group is the command's data type group (see groupOf).
func (c *Command) Group() string { return groupOf[c.Name] }

func table(parts ...[]*Command) []*Command {
	all := slices.Concat(parts...)
	slices.SortFunc(all, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
	return all
}

var byName = func() map[string]*Command {
	m := make(map[string]*Command, len(commands))
	for _, c := range commands {
		m[c.Name] = c
	}
	return m
}()

// maxNameLen bounds the stack buffer Lookup lowercases into.
const maxNameLen = 32

// Lookup finds a command by name, ignoring case, without allocating.
func Lookup(name []byte) (*Command, bool) {
	if len(name) > maxNameLen {
		return nil, false
	}
	var buf [maxNameLen]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	c, ok := byName[string(buf[:len(name)])] // the conversion does not allocate in a map index
	return c, ok
}

// Commands returns every command this package executes, sorted by name. The
// slice is a copy; the commands are shared and must not be modified.
func Commands() []*Command {
	return slices.Clone(commands)
}

// Redis 7.0's error replies, with their prefixes.
const (
	errSyntax     = "ERR syntax error"
	errNotInt     = "ERR value is not an integer or out of range"
	errNotFloat   = "ERR value is not a valid float"
	errOverflow   = "ERR increment or decrement would overflow"
	errNaN        = "ERR increment would produce NaN or Infinity"
	errTooBig     = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	errOffset     = "ERR offset is out of range"
	errNoKey      = "ERR no such key"
	errCursor     = "ERR invalid cursor"
	errDecrOverfl = "ERR decrement would overflow"
	errSameObj    = "ERR source and destination objects are the same"
)

func appendErr(out []byte, msg string) []byte {
	out = append(out, '-')
	out = append(out, msg...)
	return append(out, '\r', '\n')
}

// appendExpireErr is Redis's "invalid expire time in '<cmd>' command".
func appendExpireErr(out []byte, cmd string) []byte {
	out = append(out, "-ERR invalid expire time in '"...)
	out = append(out, cmd...)
	return append(out, "' command\r\n"...)
}

func appendArity(out []byte, name string) []byte {
	out = append(out, "-ERR wrong number of arguments for '"...)
	out = append(out, name...)
	return append(out, "' command\r\n"...)
}

// appendUnknown builds Redis's unknown-command error, quoting the leading
// arguments up to 128 bytes as processCommand does.
func appendUnknown(out []byte, args [][]byte) []byte {
	var b strings.Builder
	name := cString(args[0])
	if len(name) > 128 {
		name = name[:128]
	}
	b.WriteString("ERR unknown command '")
	b.Write(name)
	b.WriteString("', with args beginning with: ")
	n := 0
	for _, a := range args[1:] {
		if n >= 128 {
			break
		}
		a = cString(a)
		if len(a) > 128-n {
			a = a[:128-n]
		}
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
		n += len(a) + 3
	}
	msg := strings.NewReplacer("\r", " ", "\n", " ").Replace(b.String())
	return appendErr(out, msg)
}

// cString cuts b at its first NUL: Redis formats arguments into error
// messages as C strings, so nothing after a NUL shows.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
