package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"planledger/cmd/planledger/server"
	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logkey"
	"planledger/projections"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const adminToken = "test-admin-token"

func startLedger(t *testing.T, dir string) *server.Server {
	t.Helper()
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	b, _ := json.Marshal(tokens.File{Tokens: []tokens.Entry{{Name: "admin", SHA256: tokens.Hash(adminToken), Role: tokens.RoleAdmin}}})
	if err := os.WriteFile(tokensFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := server.Open(context.Background(), server.Config{HTTPAddr: "127.0.0.1:0", Store: eventstore.Config{DataDir: dir}, TokensFile: tokensFile})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	return s
}

func stopLedger(t *testing.T, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestDemoAndReplay: the demo populates every view and is idempotent;
// replay reads the same views from a stopped data folder and through the
// API, and refuses a folder a server holds.
func TestDemoAndReplay(t *testing.T) {
	dir := t.TempDir()
	s := startLedger(t, dir)
	defer func() {
		if s != nil {
			stopLedger(t, s)
		}
	}()
	out, errs, code := cli(t, "demo", "--server", s.URL(), "--token", adminToken)
	if code != 0 || !strings.Contains(out, "0 already in the ledger") {
		t.Fatalf("demo: %d %s %s", code, out, errs)
	}
	out, _, code = cli(t, "demo", "--server", s.URL(), "--token", adminToken)
	if code != 0 || !strings.Contains(out, ": 0 stored now") {
		t.Fatalf("second demo run stored something: %s", out)
	}
	if err := s.Views().WaitFor(context.Background(), mustLast(t, s)); err != nil {
		t.Fatal(err)
	}

	var live projections.ProgramsView
	var decisions projections.DecisionsView
	var cov projections.PartyCoverageView
	var ratio projections.LeadershipRatioView
	var teams projections.VolunteerServicesView
	s.Views().Read(func(v *projections.Views) {
		live, decisions, cov = v.Programs(time.Now()), v.Decisions(), v.PartyCoverage()
		ratio, teams = v.LeadershipRatio(time.Now()), v.VolunteerServices()
	})
	delivered := map[string]int{}
	for _, p := range live.Programs {
		delivered[p.Program] = p.Delivered
	}
	if delivered["one_city_one_product"] != 3 || delivered["platform"] != 3 || delivered["academic_exchange"] < 20 || delivered["one_industry_service_team"] != 20 || delivered["one_enterprise_one_innovation"] != 17 {
		t.Errorf("programmes delivered %v", delivered)
	}
	for stage, n := range decisions.Counts {
		if n == 0 {
			t.Errorf("no decision at stage %s", stage)
		}
	}
	if cov.Societies != 150 || cov.WithPartyOrganization < 100 || cov.WithPartyOrganization == cov.Societies {
		t.Errorf("party coverage %d of %d", cov.WithPartyOrganization, cov.Societies)
	}
	if ratio.Counts["compliant"] == 0 || ratio.Counts["non_compliant"] == 0 || ratio.Counts["unknown"] == 0 || len(ratio.Societies) != 168 {
		t.Errorf("leadership ratio counts %v over %d", ratio.Counts, len(ratio.Societies))
	}
	if teams.Totals.Teams != 20 || teams.Totals.Deliveries < 20 {
		t.Errorf("teams %+v", teams.Totals)
	}

	// Replay through the API, then from the stopped folder: the same view.
	_, errs, code = cli(t, "replay", "--data", dir, "--view", "programs")
	if code != 1 || !strings.Contains(errs, "in use") || !strings.Contains(errs, "--server") {
		t.Fatalf("replay on a held folder: %d %s", code, errs)
	}
	remote, errs, code := cli(t, "replay", "--server", s.URL(), "--token", adminToken, "--view", "programs", "--as-of", "2030-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("replay --server: %s", errs)
	}
	stopLedger(t, s)
	s = nil
	local, errs, code := cli(t, "replay", "--data", dir, "--view", "programs", "--as-of", "2030-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("replay --data: %s", errs)
	}
	if local != remote || !strings.Contains(local, `"plan_id": "henan-2021"`) {
		t.Fatalf("local and remote replay differ:\n%s\n%s", local, remote)
	}
	early, _, _ := cli(t, "replay", "--data", dir, "--view", "programs", "--as-of", "2021-05-01T00:00:00+08:00", "--axis", "occurred")
	var p projections.ProgramsView
	if err := json.Unmarshal([]byte(early), &p); err != nil {
		t.Fatal(err)
	}
	for _, pr := range p.Programs {
		if pr.Delivered != 0 {
			t.Errorf("as of 1 May 2021, %s had delivered %d already", pr.Program, pr.Delivered)
		}
	}
	if _, errs, code := cli(t, "replay", "--data", t.TempDir()); code != 1 || !strings.Contains(errs, "no ledger in") {
		t.Fatalf("replay on an empty folder: %d %s", code, errs)
	}
}

// TestAuditCommands: verify, export and import from the command line, on
// a folder, through the API, and into a second ledger's API.
func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	s := startLedger(t, dir)
	if _, errs, code := cli(t, "demo", "--server", s.URL(), "--token", adminToken); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := cli(t, "verify", "--server", s.URL(), "--token", adminToken)
	if code != 0 || !strings.Contains(out, "verify: OK") {
		t.Fatalf("verify --server: %d\n%s%s", code, out, errs)
	}
	remote, _, code := cli(t, "export", "--server", s.URL(), "--token", adminToken)
	if code != 0 {
		t.Fatal("export --server failed")
	}
	stopLedger(t, s)
	out, _, code = cli(t, "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, "checkpoint") {
		t.Fatalf("verify --data: %d %s", code, out)
	}
	local, _, _ := cli(t, "export", "--data", dir)
	if local != remote {
		t.Fatal("export --data and export --server differ")
	}
	file := filepath.Join(t.TempDir(), "log.ndjson")
	if err := os.WriteFile(file, []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}

	// Into a second ledger, through its API; it must not publish its own plan first.
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	b, _ := json.Marshal(tokens.File{Tokens: []tokens.Entry{{Name: "admin", SHA256: tokens.Hash(adminToken), Role: tokens.RoleAdmin}}})
	os.WriteFile(tokensFile, b, 0o600)
	// A ledger is its key: the second one is given the first one's key
	// file, so that the records' proofs hold there too.
	dir2 := t.TempDir()
	copyFile(t, filepath.Join(dir, logkey.FileName), filepath.Join(dir2, logkey.FileName))
	s2, err := server.Open(context.Background(), server.Config{HTTPAddr: "127.0.0.1:0", Store: eventstore.Config{DataDir: dir2}, TokensFile: tokensFile, NoShippedPlan: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s2.Serve() }()
	out, errs, code = cli(t, "import", "--server", s2.URL(), "--token", adminToken, file)
	if code != 0 || !strings.Contains(out, "0 already present") {
		t.Fatalf("import --server: %d %s %s", code, out, errs)
	}
	out, _, _ = cli(t, "import", "--server", s2.URL(), "--token", adminToken, file)
	if !strings.Contains(out, ", 0 appended") {
		t.Fatalf("second import --server appended: %s", out)
	}
	if err := s2.Views().WaitFor(context.Background(), mustLast(t, s2)); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cli(t, "verify", "--server", s2.URL(), "--token", adminToken)
	if code != 0 {
		t.Fatalf("verify of the imported ledger: %s %s", out, errs)
	}
	stopLedger(t, s2)
	if again, _, _ := cli(t, "export", "--data", dir2); again != local {
		t.Fatal("the imported ledger exports differently")
	}

	// Damage: an event that breaks a rule, written behind the API's back.
	st, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	bad := `{"specversion":"1.0","id":"bad","source":"/x","type":"project.completed","subject":"project/nope","time":"2021-05-01T00:00:00Z","data":{"completed_on":"2021-05-01","deliverable":"d"}}`
	if _, err := st.Append(context.Background(), []eventstore.Pending{{Submitter: "x", Event: mustEvent(t, bad)}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, _, code = cli(t, "verify", "--data", dir2)
	if code != 1 || !strings.Contains(out, "rule at sequence") || !strings.Contains(out, "verify: FAILED: 1 findings") {
		t.Fatalf("verify of a damaged log: %d\n%s", code, out)
	}
}

func mustLast(t *testing.T, s *server.Server) uint64 {
	n, err := s.Store().LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUsage(t *testing.T) {
	if _, errs, code := cli(t); code != 2 || !strings.Contains(errs, "Usage") {
		t.Fatalf("no command: %d %s", code, errs)
	}
	if _, errs, code := cli(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: %d %s", code, errs)
	}
	if _, _, code := cli(t, "serve", "--no-such-flag"); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
	if _, errs, code := cli(t, "replay", "--data", t.TempDir(), "--view", "nope"); code != 1 || !strings.Contains(errs, "the views are") {
		t.Fatalf("bad view: %d %s", code, errs)
	}
}

func mustEvent(t *testing.T, raw string) domain.Event {
	t.Helper()
	var e domain.Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
