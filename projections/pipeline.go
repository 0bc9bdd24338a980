package projections

import (
	"context"
	"errors"

	"planledger/domain"
	"planledger/eventstore"
)

// pipelined reads records with each and applies them with apply on another
// goroutine, in order: reading and decoding the envelope overlap decoding
// the payload and folding it, which on two cores is most of a replay.
// It returns the first error of either side; ErrStop from the reading side
// ends the read after what was read is applied.
func pipelined(ctx context.Context, each func(func(domain.Record) error) error, accept func(*domain.Record) error, apply func(*domain.Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan domain.Record, 1024)
	applied := make(chan error, 1)
	go func() {
		var err error
		for rec := range recs {
			if err == nil {
				if err = apply(&rec); err != nil {
					cancel() // stop the reader; keep draining so it never blocks
				}
			}
		}
		applied <- err
	}()
	readErr := each(func(rec domain.Record) error {
		if err := accept(&rec); err != nil {
			return err
		}
		select {
		case recs <- rec:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(recs)
	applyErr := <-applied
	if applyErr != nil {
		return applyErr
	}
	if errors.Is(readErr, eventstore.ErrStop) {
		return nil
	}
	return readErr
}
