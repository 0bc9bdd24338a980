package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/domain"
	"planledger/eventstore/lockcache"
	"planledger/eventstore/logkey"
	"planledger/eventstore/retry"
)

const (
	// DefaultStream is the name of the one stream that holds the log.
	DefaultStream = "PLANLEDGER"
	// SubjectPrefix starts the subject of every event:
	// planledger.events.<aggregate-type>.<aggregate-id>.
	SubjectPrefix = "planledger.events"
	// DefaultCachedAggregates is how many aggregates the store remembers.
	DefaultCachedAggregates = 100_000
	// MaxBatch is the most events one append may carry: JetStream's limit
	// for an atomic batch.
	MaxBatch = 1000
	// MaxRecordBody is the largest record body: its line (a few hundred
	// bytes more) must fit an entry of a C2SP tlog-tiles entry bundle.
	MaxRecordBody = 64_000
	// DefaultDuplicateWindow is how long JetStream itself remembers message
	// ids. The store's own idempotency holds forever (its id index and the
	// per-aggregate expectations); the window only makes a blind retry
	// cheap, e.g. one a cluster answers "duplicate" after a leader change.
	// JetStream keeps every id of the window in memory (about 100 bytes
	// each), so its cost is the append rate times the window: 10 s is a
	// bounded ~40 MB even at 40,000 appends a second, where JetStream's
	// default of 2 minutes would hold 4.8 million ids.
	DefaultDuplicateWindow = 10 * time.Second
)

// Config says where the log lives. With URL empty the store runs an embedded
// server on DataDir; otherwise it connects to an existing server or cluster.
type Config struct {
	// DataDir is the embedded server's folder (embedded mode).
	DataDir string
	// Listen, if set, opens a TCP listener on the embedded server so that the
	// nats CLI can inspect the stream ("127.0.0.1:4222").
	Listen string

	// URL is one or more comma-separated NATS URLs (external mode).
	URL string
	// CredsFile, TLSCA, TLSCert and TLSKey authenticate to an external server.
	CredsFile string
	TLSCA     string
	TLSCert   string
	TLSKey    string
	// User and Password, if set, authenticate to an external server.
	User, Password string

	// Replicas is the stream's replica count on creation; 0 means 1. An
	// existing stream with another count is an error.
	Replicas int
	// Stream names the stream; DefaultStream if empty.
	Stream string
	// DuplicateWindow is JetStream's dedupe window on creation.
	DuplicateWindow time.Duration
	// Timeout bounds each request to JetStream; 5s if zero.
	Timeout time.Duration
	// CachedAggregates bounds the aggregates whose last sequence and event
	// ids the store keeps in memory; DefaultCachedAggregates if zero. One
	// forgotten is read again from the stream when next appended to.
	CachedAggregates int
	// GroupCommit is how many appends must be in flight before they are
	// gathered into shared atomic batches; 0 adapts it to the measured
	// costs of single publishes and batches, a negative number turns group
	// commit off.
	GroupCommit int
	// Audit opens a stream even if it is weaker than immutable or has
	// holes, so that verify can report what is wrong instead of refusing.
	// Nothing else should set it.
	Audit bool
	// WatchInterval is how often the stream's state is checked for holes
	// and the acknowledged mark stored; DefaultWatchInterval if zero.
	WatchInterval time.Duration
	// ScrubDelay and ScrubInterval time the reads of the whole log that
	// find records which no longer read; DefaultScrubDelay and
	// DefaultScrubInterval if zero, no scrub if ScrubInterval is negative.
	ScrubDelay, ScrubInterval time.Duration
	// DiskReserve is the free space (bytes) under which an embedded store
	// refuses appends; DefaultDiskReserve if zero, none if negative.
	DiskReserve int64
	// Key is the ledger's log key: appends carry its proof, and a record
	// without it is foreign. Without a key the store reads without
	// checking proofs and cannot append.
	Key *logkey.Key
	// KeyFile, if Key is nil, is where the key is read from (embedded:
	// DataDir/log.key if empty). If it does not exist, CreateKey makes one
	// (refusing a log whose records carry another key's proofs); otherwise
	// the store has no key.
	KeyFile   string
	CreateKey bool

	Logger *slog.Logger
}

// faultDefaults fills in the settings of the watch, the scrub and the
// disk reserve.
func (c Config) faultDefaults() Config {
	if c.WatchInterval == 0 {
		c.WatchInterval = DefaultWatchInterval
	}
	if c.ScrubDelay == 0 {
		c.ScrubDelay = DefaultScrubDelay
	}
	if c.ScrubInterval == 0 {
		c.ScrubInterval = DefaultScrubInterval
	}
	if c.DiskReserve == 0 {
		c.DiskReserve = DefaultDiskReserve
	}
	return c
}

func (c Config) stream() string {
	if c.Stream == "" {
		return DefaultStream
	}
	return c.Stream
}

// Store is the ledger's log. It is safe for concurrent use.
type Store struct {
	cfg    Config
	log    *slog.Logger
	emb    *embedded
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string

	// replicated says the stream has replicas that may lag its leader.
	replicated bool
	// codec tells the ledger's records from foreign ones.
	codec codec

	mu   sync.Mutex
	aggs *lockcache.Cache[domain.Ref, aggState]

	// Group commit: appends in flight, and the committer's queue.
	inflight       atomic.Int64
	fixedThreshold int
	costs          costs
	jobs           chan *commitJob
	stopCommitter  chan struct{}
	committerDone  chan struct{}
	groupedBatches atomic.Uint64

	// tail follows the log for the recorded times of appends; the counts
	// say how many appends took them from it, and how many read them back.
	// The same consumer feeds every follower of the log (feed.go).
	tail     *tail
	feed     *feed
	fromTail atomic.Uint64
	readBack atomic.Uint64
	stopTail context.CancelFunc
	tailDone chan struct{}

	// created is the stream's creation time: its identity beside its name.
	created time.Time
	// acked is the highest sequence known acknowledged; the watch stores
	// it in the mark bucket (markStored is what it stored last).
	acked       atomic.Uint64
	markStored  uint64
	markFailing atomic.Bool
	kv          jetstream.KeyValue
	damageMu    sync.Mutex
	damage      []Damage
	stopWatch   context.CancelFunc
	watchDone   sync.WaitGroup
	// restartFailing and jsRestarts follow the embedded JetStream's
	// restarts after a full disk.
	restartFailing atomic.Bool
	jsRestarts     atomic.Uint64
	// batches remembers which batches the log holds whole or torn;
	// batchWatch tells it of those the tail reads.
	batches    batchCache
	batchWatch batchWatch
}

// Open connects to (or starts) the JetStream server and makes sure the
// stream exists with an immutable configuration.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	s := &Store{cfg: cfg, log: cfg.Logger, name: cfg.stream(), aggs: lockcache.New[domain.Ref, aggState](cfg.CachedAggregates, domain.CompareRefs, nil, 0),
		codec: codec{key: cfg.Key}}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.connect(); err != nil {
		return nil, err
	}
	if err := s.ensureStream(ctx); err != nil {
		return nil, err
	}
	if cfg.Key == nil && cfg.KeyFile != "" {
		var err error
		if s.codec.key, err = s.openKey(ctx); err != nil {
			return nil, err
		}
	}
	if !cfg.Audit {
		if err := s.startFollowing(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.GroupCommit >= 0 {
		s.startCommitter()
	}
	ok = true
	return s, nil
}

// withDefaults fills in what the caller left zero.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.CachedAggregates == 0 {
		c.CachedAggregates = DefaultCachedAggregates
	}
	if c.Key == nil && c.KeyFile == "" && c.URL == "" && c.DataDir != "" {
		c.KeyFile = filepath.Join(c.DataDir, logkey.FileName)
	}
	return c.faultDefaults()
}

// connect starts the embedded server (with no URL) and connects to it, or
// to the URL's server or cluster.
func (s *Store) connect() error {
	opts := []nats.Option{
		nats.Name("planledger"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// No buffering while reconnecting: a publish the client buffered
		// could land after the append was answered "unavailable".
		nats.ReconnectBufSize(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.log.Warn("nats async error", "err", err)
		}),
	}
	url := s.cfg.URL
	if url == "" {
		if s.cfg.DataDir == "" {
			return errors.New("eventstore: neither a data folder nor a NATS URL given")
		}
		emb, err := startEmbedded(s.cfg, s.log)
		if err != nil {
			return err
		}
		s.emb = emb
		opts = append(opts, nats.InProcessServer(emb.srv), nats.UserInfo(LedgerUser, emb.password))
	} else {
		opts = append(opts, s.cfg.authOptions()...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return domain.Errorf(domain.KindUnavailable, "connect to NATS at %s: %w", displayURL(url), err)
	}
	s.nc = nc
	if s.js, err = jetstream.New(nc, jetstream.WithDefaultTimeout(s.cfg.Timeout)); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// authOptions authenticate to an external server.
func (c Config) authOptions() []nats.Option {
	var opts []nats.Option
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts
}

// startFollowing starts the tail from the log's end, checks the log
// against the acknowledged marks, and starts the watch.
func (s *Store) startFollowing(ctx context.Context) error {
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	s.tail = newTail()
	s.feed = newFeed(last + 1)
	tctx, stop := context.WithCancel(context.Background())
	s.stopTail, s.tailDone = stop, make(chan struct{})
	go func() {
		defer close(s.tailDone)
		s.runTail(tctx, last+1)
	}()
	if err := s.CheckAcknowledged(ctx); err != nil {
		return err
	}
	s.startWatch()
	return nil
}

// startCommitter starts group commit (commit.go).
func (s *Store) startCommitter() {
	s.fixedThreshold = s.cfg.GroupCommit
	s.costs.init()
	s.jobs = make(chan *commitJob, 4*MaxBatch)
	s.stopCommitter = make(chan struct{})
	s.committerDone = make(chan struct{})
	go s.runCommitter(s.stopCommitter)
}

// Key is the log key the store proves and checks records with; nil if it
// has none.
func (s *Store) Key() *logkey.Key { return s.codec.key }

// openKey reads the key file, or makes it when asked to.
func (s *Store) openKey(ctx context.Context) (*logkey.Key, error) {
	if !s.cfg.CreateKey {
		k, err := logkey.Load(s.cfg.KeyFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return k, err
	}
	k, created, err := logkey.LoadOrCreate(s.cfg.KeyFile, func() (uint64, error) { return s.legacyRange(ctx) })
	if created {
		s.log.Info("created the log key; every instance of this ledger needs this file, keep it secret and back it up",
			"file", s.cfg.KeyFile, "origin", k.Origin, "records_before_proofs", k.LegacyThrough)
	}
	return k, err
}

// legacyRange is the log's last sequence, for a new key: the records so
// far were written before this ledger made proofs. A record that carries
// a proof was written with another key: then this instance was not given
// the ledger's key file, and making a new one would call the ledger's
// own records foreign.
func (s *Store) legacyRange(ctx context.Context) (uint64, error) {
	last, err := s.LastSequence(ctx)
	if err != nil {
		return 0, err
	}
	var proven uint64
	err = s.EachRaw(ctx, 1, func(r *Raw) error {
		if r.Header.Get(HeaderMAC) != "" {
			proven = r.Sequence
			return ErrStop
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("look for record proofs in the log: %w", err)
	}
	if proven != 0 {
		return 0, fmt.Errorf("no log key at %s, but the log's records carry proofs made with a key (sequence %d has one): give this instance the ledger's key file (--log-key FILE, the log.key of the instance that wrote them); a new key would call the ledger's own records foreign", s.cfg.KeyFile, proven)
	}
	return last, nil
}

func displayURL(u string) string {
	if u == "" {
		return "the embedded server"
	}
	return u
}

// Close closes the connection and stops the embedded server, if any. The
// caller stops appending first.
func (s *Store) Close() {
	if s.stopWatch != nil {
		s.stopWatch()
		s.watchDone.Wait()
		s.stopWatch = nil
	}
	if s.stopTail != nil {
		s.stopTail()
		<-s.tailDone
		s.stopTail = nil
	}
	if s.stopCommitter != nil {
		close(s.stopCommitter)
		<-s.committerDone
		s.stopCommitter = nil
	}
	if s.nc != nil {
		_ = s.nc.FlushTimeout(time.Second)
		s.nc.Close()
		s.nc = nil
	}
	if s.emb != nil {
		s.emb.close()
		s.emb = nil
	}
}

// RecordedTimeSources counts the recorded-time lookups (one per append, or
// per shared batch of group commit) answered from the store's tail of the
// log, and those that read the messages back because the tail had not
// delivered them in time.
func (s *Store) RecordedTimeSources() (fromTail, readBack uint64) {
	return s.fromTail.Load(), s.readBack.Load()
}

// GroupedBatches counts the atomic batches the committer has formed from
// several appends.
func (s *Store) GroupedBatches() uint64 { return s.groupedBatches.Load() }

// JetStream returns the store's JetStream context.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// StreamName returns the name of the log's stream.
func (s *Store) StreamName() string { return s.name }

// LedgerPassword is the ledger user's password on the embedded server: it
// never leaves the process, but another store in it (a test's second
// instance) may connect with it over the server's TCP listener.
func (s *Store) LedgerPassword() string {
	if s.emb == nil {
		return ""
	}
	return s.emb.password
}

// ClientURL returns the embedded server's client URL when it listens on TCP.
func (s *Store) ClientURL() string {
	if s.emb == nil || s.cfg.Listen == "" {
		return ""
	}
	return s.emb.srv.ClientURL()
}

// desiredConfig is the stream's configuration when the store creates it.
func (s *Store) desiredConfig() jetstream.StreamConfig {
	replicas := s.cfg.Replicas
	if replicas == 0 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:               s.name,
		Description:        "planledger: the immutable log of plan activities",
		Subjects:           []string{SubjectPrefix + ".>"},
		Retention:          jetstream.LimitsPolicy,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgsPerSubject:  -1,
		Discard:            jetstream.DiscardNew,
		Storage:            jetstream.FileStorage,
		Replicas:           replicas,
		Duplicates:         s.cfg.DuplicateWindow,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowRollup:        false,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// ensureStream creates the stream, or checks that the one found is as
// immutable as the ledger needs. It never weakens or "repairs" a stream.
func (s *Store) ensureStream(ctx context.Context) error {
	stream, err := OpenStream(ctx, s.js, s.desiredConfig(), s.cfg.Timeout)
	if err != nil {
		if isUnavailable(err) {
			return domain.Errorf(domain.KindUnavailable, "open stream %s: JetStream did not answer: %w", s.name, err)
		}
		return fmt.Errorf("open stream %s: %w", s.name, err)
	}
	if problems := CheckStreamConfig(stream.CachedInfo().Config, s.cfg.Replicas); len(problems) > 0 && !s.cfg.Audit {
		return fmt.Errorf("stream %s is not safe for a ledger, refusing to start:\n  - %s\nfix the stream with the nats CLI (or point --stream at another one); the ledger never weakens or repairs a stream by itself",
			s.name, strings.Join(problems, "\n  - "))
	}
	s.stream = stream
	s.created = stream.CachedInfo().Created
	s.replicated = stream.CachedInfo().Config.Replicas > 1
	ictx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	info, err := stream.Info(ictx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return s.readErr(fmt.Errorf("stream info: %w", err))
	}
	if s.cfg.Audit {
		return nil
	}
	return s.checkWhole(info.State)
}

// OpenStream returns the stream want names, creating it as want says if
// there is none (the one found may differ: check its configuration). A
// cluster's meta leader may take seconds to be elected, and until then
// requests get no answer (at once, when nobody listens yet): while
// JetStream does not answer it tries again, pausing between tries of at
// most timeout each, for up to four timeouts.
func OpenStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, timeout time.Duration) (jetstream.Stream, error) {
	var stream jetstream.Stream
	p := retry.Policy{Initial: 100 * time.Millisecond, Max: time.Second, Budget: 4 * timeout, Retryable: isUnavailable}
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var err error
		stream, err = js.Stream(actx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			stream, err = js.CreateStream(actx, want)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				stream, err = js.Stream(actx, want.Name)
			}
		}
		return err
	})
	return stream, err
}

// CheckStreamConfig lists every way cfg falls short of an immutable,
// durable, unlimited log. replicas, if not 0, is the replica count wanted.
func CheckStreamConfig(cfg jetstream.StreamConfig, replicas int) []string {
	var p []string
	if !cfg.DenyDelete {
		p = append(p, "deny_delete is off: single messages could be deleted")
	}
	if !cfg.DenyPurge {
		p = append(p, "deny_purge is off: the stream could be purged")
	}
	if cfg.AllowRollup {
		p = append(p, "allow_rollup_hdrs is on: a rollup message would purge earlier events")
	}
	if cfg.Retention != jetstream.LimitsPolicy {
		p = append(p, fmt.Sprintf("retention is %s: only limits retention keeps every message", cfg.Retention))
	}
	if cfg.MaxAge != 0 {
		p = append(p, fmt.Sprintf("max_age is %s: events would expire", cfg.MaxAge))
	}
	if cfg.MaxMsgs > 0 {
		p = append(p, fmt.Sprintf("max_msgs is %d: the log would be capped", cfg.MaxMsgs))
	}
	if cfg.MaxBytes > 0 {
		p = append(p, fmt.Sprintf("max_bytes is %d: the log would be capped", cfg.MaxBytes))
	}
	if cfg.MaxMsgsPerSubject > 0 {
		p = append(p, fmt.Sprintf("max_msgs_per_subject is %d: an aggregate's history would be cut", cfg.MaxMsgsPerSubject))
	}
	if cfg.AllowMsgTTL {
		p = append(p, "allow_msg_ttl is on: events with a TTL header would expire")
	}
	if cfg.SubjectDeleteMarkerTTL != 0 {
		p = append(p, "subject_delete_marker_ttl is set: it turns purges and rollups back on")
	}
	if cfg.AllowMsgSchedules {
		p = append(p, "allow_msg_schedules is on: it turns purges and rollups back on")
	}
	if cfg.AllowMsgCounter {
		p = append(p, "allow_msg_counter is on: counter streams are not logs")
	}
	if cfg.Storage != jetstream.FileStorage {
		p = append(p, "storage is memory: events would not survive a restart")
	}
	if cfg.PersistMode != jetstream.DefaultPersistMode {
		p = append(p, "persist_mode is async: acknowledged events could be lost")
	}
	if cfg.Sealed {
		p = append(p, "the stream is sealed: nothing can be appended")
	}
	if cfg.Mirror != nil || len(cfg.Sources) > 0 {
		p = append(p, "the stream mirrors or sources another: its sequence would not be the ledger's")
	}
	if cfg.SubjectTransform != nil {
		p = append(p, "the stream transforms subjects")
	}
	if !cfg.AllowAtomicPublish {
		p = append(p, "allow_atomic is off: batches could not be appended all-or-nothing")
	}
	if !cfg.AllowDirect {
		p = append(p, "allow_direct is off: aggregate heads could not be read directly")
	}
	wantSubj := SubjectPrefix + ".>"
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != wantSubj {
		p = append(p, fmt.Sprintf("subjects are %v; want exactly [%s]", cfg.Subjects, wantSubj))
	}
	if replicas != 0 && cfg.Replicas != replicas {
		p = append(p, fmt.Sprintf("the stream has %d replicas; --replicas asks for %d (change it with `nats stream edit --replicas`)", cfg.Replicas, replicas))
	}
	return p
}

// IsUnavailable reports whether err means JetStream did not answer, so the
// outcome of a request is unknown or it was never sent.
func IsUnavailable(err error) bool { return isUnavailable(err) }

// IsExpectationFailed reports whether JetStream refused a publish because
// an expectation did not hold (a wrong last sequence, on one server or a
// cluster).
func IsExpectationFailed(err error) bool {
	return isAPICode(err, codeWrongLastSequence, codeExpectationMismatch)
}

func isUnavailable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionDraining) ||
		errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		isAPICode(err, 10008) // JetStream system temporarily unavailable
}

func isAPICode(err error, codes ...jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	for _, c := range codes {
		if apiErr.ErrorCode == c {
			return true
		}
	}
	return false
}
