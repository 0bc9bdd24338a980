package domain_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"planledger/domain"
)

// candidates are events that may or may not be accepted next; a random
// history is whatever Decide lets through.
var candidates = map[domain.AggregateType][][2]string{
	domain.AggregateDecision: {
		{"decision.proposed", proposed}, {"decision.party_reviewed", endorsed}, {"decision.party_reviewed", returned},
		{"decision.voted", votePass}, {"decision.voted", voteFail}, {"decision.published", published},
	},
	domain.AggregateSociety: {
		{"society.registered", registered},
		{"society.party_organization_established", `{"org_type":"branch","members":4,"established_on":"2021-03-01"}`},
		{"society.party_building_assessed", `{"year":2020,"score":80}`},
		{"society.party_building_assessed", `{"year":2021,"score":91}`},
		{"society.party_history_activity_held", `{"title":"t","participants":9,"held_on":"2021-04-01"}`},
		{"society.reelection_held", `{"term_start":"2019-01-01","term_years":4,"leadership":[{"member_id":"a","role":"president","sector":"university"},{"member_id":"b","role":"director","sector":"government"}]}`},
		{"society.reelection_held", `{"term_start":"2021-01-01","term_years":5,"leadership":[{"member_id":"c","role":"president","sector":"enterprise"}]}`},
		{"society.leadership_changed", `{"added":[{"member_id":"d","role":"director","sector":"other"}],"removed":[]}`},
		{"society.leadership_changed", `{"added":[],"removed":["a"]}`},
		{"society.annual_inspection_recorded", `{"year":2020,"result":"pass"}`},
	},
	domain.AggregateProject: {
		{"project.registered", `{"program":"discipline_report","title":"t","lead_society":"s"}`},
		{"project.milestone_reached", `{"milestone":"m","reached_on":"2021-05-01"}`},
		{"project.completed", `{"completed_on":"2021-06-01","deliverable":"d"}`},
		{"project.cancelled", `{"reason":"r"}`},
	},
	domain.AggregateConference: {
		{"conference.registered", `{"title":"t","level":"national","program":"platform","organizer_society":"s"}`},
		{"conference.session_held", `{"session_title":"s","held_on":"2021-05-01","attendees":50,"online":true}`},
	},
	domain.AggregateServiceTeam: {
		{"service_team.formed", `{"society_id":"s","industry":"i","title":"t"}`},
		{"service_team.service_delivered", `{"service_kind":"technology","partner_kind":"school","partner_name":"p","volunteers":2,"hours":3.5,"beneficiaries":40,"delivered_on":"2021-05-01","problems_solved":1,"technologies_promoted":0,"talents_trained":2,"demonstrations":0}`},
	},
}

// stateOf is the aggregate's folded state, comparable with DeepEqual.
func stateOf(a *domain.Aggregate) domain.Summary { return a.Summary }

// randomHistory builds a history of accepted events, retractions included.
func randomHistory(t *testing.T, r *rand.Rand, typ domain.AggregateType, steps int) *history {
	h := newHistory(t, string(typ)+"/x")
	pool := candidates[typ]
	for i := 0; i < steps; i++ {
		if len(h.recs) > 0 && r.IntN(5) == 0 {
			target := h.recs[r.IntN(len(h.recs))].ID
			_, _ = h.try(string(domain.RetractionType(typ)), retract(target))
			continue
		}
		c := pool[r.IntN(len(pool))]
		_, _ = h.try(c[0], c[1])
	}
	return h
}

// TestPropertyRebuild: for random valid histories, rebuilding an aggregate
// from its stored events gives the state reached by applying the accepted
// decisions one by one (with their decided payloads, as the ledger does);
// and a retraction followed by a rebuild equals the
// history without the retracted event.
func TestPropertyRebuild(t *testing.T) {
	types := []domain.AggregateType{domain.AggregateDecision, domain.AggregateSociety, domain.AggregateProject, domain.AggregateConference, domain.AggregateServiceTeam}
	retractionsChecked := 0
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x91))
		typ := types[int(seed)%len(types)]
		h := randomHistory(t, r, typ, 5+r.IntN(30))

		rebuilt, err := domain.Rebuild(h.agg.Ref, h.recs)
		if err != nil {
			t.Fatalf("seed %d: rebuild: %v", seed, err)
		}
		if !reflect.DeepEqual(stateOf(rebuilt), stateOf(h.agg)) {
			t.Fatalf("seed %d: rebuilt state\n%+v\ndiffers from incremental\n%+v", seed, stateOf(rebuilt), stateOf(h.agg))
		}

		// A summary survives a checkpoint: JSON and back says the same.
		enc, err := json.Marshal(h.agg.Summary)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.Summary
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("seed %d: summary does not decode: %v\n%s", seed, err, enc)
		}
		if enc2, _ := json.Marshal(back); string(enc2) != string(enc) {
			t.Fatalf("seed %d: summary JSON round trip\n%s\n%s", seed, enc, enc2)
		}

		for _, target := range h.recs {
			if domain.EventType(target.Type).IsRetraction() || h.agg.Retracted(target.ID) {
				continue
			}
			with, _ := domain.Rebuild(h.agg.Ref, h.recs)
			s, probs := domain.DecodeEvent(envelope("r-"+target.ID, string(domain.RetractionType(typ)), h.agg.Ref.String(), retract(target.ID)), now)
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if with.Decide(&s, domain.Env{Now: now}) != nil {
				continue // retracting it would break a later event's rule
			}
			rec := domain.Record{Event: s.Event, Version: with.Version() + 1, RecordedTime: now}
			if err := with.Apply(&rec); err != nil {
				t.Fatal(err)
			}
			var without []domain.Record
			for _, x := range h.recs {
				if x.ID != target.ID {
					x.Version = uint64(len(without) + 1)
					without = append(without, x)
				}
			}
			ref, err := domain.Rebuild(h.agg.Ref, without)
			if err != nil {
				t.Fatalf("seed %d: rebuild without %s: %v", seed, target.ID, err)
			}
			if !reflect.DeepEqual(stateOf(with), stateOf(ref)) {
				t.Fatalf("seed %d: retracting %s (%s) gives\n%+v\nbut the history without it gives\n%+v", seed, target.ID, target.Type, stateOf(with), stateOf(ref))
			}
			retractionsChecked++
		}
	}
	if retractionsChecked < 300 {
		t.Fatalf("only %d retractions exercised; the generator is too timid", retractionsChecked)
	}
	t.Logf("%d retractions checked", retractionsChecked)
}

// TestApplyDecidedRefusesAnotherRecord: the decided payload is applied only
// with the record stored for it.
func TestApplyDecidedRefusesAnotherRecord(t *testing.T) {
	h := newHistory(t, "society/x")
	h.ok("society.registered", registered)
	s, probs := domain.DecodeEvent(envelope("a1", "society.annual_inspection_recorded", "society/x", `{"year":2020,"result":"pass"}`), now)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	other, _ := domain.DecodeEvent(envelope("a2", "society.annual_inspection_recorded", "society/x", `{"year":2021,"result":"fail"}`), now)
	for name, rec := range map[string]domain.Record{
		"another event": {Event: other.Event, Version: 2},
		"wrong version": {Event: s.Event, Version: 3},
	} {
		if err := h.agg.ApplyDecided(&rec, &s); !domain.IsKind(err, domain.KindInternal) {
			t.Errorf("%s: ApplyDecided = %v, want an internal error", name, err)
		}
	}
	if h.agg.Version() != 1 {
		t.Fatalf("refused records changed the aggregate: version %d", h.agg.Version())
	}
}
