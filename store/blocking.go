package store

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"
)

// The blocking pops, in the form the log runs them: each pops what is
// there or answers what a timeout answers (Redis's reply to a client that
// may not block, as in MULTI). The front end blocks the client itself and
// proposes the command again when one of its keys changes.
var blockingCommands = []*Command{
	def("blpop", blpopCmd),
	def("brpop", brpopCmd),
	def("brpoplpush", brpoplpushCmd),
	def("blmove", blmoveCmd),
	def("blmpop", blmpopCmd),
	def("bzmpop", bzmpopCmd),
	def("bzpopmin", bzpopminCmd),
	def("bzpopmax", bzpopmaxCmd),
}

// BlockingTimeout parses a blocking command's timeout, in seconds with a
// fraction, as Redis 7.0's getTimeoutFromObjectOrReply: it returns the
// timeout in milliseconds, truncated (0: forever), or Redis's error text.
// A value past an int64 of milliseconds is negative there, as C's
// conversion makes it on the machines Redis runs on.
func BlockingTimeout(arg []byte) (ms int64, errText string) {
	str := string(arg)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil && !strings.Contains(err.Error(), "range") || math.IsNaN(f) || str == "" || str != strings.TrimSpace(str) {
		return 0, "ERR timeout is not a float or out of range"
	}
	f *= 1000
	if f <= -1 || f >= math.MaxInt64 || math.IsInf(f, 0) {
		return 0, "ERR timeout is negative"
	}
	return int64(f), ""
}

// TimeoutArg is the position of a blocking command's timeout in args.
func TimeoutArg(name string, args [][]byte) int {
	if name == "blmpop" || name == "bzmpop" {
		return 1
	}
	return len(args) - 1
}

func blpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return bpopGeneric(s, m, args, out, true)
}

func brpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return bpopGeneric(s, m, args, out, false)
}

// bpopGeneric pops one element of the first non-empty list of the keys,
// replying with the key and the element.
func bpopGeneric(s *Store, m mode, args [][]byte, out []byte, front bool) []byte {
	if _, msg := BlockingTimeout(args[len(args)-1]); msg != "" {
		return appendErr(out, msg)
	}
	for _, key := range args[1 : len(args)-1] {
		it, _, found, wrong := s.getKind(m, probe(key), kindList)
		if wrong {
			return appendErr(out, errWrongType)
		}
		if !found {
			continue
		}
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, key)
		out = redcon.AppendBulk(out, s.writable(&it).(*list).pop(front))
		s.changed(it)
		return out
	}
	return append(out, nullArray...)
}

func brpoplpushCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	if _, msg := BlockingTimeout(args[3]); msg != "" {
		return appendErr(out, msg)
	}
	return moveGeneric(s, m, args, out, false, true)
}

// BLMOVE and BLMPOP check their other arguments before the timeout, as
// Redis does.
func blmoveCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	from, ok1 := listEnd(args[3])
	to, ok2 := listEnd(args[4])
	if !ok1 || !ok2 {
		return appendErr(out, errSyntax)
	}
	if _, msg := BlockingTimeout(args[5]); msg != "" {
		return appendErr(out, msg)
	}
	return moveGeneric(s, m, args, out, from, to)
}

func blmpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	keys, front, count, msg := parseBlockingMpop(args, listEnd)
	if msg != "" {
		return appendErr(out, msg)
	}
	return lmpop(s, m, keys, front, count, out)
}

func bzmpopCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	keys, minFirst, count, msg := parseBlockingMpop(args, zsetEnd)
	if msg != "" {
		return appendErr(out, msg)
	}
	return zmpop(s, m, keys, minFirst, count, out)
}

// parseBlockingMpop parses BLMPOP's or BZMPOP's arguments: the timeout,
// checked after the rest, as Redis does, then LMPOP's or ZMPOP's.
func parseBlockingMpop(args [][]byte, end func([]byte) (bool, bool)) (keys [][]byte, first bool, count int64, msg string) {
	keys, first, count, msg = parseMpop(args[1:], end)
	if msg == "" {
		_, msg = BlockingTimeout(args[1])
	}
	return keys, first, count, msg
}

func bzpopminCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return bzpopGeneric(s, m, args, out, false)
}

func bzpopmaxCmd(s *Store, m mode, args [][]byte, out []byte) []byte {
	return bzpopGeneric(s, m, args, out, true)
}

// bzpopGeneric pops the lowest (or highest) member of the first non-empty
// sorted set of the keys, replying with the key, the member and its score.
func bzpopGeneric(s *Store, m mode, args [][]byte, out []byte, max bool) []byte {
	if _, msg := BlockingTimeout(args[len(args)-1]); msg != "" {
		return appendErr(out, msg)
	}
	for _, key := range args[1 : len(args)-1] {
		it, _, found, wrong := s.getZset(m, key)
		if wrong {
			return appendErr(out, errWrongType)
		}
		if !found {
			continue
		}
		z := s.writable(&it).(*zset)
		i := 0
		if max {
			i = z.length() - 1
		}
		mem, sc := z.at(i)
		out = redcon.AppendArray(out, 3)
		out = redcon.AppendBulk(out, key)
		out = appendBulk(out, mem)
		out = appendScore(out, sc)
		z.deleteRanks(i, i+1)
		s.changed(it)
		return out
	}
	return append(out, nullArray...)
}
