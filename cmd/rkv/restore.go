package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/wal"
)

// runRestore seeds a new founding member's data directory from a backup.
// Its flags are --file and the node's own, as it will be started: --dir,
// --id and --cluster (or --addr for a node alone) say which directory,
// which node and which new cluster. The directory gets the backup as its
// snapshot, at the backup's index and term, with the new cluster's
// founders as its members and voters, and the identity a founder writes
// at its first start. Every founder restored from the same file with the
// same --cluster starts from the same log position with the same state,
// as if they had always been one cluster; or one node is restored alone
// and the others --join it and catch up by snapshot.
func runRestore(args []string) error {
	file, rest, err := takeFileFlag(args)
	if err != nil {
		return err
	}
	cfg, err := parseFlags(rest, os.Getenv)
	if err != nil {
		return err
	}
	if file == "" {
		return &usageError{"--file is required: the backup to restore (rkv backup's, or SAVE's dump.rkv)"}
	}
	if cfg.join != nil {
		return &usageError{fmt.Sprintf("restore seeds a founding member: --cluster must list node %d (a node that joins gets the data from the cluster)", cfg.id)}
	}
	if err := emptyDir(cfg.dir); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--file: %w", err)
	}
	info, data, err := replica.ReadBackup(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("--file %s: %w", file, err)
	}
	if data, err = replica.Seed(data, cfg.cluster); err != nil {
		return fmt.Errorf("--file %s: %w", file, err)
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return fmt.Errorf("creating --dir: %w", err)
	}
	lock, err := lockDir(cfg.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	var conf consensus.ConfState
	for _, m := range cfg.cluster {
		conf.Voters = append(conf.Voters, m.ID)
	}
	log, err := wal.Open(cfg.dir, wal.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	snap := &consensus.Snapshot{Meta: consensus.SnapshotMeta{Index: info.Index, Term: info.Term, Conf: conf}, Data: data}
	err = log.Save(consensus.HardState{Term: info.Term, Commit: info.Index}, nil, snap)
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	// A restore that fails leaves a directory the next one refuses as not
	// empty: it is removed and the restore run again.
	ident := &identity{NodeID: uint64(cfg.id), ClusterID: replica.ClusterID(cfg.cluster), Members: cfg.cluster, Bootstrap: true}
	if err := saveIdentity(cfg.dir, ident); err != nil {
		return fmt.Errorf("writing %s: %w", identityFile, err)
	}
	fmt.Printf("restored %s into %s as node %d of %d: index %d, term %d, %d keys\n",
		file, cfg.dir, cfg.id, len(cfg.cluster), info.Index, info.Term, info.Keys)
	return nil
}

// takeFileFlag removes --file (or -file, with its value as the next
// argument or after =) from args, which are otherwise the node's flags.
func takeFileFlag(args []string) (string, []string, error) {
	var file string
	var rest []string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		if name != "--file" && name != "-file" {
			rest = append(rest, args[i])
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return "", nil, &usageError{"flag needs an argument: --file"}
			}
			i++
			value = args[i]
		}
		file = value
	}
	return file, rest, nil
}

// emptyDir refuses a data directory that holds anything: restoring over a
// node's state would mix two histories.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	if len(entries) > 0 {
		return &usageError{fmt.Sprintf("--dir %s is not empty: restore seeds a new node's data directory; give an empty or new one", dir)}
	}
	return nil
}
