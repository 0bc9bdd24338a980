package server

import (
	"net/http"
	"slices"

	"planledger/domain"
)

// route is one endpoint: its ServeMux pattern, its handler and how the
// OpenAPI document describes it.
type route struct {
	pattern string
	handler http.Handler
	doc     operation
}

// routes is the API on one mux, wrapped in what every reply gets.
func (s *Server) routes() http.Handler {
	s.mux = &routeMux{ServeMux: http.NewServeMux()}
	for _, rt := range s.api() {
		s.mux.Handle(rt.pattern, s.metrics.instrument(rt.pattern, rt.handler))
	}
	// The web pages (GET /, /societies, /aggregates/..., /signin,
	// /static/...), each documented in siteDocs.
	s.site().Routes(func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.metrics.instrument(pattern, h)) })
	return s.wrap(s.mux.ServeMux)
}

// routeMux is the ServeMux every route is registered on. It remembers the
// patterns, so that TestOpenAPICoversRoutes can hold the document to
// whatever was registered, however.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// api lists every route, each with its documentation: the one place a
// route is added (TestOpenAPICoversRoutes holds the mux and the document
// to it). It is also called on a zero Server to make the document, so it
// only builds handlers, never runs them.
func (s *Server) api() []route {
	return slices.Concat(s.eventRoutes(), s.treeRoutes(), s.readRoutes(), s.publicRoutes())
}

// eventRoutes append events and read the log.
func (s *Server) eventRoutes() []route {
	return []route{
		{"POST /v1/events", s.authed(s.handlePostEvents), opPostEvents},
		{"GET /v1/events", s.authed(s.handleGetEvents), operation{
			id: "listEvents", tag: "events", summary: "Read the log in order",
			description: "A page of records after a sequence. With Accept: application/cloudevents-batch+json the page is a bare CloudEvents batch; " +
				"with application/x-ndjson, one record a line, streamed to the end of the log (or limit lines). Link (rel=next) gives the next page.",
			params: []obj{
				queryParam("after", "records after this sequence (default 0)", obj{"type": "integer", "minimum": 0}),
				queryParam("limit", "at most this many records (1-1000, default 100)", obj{"type": "integer", "minimum": 1, "maximum": maxLimit}),
				queryParam("type", "only events of this type", obj{"type": "string"}),
				queryParam("subject", "only events of this aggregate (society/hn-chem)", obj{"type": "string"}),
			},
			replies: append([]resp{{status: 200, description: "the records", content: obj{mediaJSON: ref("EventsPage"), mediaBatch: ref("RecordBatch"),
				mediaNDJSON: obj{"type": "string", "description": "one Record a line"}}, headers: obj{"Link": obj{"description": "the next page", "schema": obj{"type": "string"}}}}},
				problems(400, 503)...),
		}},
		{"GET /v1/events/{seq}", s.authed(s.bounded(s.handleGetRecord)), operation{
			id: "getRecord", tag: "events", summary: "One record by its sequence",
			description: "The record's line, byte for byte the leaf of the log's tree (C2SP tlog-tiles entries hold the same lines).",
			params:      []obj{seqParam()},
			replies:     append([]resp{{status: 200, description: "the record", content: obj{mediaEvent: ref("Record")}}}, problems(400, 404, 503)...),
		}},
	}
}

// treeRoutes serve the log's Merkle tree: proofs, checkpoints, tiles.
func (s *Server) treeRoutes() []route {
	return []route{
		{"GET /v1/events/{seq}/proof", s.authed(s.bounded(s.handleRecordProof)), operation{
			id: "recordProof", tag: "verifiable log", summary: "A record with its inclusion proof",
			description: "A C2SP tlog-proof: the record's line, its index, the inclusion proof and the signed checkpoint it is proved against (the latest, or ?size=N's).",
			params:      []obj{seqParam(), queryParam("size", "prove against the checkpoint of this tree size", obj{"type": "integer", "minimum": 1})},
			replies:     append([]resp{{status: 200, description: "the proof", content: obj{mediaProof: obj{"type": "string"}}}}, problems(400, 404, 422, 503)...),
		}},
		{"GET /v1/log/key", s.authed(s.handleLogKey), operation{
			id: "logKey", tag: "verifiable log", summary: "The log's verifier key",
			description: "For convenience: an auditor pins the key given out of band, not one fetched from the server being checked.",
			replies:     []resp{{status: 200, description: "the verifier key (a note verifier key)", content: obj{mediaText: obj{"type": "string"}}}},
		}},
		{"GET /v1/log/checkpoint", s.authed(s.bounded(s.handleCheckpoint)), operation{
			id: "checkpoint", tag: "verifiable log", summary: "The latest signed checkpoint (C2SP tlog-checkpoint)",
			replies: append([]resp{{status: 200, description: "the signed note", content: obj{mediaText: obj{"type": "string"}}}}, problems(404, 503)...),
		}},
		{"GET /v1/log/tile/{path...}", s.authed(s.bounded(s.handleTile)), operation{
			id: "tile", tag: "verifiable log", summary: "A tile of the log's tree, or an entry bundle (C2SP tlog-tiles)",
			params:  []obj{pathParam("path", "<L>/<N>[.p/<W>] or entries/<N>[.p/<W>]", obj{"type": "string"})},
			replies: append([]resp{{status: 200, description: "the tile", content: obj{"application/octet-stream": obj{"type": "string", "contentMediaType": "application/octet-stream"}}}}, problems(404, 503)...),
		}},
		{"GET /v1/log/proof/tree", s.authed(s.bounded(s.handleTreeProof)), operation{
			id: "treeProof", tag: "verifiable log", summary: "A consistency proof between two tree sizes",
			params: []obj{queryParam("from", "the earlier tree size", obj{"type": "integer", "minimum": 1}),
				queryParam("to", "the later tree size (default: the latest checkpoint's)", obj{"type": "integer", "minimum": 1})},
			replies: append([]resp{{status: 200, description: "the proof and the later checkpoint", content: obj{mediaJSON: ref("TreeProof")}}}, problems(400, 404, 422, 503)...),
		}},
	}
}

// readRoutes read aggregates, views and the log, import one, and say who
// asks.
func (s *Server) readRoutes() []route {
	return []route{
		{"GET /v1/aggregates/{type}/{id}/events", s.authed(s.bounded(s.handleGetAggregate)), operation{
			id: "aggregateHistory", tag: "events", summary: "One aggregate's history, a page at a time",
			description: "The aggregate's records in version order, up to limit (1000) after sequence after; the next page is after=next_after (also in a Link header when the page is full). version is the aggregate's after the page's last record. A bare CloudEvents batch with Accept: application/cloudevents-batch+json.",
			params: []obj{pathParam("type", "the aggregate type", obj{"enum": aggregateTypeNames()}), pathParam("id", "the aggregate's id", obj{"type": "string"}),
				queryParam("after", "0, or the sequence of one of the aggregate's records: the previous page's next_after", obj{"type": "integer", "minimum": 0}),
				queryParam("limit", "records in the page, 1 to 1000 (default 1000)", obj{"type": "integer", "minimum": 1, "maximum": 1000})},
			replies: append([]resp{{status: 200, description: "the history", content: obj{mediaJSON: ref("AggregateHistory"), mediaBatch: ref("RecordBatch")}}}, problems(400, 404, 503)...),
		}},
		{"GET /v1/views/{view}", s.authed(s.handleGetView), opGetView},
		{"GET /v1/log", s.authed(s.bounded(s.handleLog)), operation{
			id: "logInfo", tag: "audit", summary: "The stream holding the log",
			description: "Its name, its configuration problems (none, normally) and its first and last sequence.",
			replies:     append([]resp{{status: 200, description: "the stream", content: obj{mediaJSON: ref("LogInfo")}}}, problems(503)...),
		}},
		{"POST /v1/import", s.authed(s.handleImport), operation{
			id: "importLog", tag: "audit", summary: "Restore an export (admins only)",
			description: "The NDJSON of planledger export, appended where the log holds a prefix of it; importing twice appends nothing.",
			body:        obj{"required": true, "content": obj{mediaNDJSON: obj{"schema": obj{"type": "string", "description": "one Record a line"}}}},
			replies:     append([]resp{{status: 200, description: "what the import did", content: obj{mediaJSON: ref("ImportResult")}}}, problems(403, 409, 413, 415, 422, 503)...),
		}},
		{"GET /v1/whoami", s.authed(s.handleWhoami), operation{
			id: "whoami", tag: "operations", summary: "The principal of the bearer token",
			replies: []resp{{status: 200, description: "its name, role and societies", content: obj{mediaJSON: ref("Principal")}}},
		}},
	}
}

// publicRoutes need no token: the catalogue, health and metrics.
func (s *Server) publicRoutes() []route {
	return []route{
		{"GET /v1/schemas/{type}", http.HandlerFunc(s.handleSchema), operation{
			id: "dataSchema", tag: "catalogue", summary: "The JSON Schema (2020-12) of an event type's data", public: true,
			params:  []obj{pathParam("type", "an event type of the catalogue", obj{"type": "string"})},
			replies: append([]resp{{status: 200, description: "the schema", content: obj{"application/schema+json": obj{"type": "object"}}}}, problems(404)...),
		}},
		{"GET /openapi.json", http.HandlerFunc(s.handleOpenAPI), operation{
			id: "openapi", tag: "catalogue", summary: "This document", public: true,
			replies: []resp{{status: 200, description: "the OpenAPI 3.1 document", content: obj{mediaJSON: obj{"type": "object"}}}},
		}},
		{"GET /healthz", http.HandlerFunc(s.handleHealthz), operation{
			id: "healthz", tag: "operations", summary: "The process is up", public: true,
			replies: []resp{{status: 200, description: "up", content: obj{mediaJSON: ref("Status")}}},
		}},
		{"GET /readyz", http.HandlerFunc(s.handleReadyz), operation{
			id: "readyz", tag: "operations", summary: "The store answers and the views trail the log by at most 1000 events", public: true,
			replies: append([]resp{{status: 200, description: "ready", content: obj{mediaJSON: ref("Status")}}}, problems(503)...),
		}},
		{"GET /metrics", http.HandlerFunc(s.handleMetrics), operation{
			id: "metrics", tag: "operations", summary: "Prometheus metrics", public: true,
			replies: []resp{{status: 200, description: "the text exposition format", content: obj{"text/plain": obj{"type": "string"}}}},
		}},
	}
}

// opPostEvents documents POST /v1/events.
var opPostEvents = operation{
	id: "postEvents", tag: "events", summary: "Append events",
	description: "One CloudEvent or a batch of up to 1000, all or nothing. Structured mode: the body is the event " +
		"(application/cloudevents+json, or application/json without ce- headers). Batched mode: a JSON array " +
		"(application/cloudevents-batch+json). Binary mode: the attributes are ce-* headers (percent-encoded as the " +
		"CloudEvents HTTP binding says; ce-specversion is required), Content-Type is datacontenttype (a JSON type) and " +
		"the body is the data. Ids are idempotency keys, forever: the same events again answer 200 with the originals.",
	params: []obj{
		{"name": "ce-specversion", "in": "header", "description": "binary mode: 1.0", "schema": obj{"type": "string"}},
		{"name": "ce-id", "in": "header", "description": "binary mode: the event id", "schema": obj{"type": "string"}},
		{"name": "ce-source", "in": "header", "description": "binary mode", "schema": obj{"type": "string"}},
		{"name": "ce-type", "in": "header", "description": "binary mode", "schema": obj{"type": "string"}},
		{"name": "ce-subject", "in": "header", "description": "binary mode", "schema": obj{"type": "string"}},
		{"name": "ce-time", "in": "header", "description": "binary mode", "schema": obj{"type": "string"}},
	},
	body: obj{"required": true, "content": obj{
		mediaEvent: obj{"schema": ref("CloudEvent")},
		mediaBatch: obj{"schema": ref("CloudEventBatch")},
		mediaJSON:  obj{"schema": obj{"type": "object", "description": "a structured event, or in binary mode (ce- headers) the data"}},
	}},
	replies: append([]resp{
		{status: 201, description: "stored: the record (one event) or the records (a batch)", content: obj{mediaEvent: ref("Record"), mediaBatch: ref("RecordBatch")}},
		{status: 200, description: "every event was already stored: the originals", content: obj{mediaEvent: ref("Record"), mediaBatch: ref("RecordBatch")}},
	}, problems(400, 403, 409, 413, 415, 422, 503, 507)...),
}

// opGetView documents GET /v1/views/{view}.
var opGetView = operation{
	id: "getView", tag: "views", summary: "A view of the plan's progress",
	description: "The live view (ETag: a 304 answers If-None-Match while the view is unchanged), or with as_of the view as it stood then.",
	params: []obj{
		viewParam(),
		queryParam("min_sequence", "wait (up to 5 s, then 503) until the view reflects this sequence", obj{"type": "integer", "minimum": 0}),
		queryParam("as_of", "rebuild the view as it stood at this moment (RFC 3339)", obj{"type": "string", "format": "date-time"}),
		queryParam("axis", "with as_of: recorded (what the ledger knew then) or occurred (what had happened by then, as known now)", obj{"enum": []string{"recorded", "occurred"}}),
		{"name": "If-None-Match", "in": "header", "description": "an ETag of an earlier reply", "schema": obj{"type": "string"}},
	},
	replies: append([]resp{
		{status: 200, description: "the view", content: obj{mediaJSON: ref("View")}, headers: obj{"ETag": obj{"description": "changes when the view may have", "schema": obj{"type": "string"}}}},
		{status: 304, description: "unchanged since the ETag given"},
	}, problems(400, 404, 503)...),
}

func seqParam() obj {
	return pathParam("seq", "the record's sequence in the log", obj{"type": "integer", "minimum": 1})
}

func aggregateTypeNames() []string {
	out := make([]string, len(domain.AggregateTypes))
	for i, a := range domain.AggregateTypes {
		out[i] = string(a)
	}
	return out
}
