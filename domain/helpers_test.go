package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"planledger/domain"
)

// now is the ledger's clock in these tests.
var now = time.Date(2021, 12, 1, 12, 0, 0, 0, domain.CST)

const busTime = "2021-06-01T10:00:00+08:00"

// envelope builds a CloudEvent as a submitter would post it.
func envelope(id, typ, subject, data string) []byte {
	return []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test","type":%q,"subject":%q,"time":%q,"data":%s}`,
		id, typ, subject, busTime, data))
}

// history is an aggregate being built through Decide and Apply, as the
// command path does.
type history struct {
	t    *testing.T
	agg  *domain.Aggregate
	recs []domain.Record
	env  domain.Env
	n    int
}

func newHistory(t *testing.T, subject string) *history {
	ref, err := domain.ParseRef(subject)
	if err != nil {
		t.Fatal(err)
	}
	return &history{t: t, agg: domain.NewAggregate(ref), env: domain.Env{Now: now}}
}

// try decodes and decides one event; on acceptance it is stored and applied.
func (h *history) try(typ, data string) (string, error) {
	h.t.Helper()
	h.n++
	id := fmt.Sprintf("e%d", h.n)
	s, probs := domain.DecodeEvent(envelope(id, typ, h.agg.Ref.String(), data), h.env.Now)
	if len(probs) > 0 {
		return id, domain.Invalid("decode", probs...)
	}
	if err := h.agg.Decide(&s, h.env); err != nil {
		return id, err
	}
	// Applied with the decided payload, as the ledger does after an
	// append; TestPropertyRebuild compares it with Rebuild, which decodes
	// the stored data.
	rec := domain.Record{Event: s.Event, Version: h.agg.Version() + 1, Sequence: uint64(100 + h.n), RecordedTime: h.env.Now, Submitter: "test"}
	if err := h.agg.ApplyDecided(&rec, &s); err != nil {
		h.t.Fatalf("apply accepted event: %v", err)
	}
	h.recs = append(h.recs, rec)
	return id, nil
}

// ok adds an event that must be accepted and returns its id.
func (h *history) ok(typ, data string) string {
	h.t.Helper()
	id, err := h.try(typ, data)
	if err != nil {
		h.t.Fatalf("%s %s refused: %v", typ, data, err)
	}
	return id
}

// refuse adds an event that must be refused with a problem at pointer whose
// detail contains want.
func (h *history) refuse(typ, data, pointer, want string) {
	h.t.Helper()
	version := h.agg.Version()
	_, err := h.try(typ, data)
	wantProblem(h.t, err, pointer, want)
	if h.agg.Version() != version {
		h.t.Fatalf("a refused event changed the aggregate")
	}
}

func wantProblem(t *testing.T, err error, pointer, want string) {
	t.Helper()
	var de *domain.Error
	if err == nil {
		t.Fatalf("accepted; want a problem at %s saying %q", pointer, want)
	}
	if !errors.As(err, &de) || de.Kind != domain.KindInvalid {
		t.Fatalf("err = %v, want an invalid domain error", err)
	}
	for _, p := range de.Problems {
		if p.Pointer == pointer && strings.Contains(p.Detail, want) {
			return
		}
	}
	t.Fatalf("problems %v; want one at %s saying %q", de.Problems, pointer, want)
}

func retract(id string) string {
	b, _ := json.Marshal(map[string]string{"event_id": id, "reason": "entered by mistake"})
	return string(b)
}
