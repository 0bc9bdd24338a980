package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// CST is China Standard Time, UTC+8, the zone of every calendar date.
var CST = time.FixedZone("CST", 8*3600)

// ClockSkew is how far in the future an event's business time may be and
// still be taken: clocks of submitting systems drift.
const ClockSkew = 5 * time.Minute

// Date is a calendar date in China Standard Time ("2021-05-01"), or a full
// RFC 3339 timestamp when the submitter gave one. It keeps the text it was
// given, so a stored event re-encodes exactly as it arrived.
type Date struct {
	text string
	t    time.Time
}

// ParseDate parses "YYYY-MM-DD" (midnight CST) or an RFC 3339 timestamp.
func ParseDate(s string) (Date, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, CST); err == nil {
		return Date{text: s, t: t}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Date{text: s, t: t}, nil
	}
	return Date{}, fmt.Errorf("%q is not a date; want YYYY-MM-DD (China Standard Time) or an RFC 3339 timestamp", s)
}

// MustDate parses s or panics; for literals in code and tests.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Time returns the instant the date stands for: midnight CST for a plain
// date.
func (d Date) Time() time.Time { return d.t }

// IsZero reports whether d was never set.
func (d Date) IsZero() bool { return d.text == "" }

func (d Date) String() string { return d.text }

// Day returns the calendar day in CST as "YYYY-MM-DD".
func (d Date) Day() string { return d.t.In(CST).Format(time.DateOnly) }

// AddYears returns the date n years later, as a plain CST date.
func (d Date) AddYears(n int) Date {
	t := d.t.In(CST).AddDate(n, 0, 0)
	y, m, day := t.Date()
	t = time.Date(y, m, day, 0, 0, 0, 0, CST)
	return Date{text: t.Format(time.DateOnly), t: t}
}

// Before reports whether d is strictly before e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.text) }

func (d *Date) UnmarshalJSON(b []byte) error {
	s, ok := plainDateString(b)
	if !ok {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if s == "" {
		*d = Date{} // a date never set, as MarshalJSON writes it
		return nil
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// plainDateString returns the text of a JSON string that holds only the
// characters of a date or timestamp (no escapes, nothing to unquote), the
// usual case, without a second JSON decoder; ok is false for anything else.
func plainDateString(b []byte) (string, bool) {
	if len(b) < 2 || len(b) > 64 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if !('0' <= c && c <= '9' || c == '-' || c == ':' || c == '.' || c == '+' || c == 'T' || c == 'Z') {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}
