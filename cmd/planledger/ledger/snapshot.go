package ledger

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/atomicfile"
)

// Snapshots of long aggregates. An aggregate with thousands of events
// would otherwise be read (and folded) again from the log by the first
// append after a restart or an eviction from the cache, and its whole
// history copied for each batch. Each time an aggregate's version passes
// a multiple of snapshotEvery, the command path writes its snapshot
// (domain.Snapshot: the folded state and the events' ids, not the events)
// to the data folder, in the background; loading the aggregate then reads
// the snapshot and the records after it only. A snapshot of another log,
// one the log does not bear out (its last record is not the one it
// names), or one of another format is passed over: the aggregate is read
// from the log, and snapshotted again at its next multiple.

// snapshotEvery is how many events apart an aggregate's snapshots are.
const snapshotEvery = 1000

// SnapshotFormat is the version of the snapshot files' format. A file of
// another version is never read past its "format": the aggregate is
// rebuilt from the log instead. Bump it whenever the file's JSON changes
// (domain.Snapshot's, or the state structs' fields and tags):
// TestSnapshotGolden fails until testdata/ holds the new format's file.
const SnapshotFormat = 1

// snapshotFile is a snapshot on disk (gzipped JSON).
type snapshotFile struct {
	Format        int             `json:"format"`
	Stream        string          `json:"stream"`
	StreamCreated time.Time       `json:"stream_created"`
	Aggregate     domain.Snapshot `json:"aggregate"`
}

// encodeSnapshot writes f as the file's JSON.
func encodeSnapshot(w io.Writer, f snapshotFile) error {
	return json.NewEncoder(w).Encode(f)
}

// decodeSnapshot reads a file's JSON: its format first, and the rest
// only in this version's format, strictly (a field the format does not
// have is an error, not a field passed over).
func decodeSnapshot(raw []byte) (snapshotFile, error) {
	var head struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return snapshotFile{}, err
	}
	if head.Format != SnapshotFormat {
		return snapshotFile{}, fmt.Errorf("format %d; this version reads format %d", head.Format, SnapshotFormat)
	}
	var f snapshotFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return snapshotFile{}, fmt.Errorf("format %d, but: %w", SnapshotFormat, err)
	}
	return f, nil
}

// snapshots reads and writes the snapshots of one folder.
type snapshots struct {
	dir   string
	store *eventstore.Store
	log   *slog.Logger
	wg    sync.WaitGroup
	// writing holds the aggregates whose snapshot is being written: one at
	// a time each, a later one waits for the next multiple.
	writing sync.Map
}

func newSnapshots(dir string, store *eventstore.Store, log *slog.Logger) *snapshots {
	return &snapshots{dir: dir, store: store, log: log}
}

func (s *snapshots) path(ref domain.Ref) string {
	return filepath.Join(s.dir, string(ref.Type), ref.ID+".json.gz") // ids are slugs
}

// snapshotDue says whether an aggregate that went from version before to
// after passed a multiple of snapshotEvery.
func snapshotDue(before, after uint64) bool {
	return after/snapshotEvery > before/snapshotEvery
}

// save writes a's snapshot in the background (nothing without a folder).
func (s *snapshots) save(a *domain.Aggregate) {
	if s == nil {
		return
	}
	snap, err := a.Snapshot()
	if err != nil {
		return
	}
	ref := a.Ref
	if _, busy := s.writing.LoadOrStore(ref, true); busy {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.writing.Delete(ref)
		if err := s.write(ref, snap); err != nil {
			s.log.Warn("aggregate snapshot not written; the aggregate is read from the log when next loaded", "aggregate", ref, "err", err)
		}
	}()
}

func (s *snapshots) write(ref domain.Ref, snap domain.Snapshot) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.store.StreamInfo(ctx)
	if err != nil {
		return err
	}
	path := s.path(ref)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f := snapshotFile{Format: SnapshotFormat, Stream: info.Config.Name, StreamCreated: info.Created, Aggregate: snap}
	return atomicfile.Write(path, func(w *os.File) error {
		zw := gzip.NewWriter(w)
		if err := encodeSnapshot(zw, f); err != nil {
			return err
		}
		return zw.Close()
	})
}

// load returns the aggregate of ref restored from its snapshot, if there
// is one this log bears out; the store is given the same state.
func (s *snapshots) load(ctx context.Context, ref domain.Ref) (*domain.Aggregate, bool) {
	if s == nil {
		return nil, false
	}
	snap, err := s.read(ctx, ref)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("aggregate snapshot passed over; the aggregate is read from the log", "aggregate", ref, "err", err)
		}
		return nil, false
	}
	a, err := domain.Restore(ref, snap)
	if err != nil {
		s.log.Warn("aggregate snapshot passed over; the aggregate is read from the log", "aggregate", ref, "err", err)
		return nil, false
	}
	ids, collisions := a.IDs()
	if err := s.store.Seed(ctx, ref, a.Version(), a.LastSequence(), ids, collisions); err != nil {
		return nil, false
	}
	return a, true
}

// read reads ref's snapshot and checks it against the log.
func (s *snapshots) read(ctx context.Context, ref domain.Ref) (domain.Snapshot, error) {
	raw, err := readGzip(s.path(ref))
	if err != nil {
		return domain.Snapshot{}, err
	}
	file, err := decodeSnapshot(raw)
	if err != nil {
		return domain.Snapshot{}, err
	}
	info, err := s.store.StreamInfo(ctx)
	if err != nil {
		return domain.Snapshot{}, err
	}
	snap := file.Aggregate
	if file.Stream != info.Config.Name || !file.StreamCreated.Equal(info.Created) {
		return snap, fmt.Errorf("it was taken from another log (stream %s created %s)", file.Stream, file.StreamCreated.Format(time.RFC3339Nano))
	}
	rec, err := s.store.Get(ctx, snap.LastSequence)
	if err != nil {
		return snap, err
	}
	if rec.Foreign != nil || rec.Subject != ref.String() || rec.ID != snap.LastID || rec.Version != snap.Version {
		return snap, fmt.Errorf("the log holds %s %q (version %d) at sequence %d, not the snapshot's %q (version %d)", rec.Subject, rec.ID, rec.Version, snap.LastSequence, snap.LastID, snap.Version)
	}
	return snap, nil
}

// readGzip reads a gzipped file whole.
func readGzip(path string) ([]byte, error) {
	zr, err := atomicfile.OpenGzip(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// wait waits for the snapshots being written.
func (s *snapshots) wait() {
	if s != nil {
		s.wg.Wait()
	}
}
