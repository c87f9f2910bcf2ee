package store

import (
	"bytes"
	"fmt"
	"testing"
)

// RANDOMKEY applied from the log (alone or inside EXEC) must answer the same
// on every replica: its draw comes from the log's randomness.
func TestRandomkeyDeterministicInLog(t *testing.T) {
	a, b := New(), New()
	for i := range 500 {
		cmd := fmt.Sprintf("set key:%d v", i)
		apply(a, 1000, cmd)
		apply(b, 1000, cmd)
	}
	exec := ExecArgs(nil, [][][]byte{argv("randomkey"), argv("randomkey")})
	for i := range 20 {
		stamp := int64(2000 + i)
		if ra, rb := apply(a, stamp, "randomkey"), apply(b, stamp, "randomkey"); ra != rb {
			t.Fatalf("randomkey %d: %q on one replica, %q on the other", i, ra, rb)
		}
		ra, rb := a.ApplyOp(OpExec, 0, stamp, exec, nil), b.ApplyOp(OpExec, 0, stamp, exec, nil)
		if !bytes.Equal(ra, rb) {
			t.Fatalf("exec randomkey %d: %q on one replica, %q on the other", i, ra, rb)
		}
	}
}
