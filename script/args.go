package script

import "strconv"

// SplitKeys splits EVAL's or FCALL's arguments after the script or
// function name, numkeys first, into KEYS and ARGV, refusing a bad
// numkeys with Redis's error, which differs between EVAL and FCALL.
func SplitKeys(args [][]byte, fcall bool) (keys, argv [][]byte, err error) {
	n, perr := strconv.ParseInt(string(args[0]), 10, 64)
	switch {
	case perr != nil && fcall:
		return nil, nil, ReplyError("ERR Bad number of keys provided")
	case perr != nil:
		return nil, nil, ReplyError("ERR value is not an integer or out of range")
	case n > int64(len(args)-1):
		return nil, nil, ReplyError("ERR Number of keys can't be greater than number of args")
	case n < 0:
		return nil, nil, ReplyError("ERR Number of keys can't be negative")
	}
	return args[1 : 1+n], args[1+n:], nil
}
