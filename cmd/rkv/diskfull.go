package main

import (
	"os"
	"syscall"
)

// diskFullEnv names a file while which exists every write of the log
// (entries, hard state, snapshots) fails with ENOSPC, as on a full disk.
// It serves the integration tests where no small filesystem can be
// mounted (they run unprivileged); it is read from the environment only,
// and is no setting.
const diskFullEnv = "RKV_TEST_DISK_FULL_WHILE"

// diskFullFault returns the wal.Options.WriteFault that diskFullEnv
// asks for, or nil.
func diskFullFault(getenv func(string) string) func() error {
	path := getenv(diskFullEnv)
	if path == "" {
		return nil
	}
	return func() error {
		if _, err := os.Stat(path); err == nil {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
}
