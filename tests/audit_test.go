package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"planledger/cmd/planledger/archive"
	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/client"
	"planledger/cmd/planledger/datadir"
	"planledger/cmd/planledger/server"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
	"planledger/eventstore/logkey"
	"planledger/projections"
)

// auditHistory posts a history with a bit of everything, a retraction
// among it, through the API.
func auditHistory(t *testing.T, ts *testServer) {
	t.Helper()
	metricsHistory(t, ts)
	ts.mustPost(chemToken, ev("x1", "society.event_retracted", "society/hn-chem", `{"event_id":"p1","reason":"wrong society"}`))
	ts.mustPost(chemToken, ev("p2", "society.party_organization_established", "society/hn-chem", partyBranch))
}

func verifyLocal(t *testing.T, s *eventstore.Store, checkpoint string) *audit.Report {
	t.Helper()
	in, err := audit.LocalInput(context.Background(), s, checkpoint, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func openAudit(t *testing.T, dir string) *eventstore.Store {
	t.Helper()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func renderLive(t *testing.T, s *eventstore.Store) map[string]string {
	t.Helper()
	v, err := projections.Replay(context.Background(), s, time.Now().Add(time.Hour), projections.AxisRecorded)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range projections.ViewNames {
		r, _ := v.Render(name, time.Now())
		b, _ := json.Marshal(r)
		out[name] = string(b)
	}
	return out
}

// TestExportImportVerify: export → import into a fresh folder gives the
// same log, the same views and a clean verify; a second import appends
// nothing; a diverging file is refused at the sequence where it differs.
func TestExportImportVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir; c.DataDir = dir })
	auditHistory(t, ts)

	api := client.New(ts.url, auditToken)
	in, err := audit.RemoteInput(ctx, api)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !strings.Contains(rep.ViewsCompared, "equals a replay") {
		t.Fatalf("verify --server: %s %v", rep.Summary(), rep.Findings)
	}
	var remote bytes.Buffer
	if _, err := audit.RemoteExport(ctx, api, &remote, archive.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	ts.stop()

	src := openAudit(t, dir)
	rep = verifyLocal(t, src, datadir.Dir(dir).ViewsCheckpoint())
	if !rep.OK() || !strings.Contains(rep.ViewsCompared, "checkpoint") {
		t.Fatalf("verify --data: %s %v", rep.Summary(), rep.Findings)
	}
	var exported bytes.Buffer
	n, err := archive.Export(ctx, src, &exported, archive.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if exported.String() != remote.String() {
		t.Fatal("export through the API differs from export of the folder")
	}
	last, _ := src.LastSequence(ctx)
	if uint64(n) != last {
		t.Fatalf("exported %d of %d records", n, last)
	}

	dstDir := t.TempDir()
	copyKey(t, dir, dstDir) // the same ledger, elsewhere: its key goes with it
	dst := openAudit(t, dstDir)
	res, err := archive.Import(ctx, dst, bytes.NewReader(exported.Bytes()), nil)
	if err != nil || res.Appended != last || res.LastSequence != last {
		t.Fatalf("import: %+v %v", res, err)
	}
	res, err = archive.Import(ctx, dst, bytes.NewReader(exported.Bytes()), nil)
	if err != nil || res.Appended != 0 || res.Present != last {
		t.Fatalf("second import: %+v %v", res, err)
	}
	var again bytes.Buffer
	if _, err := archive.Export(ctx, dst, &again, archive.ExportOptions{}); err != nil || again.String() != exported.String() {
		t.Fatalf("the imported log exports differently (%v)", err)
	}
	sameViews := renderLive(t, dst)
	for name, v := range renderLive(t, src) {
		if sameViews[name] != v {
			t.Errorf("view %s differs after import", name)
		}
	}
	if rep := verifyLocal(t, dst, ""); !rep.OK() {
		t.Fatalf("verify of the imported log: %v", rep.Findings)
	}

	// A prefix, then the rest: only the rest is appended.
	lines := strings.SplitAfter(strings.TrimSuffix(exported.String(), "\n"), "\n")
	prefixedDir := t.TempDir()
	copyKey(t, dir, prefixedDir)
	prefixed := openAudit(t, prefixedDir)
	if _, err := archive.Import(ctx, prefixed, strings.NewReader(strings.Join(lines[:5], "")), nil); err != nil {
		t.Fatal(err)
	}
	res, err = archive.Import(ctx, prefixed, bytes.NewReader(exported.Bytes()), nil)
	if err != nil || res.Present != 5 || res.Appended != last-5 {
		t.Fatalf("import over a prefix: %+v %v", res, err)
	}

	// A file that diverges at sequence 4.
	var rec map[string]any
	json.Unmarshal([]byte(lines[3]), &rec)
	rec["id"] = "someone-else"
	changed, _ := json.Marshal(rec)
	diverging := strings.Join(lines[:3], "") + string(changed) + "\n" + strings.Join(lines[4:], "")
	before, _ := dst.LastSequence(ctx)
	_, err = archive.Import(ctx, dst, strings.NewReader(diverging), nil)
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(err.Error(), "differ at sequence 4") {
		t.Fatalf("diverging import: %v", err)
	}
	if after, _ := dst.LastSequence(ctx); after != before {
		t.Fatal("a refused import appended")
	}
	if _, err := archive.Import(ctx, dst, strings.NewReader(strings.Join(lines[:2], "")+strings.Join(lines[3:], "")), nil); err == nil || !strings.Contains(err.Error(), "gap-free") {
		t.Fatalf("an export with a hole: %v", err)
	}

	// Proofs: a record changed in the file is refused even by a ledger
	// with the right key, and an untouched file by a ledger with another.
	edited := strings.Replace(exported.String(), `"name":"hn-phys"`, `"name":"hn-physics"`, 1)
	if edited == exported.String() {
		t.Fatal("the export has no hn-phys to change")
	}
	sameKeyDir := t.TempDir()
	copyKey(t, dir, sameKeyDir)
	sameKey := openAudit(t, sameKeyDir)
	if _, err := archive.Import(ctx, sameKey, strings.NewReader(edited), nil); !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(err.Error(), "changed after it was exported") {
		t.Fatalf("import of a changed export: %v", err)
	}
	if n, _ := sameKey.LastSequence(ctx); n != 0 {
		t.Fatalf("a refused import appended %d records", n)
	}
	otherDir := t.TempDir()
	if _, err := logkey.Create(filepath.Join(otherDir, logkey.FileName), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Import(ctx, openAudit(t, otherDir), bytes.NewReader(exported.Bytes()), nil); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("import under another key: %v", err)
	}
}

func TestExportCuts(t *testing.T) {
	ts := startServer(t)
	ts.mustPost(adminToken, register("r1", "hn-a", "society"))
	cut := time.Now()
	ts.mustPost(adminToken, register("r2", "hn-b", "society"), register("r3", "hn-c", "society"))
	var out bytes.Buffer
	n, err := archive.Export(context.Background(), ts.srv.Store(), &out, archive.ExportOptions{After: 1, UntilRecorded: cut})
	if err != nil || n != 1 || !strings.Contains(out.String(), `"id":"r1"`) {
		t.Fatalf("export after 1 until %v: %d %v\n%s", cut, n, err, out.String())
	}
	out.Reset()
	n, err = audit.RemoteExport(context.Background(), client.New(ts.url, auditToken), &out, archive.ExportOptions{After: 2})
	if err != nil || n != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Fatalf("remote export after 2: %d %v", n, err)
	}
}

// TestVerifyFindsWhatIsWrong: each kind of damage is reported with the
// sequence it concerns.
func TestVerifyFindsWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	t.Run("a rule broken behind the API's back", func(t *testing.T) {
		dir := t.TempDir()
		ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir })
		auditHistory(t, ts)
		// A vote on a decision that was never reviewed, straight into the store.
		res, err := ts.srv.Store().Append(ctx, []eventstore.Pending{{Submitter: "intruder", Event: domain.Event{SpecVersion: "1.0", ID: "v1", Source: "/x",
			Type: "decision.voted", Subject: "decision/d9", Time: time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC),
			Data: json.RawMessage(`{"body":"council","members_in_office":5,"present":5,"votes_for":5,"votes_against":0,"abstentions":0}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		ts.stop()
		rep := verifyLocal(t, openAudit(t, dir), "")
		wantFinding(t, rep, audit.CheckRule, res.Records[0].Sequence, "does not exist")
	})
	t.Run("an event id twice in an aggregate", func(t *testing.T) {
		dir := t.TempDir()
		ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir })
		ts.mustPost(adminToken, register("r1", "hn-a", "society"))
		// Publish r1 again as version 2, bypassing the store's checks: it
		// carries no proof, so it is not the ledger's.
		body := `{"specversion":"1.0","id":"r1","source":"/tests","type":"society.party_building_assessed","subject":"society/hn-a","time":"2021-05-01T10:00:00+08:00","data":{"year":2021,"score":80},"version":2,"submitter":"intruder"}`
		seq := rawPublish(t, ts.srv.Store(), "planledger.events.society.hn-a", body)
		ts.stop()
		rep := verifyLocal(t, openAudit(t, dir), "")
		wantFinding(t, rep, audit.CheckForeign, seq, "no_proof")
	})
	t.Run("a copy of a stored record, proof and all", func(t *testing.T) {
		dir := t.TempDir()
		ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir })
		rec := ts.mustPost(adminToken, register("r1", "hn-a", "society")).record(t)
		seq := republish(t, ts.srv.Store(), rec.Sequence)
		ts.stop()
		rep := verifyLocal(t, openAudit(t, dir), "")
		wantFinding(t, rep, audit.CheckForeign, seq, "replayed")
	})
	t.Run("a checkpoint that disagrees with a replay", func(t *testing.T) {
		dir := t.TempDir()
		ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir })
		auditHistory(t, ts)
		ts.stop()
		path := datadir.Dir(dir).ViewsCheckpoint()
		tamper(t, path, `"name":"hn-phys"`, `"name":"hn-physics"`)
		rep := verifyLocal(t, openAudit(t, dir), path)
		wantFinding(t, rep, audit.CheckViews, 0, "differs from a replay")
	})
	t.Run("a weakened stream", func(t *testing.T) {
		srv := eventstoretest.StartSingle(t)
		s, err := eventstore.Open(ctx, eventstoretest.LedgerConfig(srv.ClientURL()))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Append(ctx, []eventstore.Pending{{Submitter: "t", Event: domain.Event{SpecVersion: "1.0", ID: "a", Source: "/x", Type: "society.registered",
			Subject: "society/hn-a", Time: time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"name":"a","kind":"society"}`)}}}); err != nil {
			t.Fatal(err)
		}
		admin := eventstoretest.Admin(t, srv.ClientURL())
		str, err := admin.Stream(ctx, eventstore.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := str.CachedInfo().Config
		cfg.MaxAge = 365 * 24 * time.Hour
		if _, err := admin.UpdateStream(ctx, cfg); err != nil {
			t.Fatalf("admin could not add a max age: %v", err)
		}
		if _, err := eventstore.Open(ctx, eventstoretest.LedgerConfig(srv.ClientURL())); err == nil || !strings.Contains(err.Error(), "max_age") {
			t.Fatalf("serve would start on a weakened stream: %v", err)
		}
		cfgA := eventstoretest.LedgerConfig(srv.ClientURL())
		cfgA.Audit = true
		a, err := eventstore.Open(ctx, cfgA)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		rep := verifyLocal(t, a, "")
		wantFinding(t, rep, audit.CheckStream, 0, "max_age is 8760h0m0s")
	})
}

func wantFinding(t *testing.T, rep *audit.Report, check string, seq uint64, detail string) {
	t.Helper()
	if rep.OK() {
		t.Fatalf("verify found nothing; want a %s finding", check)
	}
	for _, f := range rep.Findings {
		if f.Check == check && (seq == 0 || f.Sequence == seq) && strings.Contains(f.Detail, detail) {
			return
		}
	}
	t.Fatalf("findings %v; want %s at %d saying %q", rep.Findings, check, seq, detail)
}

// rawPublish appends a message as a careless client could, bypassing the
// ledger's checks, and returns its sequence.
func rawPublish(t *testing.T, s *eventstore.Store, subject, body string) uint64 {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	ack, err := s.JetStream().PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// republish stores a copy of the message at seq, headers and all (its
// proof too; not JetStream's own headers, which would make the server
// refuse it), as someone with publish rights on the stream could.
func republish(t *testing.T, s *eventstore.Store, seq uint64) uint64 {
	t.Helper()
	str, err := s.JetStream().Stream(context.Background(), s.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	orig, err := str.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(orig.Subject)
	m.Data = orig.Data
	for k, v := range orig.Header {
		if !strings.HasPrefix(k, "Nats-") {
			m.Header[k] = v
		}
	}
	ack, err := s.JetStream().PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// copyKey gives the data folder to the log key of the one from.
func copyKey(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, logkey.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, logkey.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tamper rewrites a gzip-compressed file, replacing old with new once.
func tamper(t *testing.T, path, old, new string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte(old)) {
		t.Fatalf("%s does not contain %s", path, old)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Replace(plain, []byte(old), []byte(new), 1))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
