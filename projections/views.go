// Package projections owns the read models: the views of the plan's
// progress and compliance, built from the log in sequence order, kept
// current by one runner, saved in checkpoints, and rebuilt "as of" any past
// moment on either time axis.
package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"planledger/domain"
	"planledger/eventstore"
)

// History returns an aggregate's records with sequences up to upTo: what a
// retraction needs to fold the aggregate again without the retracted event.
type History func(ctx context.Context, ref domain.Ref, upTo uint64) ([]domain.Record, error)

// Views is the state behind every view: the folded summary of each
// aggregate and the retractions seen. It is fed records in sequence order
// and encodes as JSON for checkpoints.
type Views struct {
	// Sequence is the last log position applied.
	Sequence  uint64                         `json:"sequence"`
	Summaries map[domain.Ref]*domain.Summary `json:"summaries"`
	// Retracted maps "<subject> <event id>" of each retracted event to the
	// sequence of its retraction.
	Retracted map[string]uint64 `json:"retracted"`
	// Versions is each aggregate's version: a record that does not
	// continue its aggregate is a copy, foreign.
	Versions eventstore.Versions `json:"versions"`
	// Foreign is what the views met of records that are not the ledger's.
	Foreign ForeignRecords `json:"foreign"`

	// include, if not nil, says which records (other than retractions)
	// count: the occurred axis leaves out what happened after its moment.
	include func(*domain.Record) bool
	history History
	// batches holds the records of a batch until its last one: a batch
	// is folded whole, or (torn) not at all.
	batches eventstore.Batches
	// onForeign, if set, is told of each foreign record passed over.
	onForeign func(*domain.Record)
}

// NewViews returns empty views; history serves retractions.
func NewViews(history History) *Views {
	return &Views{Summaries: map[domain.Ref]*domain.Summary{}, Retracted: map[string]uint64{}, Versions: eventstore.Versions{}, history: history}
}

// LoadViews decodes views saved as JSON (a checkpoint); history serves
// the retractions still to come. A member the views do not have (one
// renamed since) is an error: views are never half read.
func LoadViews(data []byte, history History) (*Views, error) {
	v := NewViews(history)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("decode views: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode views: data after the views")
	}
	if v.Summaries == nil {
		v.Summaries = map[domain.Ref]*domain.Summary{}
	}
	if v.Retracted == nil {
		v.Retracted = map[string]uint64{}
	}
	if v.Versions == nil {
		v.Versions = eventstore.Versions{}
	}
	return v, nil
}

func retractedKey(subject, id string) string { return subject + " " + id }

// Apply takes the next record of the log. A record of a batch waits for
// the batch's last one (Sequence stays before the batch until then), and
// the batch is folded whole; a foreign record (a copy of one of the
// ledger's, or a record of a torn batch, which Apply marks foreign) is
// passed over and noted: the views move past it and count nothing of it.
func (v *Views) Apply(ctx context.Context, rec *domain.Record) error {
	next := v.Next()
	if rec.Sequence > next {
		return &eventstore.MissingError{From: next, To: rec.Sequence - 1}
	}
	if rec.Sequence != next {
		return fmt.Errorf("views expecting sequence %d cannot apply sequence %d: records must come in order, without gaps", next, rec.Sequence)
	}
	ready := v.batches.Add(*rec)
	for i := range ready {
		if err := v.applyOne(ctx, &ready[i]); err != nil {
			return err
		}
	}
	return nil
}

// Next is the sequence the views take next: after what they reflect and
// what they hold of an open batch.
func (v *Views) Next() uint64 { return v.Sequence + uint64(v.batches.Held()) + 1 }

// Held is how many records of an open batch the views hold.
func (v *Views) Held() int { return v.batches.Held() }

// DropHeld forgets the records of an open batch, for a read that starts
// again from Sequence+1.
func (v *Views) DropHeld() { v.batches.Drop() }

func (v *Views) applyOne(ctx context.Context, rec *domain.Record) error {
	v.Sequence = rec.Sequence
	if !v.Versions.Next(rec) {
		v.Foreign.note(rec)
		if v.onForeign != nil {
			v.onForeign(rec)
		}
		return nil
	}
	ref, err := domain.ParseRef(rec.Subject)
	if err != nil {
		return fmt.Errorf("sequence %d: %w", rec.Sequence, err)
	}
	t := domain.EventType(rec.Type)
	if t.IsRetraction() {
		var r struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(rec.Data, &r); err != nil {
			return fmt.Errorf("sequence %d: retraction data: %w", rec.Sequence, err)
		}
		v.Retracted[retractedKey(rec.Subject, r.EventID)] = rec.Sequence
		return v.refold(ctx, ref)
	}
	if v.include != nil && !v.include(rec) {
		return nil
	}
	s, ok := v.Summaries[ref]
	if !ok {
		s = domain.NewSummary(ref)
		v.Summaries[ref] = s
	}
	return s.Apply(rec)
}

// refold folds an aggregate again from its live records.
func (v *Views) refold(ctx context.Context, ref domain.Ref) error {
	if v.history == nil {
		return fmt.Errorf("views cannot apply a retraction on %s without the aggregate's history", ref)
	}
	recs, err := v.history(ctx, ref, v.Sequence)
	if err != nil {
		return fmt.Errorf("refold %s: %w", ref, err)
	}
	s := domain.NewSummary(ref)
	for i := range recs {
		r := &recs[i]
		if r.Sequence > v.Sequence || domain.EventType(r.Type).IsRetraction() {
			continue
		}
		if _, gone := v.Retracted[retractedKey(r.Subject, r.ID)]; gone {
			continue
		}
		if v.include != nil && !v.include(r) {
			continue
		}
		if err := s.Apply(r); err != nil {
			return err
		}
	}
	v.Summaries[ref] = s
	return nil
}

// each calls fn for every existing aggregate of type t, in id order.
func (v *Views) each(t domain.AggregateType, fn func(*domain.Summary)) {
	var refs []domain.Ref
	for ref, s := range v.Summaries {
		if ref.Type == t && s.Exists() {
			refs = append(refs, ref)
		}
	}
	sortRefs(refs)
	for _, ref := range refs {
		fn(v.Summaries[ref])
	}
}
