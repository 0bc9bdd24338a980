package projections

import (
	"context"
	"fmt"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

// Axis is the time axis of an "as of" question.
type Axis string

const (
	// AxisRecorded: what the ledger knew at the moment (recorded time).
	AxisRecorded Axis = "recorded"
	// AxisOccurred: what had happened by the moment (business time), as
	// known now: retractions recorded later apply.
	AxisOccurred Axis = "occurred"
)

// ParseAxis parses "recorded" (the default for "") or "occurred".
func ParseAxis(s string) (Axis, error) {
	switch Axis(s) {
	case "", AxisRecorded:
		return AxisRecorded, nil
	case AxisOccurred:
		return AxisOccurred, nil
	}
	return "", fmt.Errorf("axis %q: want recorded or occurred", s)
}

// StoreHistory serves retractions from the store.
func StoreHistory(s *eventstore.Store) History {
	return func(ctx context.Context, ref domain.Ref, upTo uint64) ([]domain.Record, error) {
		recs, err := s.ReadAggregate(ctx, ref)
		if err != nil {
			return nil, err
		}
		n := 0
		for n < len(recs) && recs[n].Sequence <= upTo {
			n++
		}
		return recs[:n], nil
	}
}

// Replay rebuilds the views from the log as it stood at t on axis: on the
// recorded axis from the records recorded up to t; on the occurred axis
// from the records whose business time is up to t, with every retraction
// in the log applied.
func Replay(ctx context.Context, s *eventstore.Store, t time.Time, axis Axis) (*Views, error) {
	v := NewViews(StoreHistory(s))
	if axis == AxisOccurred {
		v.include = func(r *domain.Record) bool { return !r.Time.After(t) }
	}
	return replayFrom(ctx, s, v, t, axis)
}

// ReplayRecords builds the views from the records each delivers in log
// order (the first records of a log read from anywhere: an export, a
// server's API), as the log stood at t on axis; a zero t takes them all.
// It is how an auditor recomputes a view the ledger signed.
func ReplayRecords(ctx context.Context, each func(func(domain.Record) error) error, history History, t time.Time, axis Axis) (*Views, error) {
	v := NewViews(history)
	if !t.IsZero() && axis == AxisOccurred {
		v.include = func(r *domain.Record) bool { return !r.Time.After(t) }
	}
	err := pipelined(ctx, each,
		func(rec *domain.Record) error {
			if !t.IsZero() && axis == AxisRecorded && rec.Foreign == nil && rec.RecordedTime.After(t) {
				return eventstore.ErrStop
			}
			return nil
		},
		func(rec *domain.Record) error { return v.Apply(ctx, rec) })
	if err != nil {
		return nil, err
	}
	return v, nil
}
