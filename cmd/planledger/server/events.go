package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"planledger/cmd/planledger/ledger"
	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore"
)

// Limits of the events endpoints.
const (
	maxJSONDepth    = 32
	defaultLimit    = 100
	maxLimit        = 1000
	maxScanPerQuery = 10_000
)

func (s *Server) handlePostEvents(w http.ResponseWriter, r *http.Request, who *tokens.Principal) {
	raws, batch, probs, ok := s.readEvents(w, r)
	if !ok {
		return
	}
	now := time.Now()
	subs := make([]domain.Submission, len(raws))
	for i, raw := range raws {
		sub, ps := domain.DecodeEvent(raw, now)
		probs = append(probs, inRequest(batch, i, ps)...)
		subs[i] = sub
	}
	probs = append(probs, repeatedIDs(subs, batch)...)
	if len(probs) > 0 {
		s.fail(w, r, domain.Invalid("", probs...))
		return
	}
	res, ok := s.submit(w, r, who, subs, batch)
	if !ok {
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	if batch {
		writeBatch(w, status, res.Records)
		return
	}
	writeRecord(w, status, res.Records[0])
}

// readEvents reads a POST's events, each a JSON object: one, a batch of
// at most eventstore.MaxBatch (the one place the API holds a request to
// it), or in binary mode the one the headers and body make (with its
// problems). ok is false when it answered with a problem.
func (s *Server) readEvents(w http.ResponseWriter, r *http.Request) (raws []json.RawMessage, batch bool, probs []domain.Problem, ok bool) {
	mode, body, ok := s.readJSONBody(w, r)
	if !ok {
		return nil, false, nil, false
	}
	if mode == modeBinary {
		raw, probs := binaryEvent(r.Header, body)
		return []json.RawMessage{raw}, false, probs, true
	}
	batch = mode == modeBatch
	raws, status, msg := splitEvents(body, batch)
	if status != 0 {
		problem(w, status, msg)
		return nil, false, nil, false
	}
	if len(raws) > eventstore.MaxBatch {
		problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d events in one batch; at most %d", len(raws), eventstore.MaxBatch))
		return nil, false, nil, false
	}
	return raws, batch, nil, true
}

// readJSONBody reads a POST's body within --max-body: UTF-8 JSON, nested
// at most maxJSONDepth deep (in binary mode, the data, which may be
// absent). ok is false when it answered with a problem.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request) (contentMode, []byte, bool) {
	mode, err := requestMode(r)
	if err != nil {
		problem(w, http.StatusUnsupportedMediaType, err.Error())
		return mode, nil, false
	}
	if p := charsetProblem(r.Header.Get("Content-Type")); p != "" {
		problem(w, http.StatusUnsupportedMediaType, p)
		return mode, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over the limit of %d bytes; split the batch", s.cfg.MaxBody))
			return mode, nil, false
		}
		problem(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return mode, nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 && mode == modeBinary {
		return mode, body, true
	}
	if msg := jsonProblem(body); msg != "" {
		problem(w, http.StatusBadRequest, msg)
		return mode, nil, false
	}
	return mode, body, true
}

// jsonProblem says what is wrong with a body that should be JSON, or "".
func jsonProblem(body []byte) string {
	if !json.Valid(body) {
		return "the body is not JSON"
	}
	if p := textProblem(body); p != "" {
		return p
	}
	if d := jsonDepth(body); d > maxJSONDepth {
		return fmt.Sprintf("the JSON is nested %d deep; at most %d", d, maxJSONDepth)
	}
	return ""
}

// inRequest points problems of event i into a batch ("/2/data/x").
func inRequest(batch bool, i int, probs []domain.Problem) []domain.Problem {
	if !batch {
		return probs
	}
	out := make([]domain.Problem, len(probs))
	for j, p := range probs {
		p.Pointer = fmt.Sprintf("/%d%s", i, p.Pointer)
		out[j] = p
	}
	return out
}

// submit appends the events within the token's quota; ok is false when
// it answered with a problem.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, who *tokens.Principal, subs []domain.Submission, batch bool) (eventstore.Result, bool) {
	giveBack, wait := s.limits.events(who, len(subs))
	if giveBack == nil {
		tooMany(w, wait, fmt.Sprintf("%s has appended its %d events a day", who.Name, who.Limits.EventsPerDay))
		return eventstore.Result{}, false
	}
	res, err := s.ledger.Submit(r.Context(), ledger.Request{Submitter: who.Name, Scope: who, Events: subs, Batch: batch})
	if err != nil || res.Duplicate {
		giveBack() // nothing was appended
	}
	if err != nil {
		s.fail(w, r, err)
		return res, false
	}
	return res, true
}

// splitEvents returns the events of a body: one object, or an array of
// them. A non-zero status says why the body is not events at all.
func splitEvents(body []byte, batch bool) ([]json.RawMessage, int, string) {
	trimmed := bytes.TrimSpace(body)
	if !batch {
		if trimmed[0] != '{' {
			hint := ""
			if trimmed[0] == '[' {
				hint = "; a batch is sent as " + mediaBatch
			}
			return nil, http.StatusBadRequest, "the body is not an event: want one JSON object" + hint
		}
		return []json.RawMessage{trimmed}, 0, ""
	}
	if trimmed[0] != '[' {
		return nil, http.StatusBadRequest, "a batch is a JSON array of events"
	}
	raws, ok := domain.SplitArray(trimmed)
	if !ok {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, http.StatusBadRequest, "the batch is not a JSON array: " + err.Error()
		}
	}
	if len(raws) == 0 {
		return nil, http.StatusBadRequest, "the batch is empty; send at least one event"
	}
	for i, raw := range raws {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return nil, http.StatusBadRequest, fmt.Sprintf("batch element %d is not an event: want a JSON object", i)
		}
	}
	return raws, 0, ""
}

// repeatedIDs finds an id used twice on one aggregate within a request.
func repeatedIDs(subs []domain.Submission, batch bool) []domain.Problem {
	seen := map[string]int{}
	var probs []domain.Problem
	for i := range subs {
		key := subs[i].Event.Subject + " " + subs[i].Event.ID
		if j, dup := seen[key]; dup {
			probs = append(probs, inRequest(batch, i, []domain.Problem{{Pointer: "/id",
				Detail: fmt.Sprintf("id %q repeats event %d's on %s; ids are unique per aggregate", subs[i].Event.ID, j, subs[i].Event.Subject)}})...)
		}
		seen[key] = i
	}
	return probs
}

// jsonDepth is the deepest nesting of arrays and objects in valid JSON.
func jsonDepth(b []byte) int {
	depth, most := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}

// eventsPage is the reply of GET /v1/events.
type eventsPage struct {
	Events    []domain.Record `json:"events"`
	NextAfter uint64          `json:"next_after"`
}

// pageParams reads a page's after and limit (def if absent, 1 to most);
// ok is false when it answered 400.
func pageParams(w http.ResponseWriter, q url.Values, def, most uint64) (after, limit uint64, ok bool) {
	after, err := uintParam(q.Get("after"), 0)
	if err != nil {
		problem(w, http.StatusBadRequest, "after: "+err.Error())
		return 0, 0, false
	}
	limit, err = uintParam(q.Get("limit"), def)
	if err != nil || limit < 1 || limit > most {
		problem(w, http.StatusBadRequest, fmt.Sprintf("limit: want a whole number from 1 to %d", most))
		return 0, 0, false
	}
	return after, limit, true
}

func (s *Server) handleGetEvents(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	q := r.URL.Query()
	after, limit, ok := pageParams(w, q, defaultLimit, maxLimit)
	if !ok {
		return
	}
	var filter eventstore.Filter
	var typ domain.EventType
	if t := q.Get("type"); t != "" {
		typ = domain.EventType(t)
		if !typ.Known() {
			problem(w, http.StatusBadRequest, fmt.Sprintf("type: %q is not an event type of the catalogue", t))
			return
		}
		filter.Type = typ.Aggregate()
	}
	if subj := q.Get("subject"); subj != "" {
		ref, err := domain.ParseRef(subj)
		if err != nil {
			problem(w, http.StatusBadRequest, "subject: "+err.Error())
			return
		}
		filter.Ref = &ref
	}
	match := func(rec *domain.Record) bool { return typ == "" || domain.EventType(rec.Type) == typ }
	if after == math.MaxUint64 {
		// Nothing can follow the last sequence there is (and after+1
		// would wrap to the start of the log).
		if accepts(r, mediaNDJSON) {
			w.Header().Set("Content-Type", mediaNDJSON)
			w.WriteHeader(http.StatusOK)
			return
		}
		writeJSON(w, http.StatusOK, eventsPage{Events: []domain.Record{}, NextAfter: after})
		return
	}

	if accepts(r, mediaNDJSON) {
		s.streamEvents(w, r, after, q.Has("limit"), int(limit), filter, match)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadBound)
	defer cancel()
	r = r.WithContext(ctx)
	page := eventsPage{Events: []domain.Record{}, NextAfter: after}
	scanned := 0
	readSize := max(int(limit), 256)
	for len(page.Events) < int(limit) && scanned < maxScanPerQuery {
		recs, err := s.store.Read(r.Context(), page.NextAfter, readSize, filter)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for i := range recs {
			scanned++
			page.NextAfter = recs[i].Sequence
			if match(&recs[i]) {
				page.Events = append(page.Events, recs[i])
				if len(page.Events) == int(limit) {
					break
				}
			}
		}
		if len(recs) < readSize {
			break // the end of the log
		}
	}
	next := r.URL.Query()
	next.Set("after", strconv.FormatUint(page.NextAfter, 10))
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	if accepts(r, mediaBatch) {
		writeBatch(w, http.StatusOK, page.Events)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// streamEvents writes the log from after on as NDJSON, one record a line,
// to the end of the log as it is when the request arrives (or limit lines).
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, after uint64, limited bool, limit int, filter eventstore.Filter, match func(*domain.Record) bool) {
	w.Header().Set("Content-Type", mediaNDJSON)
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	// Each wait for the next record is bounded: a stream that stalls
	// (the cluster electing a leader) ends, with 503 if nothing was sent.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	stalled := errors.New("the log did not deliver the next record in time")
	watchdog := time.AfterFunc(s.cfg.ReadBound, func() { cancel(stalled) })
	defer watchdog.Stop()
	err := s.store.Each(ctx, after+1, func(rec domain.Record) error {
		watchdog.Reset(s.cfg.ReadBound)
		if filter.Ref != nil && rec.Subject != filter.Ref.String() {
			return nil
		}
		if filter.Type != "" && domain.EventType(rec.Type).Aggregate() != filter.Type {
			return nil
		}
		if !match(&rec) {
			return nil
		}
		if n%256 == 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
		n++
		if n%256 == 0 {
			_ = rc.Flush()
		}
		if limited && n >= limit {
			return eventstore.ErrStop
		}
		return nil
	})
	if errors.Is(context.Cause(ctx), stalled) {
		err = domain.Errorf(domain.KindUnavailable, "%v within %s", stalled, s.cfg.ReadBound)
	}
	if err != nil && n == 0 {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		s.log.Warn("ndjson stream ended early", "err", err, "written", n)
	}
}

// aggregatePage is the reply of GET /v1/aggregates/{type}/{id}/events: a
// page of the history; version is the aggregate's after the page's last
// record (its current version when the page ends the history).
type aggregatePage struct {
	Aggregate string          `json:"aggregate"`
	Version   uint64          `json:"version"`
	Events    []domain.Record `json:"events"`
	NextAfter uint64          `json:"next_after"`
}

// maxAggregatePage bounds a page of an aggregate's history: a long one
// is read in pages, never in one reply.
const maxAggregatePage = 1000

func (s *Server) handleGetAggregate(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	ref, err := domain.ParseRef(r.PathValue("type") + "/" + r.PathValue("id"))
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	after, limit, ok := pageParams(w, r.URL.Query(), maxAggregatePage, maxAggregatePage)
	if !ok {
		return
	}
	recs, err := s.store.ReadAggregatePage(r.Context(), ref, after, int(limit))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(recs) == 0 && after == 0 {
		problem(w, http.StatusNotFound, fmt.Sprintf("%s has no events", ref))
		return
	}
	page := aggregatePage{Aggregate: ref.String(), Events: recs, NextAfter: after}
	if n := len(recs); n > 0 {
		page.Version, page.NextAfter = recs[n-1].Version, recs[n-1].Sequence
		if n == int(limit) {
			next := r.URL.Query()
			next.Set("after", strconv.FormatUint(page.NextAfter, 10))
			w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
		}
	}
	if accepts(r, mediaBatch) {
		writeBatch(w, http.StatusOK, recs)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func uintParam(s string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}
