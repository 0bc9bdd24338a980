package domain

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"
)

// Env is what a decision may look at beyond the aggregate itself.
type Env struct {
	// Now is the ledger's clock: no business time or date may be later
	// (allowing ClockSkew). Replays pass each event's recorded time.
	Now time.Time
	// SocietyExists, if not nil, reports whether a society is registered;
	// an event naming an unknown one is refused.
	SocietyExists func(id string) bool
}

// Fact is one event of an aggregate's history, decoded.
type Fact struct {
	ID       string
	Type     EventType
	Payload  Payload
	Time     time.Time // business time
	Recorded time.Time
	Sequence uint64
	Version  uint64
}

// state is one aggregate type's state, folded from its live (not
// retracted) events.
type state interface {
	exists() bool
	// check returns what is wrong with f happening next; f's payload
	// already passed decoding.
	check(f *Fact, env Env) []Problem
	apply(f *Fact)
	// owner is the society the aggregate belongs to ("" for a plan).
	owner() string
}

// creationTypes is the event that creates each aggregate.
var creationTypes = map[AggregateType]EventType{
	AggregatePlan:        PlanPublished,
	AggregateSociety:     SocietyRegistered,
	AggregateDecision:    DecisionProposed,
	AggregateConference:  ConferenceRegistered,
	AggregateServiceTeam: ServiceTeamFormed,
	AggregateProject:     ProjectRegistered,
}

// CreationType returns the event type that creates an aggregate of type t.
func CreationType(t AggregateType) EventType { return creationTypes[t] }

// Summary is an aggregate's state folded from its live events, without the
// events: what read models keep, and what a checkpoint stores as JSON.
// Exactly one of the typed fields is set, the one of Ref's type.
type Summary struct {
	Ref         Ref               `json:"ref"`
	Plan        *PlanState        `json:"plan,omitempty"`
	Society     *SocietyState     `json:"society,omitempty"`
	Decision    *DecisionState    `json:"decision,omitempty"`
	Conference  *ConferenceState  `json:"conference,omitempty"`
	ServiceTeam *ServiceTeamState `json:"service_team,omitempty"`
	Project     *ProjectState     `json:"project,omitempty"`
}

// NewSummary returns the state of an aggregate with no events.
func NewSummary(ref Ref) *Summary {
	s := &Summary{Ref: ref}
	switch ref.Type {
	case AggregatePlan:
		s.Plan = &PlanState{}
	case AggregateSociety:
		s.Society = &SocietyState{ID: ref.ID}
	case AggregateDecision:
		s.Decision = &DecisionState{}
	case AggregateConference:
		s.Conference = &ConferenceState{}
	case AggregateServiceTeam:
		s.ServiceTeam = &ServiceTeamState{}
	case AggregateProject:
		s.Project = &ProjectState{}
	default:
		panic("domain: no state for aggregate type " + string(ref.Type))
	}
	return s
}

func (s *Summary) state() state {
	switch {
	case s.Plan != nil:
		return s.Plan
	case s.Society != nil:
		return s.Society
	case s.Decision != nil:
		return s.Decision
	case s.Conference != nil:
		return s.Conference
	case s.ServiceTeam != nil:
		return s.ServiceTeam
	case s.Project != nil:
		return s.Project
	}
	panic("domain: summary of " + s.Ref.String() + " has no state")
}

// Exists reports whether the aggregate was created and its creation was
// not retracted.
func (s *Summary) Exists() bool { return s.state().exists() }

// Owner is the id of the society the aggregate belongs to, fixed by its
// first event; "" for a plan or an aggregate that does not exist.
func (s *Summary) Owner() string { return s.state().owner() }

// ErrRetractionFold is returned by Summary.Apply for a retraction: a
// summary keeps no events, so a retraction is applied by folding the
// aggregate's live events into a new summary.
var ErrRetractionFold = errors.New("a retraction is applied by folding the aggregate again without the retracted event")

// Apply folds one stored record (not a retraction) into the summary.
func (s *Summary) Apply(rec *Record) error {
	t := EventType(rec.Type)
	if t.IsRetraction() {
		return ErrRetractionFold
	}
	p, err := DecodeStored(t, rec.Data)
	if err != nil {
		return Errorf(KindInternal, "%s: stored record %q (sequence %d) does not decode: %w", s.Ref, rec.ID, rec.Sequence, err)
	}
	s.state().apply(&Fact{ID: rec.ID, Type: t, Payload: p, Time: rec.Time, Recorded: rec.RecordedTime, Sequence: rec.Sequence, Version: rec.Version})
	return nil
}

// Aggregate is one aggregate's history and the state folded from it. It
// changes only through Apply; Decide says whether an event may be next.
// One restored from a Snapshot holds the folded state and the ids of the
// events before it, not those events (see Partial).
type Aggregate struct {
	Summary
	// facts is the history: all of it, or since the snapshot.
	facts            []Fact
	version, lastSeq uint64
	lastID           string
	retracted        map[string]string // retracted event id -> id of the retraction
	ids              *idSet
	// shared says ids belongs to the aggregate this is a clone of: the
	// clone's own events are the facts from sharedUpTo on.
	shared     bool
	sharedUpTo int
	partial    bool
}

// NewAggregate returns an aggregate with no history.
func NewAggregate(ref Ref) *Aggregate {
	return &Aggregate{Summary: *NewSummary(ref), ids: &idSet{}}
}

// Rebuild folds stored records, in version order, into an aggregate.
func Rebuild(ref Ref, recs []Record) (*Aggregate, error) {
	a := NewAggregate(ref)
	for i := range recs {
		if err := a.Apply(&recs[i]); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Version is the number of events, retractions included.
func (a *Aggregate) Version() uint64 { return a.version }

// Facts returns the history, retractions included (since the snapshot,
// for a Partial aggregate). Do not modify it.
func (a *Aggregate) Facts() []Fact { return a.facts }

// Partial reports whether the aggregate was restored from a snapshot and
// lacks the events before it: it decides every event but a retraction,
// which needs the whole history (load it with Rebuild).
func (a *Aggregate) Partial() bool { return a.partial }

// Retracted reports whether the event with id was retracted.
func (a *Aggregate) Retracted(id string) bool { _, ok := a.retracted[id]; return ok }

// Apply folds one stored record into the aggregate.
func (a *Aggregate) Apply(rec *Record) error {
	if rec.Version != a.Version()+1 {
		return Errorf(KindInternal, "%s: record %q has version %d after version %d", a.Ref, rec.ID, rec.Version, a.Version())
	}
	t := EventType(rec.Type)
	if t.IsRetraction() && a.partial {
		return ErrNeedsHistory
	}
	p, err := DecodeStored(t, rec.Data)
	if err != nil {
		return Errorf(KindInternal, "%s: stored record %q (sequence %d) does not decode: %w", a.Ref, rec.ID, rec.Sequence, err)
	}
	a.applyFact(Fact{ID: rec.ID, Type: t, Payload: p, Time: rec.Time, Recorded: rec.RecordedTime, Sequence: rec.Sequence, Version: rec.Version})
	return nil
}

// ApplyDecided folds into the aggregate the record stored for a decided
// submission, whose payload is already decoded: it saves decoding the
// record's data again. The record must be the submission's.
func (a *Aggregate) ApplyDecided(rec *Record, s *Submission) error {
	if rec.Version != a.Version()+1 {
		return Errorf(KindInternal, "%s: record %q has version %d after version %d", a.Ref, rec.ID, rec.Version, a.Version())
	}
	if rec.ID != s.Event.ID || rec.Type != s.Event.Type || rec.Subject != s.Event.Subject {
		return Errorf(KindInternal, "%s: record %q (%s) is not the submission %q (%s)", a.Ref, rec.ID, rec.Type, s.Event.ID, s.Event.Type)
	}
	a.applyFact(Fact{ID: rec.ID, Type: s.Type(), Payload: s.Payload, Time: rec.Time, Recorded: rec.RecordedTime, Sequence: rec.Sequence, Version: rec.Version})
	return nil
}

func (a *Aggregate) applyFact(f Fact) {
	a.facts = append(a.facts, f)
	a.version, a.lastSeq, a.lastID = f.Version, f.Sequence, f.ID
	if !a.shared {
		a.ids.add(f.ID, f.Sequence)
	}
	if r, ok := f.Payload.(EventRetracted); ok {
		if a.retracted == nil {
			a.retracted = map[string]string{}
		}
		a.retracted[r.EventID] = f.ID
		a.Summary = *a.fold()
		return
	}
	a.state().apply(&a.facts[len(a.facts)-1])
}

// fold rebuilds the state from the live events.
func (a *Aggregate) fold() *Summary {
	st := NewSummary(a.Ref)
	for f := range a.live("") {
		st.state().apply(f)
	}
	return st
}

// live yields the events that count, in order: neither retractions nor
// retracted, and leaving out also the event with id skip (if not empty).
func (a *Aggregate) live(skip string) iter.Seq[*Fact] {
	return func(yield func(*Fact) bool) {
		for i := range a.facts {
			f := &a.facts[i]
			if f.Type.IsRetraction() || a.Retracted(f.ID) || skip != "" && f.ID == skip {
				continue
			}
			if !yield(f) {
				return
			}
		}
	}
}

// Decide returns nil if the submission may be appended to this aggregate
// now, or a KindInvalid *Error listing every problem.
func (a *Aggregate) Decide(s *Submission, env Env) error {
	if _, ok := s.Payload.(EventRetracted); ok && a.partial {
		return ErrNeedsHistory
	}
	f := Fact{ID: s.Event.ID, Type: s.Type(), Payload: s.Payload, Time: s.Event.Time, Recorded: env.Now}
	var probs []Problem
	if r, ok := s.Payload.(EventRetracted); ok {
		probs = a.checkRetraction(r)
	} else {
		probs = checkNext(a.Ref, a.state(), &f, env)
	}
	if len(probs) > 0 {
		return &Error{Kind: KindInvalid, Message: fmt.Sprintf("%s cannot take %s now", a.Ref, s.Type()), Problems: probs}
	}
	return nil
}

// checkNext is the rule every aggregate shares (created by its first
// event, and only once) followed by the aggregate's own rules.
func checkNext(ref Ref, st state, f *Fact, env Env) []Problem {
	create := creationTypes[ref.Type]
	switch {
	case !st.exists() && f.Type != create:
		return []Problem{{Pointer: "/subject", Detail: fmt.Sprintf("%s does not exist: it is created by %s first", ref, create)}}
	case st.exists() && f.Type == create:
		return []Problem{{Pointer: "/type", Detail: fmt.Sprintf("%s already exists: %s happens once (retract it to correct it)", ref, create)}}
	}
	return st.check(f, env)
}

// checkRetraction: the retracted event must be one of this aggregate's,
// not a retraction, not retracted already, and the history without it
// must still obey every rule.
func (a *Aggregate) checkRetraction(r EventRetracted) []Problem {
	ptr := "/data/event_id"
	var target *Fact
	for i := range a.facts {
		if a.facts[i].ID == r.EventID {
			target = &a.facts[i]
		}
	}
	switch {
	case target == nil:
		return []Problem{{Pointer: ptr, Detail: fmt.Sprintf("%s has no event with id %q; a retraction names an event of its own aggregate", a.Ref, r.EventID)}}
	case target.Type.IsRetraction():
		return []Problem{{Pointer: ptr, Detail: fmt.Sprintf("event %q is itself a retraction and cannot be retracted; submit the event again under a new id", r.EventID)}}
	case a.Retracted(r.EventID):
		return []Problem{{Pointer: ptr, Detail: fmt.Sprintf("event %q was already retracted by event %q", r.EventID, a.retracted[r.EventID])}}
	}
	st := NewSummary(a.Ref).state()
	for f := range a.live(r.EventID) {
		if probs := checkNext(a.Ref, st, f, Env{Now: f.Recorded}); len(probs) > 0 {
			return []Problem{{Pointer: ptr, Detail: fmt.Sprintf("without event %q, the later event %q (version %d, %s) would break a rule: %s; retract the later events first",
				r.EventID, f.ID, f.Version, f.Type, probs[0].Detail)}}
		}
		st.apply(f)
	}
	return nil
}

// notFuture checks a date field against the clock.
func notFuture(d Date, ptr string, env Env) []Problem {
	if d.IsZero() || env.Now.IsZero() || !d.Time().After(env.Now.Add(ClockSkew)) {
		return nil
	}
	return []Problem{{Pointer: ptr, Detail: fmt.Sprintf("%s is in the future (today is %s in China Standard Time); record what has happened", d, env.Now.In(CST).Format(time.DateOnly))}}
}

// knownSociety checks a reference to a society.
func knownSociety(id, ptr string, env Env) []Problem {
	if id == "" || env.SocietyExists == nil || env.SocietyExists(id) {
		return nil
	}
	return []Problem{{Pointer: ptr, Detail: fmt.Sprintf("society %q is not registered; register it first with society.registered", id)}}
}

// Clone returns an independent copy, for deciding a batch event by event
// without touching the original. It costs what the state costs, not the
// history: the facts and the ids are shared, read only, and the clone's
// own events go after them.
func (a *Aggregate) Clone() *Aggregate {
	c := *a
	c.facts = a.facts[:len(a.facts):len(a.facts)] // an append copies
	c.retracted = maps.Clone(a.retracted)
	if !a.shared {
		c.shared, c.sharedUpTo = true, len(a.facts)
	}
	c.Summary = a.Summary.copy()
	return &c
}

// LastSequence is the log sequence of the aggregate's last event, 0 if it
// has none.
func (a *Aggregate) LastSequence() uint64 { return a.lastSeq }

// Has reports whether an event with this id is in the history: exactly
// when the history is in memory; for a Partial aggregate the ids before
// the snapshot are known by their hash (IDHash), so Has may answer true
// for an id that only shares one (the store, which reads the record,
// tells for sure).
func (a *Aggregate) Has(id string) bool {
	if a.shared {
		for i := a.sharedUpTo; i < len(a.facts); i++ {
			if a.facts[i].ID == id {
				return true
			}
		}
	}
	seq, ok := a.ids.candidate(id)
	if !ok {
		return false
	}
	if i, found := slices.BinarySearchFunc(a.facts, seq, func(f Fact, seq uint64) int { return cmp.Compare(f.Sequence, seq) }); found {
		return a.facts[i].ID == id
	}
	return a.partial // before the snapshot: known by its hash
}
