package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHostileInput: what a hostile tester found the POST and GET paths
// let through. Each request is refused (or answered) without storing
// anything, and every reply is valid UTF-8 JSON.
func TestHostileInput(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(chemToken, register("r1", "hn-chem", "society"))
	before := ts.logLength()
	refused := func(t *testing.T, r reply, status int, detail string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
		}
		if p := r.problem(t); !strings.Contains(p.Detail, detail) {
			t.Fatalf("detail %q does not say %q", p.Detail, detail)
		}
		if n := ts.logLength(); n != before {
			t.Fatalf("the log grew from %d to %d on a refused request", before, n)
		}
	}
	t.Run("invalid UTF-8 inside data", func(t *testing.T) {
		body := ev("u1", "society.party_history_activity_held", "society/hn-chem", "{\"title\":\"t\xff\xfe\",\"participants\":3,\"held_on\":\"2021-04-30\"}")
		refused(t, ts.post(chemToken, body), 400, "not valid UTF-8")
	})
	t.Run("unpaired surrogate escape", func(t *testing.T) {
		body := ev("u2", "society.party_history_activity_held", "society/hn-chem", `{"title":"t\ud800x","participants":3,"held_on":"2021-04-30"}`)
		refused(t, ts.post(chemToken, body), 400, "unpaired surrogate")
	})
	t.Run("a surrogate pair is one character and is taken", func(t *testing.T) {
		body := ev("u3", "society.party_history_activity_held", "society/hn-chem", `{"title":"\ud83d\ude00 \u4e2d","participants":3,"held_on":"2021-04-30"}`)
		if r := ts.post(chemToken, body); r.status != 201 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		before = ts.logLength()
	})
	t.Run("charset utf-16", func(t *testing.T) {
		body := register("u4", "hn-chem2", "society")
		r := ts.do("POST", "/v1/events", adminToken, "application/cloudevents+json; charset=utf-16", []byte(body))
		refused(t, r, 415, `charset "utf-16" is not taken`)
		if r := ts.do("POST", "/v1/events", adminToken, "application/cloudevents+json; charset=UTF-8", []byte(body)); r.status != 201 {
			t.Fatalf("charset=UTF-8: status %d: %s", r.status, r.body)
		}
		before = ts.logLength()
	})
	t.Run("after the largest sequence", func(t *testing.T) {
		r := ts.do("GET", "/v1/events?after=18446744073709551615", auditToken, "", nil)
		var page struct {
			Events    []json.RawMessage `json:"events"`
			NextAfter uint64            `json:"next_after"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 || len(page.Events) != 0 || page.NextAfter != 18446744073709551615 {
			t.Fatalf("status %d, %d events, next_after %d (%v): %s", r.status, len(page.Events), page.NextAfter, err, r.body)
		}
		r = ts.do("GET", "/v1/events?after=18446744073709551615", auditToken, "", nil, "Accept", "application/x-ndjson")
		if r.status != 200 || len(r.body) != 0 {
			t.Fatalf("NDJSON: status %d, body %q", r.status, r.body)
		}
	})
	t.Run("a large invalid batch gets a bounded reply", func(t *testing.T) {
		var evs []string
		for i := 0; i < 1000; i++ {
			evs = append(evs, ev(fmt.Sprintf("bad-%d", i), "society.party_organization_established", "society/hn-chem",
				`{"org_type":"cell","members":1,"established_on":"2099-01-01","extra":"`+strings.Repeat("x", 400)+`"}`))
		}
		r := ts.do("POST", "/v1/events", chemToken, "application/cloudevents-batch+json", []byte("["+strings.Join(evs, ",")+"]"))
		p := r.problem(t)
		if r.status != 422 || len(p.Errors) != 100 || !strings.Contains(p.Detail, "the first 100 are listed") {
			t.Fatalf("status %d, %d errors, detail %q", r.status, len(p.Errors), p.Detail)
		}
		if len(r.body) > 64<<10 {
			t.Fatalf("a 422 of %d bytes for a batch of 1000 invalid events", len(r.body))
		}
		if !utf8.Valid(r.body) {
			t.Fatal("the reply is not UTF-8")
		}
		if n := ts.logLength(); n != before {
			t.Fatalf("the log grew from %d to %d", before, n)
		}
	})
}
