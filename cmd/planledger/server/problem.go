package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"planledger/domain"
)

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Instance names the request: urn:uuid:<X-Request-Id>, as the
	// server's log line for the request has it.
	Instance string           `json:"instance,omitempty"`
	Errors   []domain.Problem `json:"errors,omitempty"`
	// Aggregate and CurrentVersion explain a version conflict.
	Aggregate      string  `json:"aggregate,omitempty"`
	CurrentVersion *uint64 `json:"current_version,omitempty"`
}

// kindStatus maps each domain error kind to its HTTP status: the one table.
var kindStatus = map[domain.Kind]int{
	domain.KindInternal:    http.StatusInternalServerError,
	domain.KindInvalid:     http.StatusUnprocessableEntity,
	domain.KindNotFound:    http.StatusNotFound,
	domain.KindConflict:    http.StatusConflict,
	domain.KindForbidden:   http.StatusForbidden,
	domain.KindUnavailable: http.StatusServiceUnavailable,
	domain.KindNoSpace:     http.StatusInsufficientStorage,
}

// maxProblems bounds the errors listed in one problem reply.
const maxProblems = 100

// retryAfterSeconds is what a 503 asks a client to wait.
const retryAfterSeconds = "2"

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	if id := w.Header().Get(HeaderRequestID); id != "" && p.Instance == "" {
		p.Instance = problemInstance(id)
	}
	w.Header().Set("Content-Type", mediaProblem)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// fail writes err as a problem; internal errors are logged, not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		de = &domain.Error{Kind: domain.KindInternal, Message: err.Error(), Err: err}
	}
	status := kindStatus[de.Kind]
	p := Problem{Status: status, Detail: de.Message, Errors: de.Problems}
	if de.Kind == domain.KindInternal {
		s.log.Error("internal error", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "err", err)
		p.Detail = "an internal error occurred; it has been logged"
		p.Errors = nil
	}
	if de.Kind == domain.KindInvalid && len(de.Problems) > 0 && de.Message == "" {
		p.Detail = fmt.Sprintf("%d problem(s) with the request; see errors", len(de.Problems))
	}
	if len(p.Errors) > maxProblems {
		// A large invalid batch must not make a reply several times its
		// size: the first problems show what is wrong.
		p.Detail = fmt.Sprintf("%s (%d problems; the first %d are listed)", strings.TrimSuffix(p.Detail, "; see errors"), len(p.Errors), maxProblems)
		p.Errors = p.Errors[:maxProblems]
	}
	if c := de.Conflict; c != nil {
		p.Aggregate = c.Aggregate.String()
		cur := c.Current
		p.CurrentVersion = &cur
	}
	writeProblem(w, p)
}

// problem answers a request with status (any error status: 400, 401,
// 404, 413, 415, ...) and a plain problem saying detail.
func problem(w http.ResponseWriter, status int, detail string) {
	writeProblem(w, Problem{Status: status, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, mediaJSON, v)
}

// writeBody writes v as JSON with the given media type.
func writeBody(w http.ResponseWriter, status int, mediaType string, v any) {
	startBody(w, status, mediaType)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// startBody writes a reply's status and headers: its media type, and no
// caching unless the handler said otherwise.
func startBody(w http.ResponseWriter, status int, mediaType string) {
	w.Header().Set("Content-Type", mediaType)
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
}
