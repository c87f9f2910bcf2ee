package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/consensus/transport"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/resp"
	"github.com/rkv/rkv/wal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "frontproto:", err)
		os.Exit(1)
	}
}

// run serves one node until ctx ends.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("frontproto", flag.ContinueOnError)
	id := fs.Uint64("id", 1, "this node's id")
	addr := fs.String("addr", "127.0.0.1:6379", "client address (IPv4 host:port)")
	bus := fs.String("bus", "", "Raft bus address (default: the client port + 10000)")
	dir := fs.String("dir", "frontproto-data", "data directory (fresh)")
	cluster := fs.String("cluster", "", "every member as id=host:port[@busport],... (default: this node alone)")
	readMode := fs.String("read-mode", "linearizable", "linearizable or lease")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := replica.ParseMember(*addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	self.ID = consensus.NodeID(*id)
	if *bus != "" {
		self.BusAddr = *bus
	}
	members := []replica.Member{self}
	if *cluster != "" {
		if members, err = replica.ParseCluster(*cluster); err != nil {
			return fmt.Errorf("--cluster: %w", err)
		}
	}
	if *pprofAddr != "" {
		go http.ListenAndServe(*pprofAddr, nil)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	tr, err := transport.New(transport.Config{ClusterID: replica.ClusterID(members), NodeID: self.ID, ListenAddr: self.BusAddr, Logger: logger})
	if err != nil {
		return err
	}
	defer tr.Close()
	dirMembers := replica.NewMembers(nil, func(m replica.Member, removed bool) {
		if m.ID == self.ID {
			return
		}
		if removed {
			tr.RemovePeer(m.ID)
		} else {
			tr.SetPeer(m.ID, m.BusAddr)
		}
	})
	var peers []consensus.NodeID
	for _, m := range members {
		dirMembers.Set(m)
		peers = append(peers, m.ID)
	}
	dirMembers.Set(self)
	log, err := wal.Open(*dir, wal.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer log.Close()
	acl, err := resp.NewACL("", nil)
	if err != nil {
		return err
	}
	// cmd/rkv's defaults: a 1 s election timeout over 100 ms ticks.
	const electionTick = 10
	rep, err := replica.Start(replica.Config{
		Node: consensus.NodeConfig{
			Raft: consensus.Config{
				ID: self.ID, Group: 1, ElectionTick: electionTick, HeartbeatTick: 1,
				Peers: peers, PreVote: true, CheckQuorum: true,
				LeaseRead: *readMode == "lease", LeaseMargin: max(3, electionTick/5),
				Rand:   rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(self.ID))),
				Logger: logger,
			},
			Storage:            log,
			Transport:          tr,
			TickInterval:       100 * time.Millisecond,
			SnapshotEntries:    100000,
			SnapshotLogPercent: 50,
			Logger:             logger,
		},
		Members: dirMembers,
		Users:   acl,
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	tr.Register(1, rep.Node().Step)
	srv, err := newServer(self.ClientAddr, rep)
	if err != nil {
		rep.Stop()
		return err
	}
	served := make(chan struct{})
	go func() {
		srv.loop()
		close(served)
	}()
	logger.Info("frontproto serving", "addr", self.ClientAddr, "bus", self.BusAddr, "members", len(members))
	<-ctx.Done()
	srv.stop()
	<-served
	// Stopping the node fails the batches still waiting on it, so that
	// their goroutines finish before the sockets close.
	rep.Stop()
	srv.close()
	return nil
}
