// Package ledger is planledger's command path: it keeps aggregates in
// memory (and snapshots of long ones in the data folder), lets domain
// decide, appends with the version each decision was made on, and decides
// again when another writer won the race or the store did not answer.
// The HTTP server reaches it through Submit alone.
package ledger

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/lockcache"
)

// Config says how a Ledger keeps aggregates and retries.
type Config struct {
	// CacheSize bounds the aggregates kept in memory; 10,000 if zero.
	CacheSize int
	// RetryBudget is how long a request keeps retrying an append whose
	// outcome is unknown (a store blip, a leader election) before it is
	// answered as unavailable; 3s if zero, none if negative.
	RetryBudget time.Duration
	// SnapshotDir, if set, keeps snapshots of long aggregates there
	// (snapshot.go).
	SnapshotDir string
	Logger      *slog.Logger
	// Observe, if set, is told of every successful store append.
	Observe func(time.Duration, eventstore.Result)
}

// Ledger is the command path over one store.
type Ledger struct {
	store *eventstore.Store
	log   *slog.Logger
	now   func() time.Time
	cache *lockcache.Cache[domain.Ref, aggEntry]
	// societies caches which societies are known to exist.
	societies   sync.Map
	observe     func(time.Duration, eventstore.Result)
	retryBudget time.Duration
	snaps       *snapshots
}

// New returns the command path over store.
func New(store *eventstore.Store, cfg Config) *Ledger {
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Ledger{store: store, log: cfg.Logger, now: time.Now, cache: newAggCache(cfg.CacheSize, maxCachedEvents),
		observe: cfg.Observe, retryBudget: 3 * time.Second}
	if cfg.RetryBudget != 0 {
		l.retryBudget = max(cfg.RetryBudget, 0)
	}
	if cfg.SnapshotDir != "" {
		l.snaps = newSnapshots(cfg.SnapshotDir, store, cfg.Logger)
	}
	return l
}

// Close waits for the snapshots being written.
func (l *Ledger) Close() { l.snaps.wait() }

// Scope says whether a submitter may append to an aggregate owned by
// society owner ("" for a plan).
type Scope interface {
	MayWrite(ref domain.Ref, owner string) error
}

// Request is one append, all or nothing.
type Request struct {
	// Submitter is the name recorded with each event.
	Submitter string
	Scope     Scope
	// Events hold at least one submission; the HTTP API bounds how many
	// (eventstore.MaxBatch), and ids repeated within a request are
	// refused there, with pointers into the request.
	Events []domain.Submission
	// Batch says whether problems point into an array ("/2/data/x").
	Batch bool
}

// Submit appends the request's events all-or-nothing. The retry budget
// counts from the call, waits for the aggregates' locks included; every
// wait ends with the budget (and a last attempt's grace).
func (l *Ledger) Submit(ctx context.Context, req Request) (eventstore.Result, error) {
	if len(req.Events) == 0 {
		return eventstore.Result{}, domain.Invalid("an empty batch appends nothing; send at least one event")
	}
	s := l.newSubmission(req)
	ctx, cancel := context.WithDeadline(ctx, s.arrival.Add(l.retryBudget+lastAttempt))
	defer cancel()
	locked, err := l.cache.Lock(ctx, s.refs)
	if err != nil {
		return eventstore.Result{}, domain.Errorf(domain.KindUnavailable, "nothing was appended: %s is busy with other requests and this one's time ran out (%w); try again", s.refs[0], err)
	}
	defer l.cache.Unlock(locked)
	s.entries = make([]*aggEntry, len(locked))
	for i, e := range locked {
		s.entries[i] = &e.Value
	}
	return s.run(ctx)
}

// distinctRefs are the aggregates of subs, in first-appearance order.
func distinctRefs(subs []domain.Submission) []domain.Ref {
	var refs []domain.Ref
	for i := range subs {
		if !slices.Contains(refs, subs[i].Ref) {
			refs = append(refs, subs[i].Ref)
		}
	}
	return refs
}
