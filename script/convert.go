package script

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// respToLua converts one RESP2 or RESP3 reply (as the host produced it)
// into a Lua value by Redis's table (script_lua.c
// redisProtocolToLuaType): integer -> number, bulk -> string, null bulk
// and null array -> false, array -> table, status -> {ok=...}, error ->
// {err=...}, map -> {map={...}}, set -> {set={k=true}}, null -> nil,
// boolean -> boolean, double -> {double=n}, big number -> {big_number=s},
// verbatim -> {verbatim_string={format=, string=}}; attributes are
// skipped. It returns the value and the rest of b. The host's reply is
// trusted: a malformed one ends the parse with nil.
func respToLua(L *lua.LState, b []byte) (lua.LValue, []byte) {
	if len(b) == 0 {
		return lua.LNil, nil
	}
	typ := b[0]
	line, rest := respLine(b[1:])
	switch typ {
	case ':':
		n, _ := strconv.ParseInt(string(line), 10, 64)
		return lua.LNumber(n), rest
	case '$', '=':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		if n+2 > len(rest) {
			return lua.LNil, nil
		}
		s := rest[:n]
		rest = rest[n+2:]
		if typ == '=' {
			format, text := "", s
			if len(s) >= 4 && s[3] == ':' {
				format, text = string(s[:3]), s[4:]
			}
			inner := L.NewTable()
			inner.RawSetString("string", lua.LString(text))
			inner.RawSetString("format", lua.LString(format))
			return singleField(L, "verbatim_string", inner), rest
		}
		return lua.LString(s), rest
	case '+':
		return singleField(L, "ok", lua.LString(line)), rest
	case '-', '!':
		msg := string(line)
		if typ == '!' {
			n, _ := strconv.Atoi(msg)
			if n+2 > len(rest) {
				return lua.LNil, nil
			}
			msg, rest = string(rest[:n]), rest[n+2:]
		}
		t := errorTable(L, "-"+msg)
		t.RawSetString("ignore_error_stats_update", lua.LTrue)
		return t, rest
	case '*', '~', '%', '|', '>':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		if typ == '|' {
			for i := 0; i < 2*n && rest != nil; i++ {
				_, rest = respToLua(L, rest)
			}
			return respToLua(L, rest)
		}
		t := L.NewTable()
		for i := 0; i < n && rest != nil; i++ {
			var v lua.LValue
			v, rest = respToLua(L, rest)
			switch typ {
			case '~':
				t.RawSet(v, lua.LTrue)
			case '%':
				var val lua.LValue
				val, rest = respToLua(L, rest)
				t.RawSet(v, val)
			default:
				t.RawSetInt(i+1, v)
			}
		}
		switch typ {
		case '~':
			return singleField(L, "set", t), rest
		case '%':
			return singleField(L, "map", t), rest
		}
		return t, rest
	case '_':
		return lua.LNil, rest
	case '#':
		return lua.LBool(len(line) > 0 && line[0] == 't'), rest
	case ',':
		return singleField(L, "double", lua.LNumber(parseRespDouble(string(line)))), rest
	case '(':
		return singleField(L, "big_number", lua.LString(line)), rest
	}
	return lua.LNil, nil
}

func respLine(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+2:]
}

func parseRespDouble(s string) float64 {
	switch s {
	case "inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func singleField(L *lua.LState, k string, v lua.LValue) *lua.LTable {
	t := L.NewTable()
	t.RawSetString(k, v)
	return t
}

// errorTable builds the {err=...} table of luaPushErrorBuff: "-CODE msg"
// keeps its code, a message without '-' gets "ERR", and a trailing
// newline is trimmed.
func errorTable(L *lua.LState, msg string) *lua.LTable {
	code := "ERR"
	if rest, ok := strings.CutPrefix(msg, "-"); ok {
		if c, m, ok := strings.Cut(rest, " "); ok {
			code, msg = c, m
		} else {
			msg = rest
		}
	}
	msg = strings.Trim(msg, "\r\n")
	return singleField(L, "err", lua.LString(code+" "+msg))
}

// luaToResp appends the RESP encoding of v by Redis's table
// (luaReplyToRedisReply): scriptResp is the version the script chose
// with redis.setresp (it decides how booleans convert), clientResp the
// calling client's protocol (it decides how nulls, booleans, doubles,
// maps and sets are written).
func luaToResp(buf []byte, v lua.LValue, scriptResp, clientResp int) []byte {
	return luaToRespDepth(buf, v, scriptResp, clientResp, 0)
}

// maxReplyDepth bounds the nesting of a reply table: a table holding
// itself would otherwise recurse forever. Redis stops where the Lua
// stack runs out, with the same error in place of the deeper element.
const maxReplyDepth = 1000

func luaToRespDepth(buf []byte, v lua.LValue, scriptResp, clientResp, depth int) []byte {
	if depth > maxReplyDepth {
		return append(buf, "-ERR reached lua stack limit\r\n"...)
	}
	switch v := v.(type) {
	case lua.LString:
		return appendBulk(buf, string(v))
	case lua.LBool:
		if scriptResp == 2 {
			if v {
				return append(buf, ":1\r\n"...)
			}
			return appendNull(buf, clientResp)
		}
		if clientResp == 2 {
			if v {
				return append(buf, ":1\r\n"...)
			}
			return append(buf, ":0\r\n"...)
		}
		if v {
			return append(buf, "#t\r\n"...)
		}
		return append(buf, "#f\r\n"...)
	case lua.LNumber:
		return appendInt(buf, ':', luaNumberToInt(float64(v)))
	case *lua.LTable:
		return tableToResp(buf, v, scriptResp, clientResp, depth+1)
	}
	return appendNull(buf, clientResp)
}

func tableToResp(buf []byte, t *lua.LTable, scriptResp, clientResp, depth int) []byte {
	if e, ok := t.RawGetString("err").(lua.LString); ok {
		buf = append(buf, '-')
		buf = append(buf, strings.NewReplacer("\r", " ", "\n", " ").Replace(string(e))...)
		return append(buf, "\r\n"...)
	}
	if s, ok := t.RawGetString("ok").(lua.LString); ok {
		buf = append(buf, '+')
		buf = append(buf, strings.NewReplacer("\r", " ", "\n", " ").Replace(string(s))...)
		return append(buf, "\r\n"...)
	}
	if d, ok := t.RawGetString("double").(lua.LNumber); ok {
		return appendDouble(buf, float64(d), clientResp)
	}
	if s, ok := t.RawGetString("big_number").(lua.LString); ok {
		s := strings.NewReplacer("\r", " ", "\n", " ").Replace(string(s))
		if clientResp == 2 {
			return appendBulk(buf, s)
		}
		return append(append(append(buf, '('), s...), "\r\n"...)
	}
	if vt, ok := t.RawGetString("verbatim_string").(*lua.LTable); ok {
		format, fok := vt.RawGetString("format").(lua.LString)
		str, sok := vt.RawGetString("string").(lua.LString)
		if fok && sok {
			if clientResp == 2 {
				return appendBulk(buf, string(str))
			}
			ext := []byte("   ")
			copy(ext, format)
			buf = appendInt(buf, '=', int64(len(str)+4))
			buf = append(append(append(buf, ext...), ':'), str...)
			return append(buf, "\r\n"...)
		}
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		var body []byte
		n := 0
		m.ForEach(func(k, v lua.LValue) {
			body = luaToRespDepth(body, k, scriptResp, clientResp, depth)
			body = luaToRespDepth(body, v, scriptResp, clientResp, depth)
			n++
		})
		if clientResp == 2 {
			buf = appendInt(buf, '*', int64(2*n))
		} else {
			buf = appendInt(buf, '%', int64(n))
		}
		return append(buf, body...)
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		var body []byte
		n := 0
		s.ForEach(func(k, _ lua.LValue) {
			body = luaToRespDepth(body, k, scriptResp, clientResp, depth)
			n++
		})
		if clientResp == 2 {
			buf = appendInt(buf, '*', int64(n))
		} else {
			buf = appendInt(buf, '~', int64(n))
		}
		return append(buf, body...)
	}
	// An array up to its first nil.
	var body []byte
	n := 0
	for {
		v := t.RawGetInt(n + 1)
		if v == lua.LNil {
			break
		}
		body = luaToRespDepth(body, v, scriptResp, clientResp, depth)
		n++
	}
	buf = appendInt(buf, '*', int64(n))
	return append(buf, body...)
}

// luaNumberToInt truncates as C's (long long) cast does on amd64, where
// out-of-range values and NaN become the minimum int64.
func luaNumberToInt(f float64) int64 {
	if math.IsNaN(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0 {
		return math.MinInt64
	}
	return int64(f)
}

func appendInt(buf []byte, prefix byte, n int64) []byte {
	buf = append(buf, prefix)
	buf = strconv.AppendInt(buf, n, 10)
	return append(buf, "\r\n"...)
}

func appendBulk(buf []byte, s string) []byte {
	buf = appendInt(buf, '$', int64(len(s)))
	buf = append(buf, s...)
	return append(buf, "\r\n"...)
}

func appendNull(buf []byte, resp int) []byte {
	if resp == 2 {
		return append(buf, "$-1\r\n"...)
	}
	return append(buf, "_\r\n"...)
}

// appendDouble writes a double as addReplyDouble does: a bulk string in
// RESP2, a RESP3 double otherwise, "%.17g" either way.
func appendDouble(buf []byte, d float64, resp int) []byte {
	var s string
	switch {
	case math.IsInf(d, 1):
		s = "inf"
	case math.IsInf(d, -1):
		s = "-inf"
	default:
		s = formatG(d, 17)
	}
	if resp == 2 {
		return appendBulk(buf, s)
	}
	return append(append(append(buf, ','), s...), "\r\n"...)
}

// formatG formats f as C's "%.<prec>g" does.
func formatG(f float64, prec int) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', prec, 64)
}
