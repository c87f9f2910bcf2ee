package script

import (
	"fmt"
	"testing"
)

func TestQuick(t *testing.T) {
	e := New(nil)
	h := newFakeHost()
	for _, s := range []string{
		"foo = 1", "return foo", "return redis.call('nosuch')", "return redis.call('get')",
		"return redis.pcall('get')", "error('x')", "error({err='MY x'})",
		"redis.call('set','s','a'); return redis.call('incr','s')",
		"return {1,2,3,'ciao',{1,2}}", "return string.x", "string.x = 1", "return 1 +",
		"return cjson.encode({1,2,{a=1}})", "return bit.tohex(65535)",
		"local t = {} ; return math.random(100)",
	} {
		r := e.Eval([]byte(s), nil, nil, h, Options{})
		fmt.Printf("%q -> %q\n", s, r.Reply)
	}
}
