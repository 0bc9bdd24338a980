package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

// Snapshots keep the views as they stood at points along the log, so that
// "as of" on the recorded axis is the snapshot before the moment plus a
// short replay, not a replay from the start. The runner takes one every
// SnapshotEvery records, and at the first record of each new (CST) day of
// recorded time (at most one per 1000 records). A snapshot is a checkpoint
// file named after its sequence and the recorded time of its last record.
const (
	DefaultSnapshotEvery = 50_000
	minDailyGap          = 1_000
)

type snapMeta struct {
	seq      uint64
	recorded time.Time
	path     string
}

// snapshots is the index of a snapshot folder.
type snapshots struct {
	dir  string
	mu   sync.Mutex
	list []snapMeta // by sequence
}

const snapTimeLayout = "20060102T150405.000000000Z"

func snapName(seq uint64, recorded time.Time) string {
	return fmt.Sprintf("%012d-%s.json.gz", seq, recorded.UTC().Format(snapTimeLayout))
}

func parseSnapName(name string) (uint64, time.Time, bool) {
	base, ok := strings.CutSuffix(name, ".json.gz")
	if !ok {
		return 0, time.Time{}, false
	}
	seqText, timeText, ok := strings.Cut(base, "-")
	if !ok {
		return 0, time.Time{}, false
	}
	seq, err1 := strconv.ParseUint(seqText, 10, 64)
	t, err2 := time.Parse(snapTimeLayout, timeText)
	return seq, t, err1 == nil && err2 == nil
}

// openSnapshots lists a snapshot folder ("" for none).
func openSnapshots(dir string) (*snapshots, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &snapshots{dir: dir}
	for _, e := range entries {
		if seq, t, ok := parseSnapName(e.Name()); ok {
			s.list = append(s.list, snapMeta{seq: seq, recorded: t, path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(s.list, func(a, b snapMeta) int { return int(a.seq) - int(b.seq) })
	return s, nil
}

func (s *snapshots) last() (snapMeta, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == 0 {
		return snapMeta{}, false
	}
	return s.list[len(s.list)-1], true
}

// before returns the snapshots recorded up to t, latest first.
func (s *snapshots) before(t time.Time) []snapMeta {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []snapMeta
	for i := len(s.list) - 1; i >= 0; i-- {
		if !s.list[i].recorded.After(t) {
			out = append(out, s.list[i])
		}
	}
	return out
}

// dropAfter forgets (and deletes) snapshots beyond the end of the log: they
// belong to another log of which this one is not a continuation.
func (s *snapshots) dropAfter(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.list[:0]
	for _, m := range s.list {
		if m.seq > seq {
			_ = os.Remove(m.path)
			continue
		}
		keep = append(keep, m)
	}
	s.list = keep
}

func (s *snapshots) write(cp checkpointFile, seq uint64, recorded time.Time) error {
	path := filepath.Join(s.dir, snapName(seq, recorded))
	if err := writeCheckpoint(path, cp); err != nil {
		return err
	}
	s.mu.Lock()
	// Snapshots are written in the background and may finish out of
	// order; the list stays sorted, for before to find the latest first.
	i, _ := slices.BinarySearchFunc(s.list, seq, func(m snapMeta, seq uint64) int { return cmp.Compare(m.seq, seq) })
	s.list = slices.Insert(s.list, i, snapMeta{seq: seq, recorded: recorded, path: path})
	s.mu.Unlock()
	return nil
}

// dueSnapshot says whether the views, having just applied rec, should be
// kept as a snapshot.
func (r *Runner) dueSnapshot(rec *domain.Record) bool {
	if r.snaps == nil {
		return false
	}
	last := r.lastSnap
	if rec.Sequence-last.seq >= r.SnapshotEvery {
		return true
	}
	day := func(t time.Time) string { return t.In(domain.CST).Format(time.DateOnly) }
	return rec.Sequence-last.seq >= minDailyGap && day(rec.RecordedTime) != day(last.recorded)
}

// takeSnapshot encodes the views (the caller holds the write lock) and
// writes them in the background.
func (r *Runner) takeSnapshot(rec *domain.Record) {
	data, err := json.Marshal(r.views)
	if err != nil {
		r.log.Error("views snapshot not encoded", "err", err)
		return
	}
	r.lastSnap = snapMeta{seq: rec.Sequence, recorded: rec.RecordedTime}
	cp := checkpointFile{Format: checkpointFormat, Stream: r.streamName, StreamCreated: r.streamCreated, Views: data}
	cp.LastID, cp.LastSubject = identity(rec)
	r.snapWG.Add(1)
	go func() {
		defer r.snapWG.Done()
		if err := r.snaps.write(cp, rec.Sequence, rec.RecordedTime); err != nil {
			r.log.Error("views snapshot not written", "sequence", rec.Sequence, "err", err)
		}
	}()
}

// AsOf rebuilds the views as they stood at t on the recorded axis: from the
// latest snapshot recorded by t (one that belongs to this log), then the
// records after it up to t. Without a usable snapshot it replays from the
// start. The occurred axis always replays (see Replay).
func (r *Runner) AsOf(ctx context.Context, t time.Time) (*Views, error) {
	return asOf(ctx, r.store, r.snaps, t)
}

// ReplayWithSnapshots is Runner.AsOf for a log nobody follows (the replay
// command on a stopped data folder): the snapshots in dir, if any.
func ReplayWithSnapshots(ctx context.Context, s *eventstore.Store, dir string, t time.Time) (*Views, error) {
	var snaps *snapshots
	if _, err := os.Stat(dir); err == nil {
		if snaps, err = openSnapshots(dir); err != nil {
			return nil, err
		}
	}
	return asOf(ctx, s, snaps, t)
}

func asOf(ctx context.Context, s *eventstore.Store, snaps *snapshots, t time.Time) (*Views, error) {
	if snaps != nil {
		for _, m := range snaps.before(t) {
			// One unreadable, of another format or another log is passed
			// over for an older one.
			cp, v, err := readCheckpoint(m.path, StoreHistory(s))
			if err != nil {
				continue
			}
			reason, err := mismatch(ctx, s, cp, v.Sequence)
			if err != nil {
				return nil, fmt.Errorf("check snapshot %s against the log: %w", filepath.Base(m.path), err)
			}
			if reason != "" {
				continue
			}
			return replayFrom(ctx, s, v, t, AxisRecorded)
		}
	}
	return Replay(ctx, s, t, AxisRecorded)
}

// replayFrom continues views v from the log up to t.
func replayFrom(ctx context.Context, s *eventstore.Store, v *Views, t time.Time, axis Axis) (*Views, error) {
	err := pipelined(ctx,
		func(fn func(domain.Record) error) error { return s.Each(ctx, v.Sequence+1, fn) },
		func(rec *domain.Record) error {
			// A foreign record's time says nothing: it never stops a replay.
			if axis == AxisRecorded && rec.Foreign == nil && rec.RecordedTime.After(t) {
				return eventstore.ErrStop // recorded times only grow along the log
			}
			return nil
		},
		func(rec *domain.Record) error { return v.Apply(ctx, rec) })
	if err != nil {
		return nil, err
	}
	return v, nil
}
