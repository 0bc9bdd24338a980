package tokens

import "math"

// Per-token limits. Every token may send so many requests a second (a
// token bucket: a burst, then a steady rate) and append so many events a
// day (a bucket that holds a day's events and refills over the day): past
// either, a request is answered 429 with Retry-After, and nothing is
// appended. A token's limits are in the tokens file ("limits"); a token
// without them has its role's defaults. The quota of events bounds what
// one token can make the ledger hold in memory (each aggregate a summary
// in the views, for good) and in the log.

// Limits are a token's limits; 0 is its role's default, -1 none.
type Limits struct {
	// RequestsPerSecond and Burst bound the token's requests to the API.
	RequestsPerSecond float64 `json:"requests_per_second,omitempty"`
	Burst             int     `json:"burst,omitempty"`
	// EventsPerDay bounds the events the token appends: a day's worth at
	// once at most, then at that rate.
	EventsPerDay int `json:"events_per_day,omitempty"`
}

// roleLimits are the defaults of each role: none, so that a ledger keeps
// the throughput it had; a token's limits are set in the tokens file.
var roleLimits = map[string]Limits{
	RoleSubmitter: {RequestsPerSecond: -1, Burst: -1, EventsPerDay: -1},
	RoleAuditor:   {RequestsPerSecond: -1, Burst: -1, EventsPerDay: -1},
	RoleAdmin:     {RequestsPerSecond: -1, Burst: -1, EventsPerDay: -1},
}

// resolve fills a token's unset limits with its role's.
func (l Limits) Resolve(role string) Limits {
	d := roleLimits[role]
	if l.RequestsPerSecond == 0 {
		l.RequestsPerSecond = d.RequestsPerSecond
	}
	if l.Burst == 0 {
		l.Burst = d.Burst
	}
	if l.EventsPerDay == 0 {
		l.EventsPerDay = d.EventsPerDay
	}
	return l
}

// check says what is wrong with limits written in a tokens file.
func (l Limits) check() []string {
	var p []string
	if l.RequestsPerSecond < 0 && l.RequestsPerSecond != -1 || math.IsNaN(l.RequestsPerSecond) || math.IsInf(l.RequestsPerSecond, 0) {
		p = append(p, "limits.requests_per_second: want a positive number, or -1 for none")
	}
	if l.Burst < -1 {
		p = append(p, "limits.burst: want a positive whole number, or -1 for none")
	}
	if l.EventsPerDay < -1 {
		p = append(p, "limits.events_per_day: want a positive whole number, or -1 for none")
	}
	return p
}
