package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"planledger/cmd/planledger/tokens"
	"planledger/cmd/planledger/viewdoc"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

func (s *Server) handleGetView(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	name := r.PathValue("view")
	if !slices.Contains(projections.ViewNames, name) {
		problem(w, http.StatusNotFound, fmt.Sprintf("no view %q; the views are %v", name, projections.ViewNames))
		return
	}
	q := r.URL.Query()
	minSeq, err := uintParam(q.Get("min_sequence"), 0)
	if err != nil {
		problem(w, http.StatusBadRequest, "min_sequence: "+err.Error())
		return
	}
	axis, err := projections.ParseAxis(q.Get("axis"))
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	signed := q.Get("signed") == "1"
	if asOf := q.Get("as_of"); asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, asOf)
		if err != nil {
			problem(w, http.StatusBadRequest, fmt.Sprintf("as_of %q is not an RFC 3339 timestamp (2021-12-31T23:59:59+08:00)", asOf))
			return
		}
		s.serveAsOf(w, r, name, t, axis, signed)
		return
	}
	if q.Has("axis") {
		problem(w, http.StatusBadRequest, "axis goes with as_of")
		return
	}
	if minSeq > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ViewWait)
		err := s.views.WaitFor(ctx, minSeq)
		cancel()
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var out any
	var seq uint64
	var etag string
	now := time.Now()
	s.views.Read(func(v *projections.Views) {
		// The live view changes with the log and, for the views judged
		// against the clock (terms due, the plan in force), with the day.
		seq = v.Sequence
		etag = fmt.Sprintf(`W/"%s-s%d-d%s"`, name, v.Sequence, now.In(domain.CST).Format("20060102"))
		if signed || !etagMatches(r.Header.Get("If-None-Match"), etag) {
			out, err = v.Render(name, now)
		}
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if signed { // a note signed now: no ETag
		s.writeSignedView(w, r, out, logtree.ViewNote{View: name, Size: int64(seq), Clock: now})
		return
	}
	writeView(w, r, etag, out)
}

// writeView answers with a view and its ETag, or 304 when the client has
// that version already (out is then not needed).
func writeView(w http.ResponseWriter, r *http.Request, etag string, out any) {
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// etagMatches is If-None-Match's weak comparison of etag with a list.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// serveAsOf rebuilds the view from history as it stood at t. The result
// depends only on t, the axis and the log, so the log's length makes the
// ETag (of an unsigned reply: a signed one carries a note signed now).
func (s *Server) serveAsOf(w http.ResponseWriter, r *http.Request, name string, t time.Time, axis projections.Axis, signed bool) {
	last, err := s.store.LastSequence(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	etag := fmt.Sprintf(`W/"%s-%s-%d-s%d"`, name, axis, t.UnixNano(), last)
	if !signed && etagMatches(r.Header.Get("If-None-Match"), etag) {
		writeView(w, r, etag, nil)
		return
	}
	release, err := s.replays.acquire(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var v *projections.Views
	if axis == projections.AxisRecorded {
		v, err = s.views.AsOf(r.Context(), t) // a snapshot plus a short replay
	} else {
		v, err = projections.Replay(r.Context(), s.store, t, axis)
	}
	release()
	var hole *eventstore.MissingError
	if errors.As(err, &hole) {
		err = domain.Errorf(domain.KindUnavailable, "the log is damaged (%v): the view cannot be rebuilt until it is repaired", hole)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := v.Render(name, t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := viewdoc.WithAsOf(out, t, axis)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if signed {
		s.writeSignedView(w, r, body, logtree.ViewNote{View: name, Size: int64(v.Sequence), Clock: t, AsOf: t, Axis: string(axis)})
		return
	}
	writeView(w, r, etag, body)
}

// writeSignedView signs n for view, once the log's tree reaches the
// records the view reflects.
func (s *Server) writeSignedView(w http.ResponseWriter, r *http.Request, view any, n logtree.ViewNote) {
	raw, err := json.Marshal(view)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	canonical, err := domain.CanonicalJSON(raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ViewWait)
	defer cancel()
	if err := s.tree.WaitFor(ctx, n.Size); err != nil {
		s.fail(w, r, err)
		return
	}
	if n.Root, err = s.tree.Root(ctx, n.Size); err != nil {
		s.fail(w, r, err)
		return
	}
	n.Origin, n.Digest = s.store.Key().Origin, sha256.Sum256(canonical)
	note, err := n.Sign(s.store.Key().Signer())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewdoc.Signed{View: raw, Note: string(note)})
}
