package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStalledLeaderReads freezes the leader (SIGSTOP) until the others
// elect a new one and take a newer write, then thaws it with a read already
// waiting on its socket. Whatever the read mode, the old leader must not
// answer with the overwritten value: a ReadIndex round cannot succeed at
// the old term, and a lease must not outlive the pause.
func TestStalledLeaderReads(t *testing.T) {
	for _, mode := range []string{"linearizable", "lease"} {
		t.Run(mode, func(t *testing.T) {
			c := newCluster(t, 3, clusterOpts{extraArgs: []string{"--read-mode", mode}})
			old := c.leader(10 * time.Second)
			ctx := context.Background()
			oc := client(t, old.addr)
			if err := oc.Set(ctx, "k", "v1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := oc.Get(ctx, "k").Result(); err != nil || got != "v1" {
				t.Fatalf("GET k on the leader = %q, %v", got, err)
			}
			if inf, err := old.info(ctx, "raft"); err != nil || inf["raft_read_mode"] != mode {
				t.Fatalf("INFO raft_read_mode = %q, %v; want %s", inf["raft_read_mode"], err, mode)
			}

			raw, err := net.Dial("tcp", old.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			br := bufio.NewReader(raw)
			if _, err := raw.Write([]byte("PING\r\n")); err != nil {
				t.Fatal(err)
			}
			if r, err := readReply(br); err != nil || r != "+PONG" {
				t.Fatalf("PING on a raw connection = %q, %v", r, err)
			}

			old.signal(syscall.SIGSTOP)
			stopped := true
			defer func() {
				if stopped {
					old.signal(syscall.SIGCONT)
				}
			}()
			var nl *node
			waitFor(t, 10*time.Second, "another node to take the newer write", func() error {
				for _, nd := range c.others(old) {
					cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
					err := nd.rdb.Set(cctx, "k", "v2", 0).Err()
					cancel()
					if err == nil {
						nl = nd
						return nil
					}
				}
				return fmt.Errorf("no node accepted SET k v2")
			})

			// Queue the read on the frozen node's socket, then thaw it: the
			// read and the new leader's messages arrive together. The
			// connection was accepted before the freeze, and a write to it
			// lands in the kernel's buffer while the process is stopped.
			if _, err := raw.Write([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")); err != nil {
				t.Fatal(err)
			}
			old.signal(syscall.SIGCONT)
			stopped = false
			thawed := time.Now()
			raw.SetReadDeadline(time.Now().Add(15 * time.Second))
			got, err := readReply(br)
			if err != nil {
				t.Fatalf("reading the reply of the thawed old leader: %v", err)
			}
			took := time.Since(thawed)
			t.Logf("read on the thawed old leader %d (new leader %d) answered %v after the thaw: %s",
				old.id, nl.id, took.Round(time.Millisecond), got)
			// The first message from the new leader, or the answer to its
			// own ReadIndex heartbeat, tells the old leader of the new term:
			// the read should be redirected at once, not time out.
			if took > electionTimeout+time.Second {
				t.Errorf("the thawed old leader took %v to answer the read", took)
			}
			if got == "v1" {
				t.Errorf("stale read: the old leader answered GET k with v1 after node %d acknowledged SET k v2", nl.id)
			}
		})
	}
}

// readReply reads one RESP2 reply that is a simple string, an error or a
// bulk string, returning bulk strings bare and the others with their
// type byte ("+PONG", "-MOVED ...", "(nil)").
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
