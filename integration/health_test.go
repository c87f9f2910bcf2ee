package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLostReplicaReported: with a follower killed, the leader's INFO
// replication, ROLE, CLUSTER NODES, SHARDS and SLOTS say so (connected
// replicas only, "fail", "health offline", no slot route to it), as a
// Redis master and Redis Cluster report a lost replica; once it is back,
// they say it is online again.
func TestLostReplicaReported(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader(10 * time.Second)
	lost := c.followers(leader)[0]
	ctx := context.Background()
	view := func() (info map[string]string, nodes, shards string, slots, role int, err error) {
		if info, err = leader.info(ctx, "replication"); err != nil {
			return
		}
		if nodes, err = leader.rdb.ClusterNodes(ctx).Result(); err != nil {
			return
		}
		sh, err := leader.rdb.Do(ctx, "CLUSTER", "SHARDS").Result()
		if err != nil {
			return
		}
		shards = fmt.Sprint(sh)
		sl, err := leader.rdb.ClusterSlots(ctx).Result()
		if err != nil || len(sl) != 1 {
			err = fmt.Errorf("CLUSTER SLOTS = %v, %v", sl, err)
			return
		}
		slots = len(sl[0].Nodes)
		r, err := leader.rdb.Do(ctx, "ROLE").Slice()
		if err != nil || len(r) != 3 {
			err = fmt.Errorf("ROLE = %v, %v", r, err)
			return
		}
		role = len(r[2].([]any))
		return
	}
	lostLine := func(nodes string) string {
		for _, l := range strings.Split(nodes, "\n") {
			if strings.Contains(l, lost.addr) {
				return l
			}
		}
		return ""
	}
	waitFor(t, 20*time.Second, "the leader to report both followers online", func() error {
		info, nodes, shards, slots, role, err := view()
		switch {
		case err != nil:
			return err
		case info["connected_slaves"] != "2" || slots != 3 || role != 2 || strings.Contains(shards, "offline"):
			return fmt.Errorf("connected_slaves %s, %d slot nodes, %d in ROLE, shards %s", info["connected_slaves"], slots, role, shards)
		case !strings.Contains(lostLine(nodes), " connected"):
			return fmt.Errorf("CLUSTER NODES line %q", lostLine(nodes))
		}
		return nil
	})
	lost.kill()
	waitFor(t, 20*time.Second, "the leader to report the killed follower", func() error {
		info, nodes, shards, slots, role, err := view()
		switch {
		case err != nil:
			return err
		case info["connected_slaves"] != "1" || slots != 2 || role != 1 || !strings.Contains(shards, "offline"):
			return fmt.Errorf("connected_slaves %s, %d slot nodes, %d in ROLE, shards %s", info["connected_slaves"], slots, role, shards)
		case !strings.Contains(lostLine(nodes), ",fail ") || !strings.Contains(lostLine(nodes), " disconnected"):
			return fmt.Errorf("CLUSTER NODES line %q", lostLine(nodes))
		case strings.Contains(info["slave0"], lost.addr[strings.LastIndex(lost.addr, ":")+1:]+","):
			return fmt.Errorf("slave0 is the killed follower: %s", info["slave0"])
		}
		return nil
	})
	lost.start()
	waitFor(t, 30*time.Second, "the leader to report the follower online again", func() error {
		info, nodes, _, slots, _, err := view()
		switch {
		case err != nil:
			return err
		case info["connected_slaves"] != "2" || slots != 3:
			return fmt.Errorf("connected_slaves %s, %d slot nodes", info["connected_slaves"], slots)
		case strings.Contains(lostLine(nodes), "fail"):
			return fmt.Errorf("CLUSTER NODES line %q", lostLine(nodes))
		}
		return nil
	})
}
