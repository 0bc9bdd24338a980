package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"planledger/cmd/planledger/server"
	"planledger/domain"
)

// rawClient leaves Accept-Encoding and Content-Encoding to the test.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: testClient.Timeout}

func (ts *testServer) raw(req *http.Request) reply {
	ts.t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestRouteMissesAndRequestIDs: an unknown path is a 404 problem, a known
// path with another method a 405 with Allow; every reply has a request
// id, a UUIDv7 unless the client sent a sane one, and a problem's
// instance names it.
func TestRouteMissesAndRequestIDs(t *testing.T) {
	ts := startServer(t)
	r := ts.do("GET", "/v1/nothing", adminToken, "", nil)
	if r.status != 404 {
		t.Fatalf("unknown path: %d %s", r.status, r.body)
	}
	r.problem(t)
	if id, err := uuid.Parse(r.header.Get("X-Request-Id")); err != nil || id.Version() != 7 {
		t.Fatalf("request id %q is not a UUIDv7", r.header.Get("X-Request-Id"))
	}
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/v1/events", "GET, HEAD, POST"},
		{"DELETE", "/v1/aggregates/society/hn-chem/events", "GET, HEAD"},
		{"POST", "/v1/views/programs", "GET, HEAD"},
	} {
		r := ts.do(c.method, c.path, adminToken, "application/json", []byte(`{}`))
		if r.status != 405 || r.header.Get("Allow") != c.allow {
			t.Fatalf("%s %s: %d Allow %q, want 405 with %q: %s", c.method, c.path, r.status, r.header.Get("Allow"), c.allow, r.body)
		}
		r.problem(t)
	}
	r = ts.do("GET", "/v1/views/nope", adminToken, "", nil, "X-Request-Id", "trace-42.a_b")
	if r.status != 404 || r.header.Get("X-Request-Id") != "trace-42.a_b" || r.problem(t).Instance != "trace-42.a_b" {
		t.Fatalf("a client's request id: %d %q %s", r.status, r.header.Get("X-Request-Id"), r.body)
	}
	r = ts.do("GET", "/healthz", "", "", nil, "X-Request-Id", "not sane!")
	if r.header.Get("X-Request-Id") == "not sane!" || uuid.Validate(r.header.Get("X-Request-Id")) != nil {
		t.Fatalf("an insane client id was kept: %q", r.header.Get("X-Request-Id"))
	}
}

// TestGzip: large JSON and NDJSON replies are compressed for a client
// that accepts gzip, small ones and other clients' are not.
func TestGzip(t *testing.T) {
	ts := startServer(t)
	var events []string
	for i := range 60 {
		events = append(events, register(fmt.Sprintf("r%d", i), fmt.Sprintf("hn-s%d", i), "society"))
	}
	ts.mustPost(adminToken, events...)
	get := func(path, accept string, gz bool) reply {
		req, _ := http.NewRequest("GET", ts.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+auditToken)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		return ts.raw(req)
	}
	for _, accept := range []string{"", "application/cloudevents-batch+json", "application/x-ndjson"} {
		plain := get("/v1/events?limit=1000", accept, false)
		zipped := get("/v1/events?limit=1000", accept, true)
		if plain.header.Get("Content-Encoding") != "" || zipped.header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("Accept %q: encodings %q and %q, Vary %q", accept, plain.header.Get("Content-Encoding"), zipped.header.Get("Content-Encoding"), zipped.header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.body) {
			t.Fatalf("Accept %q: the gzipped reply (%d bytes) is not the plain one (%d bytes): %v", accept, len(zipped.body), len(plain.body), err)
		}
		if len(zipped.body)*3 > len(plain.body) {
			t.Fatalf("Accept %q: gzip took %d bytes to %d", accept, len(plain.body), len(zipped.body))
		}
	}
	small := get("/healthz", "", true)
	if small.header.Get("Content-Encoding") != "" || small.status != 200 {
		t.Fatalf("a small reply was compressed: %v", small.header)
	}
}

// TestCORS: with --cors-origin, a browser app of that origin may call the
// API (preflight included); another origin gets no CORS headers.
func TestCORS(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.CORSOrigins = []string{"https://app.example.org"} })
	req, _ := http.NewRequest("OPTIONS", ts.url+"/v1/events", nil)
	req.Header.Set("Origin", "https://app.example.org")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, ce-id")
	r := ts.raw(req)
	h := r.header
	if r.status != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.org" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		h.Get("Access-Control-Allow-Headers") != "authorization, content-type, ce-id" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", r.status, h)
	}
	r = ts.do("GET", "/v1/log", auditToken, "", nil, "Origin", "https://app.example.org")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.org" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Fatalf("a CORS GET: %d %v", r.status, r.header)
	}
	r = ts.do("GET", "/v1/log", auditToken, "", nil, "Origin", "https://evil.example.com")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin was allowed: %v", r.header)
	}
	off := startServer(t)
	r = off.do("GET", "/v1/log", auditToken, "", nil, "Origin", "https://app.example.org")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS without --cors-origin: %v", r.header)
	}
}

// TestViewETags: a view's ETag answers 304 until the log or the view's
// day changes; an as_of view's too.
func TestViewETags(t *testing.T) {
	ts := startServer(t)
	first := ts.mustPost(adminToken, register("r1", "hn-chem", "society")).record(t).Sequence
	// The views follow the log: read once at the append's sequence, so that
	// the reads below see one view, not the one before the append and then
	// the one after.
	if r := ts.do("GET", fmt.Sprintf("/v1/views/party-coverage?min_sequence=%d", first), auditToken, "", nil); r.status != 200 {
		t.Fatalf("party-coverage at sequence %d: %d", first, r.status)
	}
	for _, path := range []string{"/v1/views/party-coverage", "/v1/views/programs?as_of=2021-12-31T00:00:00%2B08:00&axis=occurred"} {
		first := ts.do("GET", path, auditToken, "", nil)
		etag := first.header.Get("ETag")
		if first.status != 200 || !strings.HasPrefix(etag, `W/"`) {
			t.Fatalf("%s: %d ETag %q", path, first.status, etag)
		}
		again := ts.do("GET", path, auditToken, "", nil, "If-None-Match", etag)
		if again.status != 304 || len(again.body) != 0 || again.header.Get("ETag") != etag {
			t.Fatalf("%s with If-None-Match: %d %q", path, again.status, again.body)
		}
		if other := ts.do("GET", path, auditToken, "", nil, "If-None-Match", `W/"other"`); other.status != 200 {
			t.Fatalf("%s with another ETag: %d", path, other.status)
		}
	}
	seq := ts.mustPost(adminToken, register("r2", "hn-phys", "society")).record(t).Sequence
	before := ts.do("GET", "/v1/views/party-coverage", auditToken, "", nil).header.Get("ETag")
	after := ts.do("GET", fmt.Sprintf("/v1/views/party-coverage?min_sequence=%d", seq), auditToken, "", nil)
	if after.status != 200 || after.header.Get("ETag") == "" || !strings.Contains(after.header.Get("ETag"), fmt.Sprintf("-s%d-", seq)) {
		t.Fatalf("after an append: %d ETag %q (before %q)", after.status, after.header.Get("ETag"), before)
	}
}

// TestBinaryMode: attributes in ce-* headers, percent-decoded; the body
// is the data; what is wrong with a header points at its attribute.
func TestBinaryMode(t *testing.T) {
	ts := startServer(t)
	post := func(body string, hdr ...string) reply {
		base := []string{"ce-specversion", "1.0", "ce-id", "bin-1", "ce-source", "/binary", "ce-type", "society.registered",
			"ce-subject", "society/hn-chem", "ce-time", "2021-05-01T10:00:00+08:00"}
		return ts.do("POST", "/v1/events", adminToken, "application/json; charset=utf-8", []byte(body), append(base, hdr...)...)
	}
	r := post(`{"name":"河南省化学会","kind":"society"}`, "ce-comment", "caf%C3%A9 %25 %22ok%22", "ce-traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if r.status != 201 {
		t.Fatalf("binary: %d %s", r.status, r.body)
	}
	rec := r.record(t)
	if c, _ := rec.Extensions.String("comment"); c != `café % "ok"` || rec.DataContentType != "application/json; charset=utf-8" || rec.Source != "/binary" {
		t.Fatalf("binary record %+v (comment %q)", rec, c)
	}
	cases := []struct {
		name, body string
		hdr        []string
		status     int
		pointer    string
	}{
		{"bad percent", `{"name":"n","kind":"society"}`, []string{"ce-id", "bin-2", "ce-comment", "100%"}, 422, "/comment"},
		{"no id", `{"name":"n","kind":"society"}`, []string{"ce-id", ""}, 422, "/id"},
		{"no specversion", `{"name":"n","kind":"society"}`, []string{"ce-id", "bin-7", "ce-specversion", ""}, 422, "/specversion"},
		{"bad extension name", `{"name":"n","kind":"society"}`, []string{"ce-id", "bin-3", "ce-trace_state", "x"}, 422, "/trace_state"},
		{"data not the type's", `{"name":"n","kind":"club"}`, []string{"ce-id", "bin-4"}, 422, "/data/kind"},
		{"no data", ``, []string{"ce-id", "bin-5"}, 422, "/data"},
		{"data not JSON", `name=n`, []string{"ce-id", "bin-6"}, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(c.body, c.hdr...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			p := r.problem(t)
			if c.pointer != "" {
				wantPointer(t, p, c.pointer)
			}
		})
	}
	r = ts.do("POST", "/v1/events", adminToken, "text/plain", []byte("hello"), "ce-specversion", "1.0", "ce-id", "x")
	if r.status != 415 {
		t.Fatalf("binary mode with text data: %d %s", r.status, r.body)
	}
	if n := ts.logLength(); n != 2 {
		t.Fatalf("log has %d events, want the plan and one", n)
	}
}

// TestCatalogueExamples: the example of every event type (docs/events.md)
// is accepted by the ledger, posted in catalogue order; an example on an
// aggregate no earlier example created gets its creation first.
func TestCatalogueExamples(t *testing.T) {
	ts := startServer(t)
	created := map[string]bool{}
	for _, typ := range domain.EventTypes {
		ex := domain.Doc(typ).Example
		if !created[ex.Subject] && typ != domain.CreationType(typ.Aggregate()) {
			setup := domain.Doc(domain.CreationType(typ.Aggregate())).Example.Event(domain.CreationType(typ.Aggregate()))
			setup.ID += "-for-" + string(typ)
			setup.Subject = ex.Subject
			body, _ := json.Marshal(setup)
			ts.mustPost(adminToken, string(body))
		}
		created[ex.Subject] = true
		body, err := json.Marshal(ex.Event(typ))
		if err != nil {
			t.Fatal(err)
		}
		if r := ts.post(adminToken, string(body)); r.status != 201 {
			t.Errorf("the example of %s is refused: %d %s", typ, r.status, r.body)
		}
	}
	// What is served is what is in the repository.
	for path, file := range map[string]string{"/openapi.json": "../docs/openapi.json", "/v1/schemas/decision.proposed": "../docs/schemas/decision.proposed.json"} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if r := ts.do("GET", path, "", "", nil); r.status != 200 || !bytes.Equal(r.body, want) {
			t.Errorf("GET %s: %d, not %s", path, r.status, file)
		}
	}
	if r := ts.do("GET", "/v1/schemas/society.dissolved", "", "", nil); r.status != 404 {
		t.Errorf("the schema of an unknown type: %d", r.status)
	}
}
