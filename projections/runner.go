package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/retry"
)

// Runner feeds every view from the log in sequence order: from a
// checkpoint if one matches the log, then live. Queries read the views
// under a read lock.
type Runner struct {
	store      *eventstore.Store
	log        *slog.Logger
	checkpoint string // file path; "" keeps no checkpoint

	mu    sync.RWMutex
	views *Views
	// advanced is closed and replaced whenever the views move on.
	advanced chan struct{}

	seq     atomic.Uint64
	applied atomic.Uint64

	saveMu   sync.Mutex
	saved    uint64 // sequence of the last checkpoint written
	lastSave time.Time

	// CheckpointEvery and CheckpointInterval say how often a checkpoint is
	// written while following: after that many records, or that long
	// after a change.
	CheckpointEvery    uint64
	CheckpointInterval time.Duration
	// SnapshotEvery is how many records apart the "as of" snapshots are.
	SnapshotEvery uint64
	// OnForeign, if set, is told of each foreign record the views pass
	// over (under the views' lock: it must be quick and not read them).
	OnForeign func(*domain.Record)

	snaps         *snapshots
	snapDir       string
	lastSnap      snapMeta
	snapWG        sync.WaitGroup
	streamName    string
	streamCreated time.Time
}

// KeepSnapshots makes the runner keep "as of" snapshots in dir; call it
// before Open.
func (r *Runner) KeepSnapshots(dir string) { r.snapDir = dir }

// WaitSnapshots waits for snapshots being written.
func (r *Runner) WaitSnapshots() { r.snapWG.Wait() }

// NewRunner returns a runner over store keeping its checkpoint in the file
// checkpointPath ("" for none).
func NewRunner(store *eventstore.Store, log *slog.Logger, checkpointPath string) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, log: log, checkpoint: checkpointPath, advanced: make(chan struct{}),
		CheckpointEvery: 10_000, CheckpointInterval: 30 * time.Second, SnapshotEvery: DefaultSnapshotEvery}
}

// Open loads the checkpoint, if any and if it matches the log; otherwise
// the views start empty.
func (r *Runner) Open(ctx context.Context) error {
	info, err := r.store.StreamInfo(ctx)
	if err != nil {
		return err
	}
	r.streamName, r.streamCreated = info.Config.Name, info.Created
	if r.snaps, err = openSnapshots(r.snapDir); err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	if r.snaps != nil {
		r.snaps.dropAfter(info.State.LastSeq)
		r.lastSnap, _ = r.snaps.last()
	}
	v, err := r.loadCheckpoint(ctx)
	if err != nil {
		return err
	}
	if v == nil {
		v = NewViews(StoreHistory(r.store))
	}
	r.mu.Lock()
	r.views = v
	v.onForeign = r.noteForeign
	r.mu.Unlock()
	r.saveMu.Lock()
	r.saved, r.lastSave = v.Sequence, time.Now()
	r.saveMu.Unlock()
	r.seq.Store(v.Sequence)
	return nil
}

// CatchUp applies every record up to the log's last one now, and returns:
// the "run to the end" that makes tests deterministic.
func (r *Runner) CatchUp(ctx context.Context) error {
	from := r.resumeFrom()
	return pipelined(ctx,
		func(fn func(domain.Record) error) error { return r.store.Each(ctx, from, fn) },
		func(*domain.Record) error { return nil },
		func(rec *domain.Record) error { return r.apply(ctx, rec) })
}

// Run follows the log until ctx is done, then writes a checkpoint. A
// broken subscription is resumed from the last applied record.
func (r *Runner) Run(ctx context.Context) error {
	defer func() {
		r.WaitSnapshots()
		if err := r.SaveCheckpoint(); err != nil {
			r.log.Error("views checkpoint not saved", "err", err)
		}
	}()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				r.maybeCheckpoint()
			}
		}
	}()
	pause := retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second}.Begin()
	for {
		err := r.store.Follow(ctx, r.resumeFrom(), func(rec domain.Record) error { return r.apply(ctx, &rec) })
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("views: following the log failed; resuming", "sequence", r.seq.Load(), "err", err)
		if pause.Pause(ctx, err) != nil {
			return nil // only ctx ends the tries
		}
	}
}

// resumeFrom is where a read of the log starts: after what the views
// reflect; the records of an open batch they held are read again.
func (r *Runner) resumeFrom() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.views.DropHeld()
	return r.views.Sequence + 1
}

// noteForeign is told of each foreign record the views pass over (a
// record of a torn batch included), under their lock.
func (r *Runner) noteForeign(rec *domain.Record) {
	if r.OnForeign != nil {
		r.OnForeign(rec)
	}
}

func (r *Runner) apply(ctx context.Context, rec *domain.Record) error {
	r.mu.Lock()
	err := r.views.Apply(ctx, rec)
	if err != nil {
		r.mu.Unlock()
		var hole *eventstore.MissingError
		if errors.As(err, &hole) {
			// The views cannot move past a hole; the writes stop.
			r.store.ReportDamage(eventstore.Damage{From: hole.From, To: hole.To, Found: "read", Detail: "the views met the hole following the log"})
		}
		return err
	}
	if r.views.Held() > 0 {
		r.mu.Unlock()
		return nil // a batch is open: nothing moved yet
	}
	if r.dueSnapshot(rec) {
		r.takeSnapshot(rec)
	}
	// The sequence moves under the lock, before the channel is swapped: a
	// waiter that sees the new channel also sees the new sequence.
	r.seq.Store(r.views.Sequence)
	ch := r.advanced
	r.advanced = make(chan struct{})
	r.mu.Unlock()
	r.applied.Add(1)
	close(ch)
	return nil
}

// Sequence is the last log position the views reflect.
func (r *Runner) Sequence() uint64 { return r.seq.Load() }

// Applied counts the records applied since Open (not those restored from
// the checkpoint).
func (r *Runner) Applied() uint64 { return r.applied.Load() }

// ErrNotYet is returned by WaitFor when the views did not reach the
// sequence in time.
var ErrNotYet = errors.New("the views have not reached that sequence yet")

// WaitFor blocks until the views reflect sequence seq, or ctx ends.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.RLock()
		ch, at := r.advanced, r.seq.Load()
		r.mu.RUnlock()
		if at >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return domain.Errorf(domain.KindUnavailable, "the views reflect sequence %d, not yet %d: %w", r.seq.Load(), seq, ErrNotYet)
		}
	}
}

// Foreign returns what the views have met of foreign records (without the
// replayed list).
func (r *Runner) Foreign() ForeignRecords {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.views.Foreign.clone()
}

// Read calls fn with the views under a read lock; fn must not keep them.
func (r *Runner) Read(fn func(*Views)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn(r.views)
}
