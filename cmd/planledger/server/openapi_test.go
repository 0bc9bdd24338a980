package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"planledger/domain"
)

const docsDir = "../../../docs"

// TestGeneratedDocs: docs/events.md, docs/openapi.json and docs/schemas
// are what the catalogue and the route table make today. Run
// `go generate ./cmd/planledger/server` after changing either.
func TestGeneratedDocs(t *testing.T) {
	files, err := GeneratedDocs()
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		want := files[rel]
		got, err := os.ReadFile(filepath.Join(docsDir, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale or missing (%v): run go generate ./cmd/planledger/server", rel, err)
		}
	}
	schemas, _ := filepath.Glob(filepath.Join(docsDir, "schemas", "*.json"))
	for _, f := range schemas {
		if _, ok := files["schemas/"+filepath.Base(f)]; !ok {
			t.Errorf("docs/schemas/%s is of no event type of the catalogue: run go generate ./cmd/planledger/server", filepath.Base(f))
		}
	}
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("the document does not load: %v", err)
	}
	return doc
}

// TestOpenAPIValid: the document is a valid OpenAPI 3.1 document.
func TestOpenAPIValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid: %v", err)
	}
}

// TestOpenAPICoversRoutes: every pattern registered on the server's mux
// is in the document, and every operation of the document reaches its
// route through the mux (not a 404 or 405 of no route).
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := &Server{metrics: newMetrics(prometheus.NewRegistry()), log: discardLogger()}
	s.routes()
	registered := map[string]bool{}
	for _, pattern := range s.mux.patterns {
		method, path, _ := strings.Cut(pattern, " ")
		registered[pattern] = true
		item := doc.Paths.Find(openAPIPath(path))
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is registered on the mux but not in the OpenAPI document: add it to api()", pattern)
		}
	}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			n++
			url := strings.NewReplacer("{type}", "society", "{id}", "hn-chem", "{view}", "programs").Replace(path)
			url = strings.ReplaceAll(url, "/v1/schemas/society", "/v1/schemas/society.registered")
			req := httptest.NewRequest(method, url, nil)
			if _, pattern := s.mux.Handler(req); !registered[pattern] || !strings.HasPrefix(pattern, method+" ") {
				t.Errorf("%s %s of the document reaches pattern %q", method, path, pattern)
			}
		}
	}
	if n != len(s.mux.patterns) {
		t.Errorf("%d operations in the document, %d routes on the mux", n, len(s.mux.patterns))
	}
}

// compileSchemas compiles every event type's data schema, as served.
func compileSchemas(t *testing.T) map[domain.EventType]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	out := map[domain.EventType]*jsonschema.Schema{}
	for _, typ := range domain.EventTypes {
		b, err := SchemaDocument(typ)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://planledger.test/v1/schemas/" + string(typ)
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		if out[typ], err = c.Compile(url); err != nil {
			t.Fatalf("the schema of %s does not compile: %v", typ, err)
		}
	}
	return out
}

func instance(t *testing.T, raw []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExamplesAndGoldenValidate: every type's example, and every golden
// file's data, is valid against the type's schema and accepted by the
// decoder.
func TestExamplesAndGoldenValidate(t *testing.T) {
	schemas := compileSchemas(t)
	for _, typ := range domain.EventTypes {
		sch := domain.DataSchema(typ)
		if len(sch.Examples) != 1 || len(sch.Examples[0]) == 0 {
			t.Errorf("%s has no example", typ)
			continue
		}
		if err := schemas[typ].Validate(instance(t, sch.Examples[0])); err != nil {
			t.Errorf("the example of %s is not valid against its schema: %v", typ, err)
		}
		if _, probs := domain.DecodeData(typ, sch.Examples[0]); len(probs) > 0 {
			t.Errorf("the example of %s does not decode: %v", typ, probs)
		}
		raw, err := os.ReadFile(filepath.Join("../../../domain/testdata/golden", string(typ)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var golden struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &golden); err != nil {
			t.Fatal(err)
		}
		if err := schemas[typ].Validate(instance(t, golden.Data)); err != nil {
			t.Errorf("the golden data of %s is not valid against its schema: %v", typ, err)
		}
	}
}

// TestSchemasAgreeWithDomain: for payloads made by breaking each field of
// each example (left out, of another JSON type, out of range, not in its
// list, too long, an unknown field), the schema and the decoder agree on
// whether the data is valid.
func TestSchemasAgreeWithDomain(t *testing.T) {
	schemas := compileSchemas(t)
	checked, refused := 0, 0
	for _, typ := range domain.EventTypes {
		sch := domain.DataSchema(typ)
		for name, payload := range mutations(t, sch, sch.Examples[0]) {
			schemaOK := schemas[typ].Validate(instance(t, payload)) == nil
			_, probs := domain.DecodeData(typ, payload)
			if schemaOK != (len(probs) == 0) {
				t.Errorf("%s, %s: the schema says valid=%v, the ledger %v\n%s", typ, name, schemaOK, probs, payload)
			}
			checked++
			if !schemaOK {
				refused++
			}
		}
	}
	t.Logf("%d payloads checked, %d refused by both", checked, refused)
	if checked < 300 || refused < checked/2 {
		t.Fatalf("%d payloads checked, %d refused: too few to say much", checked, refused)
	}
}

// mutations breaks an example field by field, top level and the first
// element of lists of objects.
func mutations(t *testing.T, sch *domain.Schema, example json.RawMessage) map[string][]byte {
	t.Helper()
	var base map[string]any
	dec := json.NewDecoder(bytes.NewReader(example))
	dec.UseNumber()
	if err := dec.Decode(&base); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	put := func(name string, m map[string]any) {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		c := clone(t, m)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	put("unknown field", with(base, "zz_unknown", "x"))
	for _, name := range sch.Order() {
		p := sch.Properties[name]
		for what, v := range breakings(p) {
			put(fmt.Sprintf("%s %s", name, what), with(base, name, v))
		}
		put(name+" left out", with(base, name, nil))
		items, ok := base[name].([]any)
		if p.Items == nil || p.Items.Type != "object" || !ok || len(items) == 0 {
			continue
		}
		first := items[0].(map[string]any)
		for _, sub := range p.Items.Order() {
			for what, v := range breakings(p.Items.Properties[sub]) {
				put(fmt.Sprintf("%s[0].%s %s", name, sub, what), with(base, name, append([]any{with(first, sub, v)}, items[1:]...)))
			}
			put(fmt.Sprintf("%s[0].%s left out", name, sub), with(base, name, append([]any{with(first, sub, nil)}, items[1:]...)))
		}
		put(name+" [0] unknown field", with(base, name, append([]any{with(first, "zz_unknown", 1)}, items[1:]...)))
	}
	return out
}

// breakings are values a property of schema p refuses.
func breakings(p *domain.Schema) map[string]any {
	out := map[string]any{"null": json.RawMessage("null")}
	switch p.Type {
	case "string":
		out["as a number"] = 7
		out["as a list"] = []any{"x"}
		if len(p.Enum) > 0 {
			out["not in its list"] = "zz-not-listed"
		}
		if p.MaxLength != nil {
			out["too long"] = strings.Repeat("a", *p.MaxLength+1)
		}
		if p.Pattern != "" && p.Pattern != `\S` {
			out["malformed"] = "Not A/Valid Value!"
		}
		if p.MinLength != nil {
			out["blank"] = "   "
		}
	case "integer", "number":
		out["as a string"] = "12"
		out["as a boolean"] = true
		if p.Minimum != nil {
			out["below its minimum"] = *p.Minimum - 1
		}
		if p.Maximum != nil {
			out["above its maximum"] = *p.Maximum + 1
		}
	case "boolean":
		out["as a string"] = "false"
		out["as a number"] = 0
	case "array":
		out["as an object"] = map[string]any{}
		out["of numbers"] = []any{1}
	case "object":
		out["as a list"] = []any{}
		out["as a string"] = "x"
		out["with an unknown key"] = map[string]any{"zz_unknown": 1}
	}
	return out
}

func clone(t *testing.T, m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRequestIDs: a sane client id is kept, anything else replaced by a
// UUIDv7; the problem's instance names it.
func TestRequestIDs(t *testing.T) {
	for _, c := range []struct {
		id   string
		keep bool
	}{{"abc-123_x.y", true}, {"", false}, {"has space", false}, {strings.Repeat("a", 129), false}, {"0190a8c4-5a1e-7c3b-8f00-0123456789ab", true}} {
		if saneRequestID(c.id) != c.keep {
			t.Errorf("saneRequestID(%q) = %v", c.id, !c.keep)
		}
	}
	id := newRequestID()
	if len(id) != 36 || id[14] != '7' {
		t.Fatalf("new request id %q is not a UUIDv7", id)
	}
	if problemInstance(id) != "urn:uuid:"+id || problemInstance("abc-123") != "abc-123" {
		t.Fatalf("instances %q %q", problemInstance(id), problemInstance("abc-123"))
	}
	a, b := newRequestID(), newRequestID()
	time.Sleep(2 * time.Millisecond) // v7 ids are ordered by their millisecond
	if c := newRequestID(); !(a < c && b < c) {
		t.Fatalf("request ids %s %s %s are not in time order", a, b, c)
	}
}

func TestPercentDecode(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "caf%C3%A9%20%25": "café %", "%22q%22": `"q"`} {
		if got, err := percentDecode(in); err != nil || got != want {
			t.Errorf("percentDecode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"50%", "%zz", "%c3", "%FF"} {
		if _, err := percentDecode(bad); err == nil {
			t.Errorf("percentDecode(%q) accepted", bad)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{"gzip": true, "gzip, deflate, br": true, "br;q=1.0, gzip;q=0.8": true, "gzip;q=0": false, "*": true, "identity": false, "": false, "deflate": false} {
		if acceptsGzip(h) != want {
			t.Errorf("acceptsGzip(%q) = %v", h, !want)
		}
	}
	for _, ct := range []string{"application/json", "application/cloudevents-batch+json", "application/x-ndjson", "text/html; charset=utf-8", "application/problem+json"} {
		if !compressible(ct) {
			t.Errorf("%s not compressible", ct)
		}
	}
	if compressible("image/png") || compressible("") {
		t.Error("png or no type compressible")
	}
	if slices.Contains([]bool{CheckCORSOrigin("*") != nil, CheckCORSOrigin("https://app.example.org:8443") != nil}, true) ||
		CheckCORSOrigin("app.example.org") == nil || CheckCORSOrigin("https://x.org/path") == nil {
		t.Error("CheckCORSOrigin")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
