package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/projections"
)

// The OpenAPI 3.1 document is made from the route table (api) and the
// catalogue's schemas (domain.DataSchema): nothing in it is written twice.
// docs/openapi.json is a copy, refreshed by `go generate ./...` and held to
// this by TestGeneratedDocs.

// obj is a JSON object of the document.
type obj = map[string]any

// operation documents one route.
type operation struct {
	id          string
	summary     string
	description string
	tag         string
	// public routes need no bearer token.
	public  bool
	params  []obj
	body    obj
	replies []resp
}

// resp is one documented reply.
type resp struct {
	status      int
	description string
	// content maps media types to schemas; nil for a reply without a body.
	content obj
	headers obj
}

// problems documents error replies, each application/problem+json.
func problems(statuses ...int) []resp {
	out := make([]resp, len(statuses))
	for i, st := range statuses {
		out[i] = resp{status: st, description: problemText(st), content: obj{mediaProblem: ref("Problem")}}
	}
	return out
}

func problemText(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "not JSON, not an event, or a bad query parameter"
	case http.StatusUnauthorized:
		return "no bearer token, or an unknown one"
	case http.StatusForbidden:
		return "the token may not do this"
	case http.StatusNotFound:
		return "nothing there"
	case http.StatusConflict:
		return "expectedversion does not match (current_version says the version), or an id was reused with other content"
	case http.StatusRequestEntityTooLarge:
		return "the body is over the limit"
	case http.StatusUnsupportedMediaType:
		return "a media type the ledger does not read"
	case http.StatusUnprocessableEntity:
		return "a rule is broken; errors point at each problem"
	case http.StatusServiceUnavailable:
		return "the store is unavailable (Retry-After); nothing was appended"
	case http.StatusTooManyRequests:
		return "the token's rate of requests, or its events a day, are spent (Retry-After); nothing was done"
	case http.StatusInsufficientStorage:
		return "the data folder is at its reserve of free space; nothing was appended"
	}
	return http.StatusText(status)
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func queryParam(name, description string, schema obj) obj {
	return obj{"name": name, "in": "query", "description": description, "schema": schema}
}

func pathParam(name, description string, schema obj) obj {
	return obj{"name": name, "in": "path", "required": true, "description": description, "schema": schema}
}

var muxWildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// openAPIPath turns a ServeMux pattern's path into an OpenAPI path:
// "/a/{x...}" is "/a/{x}", "/{$}" is "/".
func openAPIPath(path string) string {
	path = strings.ReplaceAll(path, "{$}", "")
	return muxWildcard.ReplaceAllString(path, "{$1}")
}

// OpenAPI returns the document, indented, as GET /openapi.json serves it.
func OpenAPI() ([]byte, error) {
	doc := obj{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": domain.JSONSchemaDialect,
		"info": obj{
			"title":   "planledger",
			"version": "1",
			"description": "An event-sourced ledger of a provincial science association's work plan. Events are CloudEvents 1.0, " +
				"posted in binary, structured or batched mode; each stored record is itself a CloudEvent whose extensions are " +
				"sequence, version, recordedtime and submitter. Every error is application/problem+json (RFC 9457) whose instance " +
				"is urn:uuid:<X-Request-Id>. The event catalogue, with each type's rules and an example, is docs/events.md.",
		},
		"security":   []obj{{"bearer": []string{}}},
		"paths":      obj{},
		"components": obj{"schemas": schemas(), "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "description": "a token of the tokens file (planledger token create)"}}},
	}
	paths := doc["paths"].(obj)
	docs := map[string]operation{}
	for _, rt := range (&Server{}).api() {
		docs[rt.pattern] = rt.doc
	}
	maps.Copy(docs, siteDocs)
	for pattern, op := range docs {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			return nil, fmt.Errorf("route %q has no method", pattern)
		}
		p := openAPIPath(path)
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		if op.params == nil && strings.Contains(path, "{") {
			op.params = pathParams(path)
		}
		item[strings.ToLower(method)] = op.render()
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func (op operation) render() obj {
	o := obj{"operationId": op.id, "summary": op.summary, "tags": []string{op.tag}}
	if op.description != "" {
		o["description"] = op.description
	}
	if op.public {
		o["security"] = []obj{}
	}
	if len(op.params) > 0 {
		o["parameters"] = op.params
	}
	if op.body != nil {
		o["requestBody"] = op.body
	}
	replies := slices.Clone(op.replies)
	if !op.public {
		replies = append(replies, problems(http.StatusUnauthorized, http.StatusTooManyRequests)...)
	}
	rs := obj{}
	for _, r := range replies {
		x := obj{"description": r.description}
		if r.content != nil {
			c := obj{}
			for mt, schema := range r.content {
				c[mt] = obj{"schema": schema}
			}
			x["content"] = c
		}
		if r.headers != nil {
			x["headers"] = r.headers
		}
		rs[strconv.Itoa(r.status)] = x
	}
	o["responses"] = rs
	return o
}

// envelopeSchemas are the CloudEvent a submitter posts and the Record
// the ledger stores: the same attributes, each with its own extensions.
func envelopeSchemas() (event, record obj) {
	eventTypes := make([]string, len(domain.EventTypes))
	var byType []obj
	for i, t := range domain.EventTypes {
		eventTypes[i] = string(t)
		byType = append(byType, obj{
			"if":   obj{"properties": obj{"type": obj{"const": string(t)}}, "required": []string{"type"}},
			"then": obj{"properties": obj{"data": ref(string(t))}},
		})
	}
	extension := obj{"type": []string{"string", "integer", "boolean"}, "description": "an extension attribute (traceparent, partitionkey, ...): a name of lowercase letters and digits"}
	attrs := obj{
		"specversion":     obj{"const": domain.SpecVersion},
		"id":              obj{"type": "string", "pattern": `^[ -~]{1,128}$`, "description": "the submitter's id of the event, unique per aggregate: the idempotency key"},
		"source":          obj{"type": "string", "minLength": 1, "maxLength": 1024, "description": "URI-reference of the submitting system"},
		"type":            obj{"type": "string", "enum": eventTypes},
		"subject":         obj{"type": "string", "pattern": `^[a-z_]+/[a-z0-9][a-z0-9-]{0,63}$`, "description": "the aggregate: <aggregate-type>/<id>, e.g. society/hn-chem"},
		"time":            obj{"type": "string", "format": "date-time", "description": "when it happened (business time); not in the future"},
		"datacontenttype": obj{"type": "string", "description": "a JSON media type, kept as sent"},
		"dataschema":      obj{"type": "string", "format": "uri", "description": "a schema URI, kept as sent"},
		"data":            obj{"type": "object", "description": "the type's data: see its schema (/v1/schemas/{type})"},
	}
	event = obj{
		"type":                 "object",
		"description":          "A CloudEvent in the JSON format, as a submitter posts it.",
		"required":             []string{"specversion", "id", "source", "type", "subject", "time"},
		"properties":           withProps(attrs, obj{"data_base64": obj{"type": "string", "contentEncoding": "base64", "description": "the data's JSON in base64, instead of data"}, "expectedversion": obj{"type": []string{"integer", "string"}, "pattern": "^[0-9]+$", "minimum": 0, "description": "the aggregate's version must equal it (0: must not exist yet); consumed, not stored"}}),
		"oneOf":                []obj{{"required": []string{"data"}}, {"required": []string{"data_base64"}}},
		"propertyNames":        obj{"pattern": "^([a-z0-9]{1,64}|data_base64)$"},
		"additionalProperties": extension,
		"allOf":                byType,
	}
	record = obj{
		"type": "object",
		"description": "A stored event: a CloudEvent whose extensions include the record's sequence, version, recordedtime and submitter " +
			"(and recordmac, this ledger's proof that it wrote it). A record the ledger did not write is shown as a CloudEvent of type " +
			"planledger.foreign_record with the extensions foreign (true) and foreignreason, and no subject, version or submitter.",
		"required": []string{"specversion", "id", "source", "type", "time", "data", "sequence", "recordedtime"},
		"properties": withProps(attrs, obj{
			"type":          obj{"type": "string", "description": "the event type; records the ledger did not write have a type of their own"},
			"data":          obj{"description": "the event's data, as stored"},
			"sequence":      obj{"type": "integer", "minimum": 1, "description": "position in the whole log, gap-free"},
			"version":       obj{"type": "integer", "minimum": 1, "description": "position in the aggregate, gap-free"},
			"recordedtime":  obj{"type": "string", "format": "date-time", "description": "when the ledger stored it"},
			"submitter":     obj{"type": "string", "description": "the name of the token that posted it"},
			"recordmac":     obj{"type": "string", "description": "this ledger's proof that it wrote the record"},
			"foreign":       obj{"const": true, "description": "set on a record this ledger did not write"},
			"foreignreason": obj{"type": "string", "description": "why the record is foreign"},
		}),
		"additionalProperties": extension,
	}
	return event, record
}

// Schemas of the document besides the catalogue's.
func schemas() obj {
	event, record := envelopeSchemas()
	s := obj{
		"CloudEvent":      event,
		"CloudEventBatch": obj{"type": "array", "items": ref("CloudEvent"), "minItems": 1, "maxItems": 1000},
		"Record":          record,
		"RecordBatch":     obj{"type": "array", "items": ref("Record")},
		"EventsPage": obj{"type": "object", "required": []string{"events", "next_after"}, "properties": obj{
			"events": ref("RecordBatch"), "next_after": obj{"type": "integer", "minimum": 0, "description": "the after of the next page"}}},
		"AggregateHistory": obj{"type": "object", "required": []string{"aggregate", "version", "events", "next_after"}, "properties": obj{
			"aggregate": obj{"type": "string"}, "version": obj{"type": "integer", "description": "the aggregate's version after the page's last record"}, "events": ref("RecordBatch"),
			"next_after": obj{"type": "integer", "minimum": 0, "description": "the after of the next page"}}},
		"Problem": obj{"type": "object", "required": []string{"type", "title", "status", "detail"}, "properties": obj{
			"type": obj{"type": "string"}, "title": obj{"type": "string"}, "status": obj{"type": "integer"}, "detail": obj{"type": "string"},
			"instance":        obj{"type": "string", "description": "urn:uuid:<the reply's X-Request-Id>, as the server's log line for the request has it"},
			"errors":          obj{"type": "array", "items": obj{"type": "object", "required": []string{"pointer", "detail"}, "properties": obj{"pointer": obj{"type": "string", "description": "JSON Pointer into the request; in binary mode /<attribute> names a ce- header"}, "detail": obj{"type": "string"}}}},
			"aggregate":       obj{"type": "string"},
			"current_version": obj{"type": "integer"}}},
		"View": obj{"type": "object", "required": []string{"sequence"}, "description": "a view: its keys are the view's; sequence is the log position it reflects",
			"properties": obj{"sequence": obj{"type": "integer"}, "as_of": obj{"type": "string", "format": "date-time"}, "axis": obj{"enum": []string{"recorded", "occurred"}}}},
		"LogInfo": obj{"type": "object", "properties": obj{"stream": obj{"type": "string"}, "config_problems": obj{"type": []string{"array", "null"}, "items": obj{"type": "string"}},
			"first_sequence": obj{"type": "integer"}, "last_sequence": obj{"type": "integer"}, "messages": obj{"type": "integer"}}},
		"ImportResult": obj{"type": "object", "properties": obj{"read": obj{"type": "integer"}, "present": obj{"type": "integer"}, "appended": obj{"type": "integer"}, "last_sequence": obj{"type": "integer"}}},
		"Principal": obj{"type": "object", "required": []string{"name", "role"}, "properties": obj{"name": obj{"type": "string"}, "role": obj{"enum": []string{tokens.RoleSubmitter, tokens.RoleAuditor, tokens.RoleAdmin}},
			"societies": obj{"type": "array", "items": obj{"type": "string"}}}},
		"TreeProof": obj{"type": "object", "required": []string{"from", "to", "from_root", "proof", "checkpoint"}, "properties": obj{
			"from": obj{"type": "integer"}, "to": obj{"type": "integer"}, "from_root": obj{"type": "string", "description": "base64"},
			"proof": obj{"type": "array", "items": obj{"type": "string", "description": "base64"}}, "checkpoint": obj{"type": "string", "description": "the signed checkpoint of size to"}}},
		"Status": obj{"type": "object", "required": []string{"status"}, "properties": obj{"status": obj{"type": "string"}}, "additionalProperties": true},
	}
	for _, t := range domain.EventTypes {
		s[string(t)] = domain.DataSchema(t)
	}
	return s
}

func withProps(a, b obj) obj {
	out := obj{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// pathParams documents a path's wildcards as strings.
func pathParams(path string) []obj {
	var out []obj
	for _, m := range muxWildcard.FindAllStringSubmatch(path, -1) {
		out = append(out, pathParam(m[1], "", obj{"type": "string"}))
	}
	return out
}

// viewParam is the {view} of GET /v1/views/{view}.
func viewParam() obj {
	return pathParam("view", "the view", obj{"type": "string", "enum": projections.ViewNames})
}

// handleOpenAPI serves the document.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.openapi)
}

// SchemaDocument returns the JSON Schema of an event type's data as
// GET /v1/schemas/{type} serves it (nil for an unknown type).
func SchemaDocument(t domain.EventType) ([]byte, error) {
	sch := domain.DataSchema(t)
	if sch == nil {
		return nil, nil
	}
	sch.Schema = domain.JSONSchemaDialect
	b, err := json.MarshalIndent(sch, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// handleSchema serves the JSON Schema of an event type's data.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request) {
	t := domain.EventType(r.PathValue("type"))
	b, err := SchemaDocument(t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b == nil {
		problem(w, http.StatusNotFound, fmt.Sprintf("%q is not an event type of the catalogue; the types are listed at /openapi.json", t))
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}
