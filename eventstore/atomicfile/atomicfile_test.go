package atomicfile

import (
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteThenOpenGzip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "views.json.gz")
	err := Write(path, func(f *os.File) error {
		zw := gzip.NewWriter(f)
		if _, err := zw.Write([]byte(`{"format":2}`)); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("written file: %v %v", fi, err)
	}
	r, err := OpenGzip(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != `{"format":2}` {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	plain := filepath.Join(dir, "plain.json")
	if err := os.WriteFile(plain, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenGzip(plain); err == nil {
		t.Fatal("a plain file opened as gzip")
	}
	if _, err := OpenGzip(filepath.Join(dir, "missing.gz")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v, want fs.ErrNotExist", err)
	}
}
