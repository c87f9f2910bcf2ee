package command

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Spec is what rkv knows about one command or subcommand.
type Spec struct {
	// Name is lower case; a subcommand's is "container|sub".
	Name string `json:"name"`
	// Arity follows Redis: >0 exactly that many arguments (the name
	// included), <0 at least -Arity.
	Arity int `json:"arity"`
	// Flags are Redis 7's command flags: "write", "readonly", "denyoom",
	// "admin", "noscript", "loading", "stale", "fast", ...
	Flags []string `json:"flags"`
	// FirstKey, LastKey and Step are the legacy key positions COMMAND
	// INFO reports (LastKey -1: the last argument).
	FirstKey int `json:"first_key"`
	LastKey  int `json:"last_key"`
	Step     int `json:"step"`
	// ACL lists the command's ACL categories, without the '@'.
	ACL  []string `json:"acl"`
	Tips []string `json:"tips,omitempty"`
	// KeySpecs locate the command's keys as Redis 7 reports them.
	KeySpecs []KeySpec `json:"key_specs,omitempty"`
	// Group and Since are COMMAND DOCS's group and first version.
	Group           string   `json:"group"`
	Since           string   `json:"since"`
	DocFlags        []string `json:"doc_flags,omitempty"`
	DeprecatedSince string   `json:"deprecated_since,omitempty"`
	Args            []Arg    `json:"arguments,omitempty"`
	// Subcommands, sorted by name; empty for a plain command.
	Subcommands []*Spec `json:"subcommands,omitempty"`
	// Summary is a one-line description in rkv's words (summaries.go).
	Summary string `json:"-"`
	// Runs is where rkv runs the command (where.go).
	Runs Where `json:"-"`
}

// KeySpec is one Redis 7 key specification: where the search for keys
// begins and how keys are found from there.
type KeySpec struct {
	Flags       []string `json:"flags"`
	BeginSearch Search   `json:"begin_search"`
	FindKeys    Search   `json:"find_keys"`
}

// Search is a begin_search ("index", "keyword" or "unknown") or a
// find_keys ("range", "keynum" or "unknown") step of a key spec; only the
// fields of its type are meaningful.
type Search struct {
	Type string `json:"type"`
	// index
	Index int `json:"index,omitempty"`
	// keyword
	Keyword   string `json:"keyword,omitempty"`
	StartFrom int    `json:"startfrom,omitempty"`
	// range
	LastKey int `json:"lastkey,omitempty"`
	KeyStep int `json:"keystep,omitempty"`
	Limit   int `json:"limit,omitempty"`
	// keynum (and KeyStep)
	KeyNumIdx int `json:"keynumidx,omitempty"`
	FirstKey  int `json:"firstkey,omitempty"`
}

// Arg is one argument of a command as COMMAND DOCS describes it.
type Arg struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	KeySpecIndex    *int     `json:"key_spec_index,omitempty"`
	Token           string   `json:"token,omitempty"`
	Since           string   `json:"since,omitempty"`
	Flags           []string `json:"flags,omitempty"`
	DeprecatedSince string   `json:"deprecated_since,omitempty"`
	Args            []Arg    `json:"arguments,omitempty"`
}

// Has reports whether the command has the flag.
func (s *Spec) Has(flag string) bool { return slices.Contains(s.Flags, flag) }

// InCategory reports whether the command is in the ACL category (without
// the '@').
func (s *Spec) InCategory(cat string) bool { return slices.Contains(s.ACL, cat) }

// ArityFits reports whether n arguments (the name included) fit the
// command's arity.
func (s *Spec) ArityFits(n int) bool {
	if s.Arity >= 0 {
		return n == s.Arity
	}
	return n >= -s.Arity
}

// Sub returns the subcommand named sub (any case) of a container command.
func (s *Spec) Sub(sub string) (*Spec, bool) {
	name := s.Name + "|" + strings.ToLower(sub)
	i, ok := slices.BinarySearchFunc(s.Subcommands, name, func(c *Spec, n string) int { return strings.Compare(c.Name, n) })
	if !ok {
		return nil, false
	}
	return s.Subcommands[i], true
}

//go:embed redis7.json
var redis7 []byte

// table is every command, sorted by name; byName indexes it.
var (
	table  []*Spec
	byName map[string]*Spec
)

func init() {
	if err := json.Unmarshal(redis7, &table); err != nil {
		panic(fmt.Sprintf("command: redis7.json: %v", err))
	}
	for _, e := range extras {
		addExtra(e)
	}
	byName = make(map[string]*Spec, len(table))
	for _, s := range table {
		byName[s.Name] = s
		s.Summary = summaries[s.Name]
		s.Runs = whereOf(s.Name, s)
		for _, sub := range s.Subcommands {
			sub.Summary = summaries[sub.Name]
			sub.Runs = s.Runs
			if s.Runs != OnConnection && s.Runs != OnServer {
				sub.Runs = whereOf(s.Name, sub)
			}
		}
	}
}

// addExtra adds a spec of rkv's own, a subcommand to its container.
func addExtra(e *Spec) {
	container, _, isSub := strings.Cut(e.Name, "|")
	if !isSub {
		table = append(table, e)
		slices.SortFunc(table, func(a, b *Spec) int { return strings.Compare(a.Name, b.Name) })
		return
	}
	i := slices.IndexFunc(table, func(s *Spec) bool { return s.Name == container })
	if i < 0 {
		panic("command: no container for " + e.Name)
	}
	c := table[i]
	c.Subcommands = append(c.Subcommands, e)
	slices.SortFunc(c.Subcommands, func(a, b *Spec) int { return strings.Compare(a.Name, b.Name) })
}

// maxNameLen bounds the stack buffer Lookup lowercases into.
const maxNameLen = 32

// Lookup finds a command by name, ignoring case, without allocating.
func Lookup(name []byte) (*Spec, bool) {
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
	s, ok := byName[string(buf[:len(name)])] // the conversion does not allocate in a map index
	return s, ok
}

// Find finds a command, or with "container|sub" a subcommand, by name.
func Find(name string) (*Spec, bool) {
	container, sub, isSub := strings.Cut(strings.ToLower(name), "|")
	s, ok := byName[container]
	if !ok || !isSub {
		return s, ok
	}
	return s.Sub(sub)
}

// All returns every command, sorted by name. The specs are shared and
// must not be modified.
func All() []*Spec { return slices.Clone(table) }

// KeyPos is a key found in a command's arguments: its position and the
// flags of the key spec that found it.
type KeyPos struct {
	Pos   int
	Flags []string
}

// HasKeys reports whether the command names keys at all.
func (s *Spec) HasKeys() bool {
	return slices.ContainsFunc(s.KeySpecs, func(ks KeySpec) bool { return !slices.Contains(ks.Flags, "not_key") })
}

// KeysBySpecs finds the keys in args (the name first) as Redis 7 does
// from the key specs: each begin_search gives where a spec's keys start
// (an index, or the argument after a keyword), its find_keys how many
// there are (a range, or a count read from an argument). It reports false
// when a key count does not parse or a spec's keys lie outside the
// arguments, as Redis's getKeysUsingKeySpecs does, with the keys of the
// specs before. A command whose specs cannot tell (SORT) has its own
// finder, as in Redis.
func (s *Spec) KeysBySpecs(args [][]byte) ([]KeyPos, bool) {
	if proc := keyProcs[s.Name]; proc != nil {
		return proc(args), true
	}
	var keys []KeyPos
	argc := len(args)
	for _, ks := range s.KeySpecs {
		if slices.Contains(ks.Flags, "not_key") {
			continue
		}
		first := 0
		switch ks.BeginSearch.Type {
		case "index":
			first = ks.BeginSearch.Index
		case "keyword":
			first = keywordEnd(args, ks.BeginSearch)
			if first == 0 {
				continue
			}
		default:
			return nil, false
		}
		var last, step int
		switch fk := ks.FindKeys; fk.Type {
		case "range":
			switch {
			case fk.LastKey >= 0:
				last = first + fk.LastKey
			case fk.Limit == 0:
				last = argc + fk.LastKey
			default:
				last = first + (argc-first)/fk.Limit + fk.LastKey
			}
			step = fk.KeyStep
		case "keynum":
			if fk.KeyNumIdx >= argc-first {
				return nil, false
			}
			n, err := strconv.ParseInt(string(args[first+fk.KeyNumIdx]), 10, 32)
			if err != nil || n < 0 {
				return nil, false
			}
			first += fk.FirstKey
			last = first + int(n) - 1
			step = fk.KeyStep
		default:
			return nil, false
		}
		if last >= argc || last < first || first >= argc {
			// A syntax error as Redis sees it (PFMERGE without sources):
			// the keys found so far still go to ACL checks.
			return keys, false
		}
		flags := ks.Flags
		if refine := variableFlags[s.Name]; refine != nil && slices.Contains(flags, "variable_flags") {
			flags = refine(args)
		}
		for i := first; i <= last; i += max(step, 1) {
			if i >= argc {
				return nil, false
			}
			keys = append(keys, KeyPos{Pos: i, Flags: flags})
		}
	}
	return keys, true
}

// variableFlags gives the key flags of the commands whose key spec says
// they depend on the arguments ("variable_flags"): SET only reads its key
// when asked to return the old value.
var variableFlags = map[string]func(args [][]byte) []string{
	"set": func(args [][]byte) []string {
		if len(args) > 3 && slices.ContainsFunc(args[3:], func(a []byte) bool { return strings.EqualFold(string(a), "get") }) {
			return []string{"RW", "access", "update"}
		}
		return []string{"OW", "update"}
	},
	// BITFIELD reads only when every operation is a GET (or OVERFLOW);
	// anything else, a syntax error included, counts as a write, as
	// Redis's bitfieldGetKeys decides.
	"bitfield": func(args [][]byte) []string {
		for i := 2; i < len(args); i++ {
			more := len(args) - i - 1
			switch op := strings.ToLower(string(args[i])); {
			case op == "get" && more >= 2:
				i += 2
			case op == "overflow" && more >= 1:
				i++
			default:
				return []string{"RW", "access", "update"}
			}
		}
		return []string{"RO", "access"}
	},
}

// keywordEnd returns the position after a begin_search keyword, searched
// from startfrom (from the end, backwards, when negative), or 0 when the
// keyword is not there.
func keywordEnd(args [][]byte, bs Search) int {
	argc := len(args)
	start, end := bs.StartFrom, argc-1
	if bs.StartFrom <= 0 {
		start, end = argc+bs.StartFrom, 0
	}
	for i := start; i != end; {
		if i >= argc || i < 1 {
			break
		}
		if strings.EqualFold(string(args[i]), bs.Keyword) {
			return i + 1
		}
		if start <= end {
			i++
		} else {
			i--
		}
	}
	return 0
}
