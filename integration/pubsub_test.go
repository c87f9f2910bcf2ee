package integration

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// received is what one subscriber got, message by message, until its
// connection ended or it got "end".
type received struct {
	name string
	mu   sync.Mutex
	msgs []string
	done bool
}

func (r *received) add(m string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *received) finish() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

func (r *received) snapshot() ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...), r.done
}

// goSubscriber subscribes with go-redis's PubSub; it returns once the
// subscription is confirmed. It stops at the first error, so that a
// reconnection cannot hide a lost message.
func goSubscriber(t *testing.T, addr, channel string) *received {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	ps := rdb.Subscribe(ctx, channel)
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.ReceiveTimeout(ctx, 10*time.Second); err != nil {
		t.Fatalf("go-redis SUBSCRIBE on %s: %v", addr, err)
	}
	r := &received{name: "go-redis@" + addr}
	go func() {
		defer r.finish()
		for {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				return
			}
			r.add(msg.Payload)
			if msg.Payload == "end" {
				return
			}
		}
	}()
	return r
}

// pySubscriber subscribes with redis-py's PubSub (testdata/pubsub.py); it
// returns once the subscription is confirmed.
func pySubscriber(t *testing.T, addr, channel string) *received {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/pubsub.py", host, port, channel)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-py subscriber: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		cancel()
		cmd.Wait()
		t.Fatalf("redis-py subscriber on %s did not subscribe: %q %s", addr, lines.Text(), stderr.String())
	}
	r := &received{name: "redis-py@" + addr}
	go func() {
		defer r.finish()
		for lines.Scan() {
			r.add(lines.Text())
		}
	}()
	return r
}

// checkReceived checks that r got increasing sequence numbers, none twice,
// every acknowledged one from from on among them, and, if complete, "end"
// last.
func checkReceived(t *testing.T, r *received, acked []int, from int, complete bool) {
	t.Helper()
	msgs, _ := r.snapshot()
	got := map[int]bool{}
	last := -1
	for i, m := range msgs {
		if m == "end" {
			if i != len(msgs)-1 {
				t.Errorf("%s: %q after end", r.name, msgs[i+1:])
			}
			break
		}
		n, err := strconv.Atoi(m)
		if err != nil || n <= last {
			t.Errorf("%s: message %q after %d: want increasing sequence numbers, each once", r.name, m, last)
			return
		}
		last, got[n] = n, true
	}
	if !complete {
		return
	}
	if len(msgs) == 0 || msgs[len(msgs)-1] != "end" {
		t.Errorf("%s: no end; last messages %q", r.name, msgs[max(0, len(msgs)-5):])
	}
	for _, a := range acked {
		if a >= from && !got[a] {
			t.Errorf("%s: acknowledged message %d not received", r.name, a)
		}
	}
}

// TestPubSubThroughLeaderKill: go-redis and redis-py subscribers on every
// node of a 3-node cluster receive every acknowledged PUBLISH exactly once
// and in order while the leader is killed and restarted; those on the
// killed node receive an ordered prefix, and new ones on it after its
// restart everything acknowledged after they subscribed.
func TestPubSubThroughLeaderKill(t *testing.T) {
	if out, err := exec.Command("/usr/bin/python3", "-c", "import redis").CombinedOutput(); err != nil {
		t.Fatalf("/usr/bin/python3 with the redis module is required (apt-get install python3-redis): %v\n%s", err, out)
	}
	c := newCluster(t, 3, clusterOpts{})
	first := c.leader(10 * time.Second)
	const channel = "feed"
	subs := map[*node][]*received{}
	for _, nd := range c.nodes {
		subs[nd] = []*received{goSubscriber(t, nd.addr, channel), pySubscriber(t, nd.addr, channel)}
	}
	var acked []int
	// publish sends one message to the leader of the moment; a message
	// whose outcome is unknown is never sent again, so none may arrive
	// twice.
	publish := func(msg string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		leader, err := c.leaderNow(ctx)
		if err != nil {
			time.Sleep(20 * time.Millisecond) // no leader yet: the next attempt polls again
			return false
		}
		return leader.rdb.Publish(ctx, channel, msg).Err() == nil
	}
	const total, killAt, restartAt = 600, 150, 350
	var late []*received
	lateFrom := 0
	for i := 0; i < total; i++ {
		switch i {
		case killAt:
			first.kill()
		case restartAt:
			first.start()
			c.leader(20 * time.Second)
			late = []*received{goSubscriber(t, first.addr, channel), pySubscriber(t, first.addr, channel)}
			lateFrom = i
		}
		if publish(strconv.Itoa(i)) {
			acked = append(acked, i)
		}
	}
	waitFor(t, 30*time.Second, "PUBLISH end", func() error {
		if !publish("end") {
			return fmt.Errorf("not acknowledged")
		}
		return nil
	})
	if len(acked) < total/2 {
		t.Fatalf("only %d of %d publishes acknowledged", len(acked), total)
	}
	everyone := late
	for _, nd := range c.others(first) {
		everyone = append(everyone, subs[nd]...)
	}
	waitFor(t, 30*time.Second, "every subscriber to receive end", func() error {
		for _, r := range everyone {
			if msgs, done := r.snapshot(); !done {
				return fmt.Errorf("%s has %d messages", r.name, len(msgs))
			}
		}
		return nil
	})
	for _, nd := range c.others(first) {
		for _, r := range subs[nd] {
			checkReceived(t, r, acked, 0, true)
		}
	}
	for _, r := range subs[first] {
		checkReceived(t, r, acked, 0, false)
	}
	for _, r := range late {
		checkReceived(t, r, acked, lateFrom, true)
	}
	t.Logf("%d of %d publishes acknowledged", len(acked), total)
}
