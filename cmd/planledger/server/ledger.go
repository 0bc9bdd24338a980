package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"planledger/eventstore/lockcache"
	"slices"
	"sync"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

// Ledger is the command path: it keeps aggregates in memory, lets domain
// decide, appends with the version each decision was made on, and decides
// again when another writer won the race.
type Ledger struct {
	store *eventstore.Store
	log   *slog.Logger
	now   func() time.Time
	cache *lockcache.Cache[domain.Ref, aggEntry]
	// societies caches which societies are known to exist.
	societies sync.Map
	// observe, if set, is told of every successful store append.
	observe func(time.Duration, eventstore.Result)
	// retryBudget is how long a request keeps retrying an append whose
	// outcome is unknown (a store blip, a leader election) before 503.
	retryBudget time.Duration
	// snaps, if set, keeps snapshots of long aggregates (aggsnapshot.go).
	snaps *aggSnapshots
}

// retryPause is the wait between two tries of an append whose outcome is
// unknown.
const retryPause = 200 * time.Millisecond

// NewLedger returns a command path over store keeping at most cacheSize
// aggregates in memory.
func NewLedger(store *eventstore.Store, log *slog.Logger, cacheSize int) *Ledger {
	return &Ledger{store: store, log: log, now: time.Now, cache: newAggCache(cacheSize, maxCachedEvents), retryBudget: 3 * time.Second}
}

// A request that loses a race it did not ask to lose (no expectedversion:
// another writer, through another instance, appended to its aggregate
// first) decides again, within its retry budget, after a short random
// pause that grows with the attempts, so that writers contending for one
// aggregate through several instances take turns instead of colliding
// again and again.
func racePause(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(5*time.Millisecond)))
}

// Submit appends the submissions all-or-nothing for principal who. batch
// says whether problems point into an array ("/2/data/x").
func (l *Ledger) Submit(ctx context.Context, who *Principal, subs []domain.Submission, batch bool) (eventstore.Result, error) {
	if len(subs) == 0 {
		return eventstore.Result{}, domain.Invalid("an empty batch appends nothing; send at least one event")
	}
	if len(subs) > eventstore.MaxBatch {
		return eventstore.Result{}, domain.Invalid(fmt.Sprintf("%d events in one batch; at most %d", len(subs), eventstore.MaxBatch))
	}
	var refs []domain.Ref
	for i := range subs {
		if !slices.Contains(refs, subs[i].Ref) {
			refs = append(refs, subs[i].Ref)
		}
	}
	// The retry budget counts from the request's arrival, waits for the
	// aggregates' locks included; every wait ends with the budget (and a
	// last attempt's grace).
	arrival := time.Now()
	ctx, cancel := context.WithDeadline(ctx, arrival.Add(l.retryBudget+lastAttempt))
	defer cancel()
	locked, err := l.cache.Lock(ctx, refs)
	if err != nil {
		return eventstore.Result{}, domain.Errorf(domain.KindUnavailable, "nothing was appended: %s is busy with other requests and this one's time ran out (%w); try again", refs[0], err)
	}
	defer l.cache.Unlock(locked)
	entries := make([]*aggEntry, len(locked))
	for i, e := range locked {
		entries[i] = &e.Value
	}

	unknown := false   // an earlier try's outcome is unknown
	histories := false // whole histories were read for a retraction
	// again says whether to try again after an unavailable store: within
	// the budget, after a pause.
	again := func(err error) bool {
		unknown = unknown || errors.Is(err, eventstore.ErrOutcomeUnknown)
		l.refreshAll(entries)
		if time.Since(arrival)+retryPause > l.retryBudget {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(retryPause):
			return true
		}
	}
	for attempt := 1; ; attempt++ {
		if err := l.loadAll(ctx, refs, entries); err != nil {
			if !domain.IsKind(err, domain.KindUnavailable) {
				return eventstore.Result{}, err
			}
			if again(err) {
				attempt--
				continue
			}
			return eventstore.Result{}, unavailable(err, unknown)
		}
		pend, err := l.decide(ctx, who, subs, refs, entries, batch)
		if errors.Is(err, domain.ErrNeedsHistory) && !histories {
			// A retraction on an aggregate restored from its snapshot:
			// decided on the whole history, read now (once).
			histories = true
			if err := l.loadHistories(ctx, refs, entries); err != nil {
				return eventstore.Result{}, unavailable(err, unknown)
			}
			attempt--
			continue
		}
		if err != nil {
			// A stale cache can make a retry of a stored event look like a
			// rule break, or an expectation look wrong: read once more.
			if attempt == 1 && (domain.IsKind(err, domain.KindInvalid) || domain.IsKind(err, domain.KindConflict)) {
				l.refreshAll(entries)
				continue
			}
			return eventstore.Result{}, err
		}
		appendStart := time.Now()
		res, err := l.store.Append(ctx, pend)
		if err == nil && l.observe != nil {
			l.observe(time.Since(appendStart), res)
		}
		var de *domain.Error
		if errors.As(err, &de) && de.Conflict != nil && !expectedBy(subs, de.Conflict.Aggregate) && time.Since(arrival) < max(l.retryBudget, lastAttempt) {
			l.refreshAll(entries)
			select {
			case <-ctx.Done():
				return eventstore.Result{}, err
			case <-time.After(racePause(attempt)):
			}
			continue
		}
		if err != nil {
			if !domain.IsKind(err, domain.KindUnavailable) {
				return eventstore.Result{}, err
			}
			// Within the budget, try again with the same ids (stored at
			// most once: a retry of a landed append answers with the
			// original); past it, answer 503.
			if again(err) {
				attempt--
				continue
			}
			return eventstore.Result{}, unavailable(err, unknown)
		}
		l.applyResult(refs, entries, subs, res)
		if res.Duplicate && unknown {
			// An earlier try of this very request stored the events and
			// JetStream's answer was lost: this request created them.
			res.Duplicate = false
		}
		return res, nil
	}
}

// lastAttempt is the time a request may still take after its retry
// budget: the last try's publish, or its read of recorded times.
const lastAttempt = time.Second

// unavailable says what a 503 means for the request: nothing appended, or
// an earlier try's outcome unknown.
func unavailable(err error, unknown bool) error {
	if unknown || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		return domain.Errorf(domain.KindUnavailable, "the store did not answer in time; a try of this request may have been stored: send it again with the same ids, each event is stored at most once (%w)", err)
	}
	return domain.Errorf(domain.KindUnavailable, "the store did not answer in time; nothing was appended (%w)", err)
}

// loadAll brings every entry up to date with the log.
func (l *Ledger) loadAll(ctx context.Context, refs []domain.Ref, entries []*aggEntry) error {
	for i, e := range entries {
		if err := l.load(ctx, refs[i], e); err != nil {
			return err
		}
	}
	return nil
}

// expectedBy reports whether the client itself stated the version of ref.
func expectedBy(subs []domain.Submission, ref domain.Ref) bool {
	for i := range subs {
		if subs[i].Ref == ref && subs[i].ExpectedVersion != nil {
			return true
		}
	}
	return false
}

// decide checks scope, idempotency, expectations and rules, and returns
// what to append. An event already stored goes to the store as it is: the
// store answers with the original or a conflict.
func (l *Ledger) decide(ctx context.Context, who *Principal, subs []domain.Submission, refs []domain.Ref, entries []*aggEntry, batch bool) ([]eventstore.Pending, error) {
	scratch := make([]*domain.Aggregate, len(entries))
	for i, e := range entries {
		scratch[i] = e.agg
	}
	for k, ref := range refs {
		owner, ok := ownerOf(ref, scratch[k], subs)
		if !ok {
			continue // no such aggregate and nothing creates it: the rules say so, with a 422
		}
		if err := who.MayWrite(ref, owner); err != nil {
			return nil, err
		}
	}
	known := 0
	for i := range subs {
		if scratch[slices.Index(refs, subs[i].Ref)].Has(subs[i].Event.ID) {
			known++
		}
	}
	pend := make([]eventstore.Pending, len(subs))
	if known > 0 {
		for i := range subs {
			pend[i] = eventstore.Pending{Event: subs[i].Event, Submitter: who.Name}
		}
		return pend, nil
	}

	now := l.now()
	env := domain.Env{Now: now}
	// Events of one aggregate later in the request are decided against a
	// copy with the earlier ones applied; the last one needs no copy,
	// unless it is a society's, which later events may name.
	remaining := make([]int, len(refs))
	for i := range subs {
		remaining[slices.Index(refs, subs[i].Ref)]++
	}
	var probs []domain.Problem
	for i := range subs {
		s := &subs[i]
		k := slices.Index(refs, s.Ref)
		a := scratch[k]
		if s.ExpectedVersion != nil && *s.ExpectedVersion != a.Version() {
			return nil, &domain.Error{Kind: domain.KindConflict,
				Message:  fmt.Sprintf("%s is at version %d; the event expected %d", s.Ref, a.Version(), *s.ExpectedVersion),
				Conflict: &domain.VersionConflict{Aggregate: s.Ref, Expected: *s.ExpectedVersion, Current: entries[k].agg.Version()}}
		}
		env.SocietyExists = func(id string) bool { return l.societyExists(ctx, id, refs, scratch) }
		if err := a.Decide(s, env); err != nil {
			var de *domain.Error
			if !errors.As(err, &de) {
				return nil, err
			}
			for _, p := range de.Problems {
				if batch {
					p.Pointer = fmt.Sprintf("/%d%s", i, p.Pointer)
				}
				probs = append(probs, p)
			}
			continue
		}
		expected := a.Version()
		pend[i] = eventstore.Pending{Event: s.Event, Submitter: who.Name, ExpectedVersion: &expected}
		if remaining[k]--; remaining[k] == 0 && s.Ref.Type != domain.AggregateSociety {
			continue // no later event of this request is decided against it (a society may be named by one)
		}
		if a == entries[k].agg {
			a = a.Clone()
			scratch[k] = a
		}
		rec := domain.Record{Event: s.Event, Version: a.Version() + 1, RecordedTime: now, Submitter: who.Name}
		if err := a.ApplyDecided(&rec, s); err != nil {
			return nil, err
		}
	}
	if len(probs) > 0 {
		msg := "the event breaks a rule"
		if batch {
			msg = "the batch breaks a rule; nothing was appended"
		}
		return nil, domain.Invalid(msg, probs...)
	}
	return pend, nil
}

// ownerOf is the society that owns ref: fixed by the aggregate's first
// event, stored or in this request. ok is false when neither exists.
func ownerOf(ref domain.Ref, a *domain.Aggregate, subs []domain.Submission) (string, bool) {
	if ref.Type == domain.AggregatePlan {
		return "", true
	}
	if a.Exists() {
		return a.Owner(), true
	}
	for i := range subs {
		if subs[i].Ref == ref && subs[i].Type() == domain.CreationType(ref.Type) {
			return creationOwner(&subs[i]), true
		}
	}
	if ref.Type == domain.AggregateSociety {
		return ref.ID, true
	}
	return "", false
}

// creationOwner is the society an aggregate will belong to, read from the
// event that creates it.
func creationOwner(s *domain.Submission) string {
	switch p := s.Payload.(type) {
	case domain.SocietyRegisteredData:
		return s.Ref.ID
	case domain.DecisionProposedData:
		return p.SocietyID
	case domain.ConferenceRegisteredData:
		return p.OrganizerSociety
	case domain.ServiceTeamFormedData:
		return p.SocietyID
	case domain.ProjectRegisteredData:
		return p.LeadSociety
	}
	if s.Ref.Type == domain.AggregateSociety {
		return s.Ref.ID
	}
	return ""
}

// societyExists answers from the batch itself, then from what this
// process knows, then from the log.
func (l *Ledger) societyExists(ctx context.Context, id string, refs []domain.Ref, scratch []*domain.Aggregate) bool {
	ref := domain.Ref{Type: domain.AggregateSociety, ID: id}
	if k := slices.Index(refs, ref); k >= 0 {
		return scratch[k].Exists()
	}
	if _, ok := l.societies.Load(id); ok {
		return true
	}
	recs, err := l.store.ReadAggregate(ctx, ref)
	if err != nil {
		return true // cannot tell: do not refuse for it; the store error shows on append
	}
	a, err := domain.Rebuild(ref, recs)
	if err != nil || !a.Exists() {
		return false
	}
	l.societies.Store(id, true)
	return true
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
func (l *Ledger) loadHistories(ctx context.Context, refs []domain.Ref, entries []*aggEntry) error {
	for i, e := range entries {
		if e.agg != nil && e.agg.Partial() {
			if err := l.loadWhole(ctx, refs[i], e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Ledger) refreshAll(entries []*aggEntry) {
	for _, e := range entries {
		e.stale = true
	}
}

func (l *Ledger) applyResult(refs []domain.Ref, entries []*aggEntry, subs []domain.Submission, res eventstore.Result) {
	if res.Duplicate {
		l.refreshAll(entries) // the originals may be news to this cache
		return
	}
	before := make([]uint64, len(entries))
	for i, e := range entries {
		if e.agg != nil {
			before[i] = e.agg.Version()
		}
	}
	for i := range res.Records {
		e := entries[slices.Index(refs, mustRef(res.Records[i].Subject))]
		if e.agg == nil {
			continue // out of step already: reloaded on next use
		}
		if err := e.agg.ApplyDecided(&res.Records[i], &subs[i]); err != nil {
			l.log.Error("cached aggregate out of step; it will be reloaded", "err", err)
			e.agg = nil
		}
	}
	for i, e := range entries {
		if e.agg != nil {
			l.noteSociety(e.agg)
			if snapshotDue(before[i], e.agg.Version()) {
				l.snaps.save(e.agg)
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
