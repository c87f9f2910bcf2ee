package resp

import (
	"slices"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/store"
)

// COMMAND and its subcommands answer from the command table.

func (s *Server) cmdCommand(conn redcon.Conn, _ *client, args [][]byte) {
	if len(args) == 1 {
		writeCommandInfos(conn, command.All())
		return
	}
	switch strings.ToLower(string(args[1])) {
	case "count":
		conn.WriteInt(len(command.All()))
	case "list":
		writeCommandList(conn, args[2:])
	case "info":
		writeCommandInfos(conn, specsNamed(args[2:]))
	case "docs":
		specs := specsNamed(args[2:])
		n := 0
		for _, sp := range specs {
			if sp != nil {
				n++
			}
		}
		conn.WriteArray(2 * n)
		for _, sp := range specs {
			if sp != nil {
				conn.WriteBulkString(sp.Name)
				writeCommandDocs(conn, sp)
			}
		}
	case "getkeys", "getkeysandflags":
		commandGetKeys(conn, args)
	}
}

// specsNamed returns the specs of the commands (or "container|sub"
// subcommands) named, nil for unknown names; every command when none are.
func specsNamed(names [][]byte) []*command.Spec {
	if len(names) == 0 {
		return command.All()
	}
	specs := make([]*command.Spec, len(names))
	for i, n := range names {
		specs[i], _ = command.Find(string(n))
	}
	return specs
}

// writeCommandList answers COMMAND LIST [FILTERBY MODULE m | ACLCAT c |
// PATTERN p].
func writeCommandList(conn redcon.Conn, filter [][]byte) {
	keep := func(*command.Spec) bool { return true }
	switch {
	case len(filter) == 0:
	case len(filter) == 3 && strings.EqualFold(string(filter[0]), "filterby"):
		arg := string(filter[2])
		switch strings.ToLower(string(filter[1])) {
		case "module":
			keep = func(*command.Spec) bool { return false } // rkv loads no modules
		case "aclcat":
			keep = func(sp *command.Spec) bool { return sp.InCategory(strings.ToLower(arg)) }
		case "pattern":
			keep = func(sp *command.Spec) bool { return store.GlobMatch(strings.ToLower(arg), sp.Name) }
		default:
			conn.WriteError(errSyntax)
			return
		}
	default:
		conn.WriteError(errSyntax)
		return
	}
	var names []string
	for _, sp := range command.All() {
		if keep(sp) {
			names = append(names, sp.Name)
		}
		for _, sub := range sp.Subcommands {
			if keep(sub) {
				names = append(names, sub.Name)
			}
		}
	}
	conn.WriteArray(len(names))
	for _, n := range names {
		conn.WriteBulkString(n)
	}
}

func writeCommandInfos(conn redcon.Conn, specs []*command.Spec) {
	conn.WriteArray(len(specs))
	for _, sp := range specs {
		if sp == nil {
			conn.WriteNull()
			continue
		}
		writeCommandInfo(conn, sp)
	}
}

// writeCommandInfo writes one command's COMMAND INFO entry, in Redis 7's
// shape: name, arity, flags, key positions, ACL categories, tips, key
// specs, subcommands.
func writeCommandInfo(conn redcon.Conn, sp *command.Spec) {
	conn.WriteArray(10)
	conn.WriteBulkString(sp.Name)
	conn.WriteInt(sp.Arity)
	writeStatuses(conn, "", sp.Flags)
	conn.WriteInt(sp.FirstKey)
	conn.WriteInt(sp.LastKey)
	conn.WriteInt(sp.Step)
	writeStatuses(conn, "@", sp.ACL)
	conn.WriteArray(len(sp.Tips))
	for _, t := range sp.Tips {
		conn.WriteBulkString(t)
	}
	conn.WriteArray(len(sp.KeySpecs))
	for _, ks := range sp.KeySpecs {
		conn.WriteArray(6)
		conn.WriteBulkString("flags")
		writeStatuses(conn, "", ks.Flags)
		conn.WriteBulkString("begin_search")
		writeSearch(conn, ks.BeginSearch)
		conn.WriteBulkString("find_keys")
		writeSearch(conn, ks.FindKeys)
	}
	conn.WriteArray(len(sp.Subcommands))
	for _, sub := range sp.Subcommands {
		writeCommandInfo(conn, sub)
	}
}

func writeStatuses(conn redcon.Conn, prefix string, list []string) {
	conn.WriteArray(len(list))
	for _, s := range list {
		conn.WriteString(prefix + s)
	}
}

// writeSearch writes a key spec's begin_search or find_keys: its type and
// the fields of that type.
func writeSearch(conn redcon.Conn, s command.Search) {
	conn.WriteArray(4)
	conn.WriteBulkString("type")
	conn.WriteBulkString(s.Type)
	conn.WriteBulkString("spec")
	intField := func(name string, v int) {
		conn.WriteBulkString(name)
		conn.WriteInt(v)
	}
	switch s.Type {
	case "index":
		conn.WriteArray(2)
		intField("index", s.Index)
	case "keyword":
		conn.WriteArray(4)
		conn.WriteBulkString("keyword")
		conn.WriteBulkString(s.Keyword)
		intField("startfrom", s.StartFrom)
	case "range":
		conn.WriteArray(6)
		intField("lastkey", s.LastKey)
		intField("keystep", s.KeyStep)
		intField("limit", s.Limit)
	case "keynum":
		conn.WriteArray(6)
		intField("keynumidx", s.KeyNumIdx)
		intField("firstkey", s.FirstKey)
		intField("keystep", s.KeyStep)
	default:
		conn.WriteArray(0)
	}
}

// field is one entry of a RESP2 map reply: its key and what writes its
// value.
type field struct {
	key   string
	write func()
}

// writeFields writes the fields present as a RESP2 map, in order.
func writeFields(conn redcon.Conn, fields []field) {
	fields = slices.DeleteFunc(fields, func(f field) bool { return f.write == nil })
	conn.WriteArray(2 * len(fields))
	for _, f := range fields {
		conn.WriteBulkString(f.key)
		f.write()
	}
}

// optional is a field's writer when present, nil otherwise.
func optional(present bool, write func()) func() {
	if !present {
		return nil
	}
	return write
}

// writeCommandDocs writes one command's COMMAND DOCS map: summary, since,
// group, doc flags, arguments and subcommands, as Redis 7 orders them.
func writeCommandDocs(conn redcon.Conn, sp *command.Spec) {
	writeFields(conn, []field{
		{"summary", func() { conn.WriteBulkString(sp.Summary) }},
		{"since", func() { conn.WriteBulkString(sp.Since) }},
		{"group", func() { conn.WriteBulkString(sp.Group) }},
		{"doc_flags", optional(len(sp.DocFlags) > 0, func() { writeStatuses(conn, "", sp.DocFlags) })},
		{"deprecated_since", optional(sp.DeprecatedSince != "", func() { conn.WriteBulkString(sp.DeprecatedSince) })},
		{"arguments", optional(len(sp.Args) > 0, func() { writeArgs(conn, sp.Args) })},
		{"subcommands", optional(len(sp.Subcommands) > 0, func() {
			conn.WriteArray(2 * len(sp.Subcommands))
			for _, sub := range sp.Subcommands {
				conn.WriteBulkString(sub.Name)
				writeCommandDocs(conn, sub)
			}
		})},
	})
}

func writeArgs(conn redcon.Conn, args []command.Arg) {
	conn.WriteArray(len(args))
	for _, a := range args {
		writeFields(conn, []field{
			{"name", func() { conn.WriteBulkString(a.Name) }},
			{"type", func() { conn.WriteBulkString(a.Type) }},
			{"key_spec_index", optional(a.KeySpecIndex != nil, func() { conn.WriteInt(*a.KeySpecIndex) })},
			// A pure token always has one, even empty (MIGRATE's "").
			{"token", optional(a.Token != "" || a.Type == "pure-token", func() { conn.WriteBulkString(a.Token) })},
			{"since", optional(a.Since != "", func() { conn.WriteBulkString(a.Since) })},
			{"flags", optional(len(a.Flags) > 0, func() { writeStatuses(conn, "", a.Flags) })},
			{"deprecated_since", optional(a.DeprecatedSince != "", func() { conn.WriteBulkString(a.DeprecatedSince) })},
			{"arguments", optional(len(a.Args) > 0, func() { writeArgs(conn, a.Args) })},
		})
	}
}

// commandGetKeys answers COMMAND GETKEYS and GETKEYSANDFLAGS from the key
// specs of the command (or subcommand) given, checked in Redis's order.
func commandGetKeys(conn redcon.Conn, args [][]byte) {
	cmdArgs := args[2:]
	sp, ok := specFor(cmdArgs)
	switch {
	case !ok:
		conn.WriteError("ERR Invalid command specified")
		return
	case !sp.HasKeys():
		conn.WriteError("ERR The command has no key arguments")
		return
	case !sp.ArityFits(len(cmdArgs)):
		conn.WriteError("ERR Invalid number of arguments specified for command")
		return
	}
	keys, ok := sp.KeysBySpecs(cmdArgs)
	if !ok || len(keys) == 0 {
		// Where the key specs fail, Redis falls back to the command's
		// own key finder, which finds none (EVAL with a bad numkeys).
		if sp.Has("no_mandatory_keys") {
			conn.WriteArray(0)
			return
		}
		conn.WriteError("ERR Invalid arguments specified for command")
		return
	}
	withFlags := strings.EqualFold(string(args[1]), "getkeysandflags")
	conn.WriteArray(len(keys))
	for _, k := range keys {
		if !withFlags {
			conn.WriteBulk(cmdArgs[k.Pos])
			continue
		}
		conn.WriteArray(2)
		conn.WriteBulk(cmdArgs[k.Pos])
		writeStatuses(conn, "", k.Flags)
	}
}

// routeOf is a server command as the store's routing knows commands, for
// the redirects of those answered through the log (WATCH, EXEC, ACL).
func routeOf(name string) *store.Command {
	sp, ok := command.Lookup([]byte(name))
	if !ok {
		panic("resp: no command table entry for " + name)
	}
	return &store.Command{Spec: sp}
}

// specFor returns the spec of the command args name or, for a container
// given a subcommand, of that subcommand (none if it has no such).
func specFor(args [][]byte) (*command.Spec, bool) {
	if len(args) == 0 {
		return nil, false
	}
	sp, ok := command.Lookup(args[0])
	if !ok {
		return nil, false
	}
	if len(sp.Subcommands) > 0 && len(args) > 1 {
		return sp.Sub(string(args[1]))
	}
	return sp, true
}
