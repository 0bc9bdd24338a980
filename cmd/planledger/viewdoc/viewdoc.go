// Package viewdoc is the views as documents: the JSON the API serves and
// the commands print for a view as of a moment, and the signed view
// (GET /v1/views/{view}?signed=1) that check-view reads back.
package viewdoc

import (
	"encoding/json"
	"errors"
	"time"

	"planledger/projections"
)

// WithAsOf adds "as_of" and "axis" to a rendered view.
func WithAsOf(view any, t time.Time, axis projections.Axis) (map[string]any, error) {
	b, err := json.Marshal(view)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.New("view is not an object")
	}
	m["as_of"] = t.Format(time.RFC3339Nano)
	m["axis"] = string(axis)
	return m, nil
}

// Signed is the reply of a view asked for with signed=1: the view, and a
// note signed with the log key stating what it was computed from and the
// SHA-256 of its canonical JSON (domain.CanonicalJSON).
type Signed struct {
	View json.RawMessage `json:"view"`
	Note string          `json:"note"`
}
