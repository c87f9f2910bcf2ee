package main

// --config: a file in redis.conf's syntax whose directives are Redis's
// CONFIG parameters and rkv's flags by name. The file is read first and the
// command line after it, so that a flag given on the command line wins.

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rkv/rkv/internal/conffile"
	"github.com/rkv/rkv/resp"
)

// fileConfig is what a config file gave beyond the flags it set.
type fileConfig struct {
	// params are the CONFIG parameters set by the file that are not
	// flags, by name.
	params map[string]string
	// origin says where each flag the file set was set ("path:line").
	origin map[string]string
}

// exclusiveFlags are flags of which a node is given one: one given on the
// command line drops the other one of its pair the file gives.
var exclusiveFlags = [][2]string{
	{"id", "id-from-hostname"},
	{"requirepass", "requirepass-file"},
	{"cluster-secret", "cluster-secret-file"},
	{"cluster", "join"},
}

// unsupportedDirectives are directives of redis.conf rkv has no use for,
// and why.
var unsupportedDirectives = map[string]string{
	"user":           "rkv reads its users from --aclfile (aclfile in this file)",
	"rename-command": "rkv does not rename commands",
	"loadmodule":     "rkv loads no modules",
	"sentinel":       "sentinel directive while not in sentinel mode",
	"config":         "a config file cannot name another with config: use include",
}

// loadConfigFile sets fs's flags from the file at path, then parses args
// again over them; given are the flags args set. It returns the flags set
// in the end and what else the file gave.
func loadConfigFile(fs *flag.FlagSet, path string, args []string, given map[string]bool) (map[string]bool, *fileConfig, error) {
	dirs, err := conffile.Read(path)
	if err != nil {
		return nil, nil, configFileError(err)
	}
	out := &fileConfig{params: map[string]string{}, origin: map[string]string{}}
	params := resp.NewFileConfig(func(p string) bool { return fs.Lookup(p) != nil })
	paramLine := map[string]conffile.Directive{}
	// bind and port set the host and the port of --addr.
	host, port, _ := net.SplitHostPort(fs.Lookup("addr").DefValue)
	var addrLine *conffile.Directive
	for _, d := range dirs {
		name, vals := d.Args[0], d.Args[1:]
		fail := func(reason string) error { return configFileError(d.Fail(reason)) }
		if why, ok := unsupportedDirectives[name]; ok || strings.Contains(name, ".") {
			if !ok {
				why = "rkv loads no modules, so it has no module parameters"
			}
			return nil, nil, fail(why)
		}
		switch {
		case deprecatedDirective(name, len(vals)):
		case name == "bind":
			h, err := bindHost(vals)
			if err != nil {
				return nil, nil, fail(err.Error())
			}
			host, addrLine = h, &d
		case name == "port":
			n, err := strconv.ParseUint(strings.Join(vals, " "), 10, 16)
			if len(vals) != 1 || err != nil || n == 0 {
				return nil, nil, fail("argument must be a port between 1 and 65535 (rkv always listens for clients)")
			}
			port, addrLine = vals[0], &d
		case name == "addr":
			if len(vals) != 1 {
				return nil, nil, fail("wrong number of arguments")
			}
			h, p, err := net.SplitHostPort(vals[0])
			if err != nil {
				return nil, nil, fail(err.Error())
			}
			host, port, addrLine = h, p, &d
		case resp.IsConfigParam(name):
			param, complaint := params.Add(name, vals)
			if complaint != "" {
				return nil, nil, fail(complaint)
			}
			paramLine[param] = d
		case fs.Lookup(name) != nil:
			if len(vals) != 1 {
				return nil, nil, fail("wrong number of arguments")
			}
			if err := setFlag(fs, name, vals[0]); err != nil {
				return nil, nil, fail(err.Error())
			}
			out.origin[name] = where(d)
		default:
			return nil, nil, fail("Bad directive or wrong number of arguments")
		}
	}
	if addrLine != nil {
		if err := fs.Set("addr", net.JoinHostPort(host, port)); err != nil {
			return nil, nil, configFileError(addrLine.Fail(err.Error()))
		}
		out.origin["addr"] = where(*addrLine)
	}
	order, values := params.Params()
	for _, p := range order {
		if fs.Lookup(p) == nil {
			out.params[p] = values[p]
			continue
		}
		if err := setFlag(fs, p, values[p]); err != nil {
			return nil, nil, configFileError(paramLine[p].Fail(err.Error()))
		}
		out.origin[p] = where(paramLine[p])
	}
	// The command line again, over the file.
	if err := fs.Parse(args); err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	set := map[string]bool{}
	for name := range out.origin {
		set[name] = true
	}
	for name := range given {
		set[name] = true
	}
	for _, pair := range exclusiveFlags {
		for i, name := range pair {
			other := pair[1-i]
			if given[name] && !given[other] && set[other] {
				if err := fs.Set(other, fs.Lookup(other).DefValue); err != nil {
					return nil, nil, err
				}
				delete(set, other)
				delete(out.origin, other)
			}
		}
	}
	for name := range given {
		delete(out.origin, name)
	}
	return set, out, nil
}

// setFlag sets a flag from a file's value; a switch takes yes or no, as
// Redis's do.
func setFlag(fs *flag.FlagSet, name, v string) error {
	if b, ok := fs.Lookup(name).Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		switch strings.ToLower(v) {
		case "yes":
			v = "true"
		case "no":
			v = "false"
		}
	}
	if fs.Set(name, v) == nil {
		return nil
	}
	// The flag package says only "parse error": say what was wanted.
	switch fs.Lookup(name).Value.(flag.Getter).Get().(type) {
	case time.Duration:
		return errors.New("argument must be a duration such as 500ms, 2s or 1m")
	case bool:
		return errors.New("argument must be 'yes' or 'no'")
	case uint64:
		return errors.New("argument must be a non-negative integer")
	}
	return errors.New("argument couldn't be parsed into an integer")
}

// bindHost reads bind: rkv listens on one address, the first; the others
// must be optional ones (a leading -), which Redis skips when they are
// not available. * is every interface.
func bindHost(addrs []string) (string, error) {
	if len(addrs) == 0 {
		return "", errors.New("wrong number of arguments")
	}
	for _, a := range addrs[1:] {
		if !strings.HasPrefix(a, "-") {
			return "", errors.New("rkv listens on one address: give one, or mark the others optional with a leading -")
		}
	}
	h := strings.TrimPrefix(addrs[0], "-")
	switch h {
	case "":
		return "", errors.New("rkv needs an address to listen on")
	case "*":
		return "0.0.0.0", nil
	}
	return h, nil
}

// deprecatedDirective reports the directives Redis 7.0 still accepts and
// ignores.
func deprecatedDirective(name string, nargs int) bool {
	return nargs == 1 && slices.Contains([]string{"list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"}, name)
}

func where(d conffile.Directive) string {
	return fmt.Sprintf("%s:%d", d.Path, d.Line)
}

// configFileError is a config file's error as Redis reports one.
func configFileError(err error) error {
	var le *conffile.Error
	if errors.As(err, &le) {
		return &usageError{fmt.Sprintf("*** FATAL CONFIG FILE ERROR (Redis %s) *** %v", resp.RedisVersion, err)}
	}
	return &usageError{fmt.Sprintf("--config: %v", err)}
}

// fileOrigin adds to a flag error where the file set the flags it names.
func fileOrigin(msg string, origin map[string]string) string {
	names := make([]string, 0, len(origin))
	for name := range origin {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if mentionsFlag(msg, name) {
			msg += fmt.Sprintf(" (%s is set at %s)", name, origin[name])
		}
	}
	return msg
}

// mentionsFlag reports whether msg names --name, and not a longer flag
// that begins with it.
func mentionsFlag(msg, name string) bool {
	for rest := msg; ; {
		i := strings.Index(rest, "--"+name)
		if i < 0 {
			return false
		}
		rest = rest[i+2+len(name):]
		if rest == "" || !(rest[0] == '-' || 'a' <= rest[0] && rest[0] <= 'z') {
			return true
		}
	}
}
