package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSetGet starts one node and checks SET and GET, alone and pipelined
// (SETs and GETs of the same keys interleaved, so that order matters), with
// a value larger than one read.
func TestSetGet(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- run(ctx, []string{"--addr", addr, "--bus", freeAddr(t), "--dir", t.TempDir()}) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()

	deadline := time.Now().Add(10 * time.Second)
	for err := c.Set(ctx, "k", "v", 0).Err(); err != nil; err = c.Set(ctx, "k", "v", 0).Err() {
		if time.Now().After(deadline) {
			t.Fatalf("no SET served: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := c.Get(ctx, "k").Result(); v != "v" || err != nil {
		t.Fatalf("GET k = %q, %v", v, err)
	}
	if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET missing: %v, want nil", err)
	}
	if err := c.Do(ctx, "nosuch").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command") {
		t.Fatalf("unknown command: %v", err)
	}

	big := strings.Repeat("x", 100<<10)
	pipe := c.Pipeline()
	var gets []*redis.StringCmd
	for i := range 50 {
		key := fmt.Sprintf("p%d", i%10)
		val := fmt.Sprintf("v%d", i)
		if i == 25 {
			val = big
		}
		pipe.Set(ctx, key, val, 0)
		gets = append(gets, pipe.Get(ctx, key))
		pipe.Ping(ctx)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, g := range gets {
		want := fmt.Sprintf("v%d", i)
		if i == 25 {
			want = big
		}
		if g.Val() != want {
			t.Fatalf("pipelined GET %d = %.20q, want %.20q", i, g.Val(), want)
		}
	}
}
