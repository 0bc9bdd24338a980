package server

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

// metrics are the service's own: appends, rejections, HTTP. The plan's
// progress and compliance come from viewsCollector, read from the live
// views at each scrape.
type metrics struct {
	appended      *prometheus.CounterVec
	appendSeconds prometheus.Histogram
	batchEvents   prometheus.Histogram
	requests      *prometheus.CounterVec
	requestSecs   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "planledger_events_appended_total", Help: "Events appended to the log, by event type.",
		}, []string{"type"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "planledger_append_duration_seconds", Help: "Time to append one request's events to JetStream, fsync included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "planledger_append_batch_events", Help: "Events per append (1 for a single event, up to 1000 for a batch).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "planledger_http_requests_total", Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
		requestSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "planledger_http_request_duration_seconds", Help: "HTTP request latency, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(m.appended, m.appendSeconds, m.batchEvents, m.requests, m.requestSecs, rejections{m.requests})
	return m
}

// instrument counts and times a route; pattern is its label.
func (m *metrics) instrument(pattern string, h http.Handler) http.Handler {
	route := prometheus.Labels{"route": pattern}
	return promhttp.InstrumentHandlerDuration(m.requestSecs.MustCurryWith(route),
		promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(route), h))
}

// routePostEvents is the route whose refusals
// planledger_appends_rejected_total counts.
const routePostEvents = "POST /v1/events"

// rejections is planledger_appends_rejected_total, read at each scrape
// from the requests POST /v1/events answered with 400 or above, by
// reason; every reason is there from the start, so rate() works.
type rejections struct{ requests *prometheus.CounterVec }

var descRejected = prometheus.NewDesc("planledger_appends_rejected_total", "POST /v1/events requests refused, by reason.", []string{"reason"}, nil)

func (r rejections) Describe(ch chan<- *prometheus.Desc) { ch <- descRejected }

func (r rejections) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]float64{}
	for _, reason := range rejectionReasons {
		counts[reason] = 0
	}
	requests := make(chan prometheus.Metric)
	go func() {
		r.requests.Collect(requests)
		close(requests)
	}()
	for m := range requests {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			continue
		}
		var route, code string
		for _, l := range pb.GetLabel() {
			switch l.GetName() {
			case "route":
				route = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		if status, err := strconv.Atoi(code); err == nil && route == routePostEvents && status >= 400 {
			counts[rejectionReason(status)] += pb.GetCounter().GetValue()
		}
	}
	for reason, n := range counts {
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, n, reason)
	}
}

// rejectionReasons are the values of planledger_appends_rejected_total's
// reason label: one per way a POST can fail.
var rejectionReasons = []string{"bad_request", "unauthorized", "forbidden", "too_large", "unsupported_media_type", "invalid", "conflict", "unavailable", "internal", "insufficient_storage", "rate_limited"}

func rejectionReason(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "invalid"
	case http.StatusConflict:
		return "conflict"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusInsufficientStorage:
		return "insufficient_storage"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	return "internal"
}

// observeAppend records one successful store append.
func (m *metrics) observeAppend(took time.Duration, res eventstore.Result) {
	m.appendSeconds.Observe(took.Seconds())
	m.batchEvents.Observe(float64(len(res.Records)))
	if res.Duplicate {
		return
	}
	for i := range res.Records {
		m.appended.WithLabelValues(res.Records[i].Type).Inc()
	}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.promHTTP.ServeHTTP(w, r)
}

// viewsCollector turns the live views into gauges at each scrape, so the
// gauges are always those of the views, across restarts too.
type viewsCollector struct {
	tree  *logtree.Tree
	views *projections.Runner
	store *eventstore.Store
}

var (
	descProgramTarget    = prometheus.NewDesc("planledger_program_target", "The plan in force's target for a programme (where it sets one).", []string{"program"}, nil)
	descProgramDelivered = prometheus.NewDesc("planledger_program_delivered", "What a programme delivered in the year of the plan in force.", []string{"program"}, nil)
	descProgramProgress  = prometheus.NewDesc("planledger_program_progress_ratio", "Delivered over target, for programmes with a target.", []string{"program"}, nil)
	descSocieties        = prometheus.NewDesc("planledger_party_coverage_societies", "Provincial societies, associations and research societies (municipal associations not counted).", nil, nil)
	descWithParty        = prometheus.NewDesc("planledger_party_coverage_with_organization", "Of those, societies with a party organisation.", nil, nil)
	descCoverage         = prometheus.NewDesc("planledger_party_coverage_ratio", "Share of societies with a party organisation.", nil, nil)
	descRatio            = prometheus.NewDesc("planledger_leadership_societies", "Societies by leadership-ratio (三三三一) status.", []string{"status"}, nil)
	descMembers          = prometheus.NewDesc("planledger_leadership_members", "Members of all current leadership bodies, by sector.", []string{"sector"}, nil)
	descReelections      = prometheus.NewDesc("planledger_reelection_societies", "Societies by state of their term of office, against today.", []string{"state"}, nil)
	descDecisions        = prometheus.NewDesc("planledger_decisions", "Major decisions by stage of 三议一公布.", []string{"stage"}, nil)
	descTeams            = prometheus.NewDesc("planledger_volunteer_teams", "Volunteer service teams formed.", nil, nil)
	descDeliveries       = prometheus.NewDesc("planledger_volunteer_deliveries", "Service deliveries by all teams.", nil, nil)
	descServiceTime      = prometheus.NewDesc("planledger_volunteer_service_seconds", "Volunteer time of all deliveries, recorded in hours, exported in seconds.", nil, nil)
	descBeneficiaries    = prometheus.NewDesc("planledger_volunteer_beneficiaries", "Beneficiaries of all deliveries.", nil, nil)
	descConferences      = prometheus.NewDesc("planledger_conferences", "Conferences, forums and platforms registered.", nil, nil)
	descSessions         = prometheus.NewDesc("planledger_conference_sessions", "Conference sessions held.", nil, nil)
	descAttendees        = prometheus.NewDesc("planledger_conference_attendees", "Attendees of all conference sessions.", nil, nil)
	descViewsSeq         = prometheus.NewDesc("planledger_views_sequence", "Log position the views reflect.", nil, nil)
	descLogSeq           = prometheus.NewDesc("planledger_log_sequence", "Last sequence of the log.", nil, nil)
	descLag              = prometheus.NewDesc("planledger_views_lag_events", "Events in the log the views have not applied yet.", nil, nil)
	descStoreUp          = prometheus.NewDesc("planledger_store_up", "1 if the store answered this scrape, else 0.", nil, nil)
	descGrouped          = prometheus.NewDesc("planledger_group_commit_batches_total", "Atomic batches group commit formed from several appends.", nil, nil)
	descForeign          = prometheus.NewDesc("planledger_foreign_records_total", "Records in the log this ledger did not write (or copies of its own), by reason: never in any view; they stay in the log, marked.", []string{"reason"}, nil)
	descForeignLast      = prometheus.NewDesc("planledger_foreign_record_last_sequence", "Sequence of the latest foreign record in the log, 0 if there is none.", nil, nil)
	descTreeSize         = prometheus.NewDesc("planledger_tree_size", "Leaves of the log's Merkle tree this instance has computed (one per record).", nil, nil)
	descCheckpointSize   = prometheus.NewDesc("planledger_checkpoint_size", "Tree size of the latest signed checkpoint.", nil, nil)
	descCheckpointAge    = prometheus.NewDesc("planledger_checkpoint_age_seconds", "Time since the latest checkpoint was signed (by any instance); 0 until the first is.", nil, nil)
	descTreeConflicts    = prometheus.NewDesc("planledger_tree_conflicts_total", "Checkpoints or tiles stored with other hashes than this instance's tree: instances disagree about the log, or its tree's streams were written behind the ledger's back.", nil, nil)
	descDiskFree         = prometheus.NewDesc("planledger_disk_free_bytes", "Free space in the data folder of the embedded store.", nil, nil)
	descDiskReserve      = prometheus.NewDesc("planledger_disk_reserve_bytes", "Free space the embedded store keeps: appends are refused (507) below it.", nil, nil)
	descDamage           = prometheus.NewDesc("planledger_log_missing_records", "Acknowledged records the log is known to have lost (holes, a short tail): writes are stopped while it is above 0.", nil, nil)
	descRecordedTimes    = prometheus.NewDesc("planledger_recorded_times_total", "Recorded-time lookups (one per append, or per shared batch of group commit) by where the times came from: the store's tail of the log, or reading the messages back.", []string{"source"}, nil)
)

func (c *viewsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProgramTarget, descProgramDelivered, descProgramProgress, descSocieties, descWithParty, descCoverage,
		descRatio, descMembers, descReelections, descDecisions, descTeams, descDeliveries, descServiceTime, descBeneficiaries, descConferences,
		descSessions, descAttendees, descViewsSeq, descLogSeq, descLag, descStoreUp, descGrouped, descRecordedTimes, descForeign, descForeignLast, descTreeSize, descCheckpointSize, descCheckpointAge, descTreeConflicts, descDamage, descDiskFree, descDiskReserve} {
		ch <- d
	}
}

// emit sends const metrics to a scrape.
type emit chan<- prometheus.Metric

func (ch emit) gauge(d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (ch emit) counter(d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func (c *viewsCollector) Collect(ch chan<- prometheus.Metric) {
	e := emit(ch)
	f := c.readViews(time.Now())
	f.emit(e)
	c.collectTree(e)
	c.collectStore(e, f.seq)
}

// viewFigures are what the metrics show of the live views, read at once.
type viewFigures struct {
	programs  projections.ProgramsView
	coverage  projections.PartyCoverageView
	ratio     projections.LeadershipRatioView
	terms     projections.ReelectionsView
	decisions projections.DecisionsView
	teams     projections.VolunteerServicesView
	confs     projections.ConferencesView
	members   map[string]int
	seq       uint64
	foreign   map[domain.ForeignReason]uint64
	lastAlien uint64
}

func (c *viewsCollector) readViews(now time.Time) viewFigures {
	f := viewFigures{members: map[string]int{}}
	c.views.Read(func(v *projections.Views) {
		f.programs, f.coverage, f.ratio, f.terms = v.Programs(now), v.PartyCoverage(), v.LeadershipRatio(now), v.Reelections(now)
		f.decisions, f.teams, f.confs = v.Decisions(), v.VolunteerServices(), v.Conferences()
		for _, s := range v.Summaries {
			if s.Society != nil && s.Exists() {
				for _, m := range s.Society.Leadership {
					f.members[m.Sector]++
				}
			}
		}
		f.seq = v.Sequence
		f.foreign = maps.Clone(v.Foreign.Counts)
		if n := len(v.Foreign.Latest); n > 0 {
			f.lastAlien = v.Foreign.Latest[n-1].Sequence
		}
	})
	return f
}

func (f *viewFigures) emit(e emit) {
	for _, p := range f.programs.Programs {
		e.gauge(descProgramDelivered, float64(p.Delivered), p.Program)
		if p.Target != nil {
			e.gauge(descProgramTarget, float64(*p.Target), p.Program)
		}
		if p.Progress != nil {
			e.gauge(descProgramProgress, *p.Progress, p.Program)
		}
	}
	e.gauge(descSocieties, float64(f.coverage.Societies))
	e.gauge(descWithParty, float64(f.coverage.WithPartyOrganization))
	e.gauge(descCoverage, f.coverage.Ratio)
	for status, n := range f.ratio.Counts {
		e.gauge(descRatio, float64(n), status)
	}
	for _, sector := range []domain.Sector{domain.SectorUniversity, domain.SectorResearchInstitute, domain.SectorEnterprise, domain.SectorGovernment, domain.SectorOther} {
		e.gauge(descMembers, float64(f.members[string(sector)]), string(sector))
	}
	for state, n := range f.terms.Counts {
		e.gauge(descReelections, float64(n), state)
	}
	for stage, n := range f.decisions.Counts {
		e.gauge(descDecisions, float64(n), stage)
	}
	e.gauge(descTeams, float64(f.teams.Totals.Teams))
	e.gauge(descDeliveries, float64(f.teams.Totals.Deliveries))
	e.gauge(descServiceTime, f.teams.Totals.Hours*3600)
	e.gauge(descBeneficiaries, float64(f.teams.Totals.Beneficiaries))
	e.gauge(descConferences, float64(f.confs.Totals.Conferences))
	e.gauge(descSessions, float64(f.confs.Totals.Sessions))
	e.gauge(descAttendees, float64(f.confs.Totals.Attendees))
	e.gauge(descViewsSeq, float64(f.seq))
	for _, reason := range domain.ForeignReasons {
		e.counter(descForeign, f.foreign[reason], string(reason))
	}
	e.gauge(descForeignLast, float64(f.lastAlien))
}

func (c *viewsCollector) collectTree(e emit) {
	if c.tree == nil {
		return
	}
	e.gauge(descTreeSize, float64(c.tree.Size()))
	e.counter(descTreeConflicts, c.tree.Conflicts.Load())
	cp, _, at, ok := c.tree.Latest()
	age := 0.0 // until the first checkpoint is signed
	if ok {
		age = time.Since(at).Seconds()
	}
	e.gauge(descCheckpointSize, float64(cp.Size))
	e.gauge(descCheckpointAge, age)
}

// collectStore reports the store's figures, and how far the views at
// sequence seq trail the log.
func (c *viewsCollector) collectStore(e emit, seq uint64) {
	fromTail, readBack := c.store.RecordedTimeSources()
	e.counter(descRecordedTimes, fromTail, "tail")
	e.counter(descRecordedTimes, readBack, "read_back")
	e.counter(descGrouped, c.store.GroupedBatches())
	var missing uint64
	for _, d := range c.store.Damage() {
		missing += d.To - d.From + 1
	}
	e.gauge(descDamage, float64(missing))
	if free, reserve, ok := c.store.DiskSpace(); ok {
		e.gauge(descDiskFree, float64(free))
		e.gauge(descDiskReserve, float64(reserve))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	last, err := c.store.LastSequence(ctx)
	if err != nil {
		e.gauge(descStoreUp, 0)
		return
	}
	e.gauge(descStoreUp, 1)
	e.gauge(descLogSeq, float64(last))
	lag := 0.0
	if last > seq {
		lag = float64(last - seq)
	}
	e.gauge(descLag, lag)
}
