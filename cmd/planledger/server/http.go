package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// What every reply gets, whoever registered its route (the API or the
// site): a request id and a log line, CORS where configured, gzip where
// asked, and problem+json for a path no route serves (404) or a method it
// does not take (405, with Allow).
func (s *Server) wrap(mux *http.ServeMux) http.Handler {
	var h http.Handler = routeMisses(mux)
	h = gzipReplies(h)
	h = s.cors(h)
	return s.requestLog(h)
}

// HeaderRequestID carries the request's id, both ways.
const HeaderRequestID = "X-Request-Id"

type requestIDKey struct{}

// requestID is the id the request log gave r ("" outside it).
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// saneRequestID accepts a client's request id: 1 to 128 letters, digits,
// '-', '_' and '.', which can be logged and used in a URI as they are.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID is a UUIDv7: unique, and in time order in the log.
func newRequestID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString() // v4 if the clock or randomness failed v7
	}
	return id.String()
}

// problemInstance names the request a problem arose in, as a URI:
// urn:uuid:<id> for a UUID (every id the ledger makes), else the client's
// token itself, a relative reference.
func problemInstance(id string) string {
	if len(id) == 36 && uuid.Validate(id) == nil {
		return "urn:uuid:" + id
	}
	return id
}

// requestLog gives each request its id (the client's X-Request-Id if it is
// sane, else a new UUIDv7), returns it in the reply, and logs the request
// with it: problems at info (server errors at warn), the rest at debug.
func (s *Server) requestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(HeaderRequestID, id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		switch {
		case rec.status >= 500:
			level = slog.LevelWarn
		case rec.status >= 400:
			level = slog.LevelInfo
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", max(rec.status, http.StatusOK), "duration", time.Since(start).Round(time.Microsecond))
	})
}

// statusRecorder remembers the status a handler wrote, for the request's
// log line (the metrics are promhttp's, per route).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// routeMisses answers a request no route takes with a problem: 404, or
// 405 with Allow when the path is served with other methods.
func routeMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &bufferedReply{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			writeProblem(w, Problem{Status: http.StatusMethodNotAllowed, Detail: fmt.Sprintf("%s is served for %s, not %s", r.URL.Path, allow, r.Method)})
		case http.StatusNotFound:
			writeProblem(w, Problem{Status: http.StatusNotFound, Detail: fmt.Sprintf("no route %s %s; the API is described at /openapi.json", r.Method, r.URL.Path)})
		default: // the mux's redirect to a cleaned path
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// bufferedReply keeps a reply in memory.
type bufferedReply struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedReply) Header() http.Header { return b.header }
func (b *bufferedReply) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedReply) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// cors lets browser apps of the configured origins call the API: the
// Origin is echoed, a preflight is answered, and the headers a client
// needs to read are exposed. Tokens travel in Authorization, never in
// cookies, so no credentials are allowed.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	allowed := map[string]bool{}
	for _, o := range s.cfg.CORSOrigins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin == "" || !(allowed[origin] || allowed["*"]) {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, ETag, Link, Location, Retry-After, WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckCORSOrigin returns nil if o is an origin --cors-origin takes:
// "*", or scheme://host[:port].
func CheckCORSOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin; want scheme://host[:port] (https://app.example.org) or *", o)
	}
	return nil
}

// gzipMinSize is the smallest reply worth compressing: below one packet,
// gzip saves nothing.
const gzipMinSize = 1400

// gzipLevel: a page of 1000 records (567 KB) takes 2.5 ms to 52 KB at
// level 2, as fast as level 1 (59 KB), where the default level 6 takes
// 6.4 ms to 39 KB: on two cores serving appends too, the fast levels win.
const gzipLevel = 2

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
	return w
}}

// gzipReplies compresses JSON, NDJSON and text replies of at least
// gzipMinSize bytes for clients that accept gzip. Streams stay streams:
// a flush compresses what is there and sends it.
func gzipReplies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w}
		defer gw.close()
		next.ServeHTTP(gw, r)
	})
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a q-value above 0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// compressible reports whether a reply of this media type is worth gzip.
func compressible(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == mediaJSON || mt == mediaNDJSON || strings.HasSuffix(mt, "+json") || strings.HasPrefix(mt, "text/") ||
		mt == "application/javascript" || mt == "image/svg+xml"
}

// gzipWriter holds the start of a reply until it knows whether to
// compress it: the headers are sent with the first gzipMinSize bytes, a
// flush, or the end.
type gzipWriter struct {
	http.ResponseWriter
	status  int
	buf     []byte
	decided bool
	gz      *gzip.Writer
}

func (g *gzipWriter) WriteHeader(code int) {
	switch {
	case g.decided || g.status != 0: // sent, or superfluous
	case code < 200:
		g.ResponseWriter.WriteHeader(code) // informational: pass on
	default:
		g.status = code
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if !g.decided {
		g.buf = append(g.buf, p...)
		if len(g.buf) < gzipMinSize {
			return len(p), nil
		}
		if err := g.decide(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if g.gz != nil {
		return g.gz.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

// decide sends the headers, compressing if the reply is large enough and
// of a compressible type that nobody encoded already, then what was held.
func (g *gzipWriter) decide() error {
	g.decided = true
	h := g.Header()
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if compressible(h.Get("Content-Type")) {
		h.Add("Vary", "Accept-Encoding")
		if len(g.buf) >= gzipMinSize && h.Get("Content-Encoding") == "" && g.status != http.StatusNoContent && g.status != http.StatusNotModified {
			h.Set("Content-Encoding", "gzip")
			h.Del("Content-Length")
			if etag := h.Get("ETag"); strings.HasPrefix(etag, `"`) {
				h.Set("ETag", "W/"+etag) // the bytes differ from the identity's
			}
			g.gz = gzipWriters.Get().(*gzip.Writer)
			g.gz.Reset(g.ResponseWriter)
		}
	}
	g.ResponseWriter.WriteHeader(g.status)
	held := g.buf
	g.buf = nil
	if len(held) == 0 {
		return nil
	}
	var err error
	if g.gz != nil {
		_, err = g.gz.Write(held)
	} else {
		_, err = g.ResponseWriter.Write(held)
	}
	return err
}

// Flush sends what is held or compressed so far: NDJSON streams flush.
func (g *gzipWriter) Flush() {
	if !g.decided {
		_ = g.decide()
	}
	if g.gz != nil {
		_ = g.gz.Flush()
	}
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

// close ends the reply: headers and body if nothing was sent yet, the
// gzip trailer if compressed.
func (g *gzipWriter) close() {
	if !g.decided {
		if g.status == 0 {
			return // nothing written: the server answers 200 empty
		}
		_ = g.decide()
	}
	if g.gz != nil {
		_ = g.gz.Close()
		g.gz.Reset(io.Discard)
		gzipWriters.Put(g.gz)
		g.gz = nil
	}
}

// Unwrap lets http.ResponseController reach deadlines.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
