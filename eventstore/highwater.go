package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"planledger/domain"
	"planledger/eventstore/retry"
)

// The high-water mark. A storage that lies about its fsyncs, or a folder
// restored from an older copy, can leave a log shorter than what the
// ledger acknowledged; the next append would then take the sequence of an
// acknowledged record, and nothing in the stream itself would tell. So the
// ledger keeps, apart from the stream's files, durable marks of how far the
// log was acknowledged ("carriers"), and refuses to start on a log that
// ends before the highest of them, naming the lost range.
//
// The store's own carrier is a JetStream key-value entry (MarkBucket),
// raised about once a second while appends are acknowledged: on a cluster
// it is replicated like the stream and shared by every instance; embedded,
// it lives in its own files beside the stream's. Other carriers (the
// views' checkpoint in the data folder, and any later one) come in through
// CheckAcknowledged. A mark lags the acknowledgements by up to a second:
// the loss of the very last second of acknowledged appends can go unseen.

// MarkBucket is the key-value bucket of the acknowledged marks, one key
// per stream.
const MarkBucket = "PLANLEDGER_ACKED"

// Mark is one carrier's word on how far the log was acknowledged.
type Mark struct {
	// Carrier names it ("views checkpoint data/views.checkpoint.json.gz").
	Carrier string
	// Sequence is the highest sequence it knows was acknowledged.
	Sequence uint64
}

// Carrier reads a mark; ok is false when it has none for this log (no
// file yet, or one of another stream).
type Carrier func(ctx context.Context) (m Mark, ok bool, err error)

// markValue is the key-value entry.
type markValue struct {
	StreamCreated time.Time `json:"stream_created"`
	Sequence      uint64    `json:"sequence"`
}

// kvCarrier reads the store's own mark. On a cluster the bucket may have
// just been made by another instance and have no leader yet: a read that
// gets no answer is tried again for a while.
func (s *Store) kvCarrier(ctx context.Context) (m Mark, ok bool, err error) {
	p := retry.Policy{Initial: 200 * time.Millisecond, Budget: 4 * s.cfg.Timeout,
		Retryable: func(err error) bool { return domain.IsKind(err, domain.KindUnavailable) }}
	err = retry.Do(ctx, p, func(ctx context.Context) error {
		m, ok, err = s.readKVMark(ctx)
		return err
	})
	return m, ok, err
}

func (s *Store) readKVMark(ctx context.Context) (Mark, bool, error) {
	kv, err := s.markKV(ctx, false)
	if kv == nil || err != nil {
		return Mark{}, false, err
	}
	v, _, err := s.readMark(ctx, kv)
	if err != nil || v == nil {
		return Mark{}, false, err
	}
	return Mark{Carrier: fmt.Sprintf("acknowledged mark in key-value bucket %s", MarkBucket), Sequence: v.Sequence}, true, nil
}

// markKV returns the mark bucket, creating it when asked to; nil without
// an error if it does not exist (or cannot be read: a read-only user).
func (s *Store) markKV(ctx context.Context, create bool) (jetstream.KeyValue, error) {
	if s.kv != nil {
		return s.kv, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	kv, err := s.js.KeyValue(ctx, MarkBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) && create {
		replicas := s.cfg.Replicas
		if replicas == 0 {
			replicas = 1
		}
		kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: MarkBucket, History: 1, Storage: jetstream.FileStorage, Replicas: replicas,
			Description: "planledger: how far each log was acknowledged, to refuse a log that lost acknowledged records"})
	}
	switch {
	case err == nil:
		s.kv = kv
		return kv, nil
	case errors.Is(err, jetstream.ErrBucketNotFound), !create && !isUnavailable(err):
		return nil, nil // no mark kept (yet), or not ours to read
	}
	return nil, s.readErr(fmt.Errorf("mark bucket %s: %w", MarkBucket, err))
}

// readMark returns the stored mark of this stream (nil if none, or one of
// an earlier stream of the same name) and its revision.
func (s *Store) readMark(ctx context.Context, kv jetstream.KeyValue) (*markValue, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	e, err := kv.Get(ctx, s.name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, s.readErr(fmt.Errorf("read mark: %w", err))
	}
	var v markValue
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, e.Revision(), fmt.Errorf("mark %s/%s is not a mark: %w", MarkBucket, s.name, err)
	}
	if !v.StreamCreated.Equal(s.created) {
		return nil, e.Revision(), nil // a mark of a stream deleted since
	}
	return &v, e.Revision(), nil
}

// Marks reads every carrier's mark: the store's own and the ones given.
// A carrier that fails is reported in the error, the others still read.
func (s *Store) Marks(ctx context.Context, carriers ...Carrier) ([]Mark, error) {
	var marks []Mark
	var errs []error
	for _, c := range append([]Carrier{s.kvCarrier}, carriers...) {
		m, ok, err := c(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			marks = append(marks, m)
		}
	}
	return marks, errors.Join(errs...)
}

// LostError is a log that ends before a sequence a carrier says was
// acknowledged.
type LostError struct {
	Stream string
	// Last is the log's last sequence; the lost ones run Last+1..Mark.
	Last  uint64
	Marks []Mark
}

// Highest is the highest mark.
func (e *LostError) Highest() uint64 {
	var h uint64
	for _, m := range e.Marks {
		h = max(h, m.Sequence)
	}
	return h
}

func (e *LostError) Error() string {
	var said []string
	for _, m := range e.Marks {
		said = append(said, fmt.Sprintf("%s: %d", m.Carrier, m.Sequence))
	}
	return fmt.Sprintf("the log of stream %s ends at sequence %d, but sequences up to %d were acknowledged (%s): acknowledged records %s are lost (the storage lost writes it had confirmed, or the folder was restored from an older copy). The ledger will not reuse their sequences: restore the data folder from a backup, or import an export into an empty folder",
		e.Stream, e.Last, e.Highest(), strings.Join(said, "; "), seqRange(e.Last+1, e.Highest()))
}

// CheckAcknowledged refuses a log shorter than the highest mark of the
// store's own carrier and the ones given, with a *LostError naming the
// lost range; it then raises the store's mark to that height, so that
// every carrier agrees from here on. A carrier that cannot be read is an
// error: the ledger does not start on a log it cannot vouch for.
func (s *Store) CheckAcknowledged(ctx context.Context, carriers ...Carrier) error {
	marks, err := s.Marks(ctx, carriers...)
	if err != nil {
		return fmt.Errorf("read the acknowledged marks: %w", err)
	}
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	lost := &LostError{Stream: s.name, Last: last, Marks: marks}
	if lost.Highest() > last {
		s.ReportDamage(Damage{From: last + 1, To: lost.Highest(), Found: "acknowledged mark", Detail: lost.Error()})
		return lost
	}
	s.noteAcked(last)
	return nil
}

// noteAcked raises the in-memory mark; the watch stores it.
func (s *Store) noteAcked(seq uint64) {
	for {
		cur := s.acked.Load()
		if seq <= cur || s.acked.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// flushMark stores the in-memory mark if it moved: it only ever raises
// the stored one (compare-and-swap), whichever instance wrote it last.
func (s *Store) flushMark(ctx context.Context) error {
	want := s.acked.Load()
	if want == 0 || want <= s.markStored {
		return nil
	}
	kv, err := s.markKV(ctx, true)
	if err != nil || kv == nil {
		return err
	}
	for attempt := 0; attempt < 3; attempt++ {
		have, rev, err := s.readMark(ctx, kv)
		if err != nil {
			return err
		}
		if have != nil && have.Sequence >= want {
			s.markStored = want
			return nil
		}
		b, _ := json.Marshal(markValue{StreamCreated: s.created, Sequence: want})
		uctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		if rev == 0 {
			_, err = kv.Create(uctx, s.name, b)
		} else {
			_, err = kv.Update(uctx, s.name, b, rev)
		}
		cancel()
		if err == nil {
			s.markStored = want
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return s.readErr(fmt.Errorf("store mark: %w", err))
		}
	}
	return nil // another instance keeps raising it; try at the next tick
}
