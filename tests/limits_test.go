package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"planledger/cmd/planledger/server"
	"planledger/cmd/planledger/tokens"
)

// TestTokenLimits: a token's limits in the tokens file: past its events a
// day, or its requests a second, a request is answered 429 with
// Retry-After and nothing is appended; an append refused for another
// reason costs nothing of the quota. And a tokens file that names one
// token twice is refused at start.
func TestTokenLimits(t *testing.T) {
	const busy, slow = "busy-token", "slow-token"
	f := tokens.File{Tokens: []tokens.Entry{
		{Name: "admin", SHA256: tokens.Hash(adminToken), Role: tokens.RoleAdmin},
		{Name: "busy", SHA256: tokens.Hash(busy), Role: tokens.RoleSubmitter, Societies: []string{"hn-chem"}, Limits: &tokens.Limits{EventsPerDay: 5}},
		{Name: "slow", SHA256: tokens.Hash(slow), Role: tokens.RoleAuditor, Limits: &tokens.Limits{RequestsPerSecond: 0.01, Burst: 3}},
	}}
	b, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) { c.TokensFile = path })
	ts.mustPost(adminToken, register("r1", "hn-chem", "society"))
	act := func(id string) string {
		return ev(id, "society.party_history_activity_held", "society/hn-chem", `{"title":"t","participants":3,"held_on":"2021-04-30"}`)
	}
	if r := ts.post(busy, act("a1"), ev("bad", "society.party_organization_established", "society/hn-chem", `{"org_type":"cell"}`)); r.status != 422 {
		t.Fatalf("an invalid batch: %d %s", r.status, r.body)
	}
	ts.mustPost(busy, act("a1"), act("a2"), act("a3"), act("a4")) // the 422 cost nothing: 4 of 5
	before := ts.logLength()
	r := ts.post(busy, act("a5"), act("a6"))
	if p := r.problem(t); r.status != 429 || !strings.Contains(p.Detail, "5 events a day") {
		t.Fatalf("past the quota: %d %s", r.status, r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 3600 {
		t.Fatalf("Retry-After %q past a day's quota", r.header.Get("Retry-After"))
	}
	if ts.logLength() != before {
		t.Fatal("a 429 appended")
	}
	ts.mustPost(busy, act("a5")) // what is left of the quota
	for i := 0; i < 3; i++ {
		if r := ts.do("GET", "/v1/log", slow, "", nil); r.status != 200 {
			t.Fatalf("request %d of a burst of 3: %d", i, r.status)
		}
	}
	if r := ts.do("GET", "/v1/log", slow, "", nil); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d %s", r.status, r.body)
	}

	twice := strings.Replace(string(b), tokens.Hash(slow), tokens.Hash(busy), 1)
	if err := os.WriteFile(path, []byte(twice), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ts.cfg
	cfg.Store.DataDir = t.TempDir()
	if _, err := server.Open(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "tokens[1]'s too") {
		t.Fatalf("a tokens file with one token twice: %v", err)
	}
}
