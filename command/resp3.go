package command

import (
	"bytes"
	"strconv"
	"strings"
)

// A command's reply is produced once, in RESP2 (the store's replies are
// computed when a write is applied, on every replica, before anyone knows
// which protocol the proposing client speaks). A RESP3 client gets that
// reply converted by the shape Redis 7.0 gives it in RESP3: nulls become
// RESP3's null everywhere, and the commands below turn flat arrays into
// maps, sets or pairs and scores into doubles, as Redis's own code does
// when c->resp is 3.

// Value is one parsed RESP reply: Type is its RESP type byte; Data a
// scalar's payload (without the CRLF); Elems an aggregate's elements.
type Value struct {
	Type  byte
	Data  []byte
	Elems []Value
}

// RESP3 types a converted reply may use besides RESP2's.
const (
	TypeMap      = '%'
	TypeSet      = '~'
	TypeDouble   = ','
	TypeNull     = '_'
	TypeVerbatim = '='
	TypePush     = '>'
)

// ParseReply parses one RESP2 reply from b, returning it and the bytes
// after it; ok is false when b does not hold a whole reply.
func ParseReply(b []byte) (v Value, rest []byte, ok bool) {
	if len(b) < 3 {
		return v, b, false
	}
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 {
		return v, b, false
	}
	typ, line, rest := b[0], b[1:end], b[end+2:]
	switch typ {
	case '+', '-', ':':
		return Value{Type: typ, Data: line}, rest, true
	case '$':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return v, b, false
		}
		if n < 0 {
			return Value{Type: TypeNull}, rest, true
		}
		if len(rest) < n+2 {
			return v, b, false
		}
		return Value{Type: '$', Data: rest[:n]}, rest[n+2:], true
	case '*':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return v, b, false
		}
		if n < 0 {
			return Value{Type: TypeNull}, rest, true
		}
		v = Value{Type: '*', Elems: make([]Value, n)}
		for i := range v.Elems {
			if v.Elems[i], rest, ok = ParseReply(rest); !ok {
				return v, b, false
			}
		}
		return v, rest, true
	}
	return v, b, false
}

// AppendValue appends v's RESP3 encoding.
func AppendValue(out []byte, v Value) []byte {
	switch v.Type {
	case TypeNull:
		return append(out, "_\r\n"...)
	case '$', TypeVerbatim:
		out = append(out, v.Type)
		out = strconv.AppendInt(out, int64(len(v.Data)), 10)
		out = append(out, "\r\n"...)
		out = append(out, v.Data...)
		return append(out, "\r\n"...)
	case '*', TypeSet, TypePush, TypeMap:
		n := len(v.Elems)
		if v.Type == TypeMap {
			n /= 2
		}
		out = append(out, v.Type)
		out = strconv.AppendInt(out, int64(n), 10)
		out = append(out, "\r\n"...)
		for _, e := range v.Elems {
			out = AppendValue(out, e)
		}
		return out
	}
	out = append(out, v.Type)
	out = append(out, v.Data...)
	return append(out, "\r\n"...)
}

// shape rewrites a parsed reply in place into its RESP3 form; args are
// the command's arguments, for shapes that depend on options.
type shape func(v *Value, args [][]byte)

// ToRESP3 appends the RESP3 form of reply, the RESP2 reply to the command
// args. A reply it cannot parse is appended as it is.
func ToRESP3(out []byte, args [][]byte, reply []byte) []byte {
	if len(reply) == 0 {
		return out
	}
	if reply[0] == '+' || reply[0] == '-' || reply[0] == ':' {
		return append(out, reply...)
	}
	sh := shapeOf(args)
	if reply[0] == '$' && sh == nil {
		if bytes.HasPrefix(reply, []byte("$-1\r\n")) {
			return append(out, "_\r\n"...)
		}
		return append(out, reply...)
	}
	v, rest, ok := ParseReply(reply)
	if !ok {
		return append(out, reply...)
	}
	if sh != nil && v.Type != '-' && v.Type != TypeNull {
		sh(&v, args)
	}
	out = AppendValue(out, v)
	// Several replies at once (a command that answers more than one)
	// each convert alike.
	if len(rest) > 0 {
		return ToRESP3(out, args, rest)
	}
	return out
}

// containers are the commands whose shapes are their subcommands'.
var containers = map[string]bool{"acl": true, "client": true, "cluster": true, "command": true, "config": true,
	"function": true, "latency": true, "memory": true, "xinfo": true}

func shapeOf(args [][]byte) shape {
	if len(args) == 0 || len(args[0]) > 32 {
		return nil
	}
	var lower [64]byte
	name := lowerInto(lower[:0], args[0])
	if containers[string(name)] && len(args) > 1 && len(args[1]) < 30 {
		name = lowerInto(append(name, '|'), args[1])
	}
	return shapes[string(name)]
}

func lowerInto(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Shapes Redis 7.0.15 gives replies in RESP3 (grep its sources for
// addReplyMapLen, addReplySetLen, addReplyDouble, addReplyVerbatim and
// "resp > 2").
var shapes = map[string]shape{
	"hgetall":              asMap,
	"config|get":           asMap,
	"hrandfield":           ifOption("withvalues", pairs(nil)),
	"smembers":             asSet,
	"sinter":               asSet,
	"sunion":               asSet,
	"sdiff":                asSet,
	"spop":                 whenArray(asSet),
	"zscore":               asDouble,
	"zincrby":              asDouble,
	"zadd":                 asDouble, // a bulk reply only with INCR
	"zmscore":              each(asDouble),
	"zrange":               ifOption("withscores", pairs(asDouble)),
	"zrangebyscore":        ifOption("withscores", pairs(asDouble)),
	"zrevrange":            ifOption("withscores", pairs(asDouble)),
	"zrevrangebyscore":     ifOption("withscores", pairs(asDouble)),
	"zunion":               ifOption("withscores", pairs(asDouble)),
	"zinter":               ifOption("withscores", pairs(asDouble)),
	"zdiff":                ifOption("withscores", pairs(asDouble)),
	"zrandmember":          ifOption("withscores", pairs(asDouble)),
	"zpopmin":              zpop,
	"zpopmax":              zpop,
	"bzpopmin":             at(2, asDouble),
	"bzpopmax":             at(2, asDouble),
	"zmpop":                at(1, each(at(1, asDouble))),
	"bzmpop":               at(1, each(at(1, asDouble))),
	"xread":                streamsMap,
	"xreadgroup":           streamsMap,
	"xinfo|stream":         xinfoStream,
	"xinfo|groups":         each(asMap),
	"xinfo|consumers":      each(asMap),
	"lcs":                  ifOption("idx", asMap),
	"geopos":               each(each(asDouble)),
	"georadius":            geoResults,
	"georadius_ro":         geoResults,
	"georadiusbymember":    geoResults,
	"georadiusbymember_ro": geoResults,
	"geosearch":            geoResults,
	"info":                 asVerbatim,
	"client|list":          asVerbatim,
	"client|info":          asVerbatim,
	"client|trackinginfo":  mapWith(map[string]shape{"flags": asSet}),
	"cluster|nodes":        asVerbatim,
	"cluster|info":         asVerbatim,
	"memory|doctor":        asVerbatim,
	"latency|doctor":       asVerbatim,
	"latency|histogram":    mapEach(mapWith(map[string]shape{"histogram_usec": asMap})),
	"lolwut":               asVerbatim,
	"acl|log":              each(mapWith(map[string]shape{"age-seconds": asDouble})),
	"acl|getuser":          mapWith(map[string]shape{"flags": asSet, "selectors": each(asMap)}),
	"function|list":        each(mapWith(map[string]shape{"functions": each(mapWith(map[string]shape{"flags": asSet}))})),
	"function|stats":       mapWith(map[string]shape{"running_script": asMap, "engines": mapEach(asMap)}),
	"cluster|shards":       each(mapWith(map[string]shape{"nodes": each(asMap)})),
	"cluster|links":        each(asMap),
	"memory|stats":         memoryStats,
	"command":              each(commandInfo),
	"command|info":         each(commandInfo),
	"command|docs":         mapEach(commandDocs),
}

// commandInfo: COMMAND INFO's flags, ACL categories, tips and key specs
// are sets, each key spec a map.
func commandInfo(v *Value, args [][]byte) {
	keySearch := mapWith(map[string]shape{"spec": asMap})
	keySpec := mapWith(map[string]shape{"flags": asSet, "begin_search": keySearch, "find_keys": keySearch})
	at(8, each(keySpec))(v, args)
	for _, i := range []int{2, 6, 7, 8} {
		at(i, asSet)(v, args)
	}
	at(9, each(commandInfo))(v, args)
}

// commandDocs: a command's docs are a map, its history, doc flags and
// arguments' flags sets, its arguments maps and its subcommands a map of
// their docs.
func commandDocs(v *Value, args [][]byte) {
	mapWith(map[string]shape{"history": asSet, "doc_flags": asSet, "arguments": each(commandArg),
		"subcommands": mapEach(commandDocs)})(v, args)
}

func commandArg(v *Value, args [][]byte) {
	mapWith(map[string]shape{"flags": asSet, "arguments": each(commandArg)})(v, args)
}

func asMap(v *Value, _ [][]byte) {
	if v.Type == '*' && len(v.Elems)%2 == 0 {
		v.Type = TypeMap
	}
}

func asSet(v *Value, _ [][]byte) {
	if v.Type == '*' {
		v.Type = TypeSet
	}
}

func asDouble(v *Value, _ [][]byte) {
	if v.Type == '$' {
		v.Type = TypeDouble
	}
}

// asVerbatim makes a bulk string a verbatim string of format "txt".
func asVerbatim(v *Value, _ [][]byte) {
	if v.Type == '$' {
		v.Type = TypeVerbatim
		v.Data = append([]byte("txt:"), v.Data...)
	}
}

// pairs turns a flat array of name, value, name, value... into an array
// of two-element arrays, the value shaped by val (nil: left as it is).
func pairs(val shape) shape {
	return func(v *Value, args [][]byte) {
		if v.Type != '*' || len(v.Elems)%2 != 0 {
			return
		}
		nested := make([]Value, len(v.Elems)/2)
		for i := range nested {
			pair := []Value{v.Elems[2*i], v.Elems[2*i+1]}
			if val != nil {
				val(&pair[1], args)
			}
			nested[i] = Value{Type: '*', Elems: pair}
		}
		v.Elems = nested
	}
}

// ifOption applies sh when the command has the option named opt.
func ifOption(opt string, sh shape) shape {
	return func(v *Value, args [][]byte) {
		for _, a := range args[1:] {
			if strings.EqualFold(string(a), opt) {
				sh(v, args)
				return
			}
		}
	}
}

func whenArray(sh shape) shape {
	return func(v *Value, args [][]byte) {
		if v.Type == '*' {
			sh(v, args)
		}
	}
}

// each shapes every element of an array.
func each(sh shape) shape {
	return func(v *Value, args [][]byte) {
		if v.Type != '*' {
			return
		}
		for i := range v.Elems {
			if v.Elems[i].Type != TypeNull {
				sh(&v.Elems[i], args)
			}
		}
	}
}

// at shapes the i-th element of an array.
func at(i int, sh shape) shape {
	return func(v *Value, args [][]byte) {
		if v.Type == '*' && i < len(v.Elems) && v.Elems[i].Type != TypeNull {
			sh(&v.Elems[i], args)
		}
	}
}

// mapWith makes a flat array a map and shapes the values of the named
// fields.
func mapWith(fields map[string]shape) shape {
	return func(v *Value, args [][]byte) {
		if v.Type != '*' || len(v.Elems)%2 != 0 {
			return
		}
		v.Type = TypeMap
		for i := 0; i < len(v.Elems); i += 2 {
			if sh, ok := fields[string(v.Elems[i].Data)]; ok && v.Elems[i+1].Type != TypeNull {
				sh(&v.Elems[i+1], args)
			}
		}
	}
}

// mapEach makes a flat array a map and shapes every value.
func mapEach(sh shape) shape {
	return func(v *Value, args [][]byte) {
		if v.Type != '*' || len(v.Elems)%2 != 0 {
			return
		}
		v.Type = TypeMap
		for i := 1; i < len(v.Elems); i += 2 {
			sh(&v.Elems[i], args)
		}
	}
}

// zpop: with a count, pairs of member and score; without, one flat pair
// whose score is still a double.
func zpop(v *Value, args [][]byte) {
	if len(args) > 2 {
		pairs(asDouble)(v, args)
		return
	}
	at(1, asDouble)(v, args)
}

// streamsMap: XREAD's array of [stream, entries] becomes a map of stream
// to entries.
func streamsMap(v *Value, _ [][]byte) {
	if v.Type != '*' {
		return
	}
	flat := make([]Value, 0, 2*len(v.Elems))
	for _, e := range v.Elems {
		if e.Type != '*' || len(e.Elems) != 2 {
			return
		}
		flat = append(flat, e.Elems...)
	}
	v.Type, v.Elems = TypeMap, flat
}

func xinfoStream(v *Value, args [][]byte) {
	full := len(args) > 3 && strings.EqualFold(string(args[3]), "full")
	if !full {
		asMap(v, args)
		return
	}
	consumer := mapWith(nil)
	group := mapWith(map[string]shape{"consumers": each(consumer)})
	mapWith(map[string]shape{"groups": each(group)})(v, args)
}

// geoResults: coordinates (WITHCOORD) are doubles in RESP3; distances
// stay bulk strings, as Redis's addReplyDoubleDistance writes them.
func geoResults(v *Value, args [][]byte) {
	withCoord := false
	for _, a := range args {
		if strings.EqualFold(string(a), "withcoord") {
			withCoord = true
		}
	}
	if !withCoord || v.Type != '*' {
		return
	}
	for i := range v.Elems {
		item := &v.Elems[i]
		if item.Type != '*' {
			continue
		}
		// The coordinates are the one array among the item's parts.
		for j := range item.Elems {
			if item.Elems[j].Type == '*' {
				each(asDouble)(&item.Elems[j], args)
			}
		}
	}
}

// memoryStats: MEMORY STATS is a map whose db.N values are maps and whose
// ratios are doubles.
func memoryStats(v *Value, args [][]byte) {
	if v.Type != '*' || len(v.Elems)%2 != 0 {
		return
	}
	v.Type = TypeMap
	for i := 0; i < len(v.Elems); i += 2 {
		name, val := string(v.Elems[i].Data), &v.Elems[i+1]
		switch {
		case strings.HasPrefix(name, "db."):
			asMap(val, args)
		case val.Type == '$':
			asDouble(val, args)
		}
	}
}
