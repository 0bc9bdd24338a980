// Package web is the read-only site for the plan's officers and auditors,
// served by `planledger serve` at /: the views as pages (an overview, the
// societies, each aggregate's history, the signed log), "as of" any past
// moment, Chinese first and English with ?lang=en. Pages are html/template
// rendered on the server with embedded assets; charts are inline SVG; no
// script is needed but for the in-browser check of a record's proof
// against the signed log (static/verify.js).
// A reader signs in with a token through a form and holds a server-side
// session; every page shows only what that token may read.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Reader is who holds a session: a token's name, role and, for a
// submitter, its societies.
type Reader struct {
	Name      string
	Role      string
	Societies map[string]bool
}

// ReadsAll reports whether the reader sees every society's details:
// auditors and admins do; a submitter sees its own societies'.
func (r *Reader) ReadsAll() bool { return r.Role == tokens.RoleAuditor || r.Role == tokens.RoleAdmin }

// MayRead reports whether the reader may see what belongs to society
// owner ("" for a plan, which everyone reads).
func (r *Reader) MayRead(owner string) bool {
	return r.ReadsAll() || owner == "" || r.Societies[owner]
}

// Config is what the site reads from and how it keeps sessions.
type Config struct {
	Store *eventstore.Store
	Views *projections.Runner
	// Tree is the log's Merkle tree: its signed checkpoints and the
	// records' inclusion proofs. Without it the pages leave them out.
	Tree *logtree.Tree
	// Resolve returns who holds the token whose SHA-256 is hash. It is
	// asked at sign-in and again on every request, so a token the server
	// no longer knows ends its sessions at once.
	Resolve func(hash [32]byte) (Reader, bool)
	// SecureCookies marks the session cookie Secure on plain HTTP too,
	// for a site behind a proxy that terminates TLS; over TLS it is
	// Secure anyway.
	SecureCookies bool
	// SessionTTL is how long a session lasts from sign-in; 8h if zero.
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Site is the web pages and their sessions.
type Site struct {
	cfg      Config
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	asOf     *asOfCache
	static   http.Handler
	xorigin  *http.CrossOriginProtection
}

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"signin", "overview", "societies", "society", "aggregate", "event", "log", "error"}

// New parses the embedded templates; they are part of the binary, so a
// template that does not parse is a programming error and panics.
func New(cfg Config) *Site {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	s := &Site{cfg: cfg, log: cfg.Logger, pages: map[string]*template.Template{},
		sessions: newSessions(cfg.SessionTTL, maxSessions), asOf: &asOfCache{},
		xorigin: http.NewCrossOriginProtection()}
	for _, name := range pageNames {
		s.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	s.static = http.FileServerFS(sub)
	return s
}

// Routes registers every page with handle (the server's mux, which counts
// and times each route). The patterns are specific: anything else stays
// the API's to answer.
func (s *Site) Routes(handle func(pattern string, h http.HandlerFunc)) {
	handle("GET /{$}", s.page(s.handleOverview))
	handle("GET /societies", s.page(s.handleSocieties))
	handle("GET /societies/{id}", s.page(s.handleSociety))
	handle("GET /aggregates/{type}/{id}", s.page(s.handleAggregate))
	handle("GET /aggregates/{type}/{id}/{version}", s.page(s.handleEvent))
	handle("GET /aggregates/{type}/{id}/{version}/proof", s.download(s.handleRecordProof))
	handle("GET /log", s.page(s.handleLog))
	handle("GET /log/checkpoint", s.download(s.handleCheckpoint))
	handle("GET /signin", s.handleSignInForm)
	handle("POST /signin", s.handleSignIn)
	handle("POST /signout", s.handleSignOut)
	handle("GET /static/{file...}", s.handleStatic)
}

func (s *Site) now() time.Time { return s.cfg.Now() }

// pageFunc builds a page for a signed-in reader: the template's name and
// its data (which embeds the base it was given).
type pageFunc func(r *http.Request, b *base) (string, any, error)

// page checks the session (a browser without one is sent to sign in),
// reads the language and "as of", and renders what h builds.
func (s *Site) page(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		name, data, err := h(r, b)
		if err != nil {
			s.renderError(w, b, err)
			return
		}
		s.render(w, http.StatusOK, name, data)
	}
}

// signedIn sets the pages' headers and checks the session: a browser
// without one is sent to sign in, and a moment the page cannot read is
// an error page; ok is false when either was answered.
func (s *Site) signedIn(w http.ResponseWriter, r *http.Request) (*base, bool) {
	secureHeaders(w)
	b := s.newBase(r)
	sess, reader, ok := s.session(r)
	if !ok {
		next := r.URL.Path
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		q := url.Values{"next": {next}}
		if b.Lang == langEN {
			q.Set("lang", langEN)
		}
		http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
		return nil, false
	}
	b.Reader, b.CSRF = &reader, sess.csrf
	if err := b.readAsOf(r); err != nil {
		s.renderError(w, b, err)
		return nil, false
	}
	return b, true
}

// secureHeaders keeps the pages to their own origin: no framing, no
// script or style from elsewhere, nothing cached on the way.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render executes a page into memory first, so that a failing template
// never sends half a page.
func (s *Site) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageError is an error the reader is shown, with its status.
type pageError struct {
	status int
	key    string // phrase
	detail string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s %s", e.status, e.key, e.detail) }

// notFound is the answer for what does not exist and for what the token
// may not read alike, so that a page says nothing of what it hides.
func notFound() error { return &pageError{status: http.StatusNotFound, key: "error.notfound"} }

type errorPage struct {
	*base
	Message, Detail string
}

func (s *Site) renderError(w http.ResponseWriter, b *base, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		status, key := http.StatusInternalServerError, "error.internal"
		if domain.IsKind(err, domain.KindUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			status, key = http.StatusServiceUnavailable, "error.unavailable"
		} else {
			s.log.Error("web: page failed", "path", b.Path, "err", err)
		}
		pe = &pageError{status: status, key: key}
	}
	b.Title = b.T("error.title")
	s.render(w, pe.status, "error", &errorPage{base: b, Message: b.T(pe.key), Detail: pe.detail})
}

func (s *Site) handleStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.PathValue("file") == "" {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + r.PathValue("file")
	s.static.ServeHTTP(w, r2)
}
