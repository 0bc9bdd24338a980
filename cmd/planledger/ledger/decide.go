package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

// decide checks scope, idempotency, expectations and rules, and returns
// what to append.
func (s *submission) decide(ctx context.Context) ([]eventstore.Pending, error) {
	scratch := make([]*domain.Aggregate, len(s.entries))
	for i, e := range s.entries {
		scratch[i] = e.agg
	}
	if err := s.checkScope(scratch); err != nil {
		return nil, err
	}
	if s.anyStored(scratch) {
		// An event already stored goes to the store as it is: the store
		// answers with the original or a conflict.
		pend := make([]eventstore.Pending, len(s.req.Events))
		for i := range s.req.Events {
			pend[i] = eventstore.Pending{Event: s.req.Events[i].Event, Submitter: s.req.Submitter}
		}
		return pend, nil
	}
	return s.decideEach(ctx, scratch)
}

// checkScope refuses an aggregate the submitter may not write.
func (s *submission) checkScope(scratch []*domain.Aggregate) error {
	for k, ref := range s.refs {
		owner, ok := ownerOf(ref, scratch[k], s.req.Events)
		if !ok {
			continue // no such aggregate and nothing creates it: the rules say so, with a 422
		}
		if err := s.req.Scope.MayWrite(ref, owner); err != nil {
			return err
		}
	}
	return nil
}

// anyStored reports whether an event of the request is stored already.
func (s *submission) anyStored(scratch []*domain.Aggregate) bool {
	for i := range s.req.Events {
		if scratch[slices.Index(s.refs, s.req.Events[i].Ref)].Has(s.req.Events[i].Event.ID) {
			return true
		}
	}
	return false
}

// decideEach decides the events in order. Events of one aggregate later
// in the request are decided against a copy with the earlier ones
// applied; the last one needs no copy, unless it is a society's, which
// later events may name.
func (s *submission) decideEach(ctx context.Context, scratch []*domain.Aggregate) ([]eventstore.Pending, error) {
	now := s.now()
	env := domain.Env{Now: now, SocietyExists: func(id string) bool { return s.societyExists(ctx, id, scratch) }}
	remaining := make([]int, len(s.refs))
	for i := range s.req.Events {
		remaining[slices.Index(s.refs, s.req.Events[i].Ref)]++
	}
	pend := make([]eventstore.Pending, len(s.req.Events))
	var probs []domain.Problem
	for i := range s.req.Events {
		sub := &s.req.Events[i]
		k := slices.Index(s.refs, sub.Ref)
		if err := s.checkExpected(sub, scratch[k], k); err != nil {
			return nil, err
		}
		if err := scratch[k].Decide(sub, env); err != nil {
			ps, err := s.problems(i, err)
			if err != nil {
				return nil, err
			}
			probs = append(probs, ps...)
			continue
		}
		expected := scratch[k].Version()
		pend[i] = eventstore.Pending{Event: sub.Event, Submitter: s.req.Submitter, ExpectedVersion: &expected}
		if remaining[k]--; remaining[k] == 0 && sub.Ref.Type != domain.AggregateSociety {
			continue // no later event of this request is decided against it (a society may be named by one)
		}
		if err := s.applyToCopy(scratch, k, sub, now); err != nil {
			return nil, err
		}
	}
	if len(probs) > 0 {
		return nil, s.rulesBroken(probs)
	}
	return pend, nil
}

// checkExpected holds the client's expectedversion to the version the
// event is decided against: the one place the ledger checks it (the
// store holds each append to the version decided on).
func (s *submission) checkExpected(sub *domain.Submission, a *domain.Aggregate, k int) error {
	if sub.ExpectedVersion == nil || *sub.ExpectedVersion == a.Version() {
		return nil
	}
	return &domain.Error{Kind: domain.KindConflict,
		Message:  fmt.Sprintf("%s is at version %d; the event expected %d", sub.Ref, a.Version(), *sub.ExpectedVersion),
		Conflict: &domain.VersionConflict{Aggregate: sub.Ref, Expected: *sub.ExpectedVersion, Current: s.entries[k].agg.Version()}}
}

// problems are the rule breaks of event i, pointing into a batch.
func (s *submission) problems(i int, err error) ([]domain.Problem, error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		return nil, err
	}
	out := make([]domain.Problem, len(de.Problems))
	for j, p := range de.Problems {
		if s.req.Batch {
			p.Pointer = fmt.Sprintf("/%d%s", i, p.Pointer)
		}
		out[j] = p
	}
	return out, nil
}

func (s *submission) rulesBroken(probs []domain.Problem) error {
	msg := "the event breaks a rule"
	if s.req.Batch {
		msg = "the batch breaks a rule; nothing was appended"
	}
	return domain.Invalid(msg, probs...)
}

// applyToCopy applies a decided event to the request's copy of its
// aggregate (made now if the cache's is still the one in scratch).
func (s *submission) applyToCopy(scratch []*domain.Aggregate, k int, sub *domain.Submission, now time.Time) error {
	a := scratch[k]
	if a == s.entries[k].agg {
		a = a.Clone()
		scratch[k] = a
	}
	rec := domain.Record{Event: sub.Event, Version: a.Version() + 1, RecordedTime: now, Submitter: s.req.Submitter}
	return a.ApplyDecided(&rec, sub)
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

// societyExists answers from the request itself, then from what this
// process knows, then from the log.
func (s *submission) societyExists(ctx context.Context, id string, scratch []*domain.Aggregate) bool {
	ref := domain.Ref{Type: domain.AggregateSociety, ID: id}
	if k := slices.Index(s.refs, ref); k >= 0 {
		return scratch[k].Exists()
	}
	if _, ok := s.societies.Load(id); ok {
		return true
	}
	recs, err := s.store.ReadAggregate(ctx, ref)
	if err != nil {
		return true // cannot tell: do not refuse for it; the store error shows on append
	}
	a, err := domain.Rebuild(ref, recs)
	if err != nil || !a.Exists() {
		return false
	}
	s.societies.Store(id, true)
	return true
}
