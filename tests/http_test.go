package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"planledger/cmd/planledger/server"
	"planledger/domain"

	"planledger/eventstore/eventstoretest"
)

const (
	partyBranch = `{"org_type":"branch","members":5,"established_on":"2021-04-20"}`
	reelection  = `{"term_start":"2021-04-25","term_years":5,"leadership":[
		{"member_id":"m1","role":"president","sector":"university"},{"member_id":"m2","role":"vice_president","sector":"university"},{"member_id":"m3","role":"director","sector":"university"},
		{"member_id":"m4","role":"director","sector":"research_institute"},{"member_id":"m5","role":"director","sector":"research_institute"},{"member_id":"m6","role":"director","sector":"research_institute"},
		{"member_id":"m7","role":"director","sector":"enterprise"},{"member_id":"m8","role":"director","sector":"enterprise"},{"member_id":"m9","role":"secretary_general","sector":"enterprise"},
		{"member_id":"m10","role":"director","sector":"government"}]}`
)

func TestShippedPlanOnFirstStart(t *testing.T) {
	ts := startServer(t)
	r := ts.do("GET", "/v1/aggregates/plan/henan-2021/events", auditToken, "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "豫科协办发〔2021〕9号") {
		t.Fatalf("plan/henan-2021: %d %s", r.status, r.body)
	}
	ts.stop()
	ts.start() // a restart does not publish it again
	if n := ts.logLength(); n != 1 {
		t.Fatalf("log has %d events after a restart, want 1", n)
	}
}

func TestStatusCodes(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.MaxBody = 64 << 10 })
	first := ts.mustPost(chemToken, register("r1", "hn-chem", "society")).record(t)
	if first.Sequence != 2 || first.Version != 1 || first.Submitter != "chem-secretariat" || first.RecordedTime.IsZero() {
		t.Fatalf("201 record %+v", first)
	}
	t.Run("200 resubmission returns the original", func(t *testing.T) {
		r := ts.post(chemToken, register("r1", "hn-chem", "society"))
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if got := r.record(t); got.Sequence != first.Sequence || !got.RecordedTime.Equal(first.RecordedTime) {
			t.Fatalf("resubmission %+v, want the original %+v", got, first)
		}
	})
	before := ts.logLength()
	cases := []struct {
		name   string
		send   func() reply
		status int
		check  func(t *testing.T, p server.Problem)
	}{
		{"409 expectedversion", func() reply {
			return ts.post(chemToken, ev("p1", "society.party_organization_established", "society/hn-chem", partyBranch, `,"expectedversion":5`))
		}, 409, func(t *testing.T, p server.Problem) {
			if p.CurrentVersion == nil || *p.CurrentVersion != 1 || p.Aggregate != "society/hn-chem" {
				t.Fatalf("conflict does not say the current version: %+v", p)
			}
		}},
		{"409 same id other content", func() reply {
			return ts.post(chemToken, ev("r1", "society.registered", "society/hn-chem", `{"name":"other","kind":"society"}`))
		}, 409, nil},
		{"422 schema", func() reply {
			return ts.post(chemToken, ev("p2", "society.party_organization_established", "society/hn-chem", `{"org_type":"branch","members":2,"established_on":"2021-04-20"}`))
		}, 422, func(t *testing.T, p server.Problem) { wantPointer(t, p, "/data/members") }},
		{"422 unknown type", func() reply {
			return ts.post(chemToken, ev("p3", "society.dissolved", "society/hn-chem", `{}`))
		}, 422, func(t *testing.T, p server.Problem) { wantPointer(t, p, "/type") }},
		{"403 another society's aggregate", func() reply {
			return ts.post(chemToken, ev("p4", "society.party_organization_established", "society/hn-nope", partyBranch))
		}, 403, nil},
		{"422 unknown aggregate in scope", func() reply {
			return ts.post(adminToken, ev("p4", "project.completed", "project/nope", `{"completed_on":"2021-05-01","deliverable":"d"}`))
		}, 422, func(t *testing.T, p server.Problem) { wantPointer(t, p, "/subject") }},
		{"422 step out of order", func() reply {
			return ts.post(chemToken, ev("l1", "society.leadership_changed", "society/hn-chem", `{"added":[{"member_id":"x","role":"director","sector":"other"}]}`))
		}, 422, func(t *testing.T, p server.Problem) { wantPointer(t, p, "/type") }},
		{"400 not JSON", func() reply {
			return ts.do("POST", "/v1/events", chemToken, "application/json", []byte(`{"specversion":`))
		}, 400, nil},
		{"400 not an event", func() reply {
			return ts.do("POST", "/v1/events", chemToken, "application/json", []byte(`"hello"`))
		}, 400, nil},
		{"400 array sent as one event", func() reply {
			return ts.do("POST", "/v1/events", chemToken, "application/cloudevents+json", []byte(`[`+register("x", "hn-chem", "society")+`]`))
		}, 400, nil},
		{"400 nested too deep", func() reply {
			return ts.do("POST", "/v1/events", chemToken, "application/json", []byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)))
		}, 400, nil},
		{"401 no token", func() reply {
			return ts.post("", register("x", "hn-chem", "society"))
		}, 401, nil},
		{"401 bad token", func() reply {
			return ts.post("guess", register("x", "hn-chem", "society"))
		}, 401, nil},
		{"403 out of scope", func() reply {
			return ts.post(physToken, ev("p5", "society.party_organization_established", "society/hn-chem", partyBranch))
		}, 403, nil},
		{"403 auditor writes", func() reply {
			return ts.post(auditToken, register("a1", "hn-audit", "society"))
		}, 403, nil},
		{"413 body over the limit", func() reply {
			return ts.post(chemToken, ev("big", "society.registered", "society/hn-chem", `{"name":"`+strings.Repeat("x", 70<<10)+`","kind":"society"}`))
		}, 413, nil},
		{"415 content type", func() reply {
			return ts.do("POST", "/v1/events", chemToken, "text/plain", []byte(register("x", "hn-chem", "society")))
		}, 415, nil},
		{"415 no content type", func() reply {
			return ts.do("POST", "/v1/events", chemToken, "", []byte(register("x", "hn-chem", "society")))
		}, 415, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.send()
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			p := r.problem(t)
			if c.check != nil {
				c.check(t, p)
			}
			if n := ts.logLength(); n != before {
				t.Fatalf("the log grew from %d to %d on a refused request", before, n)
			}
		})
	}
}

func wantPointer(t *testing.T, p server.Problem, ptr string) {
	t.Helper()
	for _, e := range p.Errors {
		if e.Pointer == ptr {
			return
		}
	}
	t.Fatalf("problem %+v has no error at %s", p, ptr)
}

// Test503: with the external JetStream server gone, appends answer 503
// with Retry-After and store nothing; a retry after it returns lands once.
func Test503(t *testing.T) {
	opts := eventstoretest.Options(t.TempDir())
	srv := eventstoretest.Start(t, opts)
	port := srv.Addr().(interface{ String() string }).String()
	ts := startServer(t, func(c *server.Config) {
		c.Store = eventstoretest.LedgerConfig(srv.ClientURL())
		c.Store.Timeout = 500 * time.Millisecond
		c.DataDir = t.TempDir()
	})
	ts.mustPost(chemToken, register("r1", "hn-chem", "society"))
	srv.Stop()
	branch := ev("p1", "society.party_organization_established", "society/hn-chem", partyBranch)
	r := ts.post(chemToken, branch)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q, want 503 with Retry-After: %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	r.problem(t)
	opts2 := eventstoretest.Options(opts.StoreDir)
	fmt.Sscanf(port[strings.LastIndex(port, ":")+1:], "%d", &opts2.Port)
	eventstoretest.Start(t, opts2)
	deadline := time.Now().Add(30 * time.Second)
	for r = ts.post(chemToken, branch); r.status == 503 && time.Now().Before(deadline); r = ts.post(chemToken, branch) {
		time.Sleep(50 * time.Millisecond) // poll until the client has reconnected
	}
	if r.status != 201 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	if again := ts.post(chemToken, branch); again.status != 200 || again.record(t).Sequence != r.record(t).Sequence {
		t.Fatalf("second retry: %d %s", again.status, again.body)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(chemToken, register("r1", "hn-chem", "society"))
	before := ts.logLength()
	r := ts.post(chemToken,
		ev("b1", "society.party_organization_established", "society/hn-chem", partyBranch),
		ev("b2", "conference.registered", "conference/c1", `{"title":"年会","level":"provincial","program":"academic_exchange","organizer_society":"hn-chem"}`),
		ev("b3", "conference.session_held", "conference/c1", `{"session_title":"s","held_on":"2021-04-30","attendees":"many","online":false}`),
	)
	if r.status != 422 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	wantPointer(t, r.problem(t), "/2/data/attendees")
	if n := ts.logLength(); n != before {
		t.Fatalf("log grew from %d to %d after a rejected batch", before, n)
	}
	// A rule broken by the third event, given the first two.
	r = ts.post(chemToken,
		ev("b1", "decision.proposed", "decision/d1", `{"society_id":"hn-chem","category":"personnel","title":"秘书长人选"}`),
		ev("b2", "decision.party_reviewed", "decision/d1", `{"outcome":"returned"}`),
		ev("b3", "decision.voted", "decision/d1", `{"body":"council","members_in_office":9,"present":9,"votes_for":9,"votes_against":0,"abstentions":0}`),
	)
	if r.status != 422 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	wantPointer(t, r.problem(t), "/2/type")
	// An expectation that fails on the second aggregate.
	r = ts.post(chemToken,
		ev("b4", "society.party_organization_established", "society/hn-chem", partyBranch, `,"expectedversion":1`),
		ev("b5", "conference.registered", "conference/c2", `{"title":"t","level":"national","organizer_society":"hn-chem"}`, `,"expectedversion":3`),
	)
	if r.status != 409 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if n := ts.logLength(); n != before {
		t.Fatalf("log grew from %d to %d after rejected batches", before, n)
	}
	ok := ts.mustPost(chemToken,
		ev("b1", "decision.proposed", "decision/d1", `{"society_id":"hn-chem","category":"personnel","title":"秘书长人选"}`),
		ev("b2", "decision.party_reviewed", "decision/d1", `{"outcome":"endorsed"}`),
		ev("b3", "decision.voted", "decision/d1", `{"body":"council","members_in_office":9,"present":9,"votes_for":9,"votes_against":0,"abstentions":0}`),
	).records(t)
	if len(ok) != 3 || ok[2].Version != 3 || ok[2].Sequence != ok[0].Sequence+2 {
		t.Fatalf("batch records %+v", ok)
	}
	again := ts.post(chemToken,
		ev("b1", "decision.proposed", "decision/d1", `{"society_id":"hn-chem","category":"personnel","title":"秘书长人选"}`),
		ev("b2", "decision.party_reviewed", "decision/d1", `{"outcome":"endorsed"}`),
		ev("b3", "decision.voted", "decision/d1", `{"body":"council","members_in_office":9,"present":9,"votes_for":9,"votes_against":0,"abstentions":0}`),
	)
	if again.status != 200 || again.records(t)[2].Sequence != ok[2].Sequence {
		t.Fatalf("batch resubmission: %d %s", again.status, again.body)
	}
}

// TestScope: a submitter writes an aggregate only if it belongs to one of
// its societies, as fixed by the aggregate's first event.
func TestScope(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(adminToken, register("r1", "hn-chem", "society"), register("r2", "hn-phys", "society"))
	creations := []struct{ subject, typ, data string }{
		{"decision/d1", "decision.proposed", `{"society_id":"hn-chem","category":"major_work","title":"t"}`},
		{"conference/c1", "conference.registered", `{"title":"t","level":"national","organizer_society":"hn-chem"}`},
		{"service_team/t1", "service_team.formed", `{"society_id":"hn-chem","industry":"i","title":"t"}`},
		{"project/p1", "project.registered", `{"program":"award","title":"t","lead_society":"hn-chem"}`},
	}
	for _, c := range creations {
		t.Run(c.subject, func(t *testing.T) {
			if r := ts.post(physToken, ev("x-"+c.subject, c.typ, c.subject, c.data)); r.status != 403 {
				t.Fatalf("phys created %s for hn-chem: %d %s", c.subject, r.status, r.body)
			}
			ts.mustPost(chemToken, ev("x-"+c.subject, c.typ, c.subject, c.data))
			retraction := ev("y-"+c.subject, c.subject[:strings.Index(c.subject, "/")]+".event_retracted", c.subject, `{"event_id":"nope","reason":"r"}`)
			if r := ts.post(physToken, retraction); r.status != 403 {
				t.Fatalf("phys wrote to chem's %s: %d %s", c.subject, r.status, r.body)
			}
			if r := ts.post(chemToken, retraction); r.status != 422 {
				t.Fatalf("chem's own retraction of an unknown event: %d %s, want 422", r.status, r.body)
			}
		})
	}
	t.Run("society", func(t *testing.T) {
		if r := ts.post(chemToken, ev("s1", "society.party_building_assessed", "society/hn-phys", `{"year":2021,"score":90}`)); r.status != 403 {
			t.Fatalf("chem wrote to hn-phys: %d", r.status)
		}
		ts.mustPost(physToken, ev("s1", "society.party_building_assessed", "society/hn-phys", `{"year":2021,"score":90}`))
		if r := ts.post(physToken, register("s2", "hn-bio", "society")); r.status != 403 {
			t.Fatalf("phys registered hn-bio: %d", r.status)
		}
	})
	t.Run("plan", func(t *testing.T) {
		plan := ev("pl", "plan.published", "plan/henan-2022", `{"year":2022,"document_no":"d","title":"t","targets":{},"leadership_rule":{"university":0.3,"research_institute":0.3,"enterprise":0.3,"government":0.1,"tolerance":0.1}}`)
		if r := ts.post(chemToken, plan); r.status != 403 {
			t.Fatalf("a submitter published a plan: %d", r.status)
		}
		ts.mustPost(adminToken, plan)
	})
	t.Run("unknown society referenced", func(t *testing.T) {
		r := ts.post(adminToken, ev("z", "project.registered", "project/p9", `{"program":"award","title":"t","lead_society":"hn-nobody"}`))
		if r.status != 422 {
			t.Fatalf("project for an unregistered society: %d %s", r.status, r.body)
		}
		wantPointer(t, r.problem(t), "/data/lead_society")
	})
}

func TestHostileSubjects(t *testing.T) {
	ts := startServer(t)
	for _, subj := range []string{"society/a.b", "society/*", "society/>", "society/A B", "society/" + strings.Repeat("a", 200), "society/a\tb", "society/", "society"} {
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "h", "source": "/t", "type": "society.registered", "subject": subj, "time": "2021-05-01T00:00:00Z", "data": map[string]string{"name": "n", "kind": "society"}})
		r := ts.do("POST", "/v1/events", adminToken, "application/json", body)
		if r.status != 422 {
			t.Fatalf("subject %q: status %d, want 422", subj, r.status)
		}
		wantPointer(t, r.problem(t), "/subject")
	}
	if n := ts.logLength(); n != 1 {
		t.Fatalf("log has %d events, want only the plan", n)
	}
}

// TestConcurrentSubmitters: 16 submitters on one aggregate without
// expectedversion all get 201, and versions are 1..N without gaps.
func TestConcurrentSubmitters(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(chemToken, register("r1", "hn-chem", "society"))
	const writers, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan string, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := ev(fmt.Sprintf("act-%d-%d", w, i), "society.party_history_activity_held", "society/hn-chem", `{"title":"学习","participants":10,"held_on":"2021-04-30"}`)
				req, _ := http.NewRequest("POST", ts.url+"/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+chemToken)
				req.Header.Set("Content-Type", "application/cloudevents+json")
				resp, err := testClient.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				if resp.StatusCode != 201 {
					var b bytes.Buffer
					_, _ = b.ReadFrom(resp.Body)
					errs <- fmt.Sprintf("%d %s", resp.StatusCode, b.String())
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	r := ts.do("GET", "/v1/aggregates/society/hn-chem/events", auditToken, "", nil)
	var agg struct {
		Version int             `json:"version"`
		Events  []domain.Record `json:"events"`
	}
	if err := json.Unmarshal(r.body, &agg); err != nil {
		t.Fatal(err)
	}
	if agg.Version != 1+writers*each {
		t.Fatalf("version %d, want %d", agg.Version, 1+writers*each)
	}
	for i, e := range agg.Events {
		if e.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
	}
}

func TestReads(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(adminToken, register("r1", "hn-chem", "society"), register("r2", "hn-phys", "society"))
	ts.mustPost(chemToken, ev("p1", "society.party_organization_established", "society/hn-chem", partyBranch))
	ts.mustPost(chemToken, ev("e1", "society.reelection_held", "society/hn-chem", reelection))

	var page struct {
		Events    []domain.Record `json:"events"`
		NextAfter uint64          `json:"next_after"`
	}
	get := func(q string) {
		t.Helper()
		r := ts.do("GET", "/v1/events?"+q, auditToken, "", nil)
		if r.status != 200 {
			t.Fatalf("GET ?%s: %d %s", q, r.status, r.body)
		}
		page.Events = nil
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
	}
	get("after=1&limit=2")
	if len(page.Events) != 2 || page.Events[0].Sequence != 2 || page.NextAfter != 3 {
		t.Fatalf("page after 1: %+v", page)
	}
	get(fmt.Sprintf("after=%d&limit=2", page.NextAfter))
	if len(page.Events) != 2 || page.Events[1].Sequence != 5 || page.NextAfter != 5 {
		t.Fatalf("second page: %+v", page)
	}
	get("type=society.registered")
	if len(page.Events) != 2 || page.Events[1].Subject != "society/hn-phys" {
		t.Fatalf("type filter: %+v", page)
	}
	get("subject=society/hn-chem&limit=10")
	if len(page.Events) != 3 {
		t.Fatalf("subject filter: %d events", len(page.Events))
	}
	for _, bad := range []string{"after=-1", "limit=0", "limit=5000", "type=nope", "subject=society/A"} {
		if r := ts.do("GET", "/v1/events?"+bad, auditToken, "", nil); r.status != 400 {
			t.Errorf("GET ?%s: %d, want 400", bad, r.status)
		}
	}
	r := ts.do("GET", "/v1/events?after=0", auditToken, "", nil, "Accept", "application/x-ndjson")
	if r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson content type %q", r.header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	var seqs []uint64
	for sc.Scan() {
		var rec domain.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, rec.Sequence)
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Fatalf("ndjson sequences %v", seqs)
	}
	if r := ts.do("GET", "/v1/aggregates/society/hn-nope/events", auditToken, "", nil); r.status != 404 {
		t.Fatalf("unknown aggregate: %d", r.status)
	}
	if r := ts.do("GET", "/v1/aggregates/club/x/events", auditToken, "", nil); r.status != 400 {
		t.Fatalf("unknown aggregate type: %d", r.status)
	}
	if r := ts.do("GET", "/v1/events", "", "", nil); r.status != 401 {
		t.Fatalf("read without token: %d", r.status)
	}
	if r := ts.do("GET", "/healthz", "", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := ts.do("GET", "/readyz", "", "", nil); r.status != 200 {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
}
