package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes an exclusive lock of the data directory, held while the
// returned file stays open (the kernel drops it when the process exits,
// however it exits): two processes writing one Raft log would corrupt it.
// The lock file holds the owner's pid, for the error the next one gets.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking --dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		if pid := strings.TrimSpace(string(owner)); pid != "" {
			return nil, fmt.Errorf("--dir %s is in use by another rkv process (pid %s)", dir, pid)
		}
		return nil, fmt.Errorf("--dir %s is in use by another rkv process: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
