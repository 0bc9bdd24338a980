package tokens

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"planledger/cmd/planledger/datadir"
	"planledger/eventstore/atomicfile"
)

// read reads and checks a tokens file.
func read(path string) ([]byte, *Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, t, nil
}

// EditFile changes a tokens file all or nothing: under a lock (so
// that two edits do not lose one another), it reads the file (an absent
// file is empty), lets edit change it, checks the result as serve would
// and replaces the file atomically. A running server picks the change up
// within seconds.
func EditFile(path string, edit func(*File) error) error {
	unlock, err := lockDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer unlock()
	f, err := ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := edit(&f); errors.Is(err, ErrNoChange) {
		return nil
	} else if err != nil {
		return err
	}
	out, err := jsonIndent(f)
	if err != nil {
		return err
	}
	if _, err := Parse(bytes.NewReader(out)); err != nil {
		return err
	}
	return atomicfile.Write(path, func(f *os.File) error {
		_, err := f.Write(out)
		return err
	})
}

// ErrNoChange, returned by an edit, leaves the tokens file as it is.
var ErrNoChange = errors.New("no change")

// ReadFile reads and checks a tokens file as it is written.
func ReadFile(path string) (File, error) {
	var f File
	b, _, err := read(path)
	if err != nil {
		return f, err
	}
	return f, jsonUnmarshalStrict(b, &f)
}

// EnsureAdmin creates the data folder's tokens file with a new admin
// token and returns the token (the only moment it exists in clear), or
// returns "" if the file exists already.
func EnsureAdmin(dir datadir.Dir) (string, error) {
	if _, err := os.Stat(dir.Tokens()); err == nil {
		return "", nil
	}
	if err := os.MkdirAll(string(dir), 0o750); err != nil {
		return "", err
	}
	var token string
	err := EditFile(dir.Tokens(), func(f *File) error {
		if len(f.Tokens) > 0 {
			return ErrNoChange // made by another start, or by planledger token
		}
		token = New()
		f.Tokens = append(f.Tokens, Entry{Name: "admin", SHA256: Hash(token), Role: RoleAdmin, Created: time.Now().UTC().Truncate(time.Second)})
		return nil
	})
	return token, err
}

// lockDir takes an exclusive lock on a folder (the tokens file's: the
// file itself is replaced by each edit), waiting for it.
func lockDir(path string) (func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// Source is the tokens a running server authenticates against,
// read again from the file whenever it changes: a revoked token is
// refused within one interval, without a restart.
type Source struct {
	path   string
	log    *slog.Logger
	tokens atomic.Pointer[Set]
	last   []byte
	// unreadable is set while the file cannot be read (logged once).
	unreadable bool
	stop       chan struct{}
	stopped    sync.WaitGroup
}

// Watch loads path and rereads it every interval.
func Watch(path string, interval time.Duration, log *slog.Logger) (*Source, error) {
	b, t, err := read(path)
	if err != nil {
		return nil, err
	}
	ts := &Source{path: path, log: log, last: b, stop: make(chan struct{})}
	ts.tokens.Store(t)
	ts.stopped.Add(1)
	go ts.watch(interval)
	return ts, nil
}

func (ts *Source) Current() *Set { return ts.tokens.Load() }

func (ts *Source) watch(interval time.Duration) {
	defer ts.stopped.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ts.stop:
			return
		case <-tick.C:
			ts.reload()
		}
	}
}

// reload reads the file again; a file that is gone or wrong keeps the
// tokens in force, with an error in the log (once per content).
func (ts *Source) reload() {
	b, err := os.ReadFile(ts.path)
	if err != nil {
		if !ts.unreadable {
			ts.log.Error("tokens file unreadable; the tokens loaded before stay in force", "file", ts.path, "err", err)
			ts.unreadable = true
		}
		return
	}
	ts.unreadable = false
	if bytes.Equal(b, ts.last) {
		return
	}
	ts.last = b
	t, err := Parse(bytes.NewReader(b))
	if err != nil {
		ts.log.Error("tokens file changed but is not valid; the tokens loaded before stay in force", "file", ts.path, "err", err)
		return
	}
	ts.tokens.Store(t)
	ts.log.Info("tokens file reloaded", "file", ts.path, "tokens", t.Len())
}

func (ts *Source) Close() {
	close(ts.stop)
	ts.stopped.Wait()
}
