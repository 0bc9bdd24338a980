package server

import (
	"fmt"
	"math"
	"net/http"
	"planledger/cmd/planledger/tokens"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters keeps each token's buckets, by name, across reloads of the
// tokens file; a token whose limits change gets new ones.
type limiters struct {
	mu  sync.Mutex
	per map[string]*tokenLimiter
}

type tokenLimiter struct {
	limits   tokens.Limits
	requests *rate.Limiter // nil: none
	events   *quota        // nil: none
}

// quota is a bucket of events: it holds up to size, refilled at rate a
// second; events taken for an append that did not happen go back.
type quota struct {
	mu     sync.Mutex
	size   float64
	rate   float64
	left   float64
	filled time.Time
}

func newQuota(perDay int) *quota {
	return &quota{size: float64(perDay), rate: float64(perDay) / (24 * 3600), left: float64(perDay), filled: time.Now()}
}

// take takes n events, or says how long until n would be there.
func (q *quota) take(n int) (ok bool, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	q.left = min(q.size, q.left+now.Sub(q.filled).Seconds()*q.rate)
	q.filled = now
	if float64(n) > q.size {
		return false, 24 * time.Hour // more than a day's quota in one request
	}
	if q.left < float64(n) {
		return false, time.Duration((float64(n) - q.left) / q.rate * float64(time.Second))
	}
	q.left -= float64(n)
	return true, 0
}

func (q *quota) giveBack(n int) {
	q.mu.Lock()
	q.left = min(q.size, q.left+float64(n))
	q.mu.Unlock()
}

func newLimiters() *limiters { return &limiters{per: map[string]*tokenLimiter{}} }

// of returns p's buckets.
func (ls *limiters) of(p *tokens.Principal) *tokenLimiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l, ok := ls.per[p.Name]
	if ok && l.limits == p.Limits {
		return l
	}
	l = &tokenLimiter{limits: p.Limits}
	if p.Limits.RequestsPerSecond > 0 {
		l.requests = rate.NewLimiter(rate.Limit(p.Limits.RequestsPerSecond), max(p.Limits.Burst, 1))
	}
	if p.Limits.EventsPerDay > 0 {
		l.events = newQuota(p.Limits.EventsPerDay)
	}
	ls.per[p.Name] = l
	return l
}

// request takes a request from p's bucket; 0 if it may go on, else how
// long until it may.
func (ls *limiters) request(p *tokens.Principal) time.Duration {
	l := ls.of(p).requests
	if l == nil {
		return 0
	}
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d
	}
	return 0
}

// events takes n events of p's quota; giveBack returns them (the append
// did not happen). Refused, giveBack is nil and wait says how long until
// n would fit.
func (ls *limiters) events(p *tokens.Principal, n int) (giveBack func(), wait time.Duration) {
	q := ls.of(p).events
	if q == nil {
		return func() {}, 0
	}
	if ok, wait := q.take(n); !ok {
		return nil, wait
	}
	return func() { q.giveBack(n) }, 0
}

// tooMany answers 429 with Retry-After.
func tooMany(w http.ResponseWriter, wait time.Duration, detail string) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeProblem(w, Problem{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf("%s; retry after %d s (nothing was done)", detail, max(secs, 1))})
}
