package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"planledger/cmd/planledger/datadir"
	"planledger/cmd/planledger/server"
)

// A long aggregate: one service team delivering n times, in batches of
// 1000. What an append to it costs must not grow with its history, nor
// must the first append after a restart read it all again.

type longTimes struct {
	first, last, afterRestart, pageOfHistory time.Duration
	historyBytes                             int
}

// longAggregate builds a team of n deliveries and times its first and
// last batches, one batch after a restart, and a first page of history.
func longAggregate(t testing.TB, n int) longTimes {
	dir := t.TempDir()
	ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir; c.MaxBody = 4 << 20 })
	ts.mustPost(adminToken, register("r-long", "hn-long", "society"))
	ts.mustPost(adminToken, ev("f-long", "service_team.formed", "service_team/long", `{"society_id":"hn-long","industry":"i","title":"t"}`))
	var out longTimes
	post := func(b string) time.Duration {
		evs := make([]string, 1000)
		for i := range evs {
			evs[i] = ev(fmt.Sprintf("%s-%d", b, i), "service_team.service_delivered", "service_team/long", deliveryJSON)
		}
		start := time.Now()
		ts.mustPost(adminToken, evs...)
		return time.Since(start)
	}
	for b := 0; b < n/1000; b++ {
		d := post(fmt.Sprint("b", b))
		if b == 0 {
			out.first = d
		}
		out.last = d
	}
	ts.stop()
	ts.start()
	out.afterRestart = post("after")
	start := time.Now()
	r := ts.do("GET", "/v1/aggregates/service_team/long/events", auditToken, "", nil)
	out.pageOfHistory, out.historyBytes = time.Since(start), len(r.body)
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 || len(page.Events) == 0 {
		t.Fatalf("the history: %d %v", r.status, err)
	}
	return out
}

// TestLongAggregate: with a 10,000-event aggregate, its last batch of
// 1000 costs no more than a few times its first (it was 20 times), the
// first one after a restart too (the history is not read again), and a
// read of its history is a page, not all of it.
func TestLongAggregate(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 10,000 events")
	}
	got := longAggregate(t, 10_000)
	t.Logf("first batch %s, last %s, after a restart %s; history: %d bytes in %s", got.first, got.last, got.afterRestart, got.historyBytes, got.pageOfHistory)
	bound := max(5*got.first, 300*time.Millisecond)
	if got.last > bound || got.afterRestart > bound {
		t.Fatalf("the last batch took %s and the first after a restart %s; the first took %s", got.last, got.afterRestart, got.first)
	}
	if got.historyBytes > 2<<20 {
		t.Fatalf("GET of the aggregate's history answered %d bytes at once", got.historyBytes)
	}
}

// BenchmarkLongAggregate: PLANLEDGER_LONG_EVENTS (default 57,000) events
// on one aggregate: go test ./tests -run '^$' -bench LongAggregate
// -benchtime 1x
func BenchmarkLongAggregate(b *testing.B) {
	n := 57_000
	if v, err := strconv.Atoi(os.Getenv("PLANLEDGER_LONG_EVENTS")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		got := longAggregate(b, n)
		b.ReportMetric(got.last.Seconds(), "s/last-batch")
		b.ReportMetric(got.afterRestart.Seconds(), "s/batch-after-restart")
		b.Logf("%d events: first batch of 1000 %s, last %s, first after a restart %s; GET history %d bytes in %s", n, got.first, got.last, got.afterRestart, got.historyBytes, got.pageOfHistory)
	}
}

// TestAggregateHistoryPages: an aggregate's history is read a page at a
// time, like the log: next_after and a Link header lead to the next page,
// version is the aggregate's after the page, and an after that is not one
// of its records is refused.
func TestAggregateHistoryPages(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(adminToken, register("r1", "hn-chem", "society"))
	ts.mustPost(adminToken, register("r2", "hn-phys", "society")) // between them, another aggregate
	for i := 0; i < 4; i++ {
		ts.mustPost(chemToken, ev(fmt.Sprint("a", i), "society.party_history_activity_held", "society/hn-chem", `{"title":"t","participants":3,"held_on":"2021-04-30"}`))
	}
	type page struct {
		Version   uint64                `json:"version"`
		Events    []struct{ ID string } `json:"events"`
		NextAfter uint64                `json:"next_after"`
	}
	var got []string
	var versions []uint64
	path := "/v1/aggregates/society/hn-chem/events?limit=2"
	for i := 0; i < 5; i++ {
		r := ts.do("GET", path, auditToken, "", nil)
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		for _, e := range p.Events {
			got = append(got, e.ID)
		}
		versions = append(versions, p.Version)
		if len(p.Events) < 2 {
			break
		}
		link := r.header.Get("Link")
		if !strings.Contains(link, fmt.Sprintf("after=%d", p.NextAfter)) {
			t.Fatalf("a full page's Link %q does not lead to after=%d", link, p.NextAfter)
		}
		path = fmt.Sprintf("/v1/aggregates/society/hn-chem/events?limit=2&after=%d", p.NextAfter)
	}
	if strings.Join(got, " ") != "r1 a0 a1 a2 a3" || fmt.Sprint(versions) != "[2 4 5]" {
		t.Fatalf("pages gave %v, versions %v", got, versions)
	}
	r := ts.do("GET", "/v1/aggregates/society/hn-chem/events?after=3", auditToken, "", nil) // hn-phys's record
	if p := r.problem(t); r.status != 422 || !strings.Contains(p.Detail, "not a record of society/hn-chem") {
		t.Fatalf("after another aggregate's record: %d %s", r.status, r.body)
	}
}

// TestRetractionAfterSnapshot: a retraction on an aggregate loaded from
// its snapshot is decided on the whole history, read for it; the views
// and the next append go on from there.
func TestRetractionAfterSnapshot(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir; c.MaxBody = 4 << 20 })
	ts.mustPost(adminToken, register("r-long", "hn-long", "society"))
	ts.mustPost(adminToken, ev("f-long", "service_team.formed", "service_team/long", `{"society_id":"hn-long","industry":"i","title":"t"}`))
	for b := 0; b < 11; b++ { // past version 1000
		ts.mustPost(adminToken, deliveries("long", fmt.Sprint("b", b))...)
	}
	ts.stop()
	if _, err := os.Stat(filepath.Join(datadir.Dir(dir).AggregateSnapshots(), "service_team", "long.json.gz")); err != nil {
		t.Fatalf("no snapshot of a 1101-event aggregate: %v", err)
	}
	ts.start()
	ts.mustPost(adminToken, ev("x1", "service_team.event_retracted", "service_team/long", `{"event_id":"b0-5","reason":"entered twice"}`))
	ts.mustPost(adminToken, ev("after", "service_team.service_delivered", "service_team/long", deliveryJSON))
	if err := ts.srv.Views().WaitFor(context.Background(), ts.logLength()); err != nil {
		t.Fatal(err)
	}
	if got := teamDeliveries(t, ts, "long"); got != 1100 {
		t.Fatalf("%d deliveries, want 1100 (1100 posted, one retracted, one more)", got)
	}
}
