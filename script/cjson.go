package script

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// cjsonConfig is lua-cjson's configuration, with Redis's defaults.
type cjsonConfig struct {
	sparseConvert  bool
	sparseRatio    int
	sparseSafe     int
	encodeMaxDepth int
	decodeMaxDepth int
	encodeInvalid  bool
	decodeInvalid  bool
	precision      int
}

// newCjson is the cjson module (lua-cjson 2.1 as Redis bundles it):
// encode, decode, null and the configuration functions.
func newCjson(L *lua.LState) *lua.LTable {
	// decode_invalid_numbers is on by default in lua-cjson, as Redis
	// ships it: "+5", hex, leading zeros, inf and nan decode as strtod
	// reads them.
	cfg := &cjsonConfig{sparseRatio: 2, sparseSafe: 10, encodeMaxDepth: 1000, decodeMaxDepth: 1000, precision: 14,
		decodeInvalid: true}
	null := L.NewUserData()
	intOpt := func(p *int, lo, hi int) lua.LGFunction {
		return func(L *lua.LState) int {
			if L.GetTop() >= 1 {
				v := L.CheckInt(1)
				argCheck(L, lo <= v && v <= hi, 1, "?", "expected integer between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
				*p = v
			}
			L.Push(lua.LNumber(*p))
			return 1
		}
	}
	boolOpt := func(p *bool) lua.LGFunction {
		return func(L *lua.LState) int {
			if L.GetTop() >= 1 {
				*p = L.ToBool(1)
			}
			L.Push(lua.LBool(*p))
			return 1
		}
	}
	t := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				argError(L, 1, "encode", "expected 1 argument")
			}
			var b strings.Builder
			cfg.encode(L, &b, L.Get(1), 0, null)
			L.Push(lua.LString(b.String()))
			return 1
		},
		"decode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				argError(L, 1, "decode", "expected 1 argument")
			}
			s := L.CheckString(1)
			if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
				L.RaiseError("JSON parser does not support UTF-16 or UTF-32")
			}
			d := &jsonDecoder{L: L, s: s, cfg: cfg, null: null}
			v := d.value(d.token())
			if tok := d.token(); tok.kind != tEnd {
				d.fail("the end", tok)
			}
			L.Push(v)
			return 1
		},
		"encode_max_depth":        intOpt(&cfg.encodeMaxDepth, 1, math.MaxInt32),
		"decode_max_depth":        intOpt(&cfg.decodeMaxDepth, 1, math.MaxInt32),
		"encode_number_precision": intOpt(&cfg.precision, 1, 14),
		"encode_invalid_numbers":  boolOpt(&cfg.encodeInvalid),
		"decode_invalid_numbers":  boolOpt(&cfg.decodeInvalid),
		"encode_keep_buffer":      func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"encode_sparse_array": func(L *lua.LState) int {
			if L.GetTop() >= 1 {
				cfg.sparseConvert = L.ToBool(1)
			}
			if L.GetTop() >= 2 {
				cfg.sparseRatio = L.CheckInt(2)
			}
			if L.GetTop() >= 3 {
				cfg.sparseSafe = L.CheckInt(3)
			}
			L.Push(lua.LBool(cfg.sparseConvert))
			L.Push(lua.LNumber(cfg.sparseRatio))
			L.Push(lua.LNumber(cfg.sparseSafe))
			return 3
		},
	})
	t.RawSetString("null", null)
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	return t
}

func (c *cjsonConfig) fail(L *lua.LState, v lua.LValue, reason string) {
	L.RaiseError("Cannot serialise %s: %s", v.Type().String(), reason)
}

func (c *cjsonConfig) encode(L *lua.LState, b *strings.Builder, v lua.LValue, depth int, null lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		jsonString(b, string(v))
	case lua.LNumber:
		c.number(L, b, v)
	case lua.LBool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *lua.LNilType:
		b.WriteString("null")
	case *lua.LTable:
		depth++
		if depth > c.encodeMaxDepth {
			L.RaiseError("Cannot serialise, excessive nesting (%d)", depth)
		}
		if n := c.arrayLength(L, v); n > 0 {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				c.encode(L, b, v.RawGetInt(i), depth, null)
			}
			b.WriteByte(']')
			return
		}
		b.WriteByte('{')
		first := true
		v.ForEach(func(k, val lua.LValue) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			switch k := k.(type) {
			case lua.LNumber:
				b.WriteByte('"')
				c.number(L, b, k)
				b.WriteString(`":`)
			case lua.LString:
				jsonString(b, string(k))
				b.WriteByte(':')
			default:
				c.fail(L, k, "table key must be a number or string")
			}
			c.encode(L, b, val, depth, null)
		})
		b.WriteByte('}')
	default:
		if v == null {
			b.WriteString("null")
			return
		}
		c.fail(L, v, "type not supported")
	}
}

// arrayLength is lua_array_length: the largest key if every key is a
// positive integer, -1 (an object) otherwise; excessively sparse arrays
// are an error unless sparse conversion is on.
func (c *cjsonConfig) arrayLength(L *lua.LState, t *lua.LTable) int {
	max, items := 0, 0
	isArray := true
	t.ForEach(func(k, _ lua.LValue) {
		n, ok := k.(lua.LNumber)
		if !ok || n < 1 || math.Floor(float64(n)) != float64(n) {
			isArray = false
			return
		}
		if int(n) > max {
			max = int(n)
		}
		items++
	})
	if !isArray {
		return -1
	}
	if c.sparseRatio > 0 && max > items*c.sparseRatio && max > c.sparseSafe {
		if !c.sparseConvert {
			c.fail(L, t, "excessively sparse array")
		}
		return -1
	}
	return max
}

func (c *cjsonConfig) number(L *lua.LState, b *strings.Builder, n lua.LNumber) {
	f := float64(n)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if !c.encodeInvalid {
			c.fail(L, n, "must not be NaN or Inf")
		}
		if math.IsNaN(f) {
			b.WriteString("nan")
			return
		}
	}
	b.WriteString(formatG(f, c.precision))
}

// jsonString writes s quoted with lua-cjson's escapes: the control
// characters, '"', '\\', '/' and DEL; other bytes pass through.
func jsonString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '/':
			b.WriteString(`\/`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

type jsonKind int

const (
	tObjBegin jsonKind = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tError
)

// jsonKindNames are lua-cjson's token names, which its errors print.
var jsonKindNames = [...]string{"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING", "T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END", "T_ERROR"}

type jsonToken struct {
	kind  jsonKind
	index int
	str   string
	num   float64
	b     bool
	err   string
}

type jsonDecoder struct {
	L     *lua.LState
	s     string
	pos   int
	depth int
	cfg   *cjsonConfig
	null  lua.LValue
}

func (d *jsonDecoder) fail(expected string, tok jsonToken) {
	found := jsonKindNames[tok.kind]
	if tok.kind == tError {
		found = tok.err
	}
	d.L.RaiseError("Expected %s but found %s at character %d", expected, found, tok.index+1)
}

func (d *jsonDecoder) token() jsonToken {
	for d.pos < len(d.s) && strings.IndexByte(" \t\n\r", d.s[d.pos]) >= 0 {
		d.pos++
	}
	tok := jsonToken{index: d.pos}
	if d.pos >= len(d.s) || d.s[d.pos] == 0 {
		tok.kind = tEnd
		return tok
	}
	c := d.s[d.pos]
	single := map[byte]jsonKind{'{': tObjBegin, '}': tObjEnd, '[': tArrBegin, ']': tArrEnd, ':': tColon, ',': tComma}
	if k, ok := single[c]; ok {
		d.pos++
		tok.kind = k
		return tok
	}
	rest := d.s[d.pos:]
	switch {
	case c == '"':
		return d.str(tok)
	case c == '-' || isDigit(c):
		return d.number(tok)
	case d.cfg.decodeInvalid && (c == '+' || strings.HasPrefix(strings.ToLower(rest), "inf") || strings.HasPrefix(strings.ToLower(rest), "nan")):
		return d.number(tok)
	case strings.HasPrefix(rest, "true"):
		d.pos += 4
		tok.kind, tok.b = tBoolean, true
	case strings.HasPrefix(rest, "false"):
		d.pos += 5
		tok.kind = tBoolean
	case strings.HasPrefix(rest, "null"):
		d.pos += 4
		tok.kind = tNull
	default:
		tok.kind, tok.err = tError, "invalid token"
	}
	return tok
}

func (d *jsonDecoder) number(tok jsonToken) jsonToken {
	rest := d.s[d.pos:]
	if !d.cfg.decodeInvalid && invalidJSONNumber(rest) {
		tok.kind, tok.err = tError, "invalid number"
		return tok
	}
	f, n := strtod(rest)
	if n == 0 {
		tok.kind, tok.err = tError, "invalid number"
		return tok
	}
	d.pos += n
	tok.kind, tok.num = tNumber, f
	return tok
}

// invalidJSONNumber is lua-cjson's json_is_invalid_number: a number strict
// JSON forbids but strtod reads (a '+', hex, a leading zero, inf, nan).
func invalidJSONNumber(s string) bool {
	if strings.HasPrefix(s, "+") {
		return true
	}
	s = strings.TrimPrefix(s, "-")
	if strings.HasPrefix(s, "0") {
		return len(s) > 1 && (s[1]|0x20 == 'x' || isDigit(s[1]))
	}
	return !(len(s) > 0 && s[0] <= '9')
}

func (d *jsonDecoder) str(tok jsonToken) jsonToken {
	var b strings.Builder
	i := d.pos + 1
	for {
		// Errors point where the scan stopped, as lua-cjson's do.
		tok.index = i
		if i >= len(d.s) || d.s[i] == 0 {
			tok.kind, tok.err = tError, "unexpected end of string"
			return tok
		}
		c := d.s[i]
		if c == '"' {
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(d.s) {
			tok.kind, tok.err = tError, "unexpected end of string"
			return tok
		}
		esc := d.s[i+1]
		switch esc {
		case '"', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := d.unicode(i)
			if n == 0 {
				tok.kind, tok.err = tError, "invalid unicode escape code"
				return tok
			}
			var u [4]byte
			b.Write(u[:utf8.EncodeRune(u[:], r)])
			i += n
			continue
		default:
			tok.kind, tok.err = tError, "invalid escape code"
			return tok
		}
		i += 2
	}
	d.pos = i + 1
	tok.kind, tok.str = tString, b.String()
	return tok
}

// unicode decodes the \uXXXX escape at i (with its low surrogate); n is
// the length consumed, 0 if invalid.
func (d *jsonDecoder) unicode(i int) (rune, int) {
	hex4 := func(j int) (rune, bool) {
		if j+4 > len(d.s) {
			return 0, false
		}
		v, err := strconv.ParseUint(d.s[j:j+4], 16, 32)
		return rune(v), err == nil
	}
	r, ok := hex4(i + 2)
	if !ok {
		return 0, 0
	}
	if r >= 0xdc00 && r <= 0xdfff {
		return 0, 0
	}
	if r >= 0xd800 && r <= 0xdbff {
		if i+12 > len(d.s) || d.s[i+6] != '\\' || d.s[i+7] != 'u' {
			return 0, 0
		}
		lo, ok := hex4(i + 8)
		if !ok || lo < 0xdc00 || lo > 0xdfff {
			return 0, 0
		}
		return (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000, 12
	}
	return r, 6
}

func (d *jsonDecoder) descend(tok jsonToken) {
	d.depth++
	if d.depth > d.cfg.decodeMaxDepth {
		d.L.RaiseError("Found too many nested data structures (%d) at character %d", d.depth, tok.index+1)
	}
}

func (d *jsonDecoder) value(tok jsonToken) lua.LValue {
	L := d.L
	switch tok.kind {
	case tString:
		return lua.LString(tok.str)
	case tNumber:
		return lua.LNumber(tok.num)
	case tBoolean:
		return lua.LBool(tok.b)
	case tNull:
		return d.null
	case tObjBegin:
		d.descend(tok)
		t := L.NewTable()
		tok = d.token()
		if tok.kind == tObjEnd {
			d.depth--
			return t
		}
		for {
			if tok.kind != tString {
				d.fail("object key string", tok)
			}
			key := tok.str
			if tok = d.token(); tok.kind != tColon {
				d.fail("colon", tok)
			}
			t.RawSetString(key, d.value(d.token()))
			tok = d.token()
			if tok.kind == tObjEnd {
				d.depth--
				return t
			}
			if tok.kind != tComma {
				d.fail("comma or object end", tok)
			}
			tok = d.token()
		}
	case tArrBegin:
		d.descend(tok)
		t := L.NewTable()
		tok = d.token()
		if tok.kind == tArrEnd {
			d.depth--
			return t
		}
		for i := 1; ; i++ {
			t.RawSetInt(i, d.value(tok))
			tok = d.token()
			if tok.kind == tArrEnd {
				d.depth--
				return t
			}
			if tok.kind != tComma {
				d.fail("comma or array end", tok)
			}
			tok = d.token()
		}
	}
	d.fail("value", tok)
	return lua.LNil
}
