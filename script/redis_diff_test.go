package script

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// redisServer is a redis-server started for the differential tests.
type redisServer struct {
	cmd  *exec.Cmd
	conn net.Conn
	r    *bufio.Reader
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is required for the differential test (the test script installs it): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{cmd: cmd}
	t.Cleanup(func() {
		if s.conn != nil {
			s.conn.Close()
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			s.conn, s.r = c, bufio.NewReader(c)
			if bytes.Equal(s.do(t, "PING"), []byte("+PONG\r\n")) {
				return s
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// do sends one command and returns the exact bytes of its reply.
func (s *redisServer) do(t *testing.T, args ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := s.conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out bytes.Buffer
	if err := readReply(s.r, &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readReply copies one RESP2/RESP3 reply from r to out.
func readReply(r *bufio.Reader, out *bytes.Buffer) error {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return err
	}
	out.Write(line)
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '$', '=', '!':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return err
		}
		out.Write(buf)
	case '*', '~', '>', '%', '|':
		n, _ := strconv.Atoi(body)
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := readReply(r, out); err != nil {
				return err
			}
		}
		if line[0] == '|' {
			return readReply(r, out)
		}
	}
	return nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// diffScripts are scripts whose replies do not depend on the fake
// host's limits: they must equal redis-server's byte for byte.
var diffScripts = []struct {
	body string
	keys []string
	args []string
}{
	// Lua -> RESP
	{body: "return 1"},
	{body: "return 3.99"},
	{body: "return -3.99"},
	{body: "return 'hello'"},
	{body: "return true"},
	{body: "return false"},
	{body: "return nil"},
	{body: "return {}"},
	{body: "return {1, 2, 3, 'ciao', {1, 2}}"},
	{body: "return {1, 2, nil, 4}"},
	{body: "return {1, 'two', true, false, 5}"},
	{body: "return {ok='fine'}"},
	{body: "return {err='MYERR custom'}"},
	{body: "return {err='no code'}"},
	{body: "return redis.status_reply('STATUS')"},
	{body: "return redis.error_reply('MYERR my error')"},
	{body: "return redis.error_reply('-MYERR dashed')"},
	{body: "return redis.error_reply('plain')"},
	{body: "return {ok='a\\r\\nb'}"},
	{body: "return {double=3.14}"},
	{body: "redis.setresp(3); return {double=3.14}"},
	{body: "return {big_number='123456789012345678901234567890'}"},
	{body: "return {map={a=1}}"},
	{body: "return {set={a=true}}"},
	{body: "redis.setresp(3); return true"},
	{body: "redis.setresp(3); return false"},
	{body: "return {verbatim_string={format='txt', string='hi'}}"},
	{body: "return 9007199254740993"},
	{body: "return 1e300"},
	// KEYS and ARGV
	{body: "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", keys: []string{"k1", "k2"}, args: []string{"a1", "a2"}},
	// RESP -> Lua through redis.call
	{body: "redis.call('set', KEYS[1], 'v'); return redis.call('get', KEYS[1])", keys: []string{"k"}},
	{body: "return redis.call('get', 'missing')"},
	{body: "return type(redis.call('get', 'missing'))"},
	{body: "return redis.call('set', 'k', 'v')"},
	{body: "return redis.call('set', 'k', 'v')['ok']"},
	{body: "return redis.call('incr', 'counter')"},
	{body: "return redis.call('incr', 'counter') + 10"},
	{body: "redis.call('hset', 'h', 'f1', 'v1', 'f2', 'v2'); return redis.call('hgetall', 'h')"},
	{body: "redis.setresp(3); redis.call('hset', 'h', 'f1', 'v1'); return redis.call('hgetall', 'h')"},
	{body: "redis.setresp(3); redis.call('hset', 'h', 'f1', 'v1'); return redis.call('hgetall', 'h')['map']['f1']"},
	{body: "redis.setresp(3); return redis.call('get', 'missing') == nil"},
	{body: "redis.call('lpush', 'l', 'a', 'b', 'c'); return redis.call('lrange', 'l', 0, -1)"},
	{body: "return redis.call('set', 'n', 12.5)"},
	{body: "redis.call('set', 'n', 0.1); return redis.call('get', 'n')"},
	{body: "redis.call('set', 'n', 100); return redis.call('get', 'n')"},
	// Errors
	{body: "return foo"},
	{body: "foo = 1"},
	{body: "string.x = 1"},
	{body: "return redis.call('nosuch')"},
	{body: "return redis.call('get')"},
	{body: "return redis.pcall('get')"},
	{body: "return redis.call()"},
	{body: "return redis.call('get', {})"},
	{body: "return redis.pcall('get', {})"},
	{body: "error('x')"},
	{body: "error('x', 0)"},
	{body: "error({err='MY x'})"},
	{body: "\n\nerror('third line')"},
	{body: "redis.call('set', 's', 'a'); return redis.call('incr', 's')"},
	{body: "redis.call('set', 's', 'a'); return redis.pcall('incr', 's')"},
	{body: "local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), e}"},
	{body: "redis.call('set', 's', 'a'); local ok, e = pcall(redis.call, 'incr', 's'); return e"},
	{body: "return redis.call('hset', 'k', 'f')"},
	{body: "redis.call('set', 'k', 'v'); return redis.call('lpush', 'k', 'x')"},
	{body: "return redis.call('acl', 'cat')"},
	{body: "return redis.call('config', 'nosuchsub')"},
	{body: "return redis.setresp(4)"},
	{body: "return redis.log(redis.LOG_WARNING)"},
	{body: "return redis.log(99, 'x')"},
	{body: "return redis.set_repl(99)"},
	{body: "redis.set_repl(redis.REPL_ALL); return 1"},
	{body: "return redis.replicate_commands()"},
	{body: "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_ALL}"},
	{body: "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}"},
	{body: "return redis.REDIS_VERSION"},
	{body: "return redis.REDIS_VERSION_NUM"},
	{body: "return redis.sha1hex('')"},
	{body: "return redis.sha1hex('Pizza & Mandolino')"},
	{body: "return redis.sha1hex()"},
	{body: "return redis.error_reply(1, 2)"},
	// Shebang
	{body: "#!lua\nreturn 1"},
	{body: "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')"},
	{body: "#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'k')"},
	{body: "#!lua flags=bogus\nreturn 1"},
	{body: "#!lua bogus=1\nreturn 1"},
	{body: "#!python\nreturn 1"},
	{body: "#!lua"},
	{body: "#!lua\n\nerror('line three')"},
	// cjson
	{body: "return cjson.encode({1, 2, 3})"},
	{body: "return cjson.encode({a=1})"},
	{body: "return cjson.encode({})"},
	{body: "return cjson.encode('a/b\"c\\\\d\\n\\1')"},
	{body: "return cjson.encode({1.5, -0.25, 1e20, 123456789012345, 0.1})"},
	{body: "return cjson.encode({[1]=1, [2]=2, [4]=4})"},
	{body: "return cjson.encode({[1]=1, [20]=2})"},
	{body: "return cjson.encode({true, false, cjson.null})"},
	{body: "return cjson.encode({{{}}})"},
	{body: "return cjson.encode(function() end)"},
	{body: "return cjson.encode(1/0)"},
	{body: "local t = cjson.decode('[1,2,{\"a\":[true,false,null]},\"x\"]'); return {t[1], t[2], t[4], type(t[3].a[3]), tostring(t[3].a[1])}"},
	{body: "return cjson.decode('{\"a\":\"\\\\u00e9\\\\n\"}').a"},
	{body: "return cjson.decode('[1,2')"},
	{body: "return cjson.decode('{1:2}')"},
	{body: "return cjson.decode('x')"},
	{body: "return cjson.decode('[1] 2')"},
	{body: "return cjson.decode('\"abc')"},
	{body: "return cjson.decode('12.5e1')"},
	{body: "return cjson.encode(cjson.decode('{\"a\":{\"b\":[1,2,3]}}'))"},
	// cmsgpack
	{body: "return cmsgpack.pack({1, 2, 3})"},
	{body: "return cmsgpack.pack({a=1})"},
	{body: "return cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)"},
	{body: "return cmsgpack.pack(1.5, 0.1, -2.25)"},
	{body: "return cmsgpack.pack(true, false, nil, 'abc', string.rep('x', 40), string.rep('y', 300))"},
	{body: "return cmsgpack.pack({})"},
	{body: "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, -5))}"},
	{body: "local t = cmsgpack.unpack(cmsgpack.pack({a={b={1,2}}})); return t.a.b"},
	{body: "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}"},
	{body: "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}"},
	{body: "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}"},
	{body: "return {cmsgpack.unpack_one(cmsgpack.pack(7), 0)}"},
	{body: "return cmsgpack.unpack('\\217')"},
	{body: "return cmsgpack.unpack('\\193')"},
	// bit
	{body: "return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bnot(0)}"},
	{body: "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8)}"},
	{body: "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(1.5), bit.tobit(2.5), bit.bswap(0x12345678)}"},
	{body: "return {bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(0x12345678, 20)}"},
	// struct
	{body: "return struct.pack('>I2', 258)"},
	{body: "return struct.pack('<i4', -2)"},
	{body: "return struct.pack('bBhHlL', -1, 255, -2, 65535, -3, 4)"},
	{body: "return struct.pack('>d', 1.5)"},
	{body: "return struct.pack('<f', 0.5)"},
	{body: "return struct.pack('s', 'abc')"},
	{body: "return struct.pack('c5', 'abcdefg')"},
	{body: "return struct.pack('!4 b i4', 1, 2)"},
	{body: "return {struct.unpack('>I2', struct.pack('>I2', 258))}"},
	{body: "return {struct.unpack('<i4i4', struct.pack('<i4i4', -2, 7))}"},
	{body: "return {struct.unpack('s', 'abc\\0rest')}"},
	{body: "return {struct.unpack('b', 'xy', 2)}"},
	{body: "return {struct.unpack('B c0', '\\3abcdef')}"},
	{body: "return {struct.size('>I2i4d'), struct.size('!4 b i4'), struct.size('c10')}"},
	{body: "return struct.size('s')"},
	{body: "return struct.unpack('i4', 'ab')"},
	// math.random
	{body: "math.randomseed(42); return {math.random(100), math.random(100), math.random(1, 10), math.floor(math.random() * 1000000)}"},
	{body: "math.randomseed(-7); local t = {} for i = 1, 20 do t[i] = math.random(1000) end return t"},
	// Libraries and globals present
	{body: "return {type(string), type(table), type(math), type(cjson), type(cmsgpack), type(bit), type(struct), type(redis), type(coroutine)}"},
	{body: "return {type(loadstring), type(pcall), type(xpcall), type(unpack), type(select), type(gcinfo), type(load), type(rawequal)}"},
	{body: "return setfenv"},
	{body: "return getfenv"},
	{body: "return newproxy"},
	{body: "return print"},
	{body: "return dofile"},
	{body: "return loadfile"},
	{body: "return os"},
	{body: "return io"},
	{body: "return debug"},
	{body: "return require"},
	{body: "return string.format('%05d|%s|%x', 42, 'x', 255)"},
	{body: "return {string.byte('A'), string.char(66), string.rep('ab', 3), string.upper('x'), ('y'):upper()}"},
	{body: "local t = {3, 1, 2}; table.sort(t); return t"},
	{body: "return table.concat({1, 2, 3}, ',')"},
	{body: "return {math.floor(3.7), math.max(1, 9, 3), math.abs(-4), math.fmod(7, 3)}"},
	{body: "local t = {}; table.insert(t, 'a'); table.insert(t, 'b'); return t"},
	{body: "return table.insert(string, 'x')"},
	{body: "return rawset(_G, 'x', 1)"},
	{body: "local f = loadstring('return 1 + 1'); return f()"},
	{body: "return _G.redis == redis"},
	{body: "return select('#', 1, 2, 3)"},
	{body: "local co = coroutine.create(function(a) coroutine.yield(a + 1) return 10 end); local _, v = coroutine.resume(co, 1); return v"},
}

// TestDifferentialRedis runs diffScripts on redis-server and on the
// Engine with a fake host and compares the replies byte for byte, for
// a RESP2 client and a RESP3 client.
func TestDifferentialRedis(t *testing.T) {
	srv := startRedis(t)
	for _, proto := range []int{2, 3} {
		srv.do(t, "HELLO", strconv.Itoa(proto))
		e := New(nil)
		for _, sc := range diffScripts {
			srv.do(t, "FLUSHALL")
			cmd := []string{"EVAL", sc.body, strconv.Itoa(len(sc.keys))}
			cmd = append(append(cmd, sc.keys...), sc.args...)
			want := srv.do(t, cmd...)
			got := e.Eval([]byte(sc.body), toBytes(sc.keys), toBytes(sc.args), newFakeHost(), Options{Resp: proto}).Reply
			if !bytes.Equal(got, want) {
				t.Errorf("RESP%d %q:\n got  %q\n want %q", proto, sc.body, got, want)
			}
		}
	}
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestDifferentialFunctions compares FUNCTION LOAD's errors and FCALL's
// replies with redis-server's.
func TestDifferentialFunctions(t *testing.T) {
	srv := startRedis(t)
	e := New(nil)
	loads := []string{
		libA,
		libA,
		"return 1",
		"#!lua name=x",
		"#!lua\nreturn 1",
		"#!lua name=a name=b\n",
		"#!lua foo=bar\n",
		"#!lua name=bad-name\n",
		"#!js name=x\n",
		"#!lua name=x\nreturn 1",
		"#!lua name=x\nredis.register_function('echo_a', function() end)",
		"#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)",
		"#!lua name=x\nredis.register_function('bad-name', function() end)",
		"#!lua name=x\nredis.register_function('f', 1)",
		"#!lua name=x\nredis.register_function{function_name='f'}",
		"#!lua name=x\nredis.register_function{callback=function() end}",
		"#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
		"#!lua name=x\nredis.register_function{function_name='f', callback=function() end, other=1}",
		"#!lua name=x\nredis.register_function(1)",
		"#!lua name=x\nlocal s = string.format('a')",
		"#!lua name=x\nredis.call('get', 'x')",
		"#!lua name=x\nerror('boom')",
		"#!lua name=fl\nredis.register_function{function_name='ro', callback=function(k, a) return {k[1], a[1], redis.call('get', k[1])} end, flags={'no-writes'}}\nredis.register_function('wr', function(k, a) return redis.call('set', k[1], a[1]) end)\nredis.register_function('bad', function() return nokey end)",
	}
	for _, code := range loads {
		want := srv.do(t, "FUNCTION", "LOAD", code)
		var got []byte
		if name, err := e.FunctionLoad([]byte(code), false); err != nil {
			got = errorResult(err).Reply
		} else {
			got = []byte(bulk(name))
		}
		if !bytes.Equal(got, want) {
			t.Errorf("FUNCTION LOAD %q:\n got  %q\n want %q", code, got, want)
		}
	}
	calls := []struct {
		ro         bool
		name       string
		keys, args []string
	}{
		{false, "echo_a", nil, []string{"x"}},
		{false, "keys_a", []string{"a", "b"}, nil},
		{true, "ro", []string{"k"}, []string{"v"}},
		{true, "wr", []string{"k"}, []string{"v"}},
		{false, "wr", []string{"k"}, []string{"v"}},
		{false, "bad", nil, nil},
		{false, "nosuch", nil, nil},
	}
	for _, c := range calls {
		srv.do(t, "FLUSHALL")
		cmd := "FCALL"
		if c.ro {
			cmd = "FCALL_RO"
		}
		want := srv.do(t, append(append([]string{cmd, c.name, strconv.Itoa(len(c.keys))}, c.keys...), c.args...)...)
		got := e.FCall(c.name, toBytes(c.keys), toBytes(c.args), newFakeHost(), Options{ReadOnly: c.ro}).Reply
		if !bytes.Equal(got, want) {
			t.Errorf("%s %s:\n got  %q\n want %q", cmd, c.name, got, want)
		}
	}
}
