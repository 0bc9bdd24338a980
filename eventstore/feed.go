package eventstore

import (
	"context"
	"sync"

	"planledger/domain"
)

// The feed. Every consumer on the stream costs the writer: on a single
// server the file store serves each one under the lock its appends take.
// So a store follows its log with one ordered consumer only — the tail,
// which learns appends' recorded times — and that consumer decodes each
// record once and hands it to every follower (the views, the tree).
// A follower that starts behind the feed reads the gap with a consumer of
// its own, then takes the feed; one that falls behind the feed's buffer is
// cut off and does the same from where it was.

// feedBuffer is how many records a follower may trail the feed by before
// it is cut off.
const feedBuffer = 4096

type feed struct {
	mu   sync.Mutex
	next uint64 // the sequence the feed delivers next
	subs map[*feedSub]struct{}
}

type feedSub struct {
	ch chan domain.Record
}

func newFeed(next uint64) *feed {
	return &feed{next: next, subs: map[*feedSub]struct{}{}}
}

// subscribe returns a follower's channel of the records from sequence
// start on.
func (f *feed) subscribe() (sub *feedSub, start uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub = &feedSub{ch: make(chan domain.Record, feedBuffer)}
	f.subs[sub] = struct{}{}
	return sub, f.next
}

func (f *feed) unsubscribe(sub *feedSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[sub]; ok {
		delete(f.subs, sub)
		close(sub.ch)
	}
}

// deliver hands the message at r to every follower, decoded once (not at
// all while nobody follows); one whose buffer is full is cut off (its
// channel closed): it catches up by reading.
func (f *feed) deliver(r *Raw) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Sequence < f.next {
		return // the tail started again from an earlier sequence
	}
	f.next = r.Sequence + 1
	if len(f.subs) == 0 {
		return
	}
	rec := r.Decode()
	for sub := range f.subs {
		select {
		case sub.ch <- rec:
		default:
			delete(f.subs, sub)
			close(sub.ch)
		}
	}
}

// followFeed is Follow over the store's feed: it reads what lies before
// the feed's position with a consumer of its own, then takes the feed's
// records, until ctx is done or fn fails.
func (s *Store) followFeed(ctx context.Context, from uint64, fn func(domain.Record) error) error {
	for {
		sub, start := s.feed.subscribe()
		err := s.drainFeed(ctx, sub, start, &from, fn)
		s.feed.unsubscribe(sub)
		if err != nil || ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			return err
		}
		// Cut off for falling behind: read from where it was, take the
		// feed again.
	}
}

// drainFeed reads [*from, start) from the log, then the feed's records,
// advancing *from; it returns nil when the feed cut the follower off.
func (s *Store) drainFeed(ctx context.Context, sub *feedSub, start uint64, from *uint64, fn func(domain.Record) error) error {
	if *from < start {
		err := s.consume(ctx, *from, start-1, func(r *Raw) error {
			*from = r.Sequence + 1
			return fn(r.Decode())
		})
		if err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case rec, ok := <-sub.ch:
			if !ok {
				return nil
			}
			if rec.Sequence < *from {
				continue
			}
			if err := fn(rec); err != nil {
				return err
			}
			*from = rec.Sequence + 1
		}
	}
}
