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
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"planledger/cmd/planledger/datadir"
	"planledger/cmd/planledger/ledger"
	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore"
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
	// MaxReplays bounds the rebuilds of the views "as of" running at once
	// (2 if zero); a request waits up to ReplayWait (2 s if zero) for a
	// turn, then gets 503.
	MaxReplays int
	ReplayWait time.Duration
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
	// CORSOrigins may call the API from a browser ("*": any); none if
	// empty.
	CORSOrigins []string
	// TokensReload is how often the tokens file is read again for
	// changes; 1s if zero.
	TokensReload time.Duration
}

// Server is a running ledger: HTTP API, command path and store.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *eventstore.Store
	ledger *ledger.Ledger
	// data is the data folder.
	data   datadir.Dir
	tokens *tokens.Source
	views  *projections.Runner
	ln     net.Listener
	// openapi is the document GET /openapi.json serves.
	openapi []byte
	// promHTTP serves GET /metrics.
	promHTTP http.Handler
	mux      *routeMux

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
	// replays bounds the "as of" rebuilds running at once; limits are the
	// tokens' rates and quotas.
	replays *replayLimiter
	limits  *limiters
}

// Open starts a ledger without serving yet: it listens (so that ":0"
// works), opens the store (taking the data folder's lock), loads or
// creates the tokens, publishes the shipped plan on an empty log and
// catches the views up; Serve serves. The listeners and the lock come
// first, so a start that fails on a busy port or a held folder has
// created no token and appended nothing.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	cfg = withDefaults(cfg)
	s := &Server{cfg: cfg, log: cfg.Logger, served: make(chan error, 1), viewsDone: make(chan struct{}),
		gatherer: cfg.Registry, registerer: cfg.Registry, data: datadir.Dir(cfg.DataDir)}
	s.metrics = newMetrics(cfg.Registry)
	s.replays = newReplayLimiter(cfg.MaxReplays, cfg.ReplayWait)
	s.limits = newLimiters()
	s.promHTTP = promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{Registry: s.registerer})
	ok := false
	defer func() {
		if !ok {
			s.closeStore()
			if s.ln != nil {
				_ = s.ln.Close()
			}
		}
	}()
	var err error
	if s.openapi, err = OpenAPI(); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if s.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	if err := checkListen(cfg.Store.Listen); err != nil {
		return nil, err
	}
	cfg.Store.Logger = cfg.Logger
	if cfg.Store.CachedAggregates == 0 {
		// The store keeps what the command path keeps: a larger cache of
		// heads would only hold memory (an attacker's aggregates too) that
		// the command path reads again on a miss anyway.
		cfg.Store.CachedAggregates = cfg.CacheSize
	}
	if cfg.Store.Key == nil {
		// The ledger proves every record it appends: its key is made on
		// first start, in the data folder unless given.
		cfg.Store.CreateKey = true
		if cfg.Store.KeyFile == "" && cfg.Store.URL != "" {
			cfg.Store.KeyFile = s.data.LogKey()
		}
	}
	if s.store, err = eventstore.Open(ctx, cfg.Store); err != nil {
		return nil, err
	}
	// Never reuse an acknowledged sequence: a log shorter than what the
	// views' checkpoint (or the store's own mark) saw is refused.
	if err := s.store.CheckAcknowledged(ctx, projections.CheckpointCarrier(s.data.ViewsCheckpoint(), s.store)); err != nil {
		return nil, err
	}
	if s.tokens, err = s.openTokens(); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	s.ledger = ledger.New(s.store, ledger.Config{CacheSize: cfg.CacheSize, RetryBudget: cfg.UnavailableRetry,
		SnapshotDir: s.data.AggregateSnapshots(), Logger: s.log, Observe: s.metrics.observeAppend})
	if !cfg.NoShippedPlan {
		if err := s.publishShippedPlan(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.openViews(ctx); err != nil {
		return nil, err
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

func withDefaults(cfg Config) Config {
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
	if cfg.MaxReplays == 0 {
		cfg.MaxReplays = defaultMaxReplays
	}
	if cfg.ReplayWait == 0 {
		cfg.ReplayWait = defaultReplayWait
	}
	if cfg.ReadBound == 0 {
		cfg.ReadBound = 4 * time.Second
	}
	if cfg.TokensReload == 0 {
		cfg.TokensReload = time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	return cfg
}

// checkListen fails early when the embedded server's NATS address is
// taken, before the store touches the data folder.
func checkListen(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--nats-listen %s: %w", addr, err)
	}
	return ln.Close()
}

// openTokens loads the tokens (creating an admin token in the data folder
// on first start without --tokens) and watches the file for changes.
func (s *Server) openTokens() (*tokens.Source, error) {
	path := s.cfg.TokensFile
	if path == "" {
		path = s.data.Tokens()
		token, err := tokens.EnsureAdmin(s.data)
		if err != nil {
			return nil, err
		}
		if token != "" {
			fmt.Fprintf(s.cfg.Out, "Created an admin token; it is shown only now, store it:\n\n  %s\n\nOnly its hash is kept, in %s.\n", token, path)
		}
	}
	return tokens.Watch(path, s.cfg.TokensReload, s.log)
}

// openViews opens the views, registers their metrics, catches them up
// (so that the first reply already reflects the log) and keeps them
// following the log.
func (s *Server) openViews(ctx context.Context) error {
	s.views = projections.NewRunner(s.store, s.log, s.data.ViewsCheckpoint())
	s.views.KeepSnapshots(s.data.ViewsHistory())
	s.views.OnForeign = s.logForeign
	if err := s.views.Open(ctx); err != nil {
		return fmt.Errorf("views: %w", err)
	}
	collector := &viewsCollector{views: s.views, store: s.store}
	if err := s.cfg.Registry.Register(collector); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := s.views.CatchUp(ctx); err != nil {
		return fmt.Errorf("views: %w", err)
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
		return err
	}
	collector.tree = s.tree // before the first scrape: the API is not open yet
	return nil
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
	system := &tokens.Principal{Name: "planledger", Role: tokens.RoleAdmin}
	res, err := s.ledger.Submit(ctx, ledger.Request{Submitter: system.Name, Scope: system, Events: []domain.Submission{sub}})
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

// closeStore stops the views (they write their checkpoint), stops
// watching the tokens file and closes the store.
func (s *Server) closeStore() {
	if s.tokens != nil {
		s.tokens.Close()
		s.tokens = nil
	}
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
	if s.ledger != nil {
		s.ledger.Close()
	}
	if s.store != nil {
		s.store.Close()
		s.store = nil
	}
}

// openTree opens the log's Merkle tree (restored from, and checked
// against, the latest signed checkpoint) and has it follow the log: it
// catches up in the background (on a log that had no tree, a million
// records take seconds), signing a checkpoint within a second of reaching
// the end.
func (s *Server) openTree(ctx context.Context) error {
	var err error
	s.tree, err = logtree.Open(ctx, s.store, logtree.Config{Replicas: s.cfg.Store.Replicas, Timeout: s.cfg.Store.Timeout, Logger: s.log})
	if err != nil {
		return fmt.Errorf("the log's tree: %w", err)
	}
	tctx, stop := context.WithCancel(context.Background())
	s.stopTree, s.treeDone = stop, make(chan struct{})
	go func() {
		defer close(s.treeDone)
		s.tree.Run(tctx)
	}()
	return nil
}

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

func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request, who *tokens.Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"name": who.Name, "role": who.Role, "societies": tokens.SortedKeys(who.Societies)})
}

// bounded gives a read the request's time bound: whatever JetStream does
// (a leader election, say), it is answered within it, with 503 past it.
func (s *Server) bounded(h func(http.ResponseWriter, *http.Request, *tokens.Principal)) func(http.ResponseWriter, *http.Request, *tokens.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *tokens.Principal) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadBound)
		defer cancel()
		h(w, r.WithContext(ctx), p)
	}
}

// authed resolves the bearer token to a principal or answers 401.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *tokens.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="planledger"`)
			problem(w, http.StatusUnauthorized, "no bearer token: send Authorization: Bearer <token>")
			return
		}
		p, ok := s.tokens.Current().Authenticate(token)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="planledger", error="invalid_token"`)
			problem(w, http.StatusUnauthorized, "the bearer token is not known")
			return
		}
		if wait := s.limits.request(p); wait > 0 {
			tooMany(w, wait, fmt.Sprintf("%s sends more than its %g requests a second", p.Name, p.Limits.RequestsPerSecond))
			return
		}
		h(w, r, p)
	}
}

// bearer extracts the token of an Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
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
	if d := s.store.Damage(); len(d) > 0 {
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable, Detail: "the log is damaged, writes are stopped: " + d[0].String()})
		return
	}
	if s.store.DiskLow() {
		free, reserve, _ := s.store.DiskSpace()
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable, Detail: fmt.Sprintf("the data folder has %d bytes free, at the reserve of %d the ledger keeps: appends are refused (507) until space is freed", free, reserve)})
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
