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
// Records cross in slices of pipeChunk, so that a record is neither copied
// to the heap nor handed over on its own. It returns the first error of
// either side; ErrStop from the reading side ends the read after what was
// read is applied.
func pipelined(ctx context.Context, each func(func(domain.Record) error) error, accept func(*domain.Record) error, apply func(*domain.Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []domain.Record, 4)
	applied := make(chan error, 1)
	go func() {
		var err error
		for chunk := range chunks {
			for i := 0; i < len(chunk) && err == nil; i++ {
				if err = apply(&chunk[i]); err != nil {
					cancel() // stop the reader; keep draining so it never blocks
				}
			}
		}
		applied <- err
	}()
	send := func(chunk []domain.Record) error {
		select {
		case chunks <- chunk:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	chunk := make([]domain.Record, 0, pipeChunk)
	readErr := each(func(rec domain.Record) error {
		chunk = append(chunk, rec)
		if err := accept(&chunk[len(chunk)-1]); err != nil {
			chunk = chunk[:len(chunk)-1]
			return err
		}
		if len(chunk) < pipeChunk {
			return nil
		}
		full := chunk
		chunk = make([]domain.Record, 0, pipeChunk)
		return send(full)
	})
	if len(chunk) > 0 { // what was read is applied, whatever ended the read
		if err := send(chunk); err != nil && (readErr == nil || errors.Is(readErr, eventstore.ErrStop)) {
			readErr = err // records read were not applied: not a clean stop
		}
	}
	close(chunks)
	applyErr := <-applied
	if applyErr != nil {
		return applyErr
	}
	if errors.Is(readErr, eventstore.ErrStop) {
		return nil
	}
	return readErr
}

// pipeChunk is how many records cross from the reader to the folder at a
// time.
const pipeChunk = 128
