package resp

// The configuration file's side of CONFIG: the values of the table's
// parameters a file sets at start (cmd/rkv reads the file), and CONFIG
// REWRITE, which writes the values back into it as Redis 7.0's config.c
// does.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/rkv/rkv/internal/atomicfile"
	"github.com/rkv/rkv/internal/conffile"
	"github.com/rkv/rkv/internal/sds"
)

// FileConfig collects the values a configuration file gives the CONFIG
// parameters, line by line.
type FileConfig struct {
	// viaFlag reports the parameters cmd/rkv sets through its flags,
	// which hold their values whatever the table says of them.
	viaFlag func(param string) bool
	values  map[string]string
	order   []string
}

// NewFileConfig starts an empty file's values; viaFlag names the
// parameters that are also flags of rkv.
func NewFileConfig(viaFlag func(param string) bool) *FileConfig {
	return &FileConfig{viaFlag: viaFlag, values: map[string]string{}}
}

// IsConfigParam reports whether name (lowercase) names a CONFIG
// parameter or an alias of one.
func IsConfigParam(name string) bool {
	_, ok := cfgIndex[name]
	return ok
}

// Add reads a line setting the parameter name (lowercase; a name or an
// alias) to args. It returns the parameter's name, or Redis's complaint
// about the line. As in Redis, the last line of a parameter wins, except
// that the lines of save and client-output-buffer-limit add up, and `save
// ""` clears the save lines before it.
func (f *FileConfig) Add(name string, args []string) (param, complaint string) {
	p := cfgIndex[name]
	if p.flags&cfgMultiArg == 0 && len(args) != 1 {
		return p.name, "wrong number of arguments"
	}
	if p.flags&cfgMultiArg != 0 && len(args) == 1 && args[0] != "" {
		// Redis splits a lone argument, so that "arg1 arg2" is two.
		split, ok := sds.SplitArgs(args[0])
		if !ok {
			return p.name, "Unbalanced quotes in configuration line"
		}
		args = split
	}
	v, msg := p.parse(strings.Join(args, " "))
	if msg != "" {
		return p.name, msg
	}
	if !f.viaFlag(p.name) {
		switch {
		case p.name == "replicaof":
			return p.name, "replicaof directive not allowed in cluster mode"
		case p.effect == effFixed && v != p.def:
			return p.name, p.why
		case p.effect == effLog && v != p.def:
			return p.name, p.name + " is set cluster-wide through the log: set it with CONFIG SET, which every node keeps across restarts"
		}
	}
	prev, seen := f.values[p.name]
	if !seen {
		f.order = append(f.order, p.name)
	}
	if seen && v != "" && (p.name == "save" || p.name == "client-output-buffer-limit") && prev != "" {
		v = prev + " " + v
	}
	f.values[p.name] = v
	return p.name, ""
}

// Params returns the parameters the file sets, in the order of their first
// lines, and their values.
func (f *FileConfig) Params() ([]string, map[string]string) {
	return f.order, f.values
}

// applyStartParams gives the parameters of cfg.Params their values, as
// CONFIG SET would on this node. The values the log holds are the
// cluster's, and the fixed ones are rkv's flags: both are left alone.
func (s *Server) applyStartParams() {
	for name, val := range s.cfg.Params {
		p := cfgIndex[name]
		if p == nil || p.effect == effLog || p.effect == effFixed {
			continue
		}
		v, msg := p.parse(val)
		if msg == "" {
			msg = s.applyConfig(p, v)
		}
		if msg != "" {
			s.logger.Warn("a configuration parameter was not applied", "name", name, "value", val, "err", msg)
		}
	}
}

// configRewrite answers CONFIG REWRITE.
func (s *Server) configRewrite() string {
	if s.cfg.ConfigFile == "" {
		return "ERR The server is running without a config file"
	}
	if err := s.rewriteConfigFile(); err != nil {
		s.logger.Warn("CONFIG REWRITE failed", "file", s.cfg.ConfigFile, "err", err)
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "ERR Rewriting config file: " + err.Error()
	}
	s.logger.Info("CONFIG REWRITE executed with success", "file", s.cfg.ConfigFile)
	return ""
}

// rewriteConfigFile writes the parameters' current values into the file,
// as Redis's rewriteConfig does: a parameter's lines are replaced in
// place, one not in the file is appended when it is not at its default,
// and the lines of rkv's own directives (its flags), of the fixed
// parameters (which rkv's flags set) and of the parameters the log keeps
// are left as they are.
func (s *Server) rewriteConfigFile() error {
	s.cfgSetMu.Lock()
	defer s.cfgSetMu.Unlock()
	old, err := os.ReadFile(s.cfg.ConfigFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	r := conffile.NewRewrite(old, func(name string) (string, bool) {
		if p, ok := cfgIndex[name]; ok {
			return p.name, true
		}
		return name, name == "include" || slices.Contains(s.cfg.FileDirectives, name)
	})
	for i := range configTable {
		s.rewriteParam(r, &configTable[i])
	}
	return atomicfile.WriteBytes(s.cfg.ConfigFile, 0o644, r.Content())
}

// rewriteParam gives one parameter its lines, in the form of Redis's
// rewrite function for its type.
func (s *Server) rewriteParam(r *conffile.Rewrite, p *cfgParam) {
	if p.effect == effFixed || p.effect == effLog {
		return
	}
	v := s.configValue(p)
	force := v != p.def
	switch p.name {
	case "replicaof":
		// A cluster node has no master: Redis drops its lines.
		r.Drop(p.name)
		return
	case "save":
		// Always written, `save ""` when empty, so that Redis's default
		// save points do not come back.
		args := multiArgs(v)
		if len(args) == 0 {
			r.Set(p.name, `save ""`, true)
		}
		for i := 0; i+1 < len(args); i += 2 {
			r.Set(p.name, "save "+args[i]+" "+args[i+1], true)
		}
		r.Drop(p.name)
		return
	case "latency-tracking-info-percentiles":
		if v == "" {
			v = `""`
		}
		r.Set(p.name, p.name+" "+v, true)
		return
	case "client-output-buffer-limit":
		rewriteOutputLimits(r, p.name, v)
		return
	}
	switch {
	case p.kind == kindNumber && p.flags&cfgMemory != 0 && !strings.HasSuffix(v, "%"):
		n, _ := strconv.ParseUint(v, 10, 64)
		v = formatMemory(n)
	case p.kind == kindString && v == "" && p.flags&cfgEmptyIsNull != 0:
		r.Drop(p.name)
		return
	case p.kind == kindString:
		v = sds.Repr([]byte(v))
	}
	r.Set(p.name, p.name+" "+v, force)
}

// rewriteOutputLimits writes client-output-buffer-limit a line a class,
// those at their defaults only in place of old lines.
func rewriteOutputLimits(r *conffile.Rewrite, name, v string) {
	defaults := multiArgs(formatOutputLimit(DefaultLimits()))
	f := multiArgs(v)
	for i := 0; i+3 < len(f); i += 4 {
		class := f[i]
		if class == "slave" {
			class = "replica"
		}
		hard, _ := strconv.ParseUint(f[i+1], 10, 64)
		soft, _ := strconv.ParseUint(f[i+2], 10, 64)
		force := !slices.Equal(f[i+1:i+4], defaults[i+1:i+4])
		r.Set(name, fmt.Sprintf("%s %s %s %s %s", name, class, formatMemory(hard), formatMemory(soft), f[i+3]), force)
	}
}

// formatMemory writes bytes with the largest unit that divides them, as
// Redis's rewriteConfigFormatMemory does.
func formatMemory(n uint64) string {
	for _, u := range []struct {
		size uint64
		unit string
	}{{1 << 30, "gb"}, {1 << 20, "mb"}, {1 << 10, "kb"}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatUint(n/u.size, 10) + u.unit
		}
	}
	return strconv.FormatUint(n, 10)
}
