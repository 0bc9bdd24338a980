package web

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"planledger/domain"
	"planledger/projections"
)

// base is what every page knows: language, reader, the "as of" it shows
// and the query every link carries on (language, as of, axis).
type base struct {
	Lang   string
	Reader *Reader
	CSRF   string // the session's token for POST forms
	Path   string
	Title  string
	Nav    string // the current navigation entry
	AsOf   *asOfState
	carry  url.Values
	// names are the registered names of the societies a history names.
	names map[string]string
}

// asOfState is the moment a page shows, when it is not now.
type asOfState struct {
	T     time.Time
	Axis  projections.Axis
	Input string // as the reader gave it, for the form
}

func (s *Site) newBase(r *http.Request) *base {
	b := &base{Lang: langZH, Path: r.URL.Path, carry: url.Values{}}
	if r.URL.Query().Get("lang") == langEN {
		b.Lang = langEN
		b.carry.Set("lang", langEN)
	}
	return b
}

// readAsOf reads as_of (a day, meaning its end in China Standard Time, or
// an RFC 3339 moment) and axis (recorded, the default, or occurred).
func (b *base) readAsOf(r *http.Request) error {
	q := r.URL.Query()
	in := strings.TrimSpace(q.Get("as_of"))
	axis, err := projections.ParseAxis(q.Get("axis"))
	if err != nil {
		return &pageError{status: http.StatusBadRequest, key: "error.axis", detail: err.Error()}
	}
	if in == "" {
		return nil
	}
	t, err := parseAsOf(in)
	if err != nil {
		return &pageError{status: http.StatusBadRequest, key: "error.asof", detail: err.Error()}
	}
	b.AsOf = &asOfState{T: t, Axis: axis, Input: in}
	b.carry.Set("as_of", in)
	b.carry.Set("axis", string(axis))
	return nil
}

// parseAsOf takes 2021-06-30 as the end of that day in China Standard
// Time, or a full RFC 3339 timestamp.
func parseAsOf(s string) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, domain.CST); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("as_of %q is neither a day (2021-06-30) nor an RFC 3339 moment", s)
	}
	return t, nil
}

// T is an interface phrase in the page's language.
func (b *base) T(key string) string { return phrase(b.Lang, key) }

// Tf is a phrase with values filled in.
func (b *base) Tf(key string, args ...any) string { return fmt.Sprintf(phrase(b.Lang, key), args...) }

// L names a code of kind (program, sector, stage, ...).
func (b *base) L(kind, code string) string { return label(b.Lang, kind, code) }

// Href is a link to path (its parts path-escaped and joined) carrying the
// page's language and "as of".
func (b *base) Href(path string, parts ...string) string {
	for _, p := range parts {
		path += "/" + url.PathEscape(p)
	}
	if len(b.carry) == 0 {
		return path
	}
	return path + "?" + b.carry.Encode()
}

// HrefWith is Href with more query parameters (a sort order, filters).
func (b *base) HrefWith(path string, extra url.Values) string {
	q := url.Values{}
	for k, v := range b.carry {
		q[k] = v
	}
	for k, v := range extra {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// LangHref is this page in the other language.
func (b *base) LangHref() string {
	q := url.Values{}
	for k, v := range b.carry {
		q[k] = v
	}
	if b.Lang == langEN {
		q.Del("lang")
	} else {
		q.Set("lang", langEN)
	}
	if len(q) == 0 {
		return b.Path
	}
	return b.Path + "?" + q.Encode()
}

// NowHref is this page as it stands now.
func (b *base) NowHref() string {
	if b.Lang == langEN {
		return b.Path + "?lang=en"
	}
	return b.Path
}

// AxisIs reports whether the page shows the past on axis a.
func (b *base) AxisIs(a string) bool { return b.AsOf != nil && string(b.AsOf.Axis) == a }

// AsOfDay is the as-of moment as a CST day, for the banner.
func (b *base) AsOfDay() string {
	if b.AsOf == nil {
		return ""
	}
	t := b.AsOf.T.In(domain.CST)
	if t.Hour() == 23 && t.Minute() == 59 && t.Second() == 59 {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04:05")
}

// AsOfDate is the as-of day for the date input.
func (b *base) AsOfDate() string {
	if b.AsOf == nil {
		return ""
	}
	return b.AsOf.T.In(domain.CST).Format(time.DateOnly)
}

// funcs format numbers and times for people.
var funcs = template.FuncMap{
	"pct":   pct,
	"num":   num,
	"day":   func(t time.Time) string { return t.In(domain.CST).Format(time.DateOnly) },
	"clock": func(t time.Time) string { return t.In(domain.CST).Format("2006-01-02 15:04") },
	"stamp": func(t time.Time) string { return t.In(domain.CST).Format(time.DateTime) },
	"fixed": func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) },
	"deref": func(p *int) int { return *p },
	"query": func(k, v string) url.Values { return url.Values{k: {v}} },
}

// pct rounds a fraction to a whole percentage: 0.8667 is "87%".
func pct(x float64) string { return strconv.FormatFloat(math.Round(x*100), 'f', 0, 64) + "%" }

// num writes a count with thousands separators; a fraction keeps one
// decimal.
func num(v any) string {
	var s string
	switch x := v.(type) {
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case float64:
		if x == math.Trunc(x) {
			s = strconv.FormatFloat(x, 'f', 0, 64)
		} else {
			s = strconv.FormatFloat(x, 'f', 1, 64)
		}
	default:
		return fmt.Sprint(v)
	}
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var out []byte
	for i := range len(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, intPart[i])
	}
	s = string(out)
	if neg {
		s = "-" + s
	}
	if frac != "" {
		s += "." + frac
	}
	return s
}
