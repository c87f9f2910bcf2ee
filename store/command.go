package store

import (
	"bytes"
	"slices"
	"strings"

	"github.com/rkv/rkv/command"
)

// Command describes one command for routing and for COMMAND INFO replies.
type Command struct {
	// Spec is the command's entry in the command table: name, arity,
	// flags, key positions.
	*command.Spec

	exec func(s *Store, m mode, args [][]byte, out []byte) []byte
}

// def is one command of a file's table: its executor beside the spec the
// command table holds for it.
func def(name string, exec func(s *Store, m mode, args [][]byte, out []byte) []byte) *Command {
	spec, ok := command.Lookup([]byte(name))
	if !ok {
		panic("store: no command table entry for " + name)
	}
	route := spec
	if len(spec.Subcommands) > 0 {
		route = routeSpec(spec)
	}
	if route.Runs != command.AsWrite && route.Runs != command.AsRead {
		panic("store: the command table does not run " + name + " on the keyspace")
	}
	c := &Command{Spec: route, exec: exec}
	bySpec[spec] = c
	return c
}

// routeSpec is a container's spec with the key positions and access its
// keyed subcommands share (OBJECT's all read the key at argument 2): the
// store routes and executes the container as one command.
func routeSpec(c *command.Spec) *command.Spec {
	r := *c
	for _, sub := range c.Subcommands {
		if sub.FirstKey == 0 {
			continue
		}
		access := "readonly"
		if sub.Has("write") {
			access = "write"
		}
		r.Runs = sub.Runs
		if r.FirstKey != 0 && (r.FirstKey != sub.FirstKey || r.LastKey != sub.LastKey || r.Step != sub.Step || !r.Has(access)) {
			panic("store: the keyed subcommands of " + c.Name + " differ in their keys")
		}
		r.FirstKey, r.LastKey, r.Step = sub.FirstKey, sub.LastKey, sub.Step
		r.Flags = append(slices.Clone(c.Flags), access)
	}
	return &r
}

// Writes reports whether the command must go through the Raft log.
func (c *Command) Writes() bool { return c.Runs == command.AsWrite }

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

// commands is the table, sorted by name: each file's commands, beside their
// code.
var commands = table(stringCommands, keyCommands, databaseCommands, hashCommands, listCommands,
	setCommands, zsetCommands, streamCommands, streamGroupCommands, blockingCommands, hllCommands,
	bitmapCommands, geoCommands, dumpCommands, sortCommands)

func table(parts ...[]*Command) []*Command {
	all := slices.Concat(parts...)
	slices.SortFunc(all, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
	return all
}

// bySpec finds the store's command for an entry of the command table.
var bySpec = map[*command.Spec]*Command{}

// Lookup finds a command by name, ignoring case, without allocating.
func Lookup(name []byte) (*Command, bool) {
	spec, ok := command.Lookup(name)
	if !ok {
		return nil, false
	}
	c, ok := bySpec[spec]
	return c, ok
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
