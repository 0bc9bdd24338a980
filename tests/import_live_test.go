package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"planledger/cmd/planledger/server"
	"planledger/domain"
	"planledger/eventstore"
)

// TestImportKeepsRecordedTimesInOrder: an admin imports, through the API
// of a live ledger, records that carry this ledger's own proofs (an admin
// of the ledger could make them) but are dated before what the log holds,
// or in the future. Each is refused with a 422 naming it, and nothing is
// appended: what the ledger knew in the past never changes. A record
// recorded between the log's last one and now is taken.
func TestImportKeepsRecordedTimesInOrder(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.NoShippedPlan = true })
	ts.mustPost(adminToken, register("r1", "hn-chem", "society"))
	last := ts.logLength()
	lastRec := ts.do("GET", fmt.Sprintf("/v1/events?after=%d", last-1), auditToken, "", nil)
	var page struct {
		Events []domain.Record `json:"events"`
	}
	if err := json.Unmarshal(lastRec.body, &page); err != nil || len(page.Events) != 1 {
		t.Fatalf("the last record: %v %s", err, lastRec.body)
	}
	key := ts.srv.Store().Key()
	line := func(id string, recorded time.Time) []byte {
		rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: id, Source: "/tests", Type: "society.registered", Subject: "society/hn-" + id,
			Time: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"name":"x","kind":"society"}`)},
			Sequence: last + 1, Version: 1, RecordedTime: recorded, Submitter: "admin"}
		subject, _, body := eventstore.StoredForm(&rec)
		rec.MAC = key.Seal(subject, body)
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	for _, c := range []struct {
		name     string
		recorded time.Time
		detail   string
	}{
		{"backdated", time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), fmt.Sprintf("before sequence %d", last)},
		{"future", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "in the future"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/import", adminToken, "application/x-ndjson", line(c.name, c.recorded))
			p := r.problem(t)
			if r.status != 422 || !strings.Contains(p.Detail, c.detail) || !strings.Contains(p.Detail, fmt.Sprintf("sequence %d", last+1)) {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if n := ts.logLength(); n != last {
				t.Fatalf("the log grew from %d to %d", last, n)
			}
		})
	}
	between := page.Events[0].RecordedTime.Add(time.Millisecond)
	if time.Until(between) > 0 {
		time.Sleep(time.Until(between)) // the clock must pass it: never import the future
	}
	if r := ts.do("POST", "/v1/import", adminToken, "application/x-ndjson", line("inorder", between)); r.status != 200 {
		t.Fatalf("a record recorded after the log's last: %d %s", r.status, r.body)
	}
	if n := ts.logLength(); n != last+1 {
		t.Fatalf("log at %d after an import in order, want %d", n, last+1)
	}
}
