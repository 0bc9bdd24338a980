package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logkey"
	"planledger/projections"
)

var templates = map[domain.AggregateType][][2]string{
	domain.AggregateSociety: {
		{"society.registered", reg("s", "society")}, {"society.registered", reg("m", "municipal_association")},
		{"society.party_organization_established", branch},
		{"society.reelection_held", `{"term_start":"2019-03-01","term_years":3,"leadership":` + members("u3 r3 e3 g1") + `}`},
		{"society.reelection_held", `{"term_start":"2021-03-01","term_years":5,"leadership":` + members("u6 o2") + `}`},
		{"society.leadership_changed", `{"added":[{"member_id":"z","role":"director","sector":"government"}],"removed":["m1"]}`},
	},
	domain.AggregateDecision: {
		{"decision.proposed", `{"society_id":"s1","category":"personnel","title":"t"}`},
		{"decision.party_reviewed", `{"outcome":"endorsed"}`}, {"decision.party_reviewed", `{"outcome":"returned"}`},
		{"decision.voted", `{"body":"council","members_in_office":9,"present":9,"votes_for":9,"votes_against":0,"abstentions":0}`},
		{"decision.voted", `{"body":"council","members_in_office":9,"present":3,"votes_for":3,"votes_against":0,"abstentions":0}`},
		{"decision.published", `{"channel":"c","published_on":"2021-06-01"}`},
	},
	domain.AggregateConference: {
		{"conference.registered", `{"title":"t","level":"national","program":"academic_exchange","organizer_society":"s1"}`},
		{"conference.session_held", `{"session_title":"s","held_on":"2021-05-01","attendees":40,"online":false}`},
	},
	domain.AggregateServiceTeam: {
		{"service_team.formed", `{"society_id":"s1","industry":"i","title":"t"}`},
		{"service_team.service_delivered", delivery(2, 3, 10, 1, 1, 1, 0, "2021-05-03")},
	},
	domain.AggregateProject: {
		{"project.registered", `{"program":"one_industry_one_report","title":"t","lead_society":"s1"}`},
		{"project.completed", `{"completed_on":"2021-08-01","deliverable":"d"}`},
		{"project.cancelled", `{"reason":"r"}`},
	},
}

var refs = []domain.Ref{
	{Type: domain.AggregateSociety, ID: "s1"}, {Type: domain.AggregateSociety, ID: "s2"},
	{Type: domain.AggregateDecision, ID: "d1"}, {Type: domain.AggregateDecision, ID: "d2"},
	{Type: domain.AggregateConference, ID: "c1"}, {Type: domain.AggregateServiceTeam, ID: "t1"},
	{Type: domain.AggregateProject, ID: "p1"}, {Type: domain.AggregateProject, ID: "p2"},
}

// randomLog appends a random valid history, decided by domain/ event by
// event, with business times spread over 2021.
func randomLog(t *testing.T, r *rand.Rand, steps int) *ledgerLog {
	l := newLog(t)
	aggs := map[domain.Ref]*domain.Aggregate{}
	for i := 0; i < steps; i++ {
		ref := refs[r.IntN(len(refs))]
		a, ok := aggs[ref]
		if !ok {
			a = domain.NewAggregate(ref)
			aggs[ref] = a
		}
		var typ, data string
		if facts := a.Facts(); len(facts) > 0 && r.IntN(6) == 0 {
			typ = string(domain.RetractionType(ref.Type))
			data = fmt.Sprintf(`{"event_id":%q,"reason":"r"}`, facts[r.IntN(len(facts))].ID)
		} else {
			c := templates[ref.Type][r.IntN(len(templates[ref.Type]))]
			typ, data = c[0], c[1]
		}
		when := time.Date(2021, time.Month(1+r.IntN(12)), 1+r.IntN(28), 9, 0, 0, 0, domain.CST)
		raw, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": fmt.Sprintf("e%d", i), "source": "/p", "type": typ,
			"subject": ref.String(), "time": when.Format(time.RFC3339), "data": json.RawMessage(data)})
		sub, probs := domain.DecodeEvent(raw, time.Now())
		if len(probs) > 0 {
			t.Fatalf("template %s: %v", typ, probs)
		}
		if a.Decide(&sub, domain.Env{Now: time.Now()}) != nil {
			continue
		}
		rec := l.appendEvent(sub.Event)
		if err := a.Apply(&rec); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestPropertyCheckpointAndAsOf: for random valid histories, views from a
// checkpoint at a random sequence plus the rest equal a full replay, and
// "as of" a random recorded time equals a full replay of the log cut there.
func TestPropertyCheckpointAndAsOf(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2021, 9, 1, 0, 0, 0, 0, domain.CST)
	retractions, events := 0, 0
	defer func() {
		if !t.Failed() && retractions < 20 {
			t.Errorf("only %d retractions among %d events: the generator is too timid", retractions, events)
		}
	}()
	for seed := uint64(1); seed <= 12; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		l := randomLog(t, r, 80)
		n := uint64(len(l.recs))
		for _, rec := range l.recs {
			events++
			if domain.EventType(rec.Type).IsRetraction() {
				retractions++
			}
		}
		full := renderAll(t, l.replay(), clock)

		for trial := 0; trial < 3; trial++ {
			k := r.Uint64N(n + 1)
			v := projections.NewViews(projections.StoreHistory(l.store))
			apply := func(v *projections.Views, from, to uint64) {
				for _, rec := range l.recs[from:to] {
					if err := v.Apply(ctx, &rec); err != nil {
						t.Fatal(err)
					}
				}
			}
			apply(v, 0, k)
			saved, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			resumed, err := projections.LoadViews(saved, projections.StoreHistory(l.store))
			if err != nil {
				t.Fatal(err)
			}
			apply(resumed, k, n)
			sameViews(t, fmt.Sprintf("seed %d, checkpoint at %d of %d", seed, k, n), renderAll(t, resumed, clock), full)
		}

		k := r.IntN(int(n))
		at := l.recs[k].RecordedTime
		asOf, err := projections.Replay(ctx, l.store, at, projections.AxisRecorded)
		if err != nil {
			t.Fatal(err)
		}
		cut := newEmptyStore(t, l.store.Key()) // the same ledger: its records' proofs hold
		for _, rec := range l.recs {
			if rec.RecordedTime.After(at) {
				break
			}
			prev := rec.Version - 1
			if _, err := cut.Append(ctx, []eventstore.Pending{{Event: rec.Event, Submitter: rec.Submitter, ExpectedVersion: &prev, RecordedTime: rec.RecordedTime, MAC: rec.MAC}}); err != nil {
				t.Fatal(err)
			}
		}
		cutViews, err := projections.Replay(ctx, cut, time.Now().Add(time.Hour), projections.AxisRecorded)
		if err != nil {
			t.Fatal(err)
		}
		sameViews(t, fmt.Sprintf("seed %d, as of sequence %d", seed, k+1), renderAll(t, asOf, clock), renderAll(t, cutViews, clock))
	}
}

func newEmptyStore(t *testing.T, key *logkey.Key) *eventstore.Store {
	t.Helper()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: t.TempDir(), Key: key, CreateKey: key == nil})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
