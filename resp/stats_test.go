package resp

import (
	"context"
	"strings"
	"testing"
)

// TestCommandStats: INFO commandstats counts each command's calls, the
// calls refused before they ran and those that answered an error, and
// errorstats the error codes; the default INFO leaves commandstats out,
// "all" has it, CONFIG RESETSTAT empties both.
func TestCommandStats(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	c := nodes[0].client
	// What the client sent on connecting (go-redis tries commands rkv
	// refuses) is counted before RESETSTAT.
	c.ConfigResetStat(ctx)
	c.Set(ctx, "k", "v", 0)
	c.Get(ctx, "k")
	c.Get(ctx, "k")
	c.Incr(ctx, "k")             // WRONGTYPE-like: not an integer
	c.Do(ctx, "get")             // wrong arity: refused
	c.Do(ctx, "client", "bogus") // unknown subcommand: refused
	info := c.Info(ctx, "commandstats", "errorstats").Val()
	for _, want := range []string{
		"cmdstat_get:calls=2,", "rejected_calls=1,failed_calls=0\r\n", "cmdstat_incr:calls=1,",
		"errorstat_ERR:count=3",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO commandstats errorstats lacks %q:\n%s", want, info)
		}
	}
	if !strings.Contains(info, "cmdstat_incr:calls=1,") || !strings.Contains(info, "rejected_calls=0,failed_calls=1") {
		t.Errorf("INCR of a string is not a failed call:\n%s", info)
	}
	if def := c.Info(ctx).Val(); strings.Contains(def, "cmdstat_") || !strings.Contains(def, "errorstat_") {
		t.Errorf("default INFO: commandstats shown or errorstats missing:\n%s", def)
	}
	if all := c.Info(ctx, "all").Val(); !strings.Contains(all, "cmdstat_get") {
		t.Errorf("INFO all lacks commandstats")
	}
	c.ConfigResetStat(ctx)
	if info := c.Info(ctx, "commandstats", "errorstats").Val(); strings.Contains(info, "cmdstat_get") || strings.Contains(info, "errorstat_") {
		t.Errorf("after CONFIG RESETSTAT:\n%s", info)
	}
}

// TestRedirectCountedAsRejected: a follower's MOVED refuses the command
// before it runs, as Redis's cluster redirections do: a rejected call,
// not a call, with one MOVED in errorstats per command.
func TestRedirectCountedAsRejected(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	ctx := context.Background()
	c := follower.client
	c.ConfigResetStat(ctx)
	c.Set(ctx, "k", "v", 0)
	c.Get(ctx, "k")
	pipe := c.Pipeline()
	pipe.Set(ctx, "a", "1", 0)
	pipe.Set(ctx, "b", "2", 0)
	pipe.Exec(ctx)
	info := c.Info(ctx, "commandstats", "errorstats").Val()
	for _, want := range []string{
		"cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=3,failed_calls=0\r\n",
		"cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n",
		"errorstat_MOVED:count=4\r\n",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO commandstats errorstats lacks %q:\n%s", want, info)
		}
	}
}
