package script

import (
	"bytes"
	"strings"

	"github.com/rkv/rkv/internal/sds"
)

// Flags are a script's or function's flags (the shebang's flags=, or
// register_function's flags).
type Flags uint8

const (
	FlagNoWrites Flags = 1 << iota
	FlagAllowOOM
	FlagAllowStale
	FlagNoCluster
	FlagAllowCrossSlot
	// FlagEvalCompat marks an EVAL script without a shebang: Redis runs
	// it in compatibility mode, where flags are not checked.
	FlagEvalCompat
)

// flagNames are the flag names in Redis's order (scripts_flags_def).
var flagNames = []struct {
	flag Flags
	name string
}{
	{FlagNoWrites, "no-writes"},
	{FlagAllowOOM, "allow-oom"},
	{FlagAllowStale, "allow-stale"},
	{FlagNoCluster, "no-cluster"},
	{FlagAllowCrossSlot, "allow-cross-slot-keys"},
}

// Names returns the flags' names in Redis's order.
func (f Flags) Names() []string {
	names := []string{}
	for _, fn := range flagNames {
		if f&fn.flag != 0 {
			names = append(names, fn.name)
		}
	}
	return names
}

// ParseShebang reads the "#!lua flags=..." first line of an EVAL script
// as evalExtractShebangFlags does. It returns the flags (FlagEvalCompat
// without a shebang) and the length of the shebang line, without its
// newline.
func ParseShebang(body []byte) (Flags, int, error) {
	if !bytes.HasPrefix(body, []byte("#!")) {
		return FlagEvalCompat, 0, nil
	}
	end := bytes.IndexByte(body, '\n')
	if end < 0 {
		return 0, 0, ReplyError("ERR Invalid script shebang")
	}
	parts, ok := sds.SplitArgs(string(body[:end]))
	if !ok || len(parts) == 0 {
		return 0, 0, ReplyError("ERR Invalid engine in script shebang")
	}
	if parts[0] != "#!lua" {
		return 0, 0, ReplyError("ERR Unexpected engine in script shebang: " + parts[0])
	}
	var flags Flags
	for _, p := range parts[1:] {
		list, ok := strings.CutPrefix(p, "flags=")
		if !ok {
			return 0, 0, ReplyError("ERR Unknown lua shebang option: " + p)
		}
		if list == "" {
			continue
		}
		for _, name := range strings.Split(list, ",") {
			f, ok := flagByName(name, false)
			if !ok {
				return 0, 0, ReplyError("ERR Unexpected flag in script shebang: " + name)
			}
			flags |= f
		}
	}
	return flags, end, nil
}

func flagByName(name string, foldCase bool) (Flags, bool) {
	for _, fn := range flagNames {
		if name == fn.name || (foldCase && strings.EqualFold(name, fn.name)) {
			return fn.flag, true
		}
	}
	return 0, false
}
