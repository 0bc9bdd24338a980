package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"planledger/domain"
	"planledger/eventstore/retry"
)

// Pending is one event to append.
type Pending struct {
	Event     domain.Event
	Submitter string
	// ExpectedVersion, if not nil, is the version the event's aggregate must
	// be at just before this event (0: the aggregate must not exist yet).
	ExpectedVersion *uint64
	// RecordedTime, if not zero, is kept as the record's recorded time
	// instead of the moment JetStream stores it. Only imports set it.
	RecordedTime time.Time
	// MAC is an imported record's proof, kept as it is if it is this
	// ledger's proof of the record (an import never makes proofs): empty
	// only for a record in the range the key says predates proofs.
	MAC string
	// Foreign, if set, is an imported foreign record, stored again exactly
	// as it was (AppendAt only); Event and the rest are then unused.
	Foreign *domain.Foreign
}

// Result is the outcome of an append.
type Result struct {
	// Records are the stored records, in the order of the request.
	Records []domain.Record
	// Duplicate is true when every event was already stored with the same
	// content: Records are the originals and nothing was appended.
	Duplicate bool
}

// JetStream error codes the append path interprets.
const (
	codeWrongLastSequence   jetstream.ErrorCode = 10071
	codeExpectationMismatch jetstream.ErrorCode = 10164 // clustered "wrong last sequence"
	codeBatchDuplicateID    jetstream.ErrorCode = 10201
)

// ErrOutcomeUnknown marks an unavailable append that may have been
// stored: JetStream did not answer a publish.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// maxAttempts bounds how often one append re-reads the aggregates after
// JetStream refused it, before it reports a conflict.
const maxAttempts = 6

// Append stores evs all-or-nothing, in order. Events may belong to several
// aggregates. Each aggregate's next version follows the one it is at; an
// ExpectedVersion that does not match is a conflict naming the current
// version. An event whose id is already stored on its aggregate is not
// stored again: if every event of the request is, Append returns the
// original records with Duplicate set; if only some are, or one differs in
// content, it is a conflict.
func (s *Store) Append(ctx context.Context, evs []Pending) (Result, error) {
	return s.append(ctx, evs, nil)
}

// AppendAt is Append with one more condition: the log must end at
// sequence after, so the events land at after+1, after+2, ... exactly. An
// import uses it to restore records at their original sequences.
func (s *Store) AppendAt(ctx context.Context, after uint64, evs []Pending) (Result, error) {
	return s.append(ctx, evs, &after)
}

func (s *Store) append(ctx context.Context, evs []Pending, after *uint64) (Result, error) {
	refs, at, err := checkPending(evs, after != nil)
	if err != nil {
		return Result{}, err
	}
	if s.codec.key == nil {
		return Result{}, domain.Errorf(domain.KindInternal, "the store has no log key: it cannot prove what it would append")
	}
	if err := s.checkWritable(); err != nil {
		return Result{}, err
	}
	aggs, unlock, err := s.lockAggregates(ctx, refs)
	if err != nil {
		return Result{}, err
	}
	defer unlock()

	reread := false
	pause := retry.Policy{Initial: 20 * time.Millisecond, Max: 160 * time.Millisecond}.Begin()
	for attempt := 1; ; attempt++ {
		if after != nil && attempt > 1 {
			last, err := s.LastSequence(ctx)
			if err != nil {
				return Result{}, err
			}
			if last != *after {
				return Result{}, domain.Errorf(domain.KindConflict, "the log ends at sequence %d, not %d: another writer appended meanwhile", last, *after)
			}
		}
		for i, a := range aggs {
			if err := s.catchUp(ctx, refs[i], a); err != nil {
				return Result{}, err
			}
		}
		if res, done, err := s.findDuplicates(ctx, evs, refs, at, aggs); done || err != nil {
			return res, err
		}
		if err := checkExpectations(evs, refs, at, aggs); err != nil {
			// This process may have missed appends made through another:
			// read them once before calling it a conflict.
			if !reread {
				reread = true
				markStale(aggs)
				continue
			}
			return Result{}, err
		}
		res, retry, err := s.publish(ctx, evs, refs, at, aggs, after)
		if !retry {
			return res, err
		}
		if attempt > 1 && isAPICode(err, codeBatchDuplicateID) {
			// Read again, the ids are still not in the log, yet JetStream
			// remembers them: from a batch the log holds only part of.
			return Result{}, domain.Errorf(domain.KindUnavailable, "JetStream still remembers these event ids from a batch the log holds only part of (%v); nothing was appended: retry after %s with the same ids", err, s.cfg.DuplicateWindow)
		}
		// JetStream said the aggregates moved on, or that it has seen these
		// message ids: read what is there now and decide again.
		markStale(aggs)
		if attempt == maxAttempts {
			return Result{}, &domain.Error{Kind: domain.KindConflict, Err: err,
				Message: "the aggregates changed under this append again and again; reload and retry"}
		}
		// A cluster's leader may refuse an expectation before it has
		// applied the append that beat it: give it a moment before reading.
		if attempt > 1 {
			if err := pause.Pause(ctx, err); err != nil {
				return Result{}, domain.Errorf(domain.KindUnavailable, "append: %w", err)
			}
		}
	}
}

func markStale(aggs []*aggState) {
	for _, a := range aggs {
		a.current = false
	}
}

// checkPending validates what the store itself relies on. It returns the
// distinct aggregates in first-appearance order, and for each event the
// index of its aggregate among them (-1 for an imported foreign record):
// the subjects are parsed once.
func checkPending(evs []Pending, exact bool) ([]domain.Ref, []int, error) {
	if len(evs) == 0 {
		return nil, nil, domain.Invalid("nothing to append")
	}
	if len(evs) > MaxBatch {
		return nil, nil, domain.Invalid(fmt.Sprintf("%d events in one append; at most %d", len(evs), MaxBatch))
	}
	var refs []domain.Ref
	at := make([]int, len(evs))
	seen := make(map[domain.Ref]int)
	type aggID struct {
		agg int
		id  string
	}
	ids := make(map[aggID]int) // an event id on an aggregate -> its event
	for i := range evs {
		if evs[i].Foreign != nil {
			if !exact {
				return nil, nil, domain.Invalid(fmt.Sprintf("event %d is a foreign record: only an import at exact sequences restores those", i))
			}
			at[i] = -1
			continue
		}
		ev := &evs[i].Event
		ref, err := ev.Ref()
		if err != nil {
			return nil, nil, domain.Invalid(fmt.Sprintf("event %d", i), domain.Problem{Pointer: "/subject", Detail: err.Error()})
		}
		if err := domain.CheckEventID(ev.ID); err != nil {
			return nil, nil, domain.Invalid(fmt.Sprintf("event %d", i), domain.Problem{Pointer: "/id", Detail: err.Error()})
		}
		k, ok := seen[ref]
		if !ok {
			k = len(refs)
			seen[ref] = k
			refs = append(refs, ref)
		}
		at[i] = k
		key := aggID{k, ev.ID}
		if j, dup := ids[key]; dup {
			return nil, nil, domain.Invalid(fmt.Sprintf("event %d", i), domain.Problem{Pointer: "/id",
				Detail: fmt.Sprintf("id %q repeats event %d's on %s; ids are unique per aggregate", ev.ID, j, ref)})
		}
		ids[key] = i
	}
	return refs, at, nil
}

// lockAggregates returns the state of each ref, locked (see lockcache:
// in one order, so two appends over the same aggregates cannot deadlock;
// within one process, appends to one aggregate take turns), and the
// function that unlocks them. A wait longer than ctx allows fails as
// unavailable, with nothing appended.
func (s *Store) lockAggregates(ctx context.Context, refs []domain.Ref) ([]*aggState, func(), error) {
	entries, err := s.aggs.Lock(ctx, refs)
	if err != nil {
		return nil, nil, domain.Errorf(domain.KindUnavailable, "nothing was appended: %s is busy with other appends and the request's time ran out (%w); try again", refs[0], err)
	}
	aggs := make([]*aggState, len(entries))
	for i, e := range entries {
		aggs[i] = &e.Value
	}
	return aggs, func() { s.aggs.Unlock(entries) }, nil
}

// findDuplicates looks up every event id in its aggregate. done is true when
// the request must not be published: all events already stored (res holds
// the originals) or a conflict (err).
func (s *Store) findDuplicates(ctx context.Context, evs []Pending, refs []domain.Ref, at []int, aggs []*aggState) (Result, bool, error) {
	var found []domain.Record
	for i := range evs {
		if at[i] < 0 {
			continue
		}
		ev := &evs[i].Event
		ref := refs[at[i]]
		seq, ok := aggs[at[i]].ids.candidate(ev.ID)
		if !ok {
			continue
		}
		orig, err := s.Get(ctx, seq)
		if err != nil {
			return Result{}, true, err
		}
		if orig.ID != ev.ID {
			continue // another id with the same hash: this one is not stored
		}
		if !orig.SameContent(ev) {
			return Result{}, true, &domain.Error{Kind: domain.KindConflict,
				Message: fmt.Sprintf("event id %q was stored on %s at sequence %d with different content; a new event needs a new id", ev.ID, ref, seq)}
		}
		found = append(found, orig)
	}
	switch {
	case len(found) == 0:
		return Result{}, false, nil
	case len(found) < len(evs):
		return Result{}, true, &domain.Error{Kind: domain.KindConflict,
			Message: fmt.Sprintf("%d of the %d events are already stored (event id %q at sequence %d); resubmit exactly the original request, or only new events", len(found), len(evs), found[0].ID, found[0].Sequence)}
	}
	return Result{Records: found, Duplicate: true}, true, nil
}

// checkExpectations compares each event's ExpectedVersion with the version
// its aggregate will be at just before it.
func checkExpectations(evs []Pending, refs []domain.Ref, at []int, aggs []*aggState) error {
	next := make([]uint64, len(aggs))
	for i, a := range aggs {
		next[i] = a.version
	}
	for i := range evs {
		k := at[i]
		if k < 0 {
			continue
		}
		ref := refs[k]
		if exp := evs[i].ExpectedVersion; exp != nil && *exp != next[k] {
			return &domain.Error{Kind: domain.KindConflict,
				Message:  fmt.Sprintf("%s is at version %d; the event expected it at %d", ref, next[k], *exp),
				Conflict: &domain.VersionConflict{Aggregate: ref, Expected: *exp, Current: aggs[k].version}}
		}
		next[k]++
	}
	return nil
}

// publish sends the events, as one message or one atomic batch, each
// aggregate's first message expecting the aggregate's last sequence. retry
// is true when JetStream refused it in a way that re-reading the
// aggregates resolves (they moved on, or the ids are already there).
func (s *Store) publish(ctx context.Context, evs []Pending, refs []domain.Ref, at []int, aggs []*aggState, after *uint64) (res Result, retry bool, err error) {
	msgs := make([]*nats.Msg, len(evs))
	versions := make([]uint64, len(evs))
	next := make([]uint64, len(aggs))
	for i, a := range aggs {
		next[i] = a.version
	}
	foreign := false
	for i := range evs {
		p := &evs[i]
		k := at[i]
		if k < 0 {
			msgs[i], foreign = foreignMsg(p), true
			continue
		}
		ref := refs[k]
		next[k]++
		versions[i] = next[k]
		m, err := s.message(p, ref, versions[i], i, after)
		if err != nil {
			return Result{}, false, err
		}
		// An import (after set) is held to its exact sequences by the
		// stream-wide expectation; per-subject ones would also trip on a
		// foreign record restored before an aggregate's next event.
		if after == nil && next[k] == aggs[k].version+1 {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(aggs[k].lastSeq, 10))
		}
		msgs[i] = m
	}
	exclusive := conditions(msgs, at, aggs, after)
	if err := s.checkSpace(msgs); err != nil {
		return Result{}, false, err
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	lastSeq, recorded, dup, err := s.commit(pctx, msgs, exclusive)
	if err != nil {
		return s.publishFailed(err, aggs)
	}
	if dup {
		return Result{}, true, errors.New("JetStream answered duplicate")
	}

	s.noteAcked(lastSeq)
	first := lastSeq - uint64(len(msgs)) + 1
	if recorded == nil {
		recorded, err = s.recordedTimes(ctx, first, msgs)
	}
	if err != nil {
		// The events are stored; only their timestamps are unknown. Make the
		// next append re-read rather than answer from a guess.
		markStale(aggs)
		return Result{}, false, domain.Errorf(domain.KindUnavailable, "events stored at sequences %d-%d, but reading their recorded times failed; a retry with the same ids returns them: %w", first, lastSeq, err)
	}
	res.Records = make([]domain.Record, len(evs))
	for i := range evs {
		seq := first + uint64(i)
		rt := recorded[i]
		if !evs[i].RecordedTime.IsZero() {
			rt = evs[i].RecordedTime.UTC()
		}
		if at[i] < 0 {
			res.Records[i] = domain.Record{Sequence: seq, RecordedTime: rt, Foreign: evs[i].Foreign}
			continue
		}
		res.Records[i] = domain.Record{Event: evs[i].Event, Sequence: seq, Version: versions[i], RecordedTime: rt,
			Submitter: evs[i].Submitter, MAC: msgs[i].Header.Get(HeaderMAC)}
		aggs[at[i]].applyStored(evs[i].Event.ID, seq, versions[i])
	}
	if foreign {
		markStale(aggs) // their subjects' last sequences may be foreign records
	}
	for _, a := range aggs {
		a.openAt, a.openEnd = 0, 0 // what was open is torn for good now that this follows it
	}
	return res, false, nil
}

// conditions sets what the messages of an append carry beyond each
// aggregate's expectation: a batch's length on the ledger's records (a
// restored foreign record keeps its headers as they were), and the log's
// last sequence, for an import (it must land exactly after it) or an
// append to an aggregate with records in a batch the log still ends
// inside (only if the log still ends there: see batches.go). exclusive
// says the append may not share a batch.
func conditions(msgs []*nats.Msg, at []int, aggs []*aggState, after *uint64) (exclusive bool) {
	if len(msgs) > 1 {
		for i, m := range msgs {
			if at[i] >= 0 {
				m.Header.Set(HeaderBatchSize, strconv.Itoa(len(msgs)))
			}
		}
	}
	if after != nil {
		msgs[0].Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(*after, 10))
		return true
	}
	if end := openEnd(aggs); end != 0 {
		msgs[0].Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(end, 10))
		return true
	}
	return false
}

// openEnd is where the log ended when an aggregate of the append was
// last read with records in an open batch; 0 if none was.
func openEnd(aggs []*aggState) uint64 {
	var end uint64
	for _, a := range aggs {
		end = max(end, a.openEnd)
	}
	return end
}

// message is the message of an event: its record body, its message id,
// its proof and, for an import, its recorded time.
func (s *Store) message(p *Pending, ref domain.Ref, version uint64, i int, after *uint64) (*nats.Msg, error) {
	body, err := encodeRecord(&p.Event, version, p.Submitter)
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", i, err)
	}
	if len(body) > MaxRecordBody {
		return nil, domain.Invalid(fmt.Sprintf("event %d", i), domain.Problem{Pointer: "/data",
			Detail: fmt.Sprintf("the event is %d bytes as a record; at most %d (each record is an entry of the log's C2SP tiles, which hold entries of up to 64 KiB)", len(body), MaxRecordBody)})
	}
	m := nats.NewMsg(Subject(ref))
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, msgID(ref.String(), p.Event.ID))
	var seq uint64
	if after != nil {
		seq = *after + uint64(i) + 1
	}
	mac, err := s.proof(p, m.Subject, body, seq)
	if err != nil {
		return nil, err
	}
	if mac != "" {
		m.Header.Set(HeaderMAC, mac)
	}
	if !p.RecordedTime.IsZero() {
		m.Header.Set(HeaderRecordedTime, p.RecordedTime.UTC().Format(time.RFC3339Nano))
	}
	return m, nil
}

// proof is the proof a record is stored with: a new one for a new record;
// for an import (seq, its exact sequence, set), the record's own, which
// must be this ledger's proof of it: an import never makes proofs, so an
// export changed since, or one from a ledger with another key, is refused.
func (s *Store) proof(p *Pending, subject string, body []byte, seq uint64) (string, error) {
	key := s.codec.key
	mac := key.Seal(subject, body)
	if p.RecordedTime.IsZero() {
		return mac, nil
	}
	switch {
	case p.MAC == mac:
		return mac, nil
	case p.MAC == "" && seq != 0 && seq <= key.LegacyThrough:
		return "", nil // older than proofs, as the key's file says
	case p.MAC == "":
		return "", domain.Errorf(domain.KindInvalid, "the record at sequence %d (%s %q) carries no proof (recordmac) that this ledger wrote it; nothing was imported", seq, p.Event.Subject, p.Event.ID)
	}
	return "", domain.Errorf(domain.KindInvalid, "the record at sequence %d (%s %q) carries a proof that this ledger's key (%s) does not give it: it was changed after it was exported, or written by a ledger with another key (import with that ledger's key file); nothing was imported", seq, p.Event.Subject, p.Event.ID, key.Origin)
}

// foreignMsg is an imported foreign record's message, as it was stored:
// the recorded time goes in its header, for it to keep the one it had.
func foreignMsg(p *Pending) *nats.Msg {
	f := p.Foreign
	m := nats.NewMsg(f.Subject)
	m.Data = f.Body
	for k, v := range f.Header {
		m.Header[k] = append([]string(nil), v...)
	}
	m.Header.Set(HeaderRecordedTime, p.RecordedTime.UTC().Format(time.RFC3339Nano))
	return m
}

func (s *Store) publishBatch(ctx context.Context, msgs []*nats.Msg) (*jetstreamext.BatchAck, error) {
	// No ack for the first message: errors (expectations included) come
	// back on the commit, and the batch stays one round trip.
	bp, err := jetstreamext.NewBatchPublisher(s.js, jetstreamext.BatchFlowControl{AckFirst: false, AckTimeout: s.cfg.Timeout})
	if err != nil {
		return nil, err
	}
	for _, m := range msgs[:len(msgs)-1] {
		if err := bp.AddMsg(m); err != nil {
			_ = bp.Discard()
			return nil, err
		}
	}
	ack, err := bp.CommitMsg(ctx, msgs[len(msgs)-1])
	if err == nil && ack.BatchID != "" {
		s.batches.put(ack.BatchID, batchWhole) // acknowledged: stored whole
	}
	return ack, err
}

// publishFailed classifies a failed publish.
func (s *Store) publishFailed(err error, aggs []*aggState) (Result, bool, error) {
	switch {
	case isAPICode(err, codeWrongLastSequence, codeExpectationMismatch, codeBatchDuplicateID):
		return Result{}, true, err
	case isAPICode(err, codeInsufficientResources, codeStorageExceeded):
		return Result{}, false, noSpaceErr(err)
	case isUnavailable(err):
		// The outcome is unknown: the events may or may not be stored.
		markStale(aggs)
		return Result{}, false, domain.Errorf(domain.KindUnavailable,
			"JetStream did not confirm the append (%w); it may or may not be stored (%w): retry with the same event ids, the ledger stores each at most once", err, ErrOutcomeUnknown)
	}
	return Result{}, false, fmt.Errorf("append: %w", err)
}

// recordedTimes reads the timestamps JetStream gave msgs, stored from
// sequence first on, in one batched direct get. It checks that each
// stored message carries the id it was published with, and decodes
// nothing else.
func (s *Store) recordedTimes(ctx context.Context, first uint64, msgs []*nats.Msg) ([]time.Time, error) {
	if s.tail != nil {
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.Header.Get(jetstream.MsgIDHeader)
		}
		if times, ok := s.tail.times(ctx, first, ids); ok {
			s.fromTail.Add(1)
			return times, nil
		}
	}
	s.readBack.Add(1)
	out := make([]time.Time, 0, len(msgs))
	err := s.scanRaw(ctx, first, SubjectPrefix+".>", len(msgs), func(m *jetstream.RawStreamMsg) error {
		i := len(out) // scanRaw reads at most len(msgs)
		want := msgs[i].Header.Get(jetstream.MsgIDHeader)
		if m.Sequence != first+uint64(i) || m.Header.Get(jetstream.MsgIDHeader) != want {
			return fmt.Errorf("sequence %d holds %q, not the appended %q", m.Sequence, m.Header.Get(jetstream.MsgIDHeader), want)
		}
		out = append(out, m.Time.UTC())
		return nil
	})
	if err == nil && len(out) != len(msgs) {
		err = fmt.Errorf("read %d of %d records from sequence %d", len(out), len(msgs), first)
	}
	return out, err
}
