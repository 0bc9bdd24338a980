package ledger

import (
	"context"
	"errors"
	"slices"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/lockcache"
)

// aggEntry is what the command path keeps of an aggregate.
type aggEntry struct {
	agg   *domain.Aggregate // nil until loaded
	stale bool
}

// maxCachedEvents bounds the events the command path keeps in memory (a
// few hundred bytes each): a few very long aggregates cannot fill the
// memory that the cache's size in aggregates would not.
const maxCachedEvents = 1_000_000

func newAggCache(size, maxEvents int) *lockcache.Cache[domain.Ref, aggEntry] {
	return lockcache.New(size, domain.CompareRefs, func(e *aggEntry) int {
		if e.agg == nil {
			return 0
		}
		// Its events in memory, and the ids of those before its snapshot
		// (some 20 bytes each, a tenth of an event).
		return len(e.agg.Facts()) + int(e.agg.Version()-uint64(len(e.agg.Facts())))/10
	}, maxEvents)
}

// loadAll brings every entry up to date with the log.
func (s *submission) loadAll(ctx context.Context) error {
	for i, e := range s.entries {
		if err := s.load(ctx, s.refs[i], e); err != nil {
			return err
		}
	}
	return nil
}

// load brings an entry's aggregate up to date with the log when it is not
// in memory yet or was marked stale: from its snapshot, if it has one,
// and the records after it.
func (l *Ledger) load(ctx context.Context, ref domain.Ref, e *aggEntry) error {
	if e.agg != nil && !e.stale {
		return nil
	}
	if e.agg == nil {
		e.agg = domain.NewAggregate(ref)
		if a, ok := l.snaps.load(ctx, ref); ok {
			e.agg = a
		}
	}
	recs, err := l.store.ReadAggregateAfter(ctx, ref, e.agg.LastSequence(), e.agg.Version())
	if err != nil {
		e.agg = nil
		return err
	}
	for i := range recs {
		err := e.agg.Apply(&recs[i])
		if errors.Is(err, domain.ErrNeedsHistory) {
			return l.loadWhole(ctx, ref, e) // a retraction after the snapshot
		}
		if err != nil {
			e.agg = nil
			return err
		}
	}
	e.stale = false
	l.noteSociety(e.agg)
	return nil
}

// loadWhole reads an aggregate's whole history.
func (l *Ledger) loadWhole(ctx context.Context, ref domain.Ref, e *aggEntry) error {
	e.agg = domain.NewAggregate(ref)
	e.stale = true
	return l.load(ctx, ref, e)
}

// loadHistories reads the whole history of the entries restored from
// snapshots.
func (s *submission) loadHistories(ctx context.Context) error {
	for i, e := range s.entries {
		if e.agg != nil && e.agg.Partial() {
			if err := s.loadWhole(ctx, s.refs[i], e); err != nil {
				return err
			}
		}
	}
	return nil
}

// refreshAll marks the request's aggregates to be read again.
func (s *submission) refreshAll() {
	for _, e := range s.entries {
		e.stale = true
	}
}

// applyResult brings the cached aggregates to what was appended, and
// snapshots those that passed a multiple of snapshotEvery.
func (s *submission) applyResult(res eventstore.Result) {
	if res.Duplicate {
		s.refreshAll() // the originals may be news to this cache
		return
	}
	before := make([]uint64, len(s.entries))
	for i, e := range s.entries {
		if e.agg != nil {
			before[i] = e.agg.Version()
		}
	}
	for i := range res.Records {
		e := s.entries[slices.Index(s.refs, mustRef(res.Records[i].Subject))]
		if e.agg == nil {
			continue // out of step already: reloaded on next use
		}
		if err := e.agg.ApplyDecided(&res.Records[i], &s.req.Events[i]); err != nil {
			s.log.Error("cached aggregate out of step; it will be reloaded", "err", err)
			e.agg = nil
		}
	}
	for i, e := range s.entries {
		if e.agg != nil {
			s.noteSociety(e.agg)
			if snapshotDue(before[i], e.agg.Version()) {
				s.snaps.save(e.agg)
			}
		}
	}
}

func (l *Ledger) noteSociety(a *domain.Aggregate) {
	if a.Ref.Type != domain.AggregateSociety {
		return
	}
	if a.Exists() {
		l.societies.Store(a.Ref.ID, true)
	} else {
		l.societies.Delete(a.Ref.ID)
	}
}

func mustRef(subject string) domain.Ref {
	r, err := domain.ParseRef(subject)
	if err != nil {
		panic(err)
	}
	return r
}
