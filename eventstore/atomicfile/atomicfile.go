// Package atomicfile replaces the ledger's files beside its log all or
// nothing: the views' checkpoint and snapshots, the tokens file, an
// auditor's state; and opens the gzip ones among them again.
package atomicfile

import (
	"compress/gzip"
	"fmt"
	"io"
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

// gzipFile is an open gzip file: reads decompress; Close closes the file.
type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error { return g.f.Close() }

// OpenGzip opens a gzip file that Write wrote (the views' checkpoint,
// snapshots) for reading its decompressed bytes.
func OpenGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a gzip file: %w", path, err)
	}
	return gzipFile{Reader: zr, f: f}, nil
}
