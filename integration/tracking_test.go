package integration

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// TestRueidisClientSideCaching: rueidis, Redis's own Go client, opens its
// connections with HELLO 3 and CLIENT TRACKING and serves DoCache reads
// from its cache until an invalidation arrives. A SET by another client
// must reach it, through the leader and through a follower serving
// READONLY reads, or it would serve the old value forever.
func TestRueidisClientSideCaching(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.waitConverged(20 * time.Second)
	writer := client(t, leader.addr)
	for _, viaFollower := range []bool{false, true} {
		name := "leader"
		opt := rueidis.ClientOption{InitAddress: []string{leader.addr}, DisableRetry: true}
		if viaFollower {
			name = "follower"
			opt.SendToReplicas = func(cmd rueidis.Completed) bool { return cmd.IsReadOnly() }
		}
		t.Run(name, func(t *testing.T) {
			if viaFollower {
				// rueidis reads the topology when it starts, and CLUSTER
				// SLOTS lists a follower only once the leader has heard it
				// answer: until then, reads go to the leader.
				waitFor(t, 10*time.Second, "followers listed by CLUSTER SLOTS", func() error {
					sl, err := leader.rdb.ClusterSlots(context.Background()).Result()
					if err != nil {
						return err
					}
					if len(sl) == 0 || len(sl[0].Nodes) < 3 {
						return fmt.Errorf("CLUSTER SLOTS: %v", sl)
					}
					return nil
				})
			}
			rc, err := rueidis.NewClient(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			ctx := context.Background()
			key := "cached:" + name
			if err := writer.Set(ctx, key, "v1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			get := func() (string, bool) {
				resp := rc.DoCache(ctx, rc.B().Get().Key(key).Cache(), time.Minute)
				v, err := resp.ToString()
				if err != nil {
					return "(error) " + err.Error(), false
				}
				return v, resp.IsCacheHit()
			}
			// A follower may not have applied v1 yet: read until it has.
			waitFor(t, 10*time.Second, "v1 read", func() error {
				if v, _ := get(); v != "v1" {
					return fmt.Errorf("read %q", v)
				}
				return nil
			})
			if v, hit := get(); v != "v1" || !hit {
				t.Fatalf("second read: %q, cache hit %v; want v1 from the cache", v, hit)
			}
			// The nodes that served the read track the key for rueidis.
			servers := []*node{leader}
			if viaFollower {
				servers = c.followers(leader)
			}
			tracked := 0
			for _, nd := range servers {
				stats, err := nd.info(ctx, "stats")
				if err != nil {
					t.Fatal(err)
				}
				n, _ := strconv.Atoi(stats["tracking_total_keys"])
				tracked += n
			}
			if tracked == 0 {
				t.Fatalf("no key tracked on %s", name)
			}
			if err := writer.Set(ctx, key, "v2", 0).Err(); err != nil {
				t.Fatal(err)
			}
			// The invalidation drops the cached v1; the next read that
			// misses the cache reads v2 (a follower once it applied it).
			waitFor(t, 10*time.Second, "v2 after the invalidation", func() error {
				if v, _ := get(); v != "v2" {
					return fmt.Errorf("read %q", v)
				}
				return nil
			})
		})
	}
}

// TestGoRedisTrackingRedirect: a go-redis connection speaking RESP3 turns
// tracking on with its invalidations redirected to a go-redis Pub/Sub
// connection on __redis__:invalidate, the way RESP2 clients receive them;
// a SET by another client is reported there, on the leader and on a
// READONLY follower.
func TestGoRedisTrackingRedirect(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.waitConverged(20 * time.Second)
	writer := client(t, leader.addr)
	ctx := context.Background()
	for _, nd := range []*node{leader, c.followers(leader)[0]} {
		listener := redis.NewClient(&redis.Options{Addr: nd.addr, ClientName: "invalidations", Protocol: 2})
		defer listener.Close()
		ps := listener.Subscribe(ctx, "__redis__:invalidate")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		redirect := clientIDByName(t, client(t, nd.addr), "invalidations")

		tracker := redis.NewClient(&redis.Options{Addr: nd.addr, Protocol: 3, PoolSize: 1, MaxRetries: -1,
			OnConnect: func(ctx context.Context, cn *redis.Conn) error {
				if err := cn.ReadOnly(ctx).Err(); err != nil {
					return err
				}
				return cn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", redirect).Err()
			}})
		defer tracker.Close()
		key := "tracked:" + nd.addr
		if err := writer.Set(ctx, key, "v1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "v1 read on "+nd.addr, func() error {
			if v, err := tracker.Get(ctx, key).Result(); v != "v1" {
				return fmt.Errorf("read %q, %v", v, err)
			}
			return nil
		})
		if err := writer.Set(ctx, key, "v2", 0).Err(); err != nil {
			t.Fatal(err)
		}
		msg := receiveInvalidation(t, ps)
		if !slices.Equal(msg.PayloadSlice, []string{key}) {
			t.Fatalf("%s: invalidation %q (%q), want [%s]", nd.addr, msg.PayloadSlice, msg.Payload, key)
		}
	}
}

func receiveInvalidation(t *testing.T, ps *redis.PubSub) *redis.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("no invalidation: %v", err)
	}
	if msg.Channel != "__redis__:invalidate" {
		t.Fatalf("message on %q", msg.Channel)
	}
	return msg
}

// clientIDByName finds a connection's id in CLIENT LIST by its name.
func clientIDByName(t *testing.T, rdb *redis.Client, name string) string {
	t.Helper()
	list, err := rdb.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+name+" ") {
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
			return id
		}
	}
	t.Fatalf("no connection named %s in %q", name, list)
	return ""
}
