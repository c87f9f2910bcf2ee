package store

import "testing"

// A negative count beyond maxRepeatedDraws is refused before any reply is
// built, on a key of any size.
func TestRepeatedDrawsBounded(t *testing.T) {
	s := New()
	apply(s, 1, "hset h f v")
	apply(s, 1, "sadd s m")
	for _, cmd := range []string{"hrandfield h -16777217", "hrandfield h -16777217 withvalues", "srandmember s -16777217"} {
		if got := apply(s, 1, cmd); got != errs(errTooManyDraws) {
			t.Errorf("%s = %q", cmd, got)
		}
	}
	if got := apply(s, 1, "srandmember s -3"); got != arr(bulk("m"), bulk("m"), bulk("m")) {
		t.Errorf("srandmember s -3 = %q", got)
	}
}
