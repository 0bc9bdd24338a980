package server

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	cache *aggCache
	// societies caches which societies are known to exist.
	societies sync.Map
	// observe, if set, is told of every successful store append.
	observe func(time.Duration, eventstore.Result)
	// retryBudget is how long a request keeps retrying an append whose
	// outcome is unknown (a store blip, a leader election) before 503.
	retryBudget time.Duration
}

// retryPause is the wait between two tries of an append whose outcome is
// unknown.
const retryPause = 200 * time.Millisecond

// NewLedger returns a command path over store keeping at most cacheSize
// aggregates in memory.
func NewLedger(store *eventstore.Store, log *slog.Logger, cacheSize int) *Ledger {
	return &Ledger{store: store, log: log, now: time.Now, cache: newAggCache(cacheSize), retryBudget: 3 * time.Second}
}

// maxDecideAttempts bounds how often one request decides again after
// losing a race it did not ask to lose (no expectedversion).
const maxDecideAttempts = 10

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
	entries := l.cache.lock(refs)
	defer l.cache.unlock(entries)

	start := time.Now()
	for attempt := 1; ; attempt++ {
		for i, e := range entries {
			if err := l.load(ctx, refs[i], e); err != nil {
				return eventstore.Result{}, err
			}
		}
		pend, err := l.decide(ctx, who, subs, refs, entries, batch)
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
		if errors.As(err, &de) && de.Conflict != nil && !expectedBy(subs, de.Conflict.Aggregate) && attempt < maxDecideAttempts {
			l.refreshAll(entries)
			continue
		}
		if err != nil {
			if !domain.IsKind(err, domain.KindUnavailable) {
				return eventstore.Result{}, err
			}
			// The outcome is unknown. Within the budget, try again with the
			// same ids (stored at most once: a retry of a landed append
			// answers with the original); past it, answer 503.
			l.refreshAll(entries)
			if time.Since(start) > l.retryBudget {
				return eventstore.Result{}, err
			}
			select {
			case <-ctx.Done():
				return eventstore.Result{}, err
			case <-time.After(retryPause):
			}
			attempt--
			continue
		}
		l.applyResult(refs, entries, subs, res)
		return res, nil
	}
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
// in memory yet or was marked stale.
func (l *Ledger) load(ctx context.Context, ref domain.Ref, e *aggEntry) error {
	if e.agg != nil && !e.stale {
		return nil
	}
	if e.agg == nil {
		e.agg = domain.NewAggregate(ref)
	}
	recs, err := l.store.ReadAggregateAfter(ctx, ref, e.agg.LastSequence(), e.agg.Version())
	if err != nil {
		e.agg = nil
		return err
	}
	for i := range recs {
		if err := e.agg.Apply(&recs[i]); err != nil {
			e.agg = nil
			return err
		}
	}
	e.stale = false
	l.noteSociety(e.agg)
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
	for _, e := range entries {
		if e.agg != nil {
			l.noteSociety(e.agg)
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

// aggCache keeps recently used aggregates, at most size of them. An entry
// is locked while a request uses it; requests on one aggregate take turns.
type aggCache struct {
	mu      sync.Mutex
	size    int
	entries map[domain.Ref]*aggEntry
	lru     *list.List
	// events is the number of events the cached aggregates hold, as of
	// their last unlock; maxEvents bounds it, so that a few very long
	// aggregates cannot fill the memory that size aggregates would not.
	events, maxEvents int
}

type aggEntry struct {
	mu     sync.Mutex
	ref    domain.Ref
	agg    *domain.Aggregate // nil until loaded
	stale  bool
	elem   *list.Element
	events int // the aggregate's events, counted in aggCache.events
}

// maxCachedEvents bounds the events the command path keeps in memory (a
// few hundred bytes each).
const maxCachedEvents = 1_000_000

func newAggCache(size int) *aggCache {
	return &aggCache{size: size, entries: map[domain.Ref]*aggEntry{}, lru: list.New(), maxEvents: maxCachedEvents}
}

// lock returns the entries of refs locked, in a fixed order so that two
// requests over the same aggregates cannot deadlock. An evicted entry in
// use stays valid for its holder; a later request gets a fresh one, and the
// store's expectations keep the two honest.
func (c *aggCache) lock(refs []domain.Ref) []*aggEntry {
	out := make([]*aggEntry, len(refs))
	c.mu.Lock()
	for i, r := range refs {
		e, ok := c.entries[r]
		if !ok {
			e = &aggEntry{ref: r}
			e.elem = c.lru.PushFront(e)
			c.entries[r] = e
		} else {
			c.lru.MoveToFront(e.elem)
		}
		out[i] = e
	}
	for c.lru.Len() > c.size || (c.events > c.maxEvents && c.lru.Len() > len(refs)) {
		old := c.lru.Remove(c.lru.Back()).(*aggEntry)
		delete(c.entries, old.ref)
		c.events -= old.events
	}
	c.mu.Unlock()
	order := slices.Clone(out)
	slices.SortFunc(order, func(a, b *aggEntry) int {
		if a.ref.String() < b.ref.String() {
			return -1
		}
		return 1
	})
	for _, e := range order {
		e.mu.Lock()
	}
	return out
}

func (c *aggCache) unlock(entries []*aggEntry) {
	for _, e := range entries {
		n := 0
		if e.agg != nil {
			n = int(e.agg.Version())
		}
		delta := n - e.events
		e.events = n
		e.mu.Unlock()
		c.mu.Lock()
		if cur, ok := c.entries[e.ref]; ok && cur == e {
			c.events += delta
		}
		c.mu.Unlock()
	}
}
