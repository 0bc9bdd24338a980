// Package atomicfile replaces the ledger's files beside its log all or
// nothing: the views' checkpoint and snapshots, the tokens file, an
// auditor's state.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path (mode 0600) with what write puts in a temporary file
// of the same folder: the file is fsynced, renamed into place, and the
// folder fsynced, so that a crash leaves the old file or the new one,
// never a mix.
func Write(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
