package projections

import (
	"context"
	"errors"
	"testing"

	"planledger/domain"
	"planledger/eventstore"
)

// TestPipelined: records are applied in order; a read stopped with ErrStop
// applies exactly the records before the stop, or reports why it did not;
// an apply that fails stops the read and is the error returned.
func TestPipelined(t *testing.T) {
	each := func(n int) func(func(domain.Record) error) error {
		return func(fn func(domain.Record) error) error {
			for i := 1; i <= n; i++ {
				if err := fn(domain.Record{Sequence: uint64(i)}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for _, stopAt := range []uint64{1, 60, pipeChunk, pipeChunk + 1, 300} {
		var got []uint64
		err := pipelined(context.Background(), each(1000),
			func(r *domain.Record) error {
				if r.Sequence == stopAt {
					return eventstore.ErrStop
				}
				return nil
			},
			func(r *domain.Record) error { got = append(got, r.Sequence); return nil })
		if err != nil || len(got) != int(stopAt-1) {
			t.Fatalf("stop at %d: %v, applied %d records", stopAt, err, len(got))
		}
		for i, seq := range got {
			if seq != uint64(i+1) {
				t.Fatalf("stop at %d: record %d applied as %d", stopAt, i+1, seq)
			}
		}
	}
	boom := errors.New("boom")
	for _, failAt := range []uint64{1, pipeChunk, 700} {
		err := pipelined(context.Background(), each(1000),
			func(*domain.Record) error { return nil },
			func(r *domain.Record) error {
				if r.Sequence == failAt {
					return boom
				}
				return nil
			})
		if !errors.Is(err, boom) {
			t.Fatalf("apply failing at %d: %v", failAt, err)
		}
	}
	// Cancelled as the read stops: either every record read is applied,
	// or the call says it was not.
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		applied := 0
		err := pipelined(ctx, each(1000),
			func(r *domain.Record) error {
				if r.Sequence == 60 {
					cancel()
					return eventstore.ErrStop
				}
				return nil
			},
			func(*domain.Record) error { applied++; return nil })
		cancel()
		if err == nil && applied != 59 {
			t.Fatalf("cancelled as the read stopped: no error, but %d of 59 records applied", applied)
		}
	}
}
