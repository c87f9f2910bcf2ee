// Package atomicfile replaces files so that a crash leaves the old file or
// the whole new one, never part of either: the config file CONFIG REWRITE
// writes, a node's identity, a backup.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with what fill writes: a temporary file beside it,
// synced, renamed over it, then the directory synced, which makes the
// rename itself durable. The file keeps path's mode, or gets mode when it
// is new.
func Write(path string, mode os.FileMode, fill func(f *os.File) error) error {
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteBytes replaces path with content, as Write does.
func WriteBytes(path string, mode os.FileMode, content []byte) error {
	return Write(path, mode, func(f *os.File) error {
		_, err := f.Write(content)
		return err
	})
}
