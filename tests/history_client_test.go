package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"planledger/domain"
)

// The history checker's clients: each runs a random mix of operations
// against the ledger's API and records, for each, when it was called,
// when it returned and what it returned. An append whose outcome is
// unknown (a timeout, a dropped connection, 503, 507) is retried with the
// same ids until it gets an answer or its client gives up; its
// operation's outcome stays unknown then, and the final log says.

// opKind is what an operation did.
type opKind int

const (
	opAppend opKind = iota // one event, or a batch across aggregates
	opRead                 // an aggregate's history
)

// histOp is one operation of the history.
type histOp struct {
	client       int
	kind         opKind
	call, ret    int64 // nanoseconds since the run's start
	aggregates   []string
	ids          []string          // event ids, one per event
	of           []string          // each event's aggregate
	expected     map[string]uint64 // an expectedversion given, per aggregate
	status       int               // the final HTTP status; 0 if none came
	tries        int
	recs         []domain.Record // the records a 201 or 200 returned
	readVersion  uint64          // a read's version
	conflictWith uint64          // a 409's current_version
}

// unknown says the append's outcome was never learnt.
func (o *histOp) unknown() bool {
	return o.kind == opAppend && o.status != 201 && o.status != 200 && o.status != 409
}

// endpoint is where the clients reach the ledger; the nemesis changes it
// when it starts the ledger again.
type endpoint struct{ url atomic.Pointer[string] }

func (e *endpoint) set(u string) { e.url.Store(&u) }
func (e *endpoint) get() string  { return *e.url.Load() }

// history is what the clients recorded.
type history struct {
	mu    sync.Mutex
	ops   []*histOp
	start time.Time
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(o *histOp) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

// histClient is one client of the run.
type histClient struct {
	id     int
	rnd    *rand.Rand
	ep     *endpoint
	h      *history
	http   *http.Client
	teams  []string
	seen   map[string]uint64 // the latest version this client saw per aggregate
	nextID int
}

// run does operations until stop closes.
func (c *histClient) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		o := c.nextOp()
		if o.kind == opRead {
			c.read(o, stop)
		} else {
			c.append(o, stop)
		}
		c.h.add(o)
	}
}

// nextOp draws the next operation: an append of one event without or
// with an expectation, a batch across aggregates, or a read.
func (c *histClient) nextOp() *histOp {
	o := &histOp{client: c.id, expected: map[string]uint64{}}
	team := c.teams[c.rnd.IntN(len(c.teams))]
	switch p := c.rnd.IntN(100); {
	case p < 25:
		o.kind, o.aggregates = opRead, []string{team}
		return o
	case p < 45:
		o.expected[team] = c.seen[team]
		fallthrough
	case p < 80:
		o.aggregates = []string{team}
	default:
		other := c.teams[c.rnd.IntN(len(c.teams))]
		o.aggregates = []string{team}
		if other != team {
			o.aggregates = append(o.aggregates, other)
		}
	}
	for _, agg := range o.aggregates {
		for k := 0; k < 1+c.rnd.IntN(3); k++ {
			c.nextID++
			o.ids = append(o.ids, fmt.Sprintf("c%d-%d", c.id, c.nextID))
			o.of = append(o.of, agg)
		}
	}
	return o
}

// body is the request of an append: one event, or a batch.
func (c *histClient) body(o *histOp) (string, []byte) {
	evs := make([]string, len(o.ids))
	first := map[string]bool{}
	for i, id := range o.ids {
		extra := ""
		if exp, ok := o.expected[o.of[i]]; ok && !first[o.of[i]] {
			extra = fmt.Sprintf(`,"expectedversion":%d`, exp)
		}
		first[o.of[i]] = true
		evs[i] = ev(id, "service_team.service_delivered", "service_team/"+o.of[i], deliveryJSON, extra)
	}
	if len(evs) == 1 {
		return "application/cloudevents+json", []byte(evs[0])
	}
	return "application/cloudevents-batch+json", []byte("[" + strings.Join(evs, ",") + "]")
}

// append sends an append until it gets an answer (201, 200, 409, or
// another client error) or the run stops; an unknown outcome is retried
// with the same ids.
func (c *histClient) append(o *histOp, stop <-chan struct{}) {
	ct, body := c.body(o)
	o.call = c.h.now()
	defer func() { o.ret = c.h.now() }()
	for o.tries < 60 {
		o.tries++
		status, reply := c.do("POST", "/v1/events", ct, body)
		o.status = status
		switch {
		case status == 201 || status == 200:
			o.recs = decodeRecords(reply, len(o.ids) > 1)
			for _, r := range o.recs {
				c.seen[strings.TrimPrefix(r.Subject, "service_team/")] = r.Version
			}
			return
		case status == 409:
			var p struct {
				Aggregate      string  `json:"aggregate"`
				CurrentVersion *uint64 `json:"current_version"`
			}
			if json.Unmarshal(reply, &p) == nil && p.CurrentVersion != nil {
				o.conflictWith = *p.CurrentVersion
				c.seen[strings.TrimPrefix(p.Aggregate, "service_team/")] = *p.CurrentVersion
			}
			return
		case status >= 400 && status < 500:
			return // a client error: an anomaly the checks report
		}
		select { // no answer, 503 or 507: the same ids again, shortly
		case <-stop:
			return
		case <-time.After(time.Duration(50+c.rnd.IntN(150)) * time.Millisecond):
		}
	}
}

// read reads an aggregate's whole history, a page at a time; its version
// is the last record's.
func (c *histClient) read(o *histOp, stop <-chan struct{}) {
	o.call = c.h.now()
	defer func() { o.ret = c.h.now() }()
	var after, version uint64
	for o.tries < 20 {
		o.tries++
		status, reply := c.do("GET", fmt.Sprintf("/v1/aggregates/service_team/%s/events?after=%d", o.aggregates[0], after), "", nil)
		var page struct {
			Events    []domain.Record `json:"events"`
			NextAfter uint64          `json:"next_after"`
		}
		if status != 200 || json.Unmarshal(reply, &page) != nil {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if n := len(page.Events); n > 0 {
			version = page.Events[n-1].Version
		}
		if len(page.Events) < 1000 {
			o.status, o.readVersion = 200, version
			c.seen[o.aggregates[0]] = max(c.seen[o.aggregates[0]], version)
			return
		}
		after = page.NextAfter
	}
}

// do sends one request; status 0 is no answer at all.
func (c *histClient) do(method, path, contentType string, body []byte) (int, []byte) {
	req, err := http.NewRequest(method, c.ep.get()+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}

func decodeRecords(b []byte, batch bool) []domain.Record {
	if batch {
		var recs []domain.Record
		_ = json.Unmarshal(b, &recs)
		return recs
	}
	var rec domain.Record
	if json.Unmarshal(b, &rec) != nil {
		return nil
	}
	return []domain.Record{rec}
}
