// Package server is planledger's HTTP API and its wiring: the store, the
// command path, tokens, the views' runner and the metrics. tests/ starts it
// in-process exactly as `planledger serve` does.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

// Config is everything serve needs; the zero value of each field but Store
// has a working default.
type Config struct {
	// HTTPAddr is where the API listens; "127.0.0.1:8080" if empty.
	HTTPAddr string
	Store    eventstore.Config
	// TokensFile is the --tokens file. Without it, DataDir/tokens.json holds
	// an admin token created on first start.
	TokensFile string
	DataDir    string
	// MaxBody bounds a request body; 1 MiB if zero.
	MaxBody int64
	// CacheSize bounds the aggregates kept in memory; 10,000 if zero.
	CacheSize int
	// NoShippedPlan skips publishing the 2021 plan on an empty log.
	NoShippedPlan bool
	// SecureCookies marks the web site's session cookie Secure on plain
	// HTTP too (behind a proxy that terminates TLS).
	SecureCookies bool
	// ViewWait bounds how long a view request with min_sequence waits;
	// 5s if zero.
	ViewWait time.Duration
	// ReadyLag is how far the views may trail the log for /readyz; 1000
	// if zero.
	ReadyLag uint64
	// UnavailableRetry is how long one request keeps retrying an append
	// whose outcome is unknown before answering 503; 3s if zero, none if
	// negative. It counts from the request's arrival, and no append takes
	// more than a second past it.
	UnavailableRetry time.Duration
	// ReadBound bounds a read of the log (a page of events, an aggregate,
	// a record, a proof, a tile), or, for a stream of events, each wait
	// for the next record: past it, 503. 4s if zero.
	ReadBound time.Duration
	// Registry receives the metrics served at /metrics; a new one if nil.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Out receives the one-time admin token; io.Discard if nil.
	Out io.Writer
}

// Server is a running ledger: HTTP API, command path and store.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *eventstore.Store
	ledger *Ledger
	tokens *Tokens
	views  *projections.Runner
	ln     net.Listener

	metrics    *metrics
	gatherer   prometheus.Gatherer
	registerer prometheus.Registerer
	http       *http.Server
	served     chan error

	stopViews context.CancelFunc
	viewsDone chan struct{}

	tree     *logtree.Tree
	stopTree context.CancelFunc
	treeDone chan struct{}

	foreignSeen atomic.Uint64
}

// Open opens the store, loads the tokens, publishes the shipped plan on an
// empty log and starts listening (so that ":0" works); Serve serves.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.DataDir == "" {
		cfg.DataDir = cfg.Store.DataDir
	}
	if cfg.ViewWait == 0 {
		cfg.ViewWait = 5 * time.Second
	}
	if cfg.ReadyLag == 0 {
		cfg.ReadyLag = 1000
	}
	if cfg.ReadBound == 0 {
		cfg.ReadBound = 4 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, served: make(chan error, 1), viewsDone: make(chan struct{}),
		gatherer: cfg.Registry, registerer: cfg.Registry}
	s.metrics = newMetrics(cfg.Registry)
	ok := false
	defer func() {
		if !ok {
			s.closeStore()
		}
	}()

	var err error
	if cfg.TokensFile != "" {
		s.tokens, err = LoadTokens(cfg.TokensFile)
	} else {
		var token string
		s.tokens, token, err = EnsureAdminToken(cfg.DataDir)
		if token != "" {
			fmt.Fprintf(cfg.Out, "Created an admin token; it is shown only now, store it:\n\n  %s\n\nOnly its hash is kept, in %s/%s.\n", token, cfg.DataDir, AdminTokensFile)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}

	cfg.Store.Logger = cfg.Logger
	if cfg.Store.Key == nil {
		// The ledger proves every record it appends: its key is made on
		// first start, in the data folder unless given.
		cfg.Store.CreateKey = true
		if cfg.Store.KeyFile == "" && cfg.Store.URL != "" {
			cfg.Store.KeyFile = filepath.Join(cfg.DataDir, logkey.FileName)
		}
	}
	s.store, err = eventstore.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	s.ledger = NewLedger(s.store, s.log, cfg.CacheSize)
	s.ledger.observe = s.metrics.observeAppend
	if cfg.UnavailableRetry != 0 {
		s.ledger.retryBudget = max(cfg.UnavailableRetry, 0)
	}
	if !cfg.NoShippedPlan {
		if err := s.publishShippedPlan(ctx); err != nil {
			return nil, err
		}
	}

	s.views = projections.NewRunner(s.store, s.log, filepath.Join(cfg.DataDir, CheckpointFile))
	s.views.KeepSnapshots(filepath.Join(cfg.DataDir, SnapshotDir))
	s.views.OnForeign = s.logForeign
	if err := s.views.Open(ctx); err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	collector := &viewsCollector{views: s.views, store: s.store}
	if err := cfg.Registry.Register(collector); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	// The views catch up before the API opens, so that the first reply
	// already reflects the log.
	if err := s.views.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	if f := s.views.Foreign(); f.Total() > 0 {
		s.log.Warn("the log holds records this ledger did not write; they stay, marked, and count nowhere (GET /readyz lists the latest, planledger verify all)",
			"foreign_records", f.Total(), "latest_sequence", f.Latest[len(f.Latest)-1].Sequence)
	}
	vctx, stopViews := context.WithCancel(context.Background())
	s.stopViews = stopViews
	go func() {
		defer close(s.viewsDone)
		_ = s.views.Run(vctx)
	}()
	if err := s.openTree(ctx); err != nil {
		return nil, err
	}
	collector.tree = s.tree // before the first scrape: the API is not open yet

	s.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	ok = true
	return s, nil
}

// publishShippedPlan publishes the 2021 plan when the log is empty, so the
// programmes view shows its targets at once. Its fixed id makes a second
// attempt (another instance starting at the same moment) a no-op.
func (s *Server) publishShippedPlan(ctx context.Context) error {
	last, err := s.store.LastSequence(ctx)
	if err != nil || last > 0 {
		return err
	}
	raw, err := json.Marshal(domain.Plan2021())
	if err != nil {
		return err
	}
	sub, probs := domain.DecodeEvent(raw, time.Now())
	if len(probs) > 0 {
		return domain.Invalid("the shipped 2021 plan", probs...)
	}
	system := &Principal{Name: "planledger", Role: RoleAdmin}
	res, err := s.ledger.Submit(ctx, system, []domain.Submission{sub}, false)
	if err != nil {
		return fmt.Errorf("publish the shipped 2021 plan: %w", err)
	}
	s.log.Info("published the shipped 2021 plan", "subject", sub.Event.Subject, "sequence", res.Records[0].Sequence)
	return nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the API's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Store is the server's event store.
func (s *Server) Store() *eventstore.Store { return s.store }

// Serve serves HTTP until Shutdown.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.served <- err
	return err
}

// Shutdown stops accepting requests, lets the ones in flight finish (their
// appends included) within ctx, then closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.closeStore()
	return err
}

// closeStore stops the views (they write their checkpoint) and closes the
// store.
func (s *Server) closeStore() {
	if s.stopViews != nil {
		s.stopViews()
		<-s.viewsDone
		s.stopViews = nil
	}
	if s.stopTree != nil {
		s.stopTree() // it signs a last checkpoint
		<-s.treeDone
		s.stopTree = nil
	}
	if s.store != nil {
		s.store.Close()
		s.store = nil
	}
}

// openTree opens the log's Merkle tree (checked against the latest signed
// checkpoint), brings it to the end of the log, signs a checkpoint of it,
// and has it follow the log.
func (s *Server) openTree(ctx context.Context) error {
	var err error
	s.tree, err = logtree.Open(ctx, s.store, logtree.Config{Replicas: s.cfg.Store.Replicas, Timeout: s.cfg.Store.Timeout, Logger: s.log})
	if err != nil {
		return fmt.Errorf("the log's tree: %w", err)
	}
	if err := s.tree.CatchUp(ctx); err != nil {
		return fmt.Errorf("the log's tree: %w", err)
	}
	if err := s.tree.Sync(ctx); err != nil {
		s.log.Warn("tree: no checkpoint signed at start; the next try is in a second", "err", err)
	}
	tctx, stop := context.WithCancel(context.Background())
	s.stopTree, s.treeDone = stop, make(chan struct{})
	go func() {
		defer close(s.treeDone)
		s.tree.Run(tctx)
	}()
	return nil
}

// CheckpointFile is the views' checkpoint in the data folder.
const CheckpointFile = "views.checkpoint.json.gz"

// SnapshotDir holds the views as they stood along the log, for "as of".
const SnapshotDir = "views-history"

// Tree is the log's Merkle tree, as this instance follows it.
func (s *Server) Tree() *logtree.Tree { return s.tree }

// Views is the server's projection runner.
func (s *Server) Views() *projections.Runner { return s.views }

// Run opens a server, serves until ctx is done, and shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	s, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	go func() { _ = s.Serve() }()
	s.log.Info("serving", "url", s.URL())
	select {
	case <-ctx.Done():
	case err := <-s.served:
		s.closeStore()
		return err
	}
	s.log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, s.metrics.instrument(pattern, h)) }
	handle("POST /v1/events", s.authed(s.handlePostEvents))
	handle("GET /v1/events", s.authed(s.handleGetEvents))
	handle("GET /v1/aggregates/{type}/{id}/events", s.authed(s.bounded(s.handleGetAggregate)))
	handle("GET /v1/views/{view}", s.authed(s.handleGetView))
	handle("GET /v1/events/{seq}", s.authed(s.bounded(s.handleGetRecord)))
	handle("GET /v1/events/{seq}/proof", s.authed(s.bounded(s.handleRecordProof)))
	handle("GET /v1/log", s.authed(s.bounded(s.handleLog)))
	handle("GET /v1/log/key", s.authed(s.handleLogKey))
	handle("GET /v1/log/checkpoint", s.authed(s.bounded(s.handleCheckpoint)))
	handle("GET /v1/log/tile/{path...}", s.authed(s.bounded(s.handleTile)))
	handle("GET /v1/log/proof/tree", s.authed(s.bounded(s.handleTreeProof)))
	handle("POST /v1/import", s.authed(s.handleImport))
	handle("GET /healthz", s.handleHealthz)
	handle("GET /readyz", s.handleReadyz)
	mux.Handle("GET /metrics", s.handleMetrics())
	s.site().Routes(handle) // the web pages: GET /, /societies, /aggregates/..., /signin, /static/...
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		badRequest(w, http.StatusNotFound, fmt.Sprintf("no route %s %s; see the API in the README", r.Method, r.URL.Path))
	})
	return mux
}

// bounded gives a read the request's time bound: whatever JetStream does
// (a leader election, say), it is answered within it, with 503 past it.
func (s *Server) bounded(h func(http.ResponseWriter, *http.Request, *Principal)) func(http.ResponseWriter, *http.Request, *Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *Principal) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadBound)
		defer cancel()
		h(w, r.WithContext(ctx), p)
	}
}

// authed resolves the bearer token to a principal or answers 401.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="planledger"`)
			badRequest(w, http.StatusUnauthorized, "no bearer token: send Authorization: Bearer <token>")
			return
		}
		p, ok := s.tokens.Authenticate(token)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="planledger", error="invalid_token"`)
			badRequest(w, http.StatusUnauthorized, "the bearer token is not known")
			return
		}
		h(w, r, p)
	}
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	last, err := s.store.LastSequence(ctx)
	if err != nil {
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable, Detail: "the store is not reachable: " + err.Error()})
		return
	}
	views := s.views.Sequence()
	if last > views+s.cfg.ReadyLag {
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable, Detail: fmt.Sprintf("the views reflect sequence %d; the log is at %d", views, last)})
		return
	}
	body := map[string]any{"status": "ready", "log_sequence": last, "views_sequence": views}
	// Foreign records do not make the ledger unready (it reads past them),
	// but whoever looks is told.
	if f := s.views.Foreign(); f.Total() > 0 {
		body["foreign_records"] = map[string]any{"total": f.Total(), "by_reason": f.Counts, "latest": f.Latest,
			"note": "records in the log this ledger did not write (or copies of its own): never in any view; they stay, marked; run planledger verify for all of them"}
	}
	writeJSON(w, http.StatusOK, body)
}

// logForeign logs each foreign record the views pass over, once; a flood
// is summarised.
func (s *Server) logForeign(rec *domain.Record) {
	n := s.foreignSeen.Add(1)
	if n > maxForeignLogged && n%maxForeignLogged != 0 {
		return
	}
	f := rec.Foreign
	s.log.Warn("foreign record in the log: not written by this ledger; it stays, marked, and counts nowhere",
		"sequence", rec.Sequence, "reason", f.Reason, "nats_subject", f.Subject, "detail", f.Detail, "seen_since_start", n)
}

// maxForeignLogged is how many foreign records are logged one by one;
// past it, one line in that many.
const maxForeignLogged = 1000
