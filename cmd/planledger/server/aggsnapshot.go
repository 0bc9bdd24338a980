package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// a multiple of aggSnapshotEvery, the command path writes its snapshot
// (domain.Snapshot: the folded state and the events' ids, not the events)
// to the data folder, in the background; loading the aggregate then reads
// the snapshot and the records after it only. A snapshot of another log,
// or one the log does not bear out (its last record is not the one it
// names), is passed over.

// AggregateSnapshotDir holds the snapshots in the data folder, one file
// per aggregate: TYPE/ID.json.gz.
const AggregateSnapshotDir = "aggregate-snapshots"

// aggSnapshotEvery is how many events apart an aggregate's snapshots are.
const aggSnapshotEvery = 1000

const aggSnapshotFormat = 1

type aggSnapshotFile struct {
	Format        int             `json:"format"`
	Stream        string          `json:"stream"`
	StreamCreated time.Time       `json:"stream_created"`
	Aggregate     domain.Snapshot `json:"aggregate"`
}

// aggSnapshots reads and writes the snapshots of one data folder.
type aggSnapshots struct {
	dir   string
	store *eventstore.Store
	log   *slog.Logger
	wg    sync.WaitGroup
	// writing holds the aggregates whose snapshot is being written: one at
	// a time each, a later one waits for the next multiple.
	writing sync.Map
}

func newAggSnapshots(dataDir string, store *eventstore.Store, log *slog.Logger) *aggSnapshots {
	return &aggSnapshots{dir: filepath.Join(dataDir, AggregateSnapshotDir), store: store, log: log}
}

func (s *aggSnapshots) path(ref domain.Ref) string {
	return filepath.Join(s.dir, string(ref.Type), ref.ID+".json.gz") // ids are slugs
}

// due says whether an aggregate that went from version before to after
// passed a multiple of aggSnapshotEvery.
func snapshotDue(before, after uint64) bool {
	return after/aggSnapshotEvery > before/aggSnapshotEvery
}

// save writes a's snapshot in the background (nothing without a folder).
func (s *aggSnapshots) save(a *domain.Aggregate) {
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

func (s *aggSnapshots) write(ref domain.Ref, snap domain.Snapshot) error {
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
	f := aggSnapshotFile{Format: aggSnapshotFormat, Stream: info.Config.Name, StreamCreated: info.Created, Aggregate: snap}
	return atomicfile.Write(path, func(w *os.File) error {
		zw := gzip.NewWriter(w)
		if err := json.NewEncoder(zw).Encode(f); err != nil {
			return err
		}
		return zw.Close()
	})
}

// load returns the aggregate of ref restored from its snapshot, if there
// is one this log bears out; the store is given the same state.
func (s *aggSnapshots) load(ctx context.Context, ref domain.Ref) (*domain.Aggregate, bool) {
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

// read reads and checks ref's snapshot.
func (s *aggSnapshots) read(ctx context.Context, ref domain.Ref) (domain.Snapshot, error) {
	f, err := os.Open(s.path(ref))
	if err != nil {
		return domain.Snapshot{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return domain.Snapshot{}, err
	}
	var file aggSnapshotFile
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		return domain.Snapshot{}, err
	}
	info, err := s.store.StreamInfo(ctx)
	if err != nil {
		return domain.Snapshot{}, err
	}
	snap := file.Aggregate
	switch {
	case file.Format != aggSnapshotFormat:
		return snap, fmt.Errorf("format %d; this version reads format %d", file.Format, aggSnapshotFormat)
	case file.Stream != info.Config.Name || !file.StreamCreated.Equal(info.Created):
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

// wait waits for the snapshots being written.
func (s *aggSnapshots) wait() {
	if s != nil {
		s.wg.Wait()
	}
}
