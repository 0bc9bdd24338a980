package domain_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"planledger/domain"
)

// TestPropertySnapshot: for random histories cut at a random point, the
// aggregate restored from a snapshot of the first part (through its JSON,
// as it is kept on disk), with the rest applied, is the aggregate rebuilt
// from the whole history: the same state, version and last sequence, and
// it knows every id. A retraction after the cut asks for the history; a
// clone decides like the original without changing it.
func TestPropertySnapshot(t *testing.T) {
	types := []domain.AggregateType{domain.AggregateDecision, domain.AggregateSociety, domain.AggregateProject, domain.AggregateConference, domain.AggregateServiceTeam}
	restored := 0
	for seed := uint64(1); seed <= 500; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x5a))
		typ := types[int(seed)%len(types)]
		h := randomHistory(t, r, typ, 5+r.IntN(40))
		if len(h.recs) == 0 {
			continue
		}
		cut := 1 + r.IntN(len(h.recs))
		head, err := domain.Rebuild(h.agg.Ref, h.recs[:cut])
		if err != nil {
			t.Fatal(err)
		}
		snap, err := head.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.Snapshot
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		a, err := domain.Restore(h.agg.Ref, back)
		if err != nil {
			t.Fatalf("seed %d: restore: %v", seed, err)
		}
		needs := false
		for i := cut; i < len(h.recs); i++ {
			if err := a.Apply(&h.recs[i]); errors.Is(err, domain.ErrNeedsHistory) {
				needs = true
				break
			} else if err != nil {
				t.Fatalf("seed %d: apply after the snapshot: %v", seed, err)
			}
		}
		if needs {
			continue // a retraction after the cut: the ledger reads the history then
		}
		restored++
		if !a.Partial() || a.Version() != h.agg.Version() || a.LastSequence() != h.agg.LastSequence() {
			t.Fatalf("seed %d: restored at version %d seq %d (partial %v), whole at %d seq %d", seed, a.Version(), a.LastSequence(), a.Partial(), h.agg.Version(), h.agg.LastSequence())
		}
		if !reflect.DeepEqual(jsonOf(t, a.Summary), jsonOf(t, h.agg.Summary)) {
			t.Fatalf("seed %d: restored state\n%s\nwhole\n%s", seed, jsonOf(t, a.Summary), jsonOf(t, h.agg.Summary))
		}
		for _, rec := range h.recs {
			if !a.Has(rec.ID) || !h.agg.Has(rec.ID) {
				t.Fatalf("seed %d: %s not known", seed, rec.ID)
			}
		}
		if h.agg.Has("never-stored") {
			t.Fatalf("seed %d: the whole history knows an id never stored", seed)
		}
		// A clone takes the next event and leaves the original as it was.
		c := h.agg.Clone()
		next := jsonOf(t, h.agg.Summary)
		for _, cand := range candidates[typ] {
			s, probs := domain.DecodeEvent(envelope("clone-ev", cand[0], h.agg.Ref.String(), cand[1]), now)
			if len(probs) > 0 || c.Decide(&s, domain.Env{Now: now}) != nil {
				continue
			}
			rec := domain.Record{Event: s.Event, Version: c.Version() + 1, Sequence: 10_000, RecordedTime: now}
			if err := c.ApplyDecided(&rec, &s); err != nil {
				t.Fatal(err)
			}
			break
		}
		if jsonOf(t, h.agg.Summary) != next || h.agg.Has("clone-ev") {
			t.Fatalf("seed %d: a clone's event changed the original", seed)
		}
	}
	if restored < 150 {
		t.Fatalf("only %d histories restored", restored)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
