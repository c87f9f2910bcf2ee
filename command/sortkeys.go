package command

import "strings"

// keyProcs find the keys of the commands whose key specs cannot (Redis's
// getkeys_proc, which it falls back to when a spec's search is
// "unknown").
var keyProcs = map[string]func(args [][]byte) []KeyPos{
	"sort": sortKeys,
	// Its one key spec Redis can read is the sorted key.
	"sort_ro": func(args [][]byte) []KeyPos { return sortKeys(args[:min(len(args), 2)]) },
}

// sortKeys is Redis's sortGetKeys: the sorted key, and the key after the
// last STORE, skipping the arguments of LIMIT, GET and BY as SORT's parser
// reads them.
func sortKeys(args [][]byte) []KeyPos {
	if len(args) < 2 {
		return nil // short of SORT's arity
	}
	keys := []KeyPos{{Pos: 1, Flags: []string{"RO", "access"}}}
	store := 0
	for i := 2; i < len(args); i++ {
		switch a := string(args[i]); {
		case strings.EqualFold(a, "limit"):
			i += 2
		case strings.EqualFold(a, "get"), strings.EqualFold(a, "by"):
			i++
		case strings.EqualFold(a, "store") && i+1 < len(args):
			store = i + 1
		}
	}
	if store != 0 {
		keys = append(keys, KeyPos{Pos: store, Flags: []string{"OW", "update"}})
	}
	return keys
}
