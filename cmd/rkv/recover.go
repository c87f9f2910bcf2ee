package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/wal"
)

// runRecover is rkv recover --dir D --force-new-cluster: for a cluster
// that lost a majority of its voters for good, it rewrites the data
// directory of a stopped survivor so that it restarts as the only member
// of a new cluster, holding everything its log held (see
// consensus.ForceNewCluster), under a new cluster id so that the old
// members, should one come back, are refused at the bus handshake. New
// nodes then join it with --join and empty directories.
func runRecover(args []string) error {
	fs := flag.NewFlagSet("rkv recover", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "rkv-data", "data directory of the stopped node to recover")
	force := fs.Bool("force-new-cluster", false, "make the node the only member of a new cluster, keeping all its data")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Println("usage: rkv recover --dir D --force-new-cluster")
			fmt.Println("  Offline, on a stopped node of a cluster that lost a majority for good: the node restarts as")
			fmt.Println("  the only member of a new cluster with all its data; others then join it with --join.")
			fs.PrintDefaults()
			return err
		}
		return &usageError{err.Error() + " (run rkv recover -h for the flags)"}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if !*force {
		return &usageError{"recover needs --force-new-cluster, the only recovery it makes (run rkv recover -h)"}
	}
	ident, err := loadIdentity(*dir)
	if err != nil {
		return err
	}
	if ident == nil {
		return fmt.Errorf("--dir %s holds no rkv node (no %s)", *dir, identityFile)
	}
	lock, err := lockDir(*dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	log, err := wal.Open(*dir, wal.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	id := consensus.NodeID(ident.NodeID)
	removed, err := consensus.ForceNewCluster(log, id)
	last, _ := log.LastIndex()
	hs, _, _ := log.InitialState()
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rewriting the log: %w", err)
	}

	// The node's own entry keeps its addresses; the others are gone.
	var self []replica.Member
	for _, m := range ident.Members {
		if m.ID == id {
			self = append(self, m)
		}
	}
	old := ident.ClusterID
	ident.ClusterID = newClusterID(old)
	ident.Members = self
	ident.Bootstrap = true
	if err := saveIdentity(*dir, ident); err != nil {
		return fmt.Errorf("writing %s: %w", identityFile, err)
	}
	fmt.Printf("rkv recover: node %d is now the only member of a new cluster (id %d, was %d), in term %d; "+
		"removed members %v; every entry of its log kept, up to index %d.\n"+
		"Start it as before; add nodes with --join and empty --dir. Old members cannot rejoin with their old data.\n",
		id, ident.ClusterID, old, hs.Term, removed, last)
	return nil
}

// newClusterID draws a random cluster id other than old.
func newClusterID(old uint64) uint64 {
	for {
		var b [8]byte
		rand.Read(b[:])
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 && id != old {
			return id
		}
	}
}
