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
