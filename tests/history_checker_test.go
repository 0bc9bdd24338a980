package tests

import (
	"strings"
	"testing"

	"planledger/domain"
)

// TestHistoryCheckerFinds: the checks find what they look for in
// histories made by hand, and nothing in a correct one.
func TestHistoryCheckerFinds(t *testing.T) {
	rec := func(id string, seq, version uint64) domain.Record {
		return domain.Record{Event: domain.Event{ID: id, Subject: "service_team/t0"}, Sequence: seq, Version: version}
	}
	formed := rec("f-t0", 1, 1)
	appendOp := func(call, ret int64, status int, expected *uint64, recs ...domain.Record) *histOp {
		o := &histOp{kind: opAppend, call: call, ret: ret, status: status, aggregates: []string{"t0"}, expected: map[string]uint64{}, recs: recs}
		if expected != nil {
			o.expected["t0"] = *expected
		}
		for _, r := range recs {
			o.ids, o.of = append(o.ids, r.ID), append(o.of, "t0")
		}
		return o
	}
	one := uint64(1)
	cases := []struct {
		name  string
		ops   []*histOp
		log   []domain.Record
		check string
	}{
		{"correct", []*histOp{appendOp(1, 2, 201, &one, rec("e1", 2, 2)), {kind: opRead, call: 3, ret: 4, status: 200, aggregates: []string{"t0"}, readVersion: 2}},
			[]domain.Record{formed, rec("e1", 2, 2)}, ""},
		{"an acknowledged event lost", []*histOp{appendOp(1, 2, 201, nil, rec("e1", 2, 2))}, []domain.Record{formed}, "lost"},
		{"an acknowledged event moved", []*histOp{appendOp(1, 2, 201, nil, rec("e1", 2, 2))}, []domain.Record{formed, rec("x", 2, 2), rec("e1", 3, 3)}, "moved"},
		{"a batch in part", []*histOp{appendOp(1, 2, 503, nil, rec("e1", 2, 2), rec("e2", 3, 3))}, []domain.Record{formed, rec("e1", 2, 2)}, "partial"},
		{"a refused append stored", []*histOp{appendOp(1, 2, 409, &one, rec("e1", 2, 2))}, []domain.Record{formed, rec("e1", 2, 2)}, "conflict"},
		{"a version twice", nil, []domain.Record{formed, rec("e1", 2, 2), rec("e2", 3, 2)}, "version"},
		{"an expectation met twice", []*histOp{appendOp(1, 2, 201, &one, rec("e1", 2, 2)), appendOp(3, 4, 201, &one, rec("e2", 3, 3))},
			[]domain.Record{formed, rec("e1", 2, 2), rec("e2", 3, 3)}, "linearizable"},
		{"a stale read", []*histOp{appendOp(1, 2, 201, nil, rec("e1", 2, 2)), {kind: opRead, call: 3, ret: 4, status: 200, aggregates: []string{"t0"}, readVersion: 1}},
			[]domain.Record{formed, rec("e1", 2, 2)}, "linearizable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkHistory(&history{ops: c.ops}, c.log)
			if c.check == "" {
				if len(got) > 0 {
					t.Fatalf("anomalies in a correct history: %v", got)
				}
				return
			}
			for _, a := range got {
				if a.check == c.check {
					return
				}
			}
			t.Fatalf("anomalies %v; want a %s one", got, c.check)
		})
	}
	if s := describeAnomalies([]anomaly{{"b", "y"}, {"a", "x"}}); !strings.HasPrefix(s, "a: x") {
		t.Fatalf("describe: %q", s)
	}
}
