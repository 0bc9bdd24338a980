package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"planledger/cmd/planledger/server"
	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore"
)

// Tokens of the test servers, by role and scope.
const (
	adminToken = "admin-token"
	auditToken = "audit-token"
	chemToken  = "chem-token" // submitter for hn-chem
	physToken  = "phys-token" // submitter for hn-phys and hn-math
)

func writeTokens(t testing.TB) string {
	t.Helper()
	f := tokens.File{Tokens: []tokens.Entry{
		{Name: "admin", SHA256: tokens.Hash(adminToken), Role: tokens.RoleAdmin},
		{Name: "audit-office", SHA256: tokens.Hash(auditToken), Role: tokens.RoleAuditor},
		{Name: "chem-secretariat", SHA256: tokens.Hash(chemToken), Role: tokens.RoleSubmitter, Societies: []string{"hn-chem"}},
		{Name: "phys-secretariat", SHA256: tokens.Hash(physToken), Role: tokens.RoleSubmitter, Societies: []string{"hn-phys", "hn-math"}},
	}}
	b, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testClient bounds every request a test makes: a server that stops
// answering fails the test instead of hanging it.
var testClient = &http.Client{Timeout: 60 * time.Second}

// testServer is the real server wiring on a real embedded JetStream.
type testServer struct {
	t   testing.TB
	srv *server.Server
	url string
	cfg server.Config
}

func startServer(t testing.TB, mod ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{
		HTTPAddr:   "127.0.0.1:0",
		Store:      eventstore.Config{DataDir: t.TempDir()},
		TokensFile: writeTokens(t),
	}
	for _, m := range mod {
		m(&cfg)
	}
	ts := &testServer{t: t, cfg: cfg}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	srv, err := server.Open(context.Background(), ts.cfg)
	if err != nil {
		ts.t.Fatalf("open server: %v", err)
	}
	ts.srv = srv
	ts.url = srv.URL()
	go func() { _ = srv.Serve() }()
}

func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ts.srv.Shutdown(ctx)
	ts.srv = nil
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) problem(t *testing.T) server.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q, want application/problem+json; body %s", r.status, ct, r.body)
	}
	var p server.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.body)
	}
	if p.Status != r.status || p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Fatalf("problem %+v does not match status %d or lacks type/title/detail", p, r.status)
	}
	id := r.header.Get("X-Request-Id")
	want := id
	if uuid.Validate(id) == nil && len(id) == 36 {
		want = "urn:uuid:" + id
	}
	if id == "" || p.Instance != want {
		t.Fatalf("problem instance %q, X-Request-Id %q: want the instance to name the request", p.Instance, id)
	}
	return p
}

func (r reply) record(t *testing.T) domain.Record {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/cloudevents+json" {
		t.Fatalf("a record came as %q, want application/cloudevents+json", ct)
	}
	var rec domain.Record
	if err := json.Unmarshal(r.body, &rec); err != nil {
		t.Fatalf("record body: %v: %s", err, r.body)
	}
	return rec
}

func (r reply) records(t *testing.T) []domain.Record {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/cloudevents-batch+json" {
		t.Fatalf("records came as %q, want application/cloudevents-batch+json", ct)
	}
	var recs []domain.Record
	if err := json.Unmarshal(r.body, &recs); err != nil {
		t.Fatalf("records body: %v: %s", err, r.body)
	}
	return recs
}

func (ts *testServer) do(method, path, token, contentType string, body []byte, hdr ...string) reply {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (ts *testServer) post(token string, events ...string) reply {
	ts.t.Helper()
	if len(events) == 1 {
		return ts.do("POST", "/v1/events", token, "application/cloudevents+json", []byte(events[0]))
	}
	return ts.do("POST", "/v1/events", token, "application/cloudevents-batch+json", []byte("["+strings.Join(events, ",")+"]"))
}

func (ts *testServer) mustPost(token string, events ...string) reply {
	ts.t.Helper()
	r := ts.post(token, events...)
	if r.status != http.StatusCreated {
		ts.t.Fatalf("POST %v: status %d: %s", events, r.status, r.body)
	}
	return r
}

func (ts *testServer) logLength() uint64 {
	ts.t.Helper()
	n, err := ts.srv.Store().LastSequence(context.Background())
	if err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// ev builds a CloudEvent; extra is spliced into the envelope (",\"expectedversion\":0").
func ev(id, typ, subject, data string, extra ...string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/tests","type":%q,"subject":%q,"time":"2021-05-01T10:00:00+08:00","data":%s%s}`,
		id, typ, subject, data, strings.Join(extra, ""))
}

func register(id, society, kind string) string {
	return ev(id, "society.registered", "society/"+society, `{"name":"`+society+`","kind":"`+kind+`"}`)
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// postNoFatal and getNoFatal may run on goroutines other than the test's.
func (ts *testServer) postNoFatal(token, event string) reply {
	return doNoFatal("POST", ts.url+"/v1/events", token, "application/cloudevents+json", event)
}

func (ts *testServer) getNoFatal(path, token string) reply {
	return doNoFatal("GET", ts.url+path, token, "", "")
}

func doNoFatal(method, u, token, contentType, body string) reply {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return reply{status: -1, body: []byte(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return reply{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}
