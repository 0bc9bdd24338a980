package ledger

import (
	"context"
	"errors"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/retry"
)

// submission is one Submit: its aggregates, locked, and what its tries so
// far have learnt.
type submission struct {
	*Ledger
	req     Request
	refs    []domain.Ref
	entries []*aggEntry
	arrival time.Time
	// attempt counts the decisions made afresh: after a stale cache's
	// refusal, or a lost race.
	attempt int
	// outages paces the tries after an unavailable store, races the
	// decisions made again after a lost race: both counted from arrival.
	outages, races *retry.Backoff
	// unknown: an earlier try's outcome is unknown.
	unknown bool
	// histories: whole histories were read for a retraction.
	histories bool
}

// retryPause is the wait between two tries of an append whose outcome is
// unknown.
const retryPause = 200 * time.Millisecond

// newSubmission starts a submission of req now: its retry budget counts
// from here. A request that lost a race decides again after a short
// random pause that grows with the attempts, so that writers contending
// for one aggregate through several instances take turns instead of
// colliding again and again.
func (l *Ledger) newSubmission(req Request) *submission {
	outages := retry.Policy{Initial: retryPause, Budget: l.retryBudget}
	if l.retryBudget == 0 {
		outages.Attempts = 1 // no retries at all
	}
	races := retry.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 1, Budget: max(l.retryBudget, lastAttempt)}
	return &submission{Ledger: l, req: req, refs: distinctRefs(req.Events), arrival: time.Now(), attempt: 1,
		outages: outages.Begin(), races: races.Begin()}
}

// lastAttempt is the time a request may still take after its retry
// budget: the last try's publish, or its read of recorded times.
const lastAttempt = time.Second

// run decides and appends until the store takes the events, refuses
// them, or the budget is spent.
func (s *submission) run(ctx context.Context) (eventstore.Result, error) {
	for {
		pend, err := s.decideFresh(ctx)
		if err != nil {
			return eventstore.Result{}, err
		}
		start := time.Now()
		res, err := s.store.Append(ctx, pend)
		if err == nil {
			if s.observe != nil {
				s.observe(time.Since(start), res)
			}
			return s.finish(res), nil
		}
		if err := s.retryAppend(ctx, err); err != nil {
			return eventstore.Result{}, err
		}
	}
}

// decideFresh loads the aggregates and decides, trying again where that
// can help: an unavailable store (within the budget), a retraction on an
// aggregate restored from its snapshot (decided on the whole history,
// read now, once), or a refusal the first time (a stale cache can make a
// retry of a stored event look like a rule break, or an expectation look
// wrong: read once more).
func (s *submission) decideFresh(ctx context.Context) ([]eventstore.Pending, error) {
	for {
		if err := s.loadAll(ctx); err != nil {
			if !domain.IsKind(err, domain.KindUnavailable) {
				return nil, err
			}
			if !s.pauseAfter(ctx, err) {
				return nil, unavailable(err, s.unknown)
			}
			continue
		}
		pend, err := s.decide(ctx)
		switch {
		case err == nil:
			return pend, nil
		case errors.Is(err, domain.ErrNeedsHistory) && !s.histories:
			s.histories = true
			if err := s.loadHistories(ctx); err != nil {
				return nil, unavailable(err, s.unknown)
			}
		case s.attempt == 1 && (domain.IsKind(err, domain.KindInvalid) || domain.IsKind(err, domain.KindConflict)):
			s.attempt++
			s.refreshAll()
		default:
			return nil, err
		}
	}
}

// retryAppend returns nil when the failed append is to be tried again,
// else the error to answer with. A request that lost a race it did not
// ask to lose (no expectedversion: another writer, through another
// instance, appended to its aggregate first) decides again within its
// budget; an unavailable store is tried again with the same ids (stored
// at most once: a retry of a landed append answers with the original).
func (s *submission) retryAppend(ctx context.Context, err error) error {
	var de *domain.Error
	if errors.As(err, &de) && de.Conflict != nil && !expectedBy(s.req.Events, de.Conflict.Aggregate) {
		s.refreshAll()
		if s.races.Pause(ctx, err) != nil {
			return err
		}
		s.attempt++
		return nil
	}
	if !domain.IsKind(err, domain.KindUnavailable) {
		return err
	}
	if !s.pauseAfter(ctx, err) {
		return unavailable(err, s.unknown)
	}
	return nil
}

// pauseAfter notes an unavailable store's error and waits to try again:
// false when the budget or ctx does not allow another try.
func (s *submission) pauseAfter(ctx context.Context, err error) bool {
	s.unknown = s.unknown || errors.Is(err, eventstore.ErrOutcomeUnknown)
	s.refreshAll()
	return s.outages.Pause(ctx, err) == nil
}

// finish keeps the appended events in the cache and says whether this
// request created them.
func (s *submission) finish(res eventstore.Result) eventstore.Result {
	s.applyResult(res)
	if res.Duplicate && s.unknown {
		// An earlier try of this very request stored the events and
		// JetStream's answer was lost: this request created them.
		res.Duplicate = false
	}
	return res
}

// unavailable says what a 503 means for the request: nothing appended, or
// an earlier try's outcome unknown.
func unavailable(err error, unknown bool) error {
	if unknown || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		return domain.Errorf(domain.KindUnavailable, "the store did not answer in time; a try of this request may have been stored: send it again with the same ids, each event is stored at most once (%w)", err)
	}
	return domain.Errorf(domain.KindUnavailable, "the store did not answer in time; nothing was appended (%w)", err)
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
