package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// conformance checks every request a test sends, and the server's reply,
// against docs/openapi.json.
type conformance struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper
	mu     sync.Mutex
	seen   map[string]bool // "METHOD /path status"
}

var registerDecoders sync.Once

func newConformance(t *testing.T) *conformance {
	t.Helper()
	registerDecoders.Do(func() {
		plain := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			return string(b), err
		}
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", plain)
		openapi3filter.RegisterBodyDecoder("text/plain", plain)
	})
	doc, err := openapi3.NewLoader().LoadFromFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, router: router, next: http.DefaultTransport, seen: map[string]bool{}}
}

func (c *conformance) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	check := req.Clone(context.Background())
	check.URL.Scheme, check.URL.Host = "", ""
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(check)
	if err != nil {
		c.t.Errorf("%s %s is not in the document: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	binary := req.Header.Get("ce-specversion") != ""
	if resp.StatusCode < 400 && !binary { // a refused request is meant to break the document
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("the request %s %s does not match the document: %v", req.Method, req.URL, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("the reply to %s %s (%d) does not match the document: %v\n%.400s", req.Method, req.URL, resp.StatusCode, err, respBody)
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %s %d", req.Method, route.Path, resp.StatusCode)] = true
	c.mu.Unlock()
	return resp, nil
}

// TestRepliesMatchOpenAPI: requests to every route of the document, and
// the replies the server gives (the usual and the problems), match
// docs/openapi.json.
func TestRepliesMatchOpenAPI(t *testing.T) {
	ts := startServer(t)
	conf := newConformance(t)
	saved := testClient
	testClient = &http.Client{Transport: conf, Timeout: saved.Timeout}
	defer func() { testClient = saved }()

	rec := ts.mustPost(chemToken, register("r1", "hn-chem", "society")).record(t)
	ts.post(chemToken, register("r1", "hn-chem", "society"))
	ts.mustPost(chemToken, ev("p1", "society.party_organization_established", "society/hn-chem", partyBranch, `,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`),
		ev("h1", "society.party_history_activity_held", "society/hn-chem", `{"title":"t","participants":3,"held_on":"2021-04-30"}`))
	ts.do("POST", "/v1/events", chemToken, "application/json", []byte(`{"name":"n","kind":"society"}`),
		"ce-specversion", "1.0", "ce-id", "b1", "ce-source", "/b", "ce-type", "society.registered", "ce-subject", "society/hn-chem", "ce-time", "2021-05-01T00:00:00Z")
	ts.post(chemToken, ev("p2", "society.party_organization_established", "society/hn-chem", `{"org_type":"cell","members":2,"established_on":"2021-04-20"}`))
	ts.post(chemToken, ev("p3", "society.party_organization_established", "society/hn-chem", partyBranch, `,"expectedversion":9`))
	ts.post(physToken, ev("p4", "society.party_organization_established", "society/hn-chem", partyBranch))
	ts.do("POST", "/v1/events", chemToken, "text/plain", []byte("x"))
	ts.do("POST", "/v1/events", chemToken, "application/json", []byte("{"))
	for _, path := range []string{"/v1/events?after=0&limit=2", "/v1/events?type=society.registered", "/v1/events?limit=0",
		"/v1/aggregates/society/hn-chem/events", "/v1/aggregates/society/hn-nope/events", "/v1/views/programs", "/v1/views/reelections?as_of=2021-12-31T00:00:00Z",
		"/v1/views/programs?min_sequence=" + fmt.Sprint(rec.Sequence), "/v1/log", "/v1/whoami"} {
		ts.do("GET", path, auditToken, "", nil)
	}
	ts.do("GET", "/v1/events", auditToken, "", nil, "Accept", "application/cloudevents-batch+json")
	ts.do("GET", "/v1/events", auditToken, "", nil, "Accept", "application/x-ndjson")
	ts.do("GET", "/v1/aggregates/society/hn-chem/events", auditToken, "", nil, "Accept", "application/cloudevents-batch+json")
	ts.do("GET", "/v1/log", "", "", nil)
	ts.do("GET", "/v1/log", "wrong", "", nil)
	export := ts.do("GET", "/v1/events", auditToken, "", nil, "Accept", "application/x-ndjson")
	ts.do("POST", "/v1/import", adminToken, "application/x-ndjson", export.body)
	ts.do("POST", "/v1/import", auditToken, "application/x-ndjson", export.body)
	for _, path := range []string{"/v1/schemas/society.registered", "/v1/schemas/nope", "/openapi.json", "/healthz", "/readyz", "/metrics"} {
		ts.do("GET", path, "", "", nil)
	}
	etag := ts.do("GET", "/v1/views/programs", auditToken, "", nil).header.Get("ETag")
	ts.do("GET", "/v1/views/programs", auditToken, "", nil, "If-None-Match", etag)

	for _, want := range []string{"POST /v1/events 201", "POST /v1/events 200", "POST /v1/events 422", "POST /v1/events 409", "POST /v1/events 403",
		"POST /v1/events 415", "POST /v1/events 400", "GET /v1/views/{view} 304", "GET /v1/log 401", "POST /v1/import 200", "POST /v1/import 403"} {
		if !conf.seen[want] {
			t.Errorf("no %s was checked; seen %v", want, conf.seen)
		}
	}
	if len(conf.seen) < 20 {
		t.Errorf("only %d kinds of exchange checked", len(conf.seen))
	}
}
