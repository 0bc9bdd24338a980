package projections

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/atomicfile"
	"planledger/eventstore/retry"
)

// checkpointFile is a saved state of the views and what it was taken from.
type checkpointFile struct {
	Format int `json:"format"`
	// Stream and StreamCreated identify the log; LastID and LastSubject
	// the record at Views.Sequence, so that a checkpoint of another log of
	// the same length is recognised.
	Stream        string    `json:"stream"`
	StreamCreated time.Time `json:"stream_created"`
	LastID        string    `json:"last_id"`
	LastSubject   string    `json:"last_subject"`
	// Sequence is Views.Sequence, ahead of the views so that the mark
	// can be read without decoding them (CheckpointCarrier).
	Sequence uint64          `json:"sequence"`
	Views    json.RawMessage `json:"views"`
}

// The checkpoint format. A checkpoint (and a snapshot, which is one) is
// the views' JSON, which holds domain.Summary and its state structs by
// their JSON tags, under a head that names the log. checkpointFormat
// numbers that whole encoding: any change to it (a state field renamed,
// added or removed, in domain or here) bumps it, and TestCheckpointGolden
// fails until it does. A file of another format is not read at all: the
// views are rebuilt from the log (or from an older snapshot). Within a
// format, decoding is strict (a member the views do not have is an error,
// the file is discarded), so a checkpoint is never half read.
//
// Format 2 added the aggregates' versions and foreign records.
const checkpointFormat = 2

// checkPolicy retries a read of the log that checks a checkpoint against
// it: a read that fails says nothing about the checkpoint.
var checkPolicy = retry.Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Attempts: 5, Retryable: transient}

func transient(err error) bool {
	return domain.IsKind(err, domain.KindUnavailable) || eventstore.IsUnavailable(err)
}

// loadCheckpoint returns the checkpointed views, or nil (with a log line
// saying why) when there is none or it does not match the log.
func (r *Runner) loadCheckpoint(ctx context.Context) (*Views, error) {
	if r.checkpoint == "" {
		return nil, nil
	}
	cp, v, err := readCheckpoint(r.checkpoint, StoreHistory(r.store))
	if errors.Is(err, fs.ErrNotExist) {
		r.log.Info("views: no checkpoint; building the views from the start of the log", "file", r.checkpoint)
		return nil, nil
	}
	if err != nil {
		r.log.Warn("views: checkpoint unreadable; discarding it and rebuilding from the start of the log", "file", r.checkpoint, "err", err)
		return nil, nil
	}
	reason, err := mismatch(ctx, r.store, cp, v.Sequence)
	if err != nil {
		return nil, fmt.Errorf("check the views checkpoint %s against the log: %w", r.checkpoint, err)
	}
	if reason != "" {
		r.log.Warn("views: checkpoint does not match the log; discarding it and rebuilding from the start", "file", r.checkpoint, "reason", reason)
		return nil, nil
	}
	r.log.Info("views: resuming from checkpoint", "sequence", v.Sequence)
	return v, nil
}

// CheckpointOrigin says which log a checkpoint was taken from.
type CheckpointOrigin struct {
	Stream        string
	StreamCreated time.Time
}

// ReadCheckpoint reads a views checkpoint file, for an auditor to hold
// against a replay.
func ReadCheckpoint(path string, history History) (*Views, CheckpointOrigin, error) {
	cp, v, err := readCheckpoint(path, history)
	if err != nil {
		return nil, CheckpointOrigin{}, err
	}
	return v, CheckpointOrigin{Stream: cp.Stream, StreamCreated: cp.StreamCreated}, nil
}

func readCheckpoint(path string, history History) (*checkpointFile, *Views, error) {
	zr, err := atomicfile.OpenGzip(path)
	if err != nil {
		return nil, nil, err
	}
	defer zr.Close()
	var cp checkpointFile
	if err := json.NewDecoder(zr).Decode(&cp); err != nil {
		return nil, nil, err
	}
	if cp.Format != checkpointFormat {
		return nil, nil, fmt.Errorf("format %d; this version reads format %d", cp.Format, checkpointFormat)
	}
	v, err := LoadViews(cp.Views, history)
	if err != nil {
		return nil, nil, err
	}
	return &cp, v, nil
}

// writeCheckpoint writes cp to path all or nothing: a crash leaves the
// old file or the new one, never half of one.
func writeCheckpoint(path string, cp checkpointFile) error {
	return atomicfile.Write(path, func(f *os.File) error {
		zw := gzip.NewWriter(f)
		if err := json.NewEncoder(zw).Encode(cp); err != nil {
			return err
		}
		return zw.Close()
	})
}

// mismatch says why a checkpoint does not belong to this log, or "". A
// read of the log that fails is retried; if it keeps failing, mismatch
// returns its error: it says nothing about the checkpoint.
func mismatch(ctx context.Context, store *eventstore.Store, cp *checkpointFile, seq uint64) (reason string, err error) {
	err = retry.Do(ctx, checkPolicy, func(ctx context.Context) error {
		reason, err = checkOrigin(ctx, store, cp, seq)
		return err
	})
	return reason, err
}

// checkOrigin is one try of mismatch.
func checkOrigin(ctx context.Context, store *eventstore.Store, cp *checkpointFile, seq uint64) (string, error) {
	info, err := store.StreamInfo(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case seq > info.State.LastSeq:
		return fmt.Sprintf("it reflects sequence %d but the log ends at %d", seq, info.State.LastSeq), nil
	case cp.Stream != info.Config.Name:
		return fmt.Sprintf("it was taken from stream %s, this is %s", cp.Stream, info.Config.Name), nil
	case !cp.StreamCreated.Equal(info.Created):
		return fmt.Sprintf("it was taken from a stream created %s, this one was created %s", cp.StreamCreated.Format(time.RFC3339Nano), info.Created.Format(time.RFC3339Nano)), nil
	case seq == 0:
		return "", nil
	}
	rec, err := store.Get(ctx, seq)
	if domain.IsKind(err, domain.KindNotFound) {
		return fmt.Sprintf("cannot read sequence %d: %v", seq, err), nil
	}
	if err != nil {
		return "", err
	}
	if id, subject := identity(&rec); id != cp.LastID || subject != cp.LastSubject {
		return fmt.Sprintf("sequence %d is %s %q in the log but %s %q in the checkpoint", seq, subject, id, cp.LastSubject, cp.LastID), nil
	}
	return "", nil
}

// identity names a record for a checkpoint: its aggregate and id, or for a
// foreign record its NATS subject and the id it is shown under. A copy of
// a ledger record goes by the record's name, as a read of its sequence
// alone gives it.
func identity(rec *domain.Record) (id, subject string) {
	if f := rec.Foreign; f != nil && f.Reason != domain.ForeignReplayed && f.Reason != domain.ForeignTornBatch {
		return domain.ForeignID(rec.Sequence), rec.Foreign.Subject
	}
	return rec.ID, rec.Subject
}

func (r *Runner) maybeCheckpoint() {
	r.saveMu.Lock()
	saved, last := r.saved, r.lastSave
	r.saveMu.Unlock()
	seq := r.seq.Load()
	if seq == saved {
		return
	}
	if seq-saved >= r.CheckpointEvery || time.Since(last) >= r.CheckpointInterval {
		if err := r.SaveCheckpoint(); err != nil {
			r.log.Error("views checkpoint not saved", "err", err)
		}
	}
}

// SaveCheckpoint writes the views to the checkpoint file atomically: a
// crash leaves the old checkpoint or the new one, never half of one. The
// views are encoded under the read lock; the file is written outside it.
func (r *Runner) SaveCheckpoint() error {
	if r.checkpoint == "" {
		return nil
	}
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := r.store.StreamInfo(ctx)
	if err != nil {
		return err
	}
	r.mu.RLock()
	seq := r.views.Sequence
	if seq == r.saved && fileExists(r.checkpoint) {
		r.mu.RUnlock()
		return nil
	}
	viewsJSON, err := json.Marshal(r.views)
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	cp := checkpointFile{Format: checkpointFormat, Stream: info.Config.Name, StreamCreated: info.Created, Sequence: seq, Views: json.RawMessage(viewsJSON)}
	if seq > 0 {
		rec, err := r.store.Get(ctx, seq)
		if err != nil {
			return err
		}
		cp.LastID, cp.LastSubject = identity(&rec)
	}
	if err := writeCheckpoint(r.checkpoint, cp); err != nil {
		return fmt.Errorf("write views checkpoint: %w", err)
	}
	r.saved, r.lastSave = seq, time.Now()
	r.log.Debug("views checkpoint saved", "sequence", seq)
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
