package script

import (
	"strconv"
	"strings"
)

// CallArgs checks a script command (name is EVAL, EVALSHA, FCALL or an
// _RO form, in lower case; args its arguments, the name first) in Redis's
// order — a function that does not exist, a sha of the wrong length, then
// numkeys — and splits the rest into KEYS and ARGV.
func (e *Engine) CallArgs(name string, args [][]byte) (keys, argv [][]byte, err error) {
	fcall := strings.HasPrefix(name, "fcall")
	switch {
	case fcall:
		if _, ok := e.FunctionFlags(string(args[1])); !ok {
			return nil, nil, ReplyError("ERR Function not found")
		}
	case strings.HasPrefix(name, "evalsha") && len(args[1]) != 40:
		return nil, nil, ErrNoScript
	}
	n, perr := strconv.ParseInt(string(args[2]), 10, 64)
	switch {
	case perr != nil && fcall:
		return nil, nil, ReplyError("ERR Bad number of keys provided")
	case perr != nil:
		return nil, nil, ReplyError("ERR value is not an integer or out of range")
	case n > int64(len(args)-3):
		return nil, nil, ReplyError("ERR Number of keys can't be greater than number of args")
	case n < 0:
		return nil, nil, ReplyError("ERR Number of keys can't be negative")
	}
	return args[3 : 3+n], args[3+n:], nil
}
