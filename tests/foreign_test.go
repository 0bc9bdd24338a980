package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"planledger/cmd/planledger/archive"
	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/client"
	"planledger/cmd/planledger/server"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
	"planledger/projections"
)

// foreignBackend is one way the ledger reaches its stream.
type foreignBackend struct {
	name string
	// config points a server at the stream; restarts reuse it.
	config func(t *testing.T) func(*server.Config)
}

var foreignBackends = []foreignBackend{
	{"embedded", func(t *testing.T) func(*server.Config) {
		dir := t.TempDir()
		return func(c *server.Config) { c.Store.DataDir, c.DataDir = dir, dir }
	}},
	{"tcp", func(t *testing.T) func(*server.Config) {
		url := eventstoretest.StartSingle(t).ClientURL()
		dir := t.TempDir()
		return func(c *server.Config) { c.Store, c.DataDir = eventstoretest.LedgerConfig(url), dir }
	}},
	{"cluster", func(t *testing.T) func(*server.Config) {
		urls := eventstoretest.StartCluster(t, 3).AllURLs()
		dir := t.TempDir()
		return func(c *server.Config) {
			c.Store, c.DataDir = eventstoretest.LedgerConfig(urls), dir
			c.Store.Replicas, c.Store.Timeout = 3, 2*time.Second
		}
	}},
}

// TestForeignRecords: records published behind the API's back — junk, a
// record on another aggregate's subject, a well-formed forgery without a
// proof, one with a made-up proof, and a copy of a real record, proof and
// all — never stop the ledger, never change a view, and are reported:
// /readyz, /metrics, verify; the log reads and export mark the first four
// (a copy reads as what it copies: its aggregate's history tells it, and
// the readers that follow aggregates do); an import of the export restores
// them all exactly; all of it across a restart.
func TestForeignRecords(t *testing.T) {
	for _, b := range foreignBackends {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "cluster" && testing.Short() {
				t.Skip("cluster: not in -short")
			}
			reg := prometheus.NewRegistry()
			cfg := b.config(t)
			ts := startServer(t, cfg, func(c *server.Config) { c.Registry = reg })
			testForeign(t, ts, reg)
		})
	}
}

func testForeign(t *testing.T, ts *testServer, reg *prometheus.Registry) {
	ctx := context.Background()
	ts.mustPost(adminToken, register("chem", "hn-chem", "society"), register("phys", "hn-phys", "society"),
		ev("chem-party", "society.party_organization_established", "society/hn-chem", `{"org_type":"branch","members":5,"established_on":"2021-04-20"}`),
		ev("conf", "conference.registered", "conference/c1", `{"title":"t","level":"provincial","program":"academic_exchange","organizer_society":"hn-chem","city":"zhengzhou"}`))
	session := ts.mustPost(adminToken, ev("s1", "conference.session_held", "conference/c1", `{"session_title":"opening","held_on":"2021-04-30","attendees":100,"online":false}`)).record(t)
	before := viewsAt(t, ts, ts.logLength())

	js := ts.srv.Store().JetStream()
	physSubject := "planledger.events.society.hn-phys"
	forged := `{"specversion":"1.0","id":"forged-1","source":"/x","type":"society.party_organization_established","subject":"society/hn-phys","time":"2021-04-21T10:00:00+08:00","data":{"org_type":"branch","members":5,"established_on":"2021-04-21"},"version":2,"submitter":"chem-secretariat"}`
	want := map[uint64]domain.ForeignReason{}
	want[publishRaw(t, js, physSubject, "\x00\xffnot a record", nil)] = domain.ForeignUndecodable
	want[publishRaw(t, js, physSubject, strings.Replace(forged, "society/hn-phys", "society/hn-chem", 1), nil)] = domain.ForeignWrongSubject
	// As the ledger would publish it: message id, subject expectation.
	hdr := nats.Header{"Nats-Msg-Id": {"society/hn-phys forged-1"}, "Nats-Expected-Last-Subject-Sequence": {strconv.FormatUint(lastOnSubject(t, js, physSubject), 10)}}
	want[publishRaw(t, js, physSubject, forged, hdr)] = domain.ForeignNoProof
	want[publishRaw(t, js, physSubject, strings.Replace(forged, "forged-1", "forged-2", 1), nats.Header{eventstore.HeaderMAC: {"AAAAAAAAAAAAAAAAAAAAAA"}})] = domain.ForeignBadProof
	want[republish(t, ts.srv.Store(), session.Sequence)] = domain.ForeignReplayed

	// The views move past them, changing nothing but their position.
	last := ts.logLength()
	after := viewsAt(t, ts, last)
	for name, v := range before {
		if after[name] != v {
			t.Errorf("view %s changed with foreign records:\nbefore %s\nafter  %s", name, v, after[name])
		}
	}
	// Appends to the aggregates whose subjects hold them still work, at
	// the aggregate's own next version.
	rec := ts.mustPost(physToken, ev("phys-party", "society.party_organization_established", "society/hn-phys", `{"org_type":"branch","members":3,"established_on":"2021-05-01"}`)).record(t)
	if rec.Version != 2 {
		t.Errorf("hn-phys's next event got version %d; want 2 (foreign records are no part of it)", rec.Version)
	}
	if r := ts.mustPost(adminToken, ev("s2", "conference.session_held", "conference/c1", `{"session_title":"closing","held_on":"2021-05-01","attendees":50,"online":false}`)).record(t); r.Version != 3 {
		t.Errorf("conference c1's next event got version %d; want 3", r.Version)
	}
	checkForeignReported(t, ts, reg, want, last)

	// A restart: serve starts, and everything holds.
	ts.stop()
	ts.cfg.Registry = prometheus.NewRegistry()
	ts.start()
	checkForeignReported(t, ts, ts.cfg.Registry, want, last)
	var confs projections.ConferencesView
	getJSON(t, ts, "/v1/views/conferences", &confs)
	if confs.Totals.Attendees != 150 || confs.Totals.Sessions != 2 {
		t.Errorf("conferences after a replayed session: %+v; want 2 sessions, 150 attendees", confs.Totals)
	}

	// verify finds each, by sequence and reason.
	in, err := audit.RemoteInput(ctx, client.New(ts.url, auditToken))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for seq, reason := range want {
		wantFinding(t, rep, audit.CheckForeign, seq, string(reason))
	}
	if len(rep.Findings) != len(want) {
		t.Errorf("verify: %d findings, want only the %d foreign records: %v", len(rep.Findings), len(want), rep.Findings)
	}
	checkForeignExport(t, ts)
}

// checkForeignReported: GET /v1/events and its NDJSON mark each foreign
// record with its reason, /readyz names them, /metrics counts them.
func checkForeignReported(t *testing.T, ts *testServer, reg *prometheus.Registry, want map[uint64]domain.ForeignReason, last uint64) {
	t.Helper()
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	getJSON(t, ts, "/v1/events?limit=1000", &page)
	nd := ts.do("GET", "/v1/events", auditToken, "", nil, "Accept", "application/x-ndjson")
	lines := strings.Split(strings.TrimSpace(string(nd.body)), "\n")
	if len(lines) != len(page.Events) {
		t.Fatalf("NDJSON has %d records, the page %d", len(lines), len(page.Events))
	}
	for i, raw := range page.Events {
		if !bytes.Equal(bytes.TrimSpace(raw), []byte(lines[i])) {
			t.Errorf("record %d differs between JSON and NDJSON:\n%s\n%s", i, raw, lines[i])
		}
		var m struct {
			Sequence uint64 `json:"sequence"`
			Foreign  bool   `json:"foreign"`
			Reason   string `json:"foreignreason"`
			Type     string `json:"type"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		reason, isForeign := want[m.Sequence]
		if reason == domain.ForeignReplayed {
			reason, isForeign = "", false // shown as stored: the record it copies
		}
		if m.Foreign != isForeign || m.Reason != string(reason) || (isForeign && m.Type != domain.ForeignType) {
			t.Errorf("GET /v1/events: sequence %d shown foreign=%v %q (%s); want foreign=%v %q", m.Sequence, m.Foreign, m.Reason, m.Type, isForeign, reason)
		}
	}

	r := ts.do("GET", "/readyz", "", "", nil)
	var ready struct {
		Foreign struct {
			Total  uint64 `json:"total"`
			Latest []struct {
				Sequence uint64 `json:"sequence"`
			} `json:"latest"`
		} `json:"foreign_records"`
	}
	if err := json.Unmarshal(r.body, &ready); err != nil || r.status != 200 || ready.Foreign.Total != uint64(len(want)) || len(ready.Foreign.Latest) != len(want) {
		t.Errorf("/readyz: %d %s; want 200 naming %d foreign records", r.status, r.body, len(want))
	}
	for reason, n := range countReasons(want) {
		if got := counterSum(t, reg, "planledger_foreign_records_total", "reason", string(reason)); got != float64(n) {
			t.Errorf("planledger_foreign_records_total{reason=%q} = %v, want %d", reason, got, n)
		}
	}
	if got := gaugeValue(t, reg, "planledger_foreign_record_last_sequence"); got != float64(last) {
		t.Errorf("planledger_foreign_record_last_sequence = %v, want %d", got, last)
	}
}

// checkForeignExport: an export marks the foreign records, and an import
// of it into an empty log of the same ledger reproduces it exactly.
func checkForeignExport(t *testing.T, ts *testServer) {
	t.Helper()
	ctx := context.Background()
	var exported bytes.Buffer
	if _, err := audit.RemoteExport(ctx, client.New(ts.url, auditToken), &exported, archive.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(exported.String(), `"foreign":true`); n != 4 {
		t.Fatalf("the export marks %d records foreign; want 4 (and the copy as stored)", n)
	}
	dst, err := eventstore.Open(ctx, eventstore.Config{DataDir: t.TempDir(), Key: ts.srv.Store().Key()})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := archive.Import(ctx, dst, bytes.NewReader(exported.Bytes()), nil); err != nil {
		t.Fatalf("import of an export with foreign records: %v", err)
	}
	var again bytes.Buffer
	if _, err := archive.Export(ctx, dst, &again, archive.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if again.String() != exported.String() {
		t.Fatalf("the imported log exports differently:\n%s\nwant\n%s", again.String(), exported.String())
	}
}

func countReasons(want map[uint64]domain.ForeignReason) map[domain.ForeignReason]int {
	n := map[domain.ForeignReason]int{}
	for _, r := range want {
		n[r]++
	}
	return n
}

// viewsAt returns every view's JSON, without its sequence, once the
// views reflect seq.
func viewsAt(t *testing.T, ts *testServer, seq uint64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range projections.ViewNames {
		var v map[string]any
		getJSON(t, ts, fmt.Sprintf("/v1/views/%s?min_sequence=%d", name, seq), &v)
		delete(v, "sequence")
		b, _ := json.Marshal(v)
		out[name] = string(b)
	}
	return out
}

func getJSON(t *testing.T, ts *testServer, path string, v any) {
	t.Helper()
	r := ts.do("GET", path, auditToken, "", nil)
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// publishRaw publishes a message straight to the stream, as anyone with
// the stream's credentials could, and returns its sequence.
func publishRaw(t *testing.T, js jetstream.JetStream, subject, body string, hdr nats.Header) uint64 {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	for k, v := range hdr {
		m.Header[k] = v
	}
	ack, err := js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatalf("publish behind the API: %v", err)
	}
	return ack.Sequence
}

func lastOnSubject(t *testing.T, js jetstream.JetStream, subject string) uint64 {
	t.Helper()
	str, err := js.Stream(context.Background(), eventstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return m.Sequence
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
