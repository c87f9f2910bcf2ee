package integration

import "testing"

// TestDifferentialMinReplicas: with min-replicas-to-write above the
// followers it has, a node refuses writes, write scripts and
// transactions with NOREPLICAS and serves reads, as a redis-server
// without replicas does.
func TestDifferentialMinReplicas(t *testing.T) {
	rd := diffTarget{"redis", diffStartRedis(t)}
	rk := diffTarget{"rkv", diffStartRKV(t)}
	steps := [][]string{
		{"SET", "x", "some value"}, {"CONFIG", "SET", "min-replicas-to-write", "-1"},
		{"CONFIG", "SET", "min-replicas-to-write", "1"}, {"CONFIG", "GET", "min-replicas-to-write"},
		{"SET", "x", "1"}, {"GET", "x"}, {"INCR", "n"}, {"SET", "x"},
		{"EVAL", "return redis.call('get', KEYS[1])", "1", "x"},
		{"EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "x"},
		{"EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "x"},
		{"EVAL", "return redis.call('set', KEYS[1], 1)", "1", "x"},
		{"MULTI"}, {"SET", "x", "2"}, {"EXEC"}, {"MULTI"}, {"GET", "x"}, {"EXEC"},
		{"CONFIG", "SET", "min-replicas-to-write", "0"}, {"SET", "x", "3"}, {"GET", "x"},
	}
	for _, args := range steps {
		if a := diffRun(t, rd, rk, diffCmd{args: args}); !a.ok {
			t.Errorf("%q:\n  redis: %s\n  rkv:   %s", args, a.redis, a.rkv)
		}
	}
}
