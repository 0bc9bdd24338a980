package tests

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"planledger/domain"
)

// The history checker's checks, on the recorded history and the log read
// at the end:
//
//   - every acknowledged event (201, or 200 with the originals) is in the
//     log exactly once, at its acknowledged sequence and version;
//   - versions per aggregate run 1..n, no two records at one version;
//   - an append answered 409 stored nothing; one whose outcome stayed
//     unknown is in the log whole (each of its events exactly once) or
//     not at all: never in part;
//   - per aggregate, the appends (with and without expectedversion, each
//     batch's part) and reads are linearizable against a sequential
//     versioned log (porcupine): an expectation is met exactly when the
//     aggregate is at the version expected; an unknown append found in
//     the log took effect at some moment after it was called;
//   - (the caller adds) the views equal a replay of the log: verify.

// anomaly is one thing the checks found wrong.
type anomaly struct {
	check, detail string
}

func (a anomaly) String() string { return a.check + ": " + a.detail }

// checkHistory holds the history against the log.
func checkHistory(h *history, log []domain.Record) []anomaly {
	var out []anomaly
	bad := func(check, format string, args ...any) {
		if len(out) < 50 {
			out = append(out, anomaly{check, fmt.Sprintf(format, args...)})
		}
	}
	byID := map[string]domain.Record{}
	versions := map[string]uint64{}
	for _, r := range log {
		if r.Foreign != nil {
			bad("foreign", "sequence %d is foreign (%s)", r.Sequence, r.Foreign.Reason)
			continue
		}
		key := r.Subject + " " + r.ID
		if _, dup := byID[key]; dup {
			bad("duplicate", "%s is in the log twice", key)
		}
		byID[key] = r
		if r.Version != versions[r.Subject]+1 {
			bad("version", "%s: version %d at sequence %d after version %d", r.Subject, r.Version, r.Sequence, versions[r.Subject])
		}
		versions[r.Subject] = r.Version
	}
	for _, o := range h.ops {
		if o.kind != opAppend {
			continue
		}
		present := 0
		for i, id := range o.ids {
			if _, ok := byID["service_team/"+o.of[i]+" "+id]; ok {
				present++
			}
		}
		switch {
		case o.status == 201 || o.status == 200:
			checkAcknowledged(o, byID, bad)
		case o.status == 409 && present > 0:
			bad("conflict", "client %d's append of %v was refused (409) but %d of its events are stored", o.client, o.ids, present)
		case o.status >= 400 && o.status < 500 && o.status != 409:
			bad("refused", "client %d's append of %v got %d", o.client, o.ids, o.status)
		case present != 0 && present != len(o.ids):
			bad("partial", "client %d's append of %v (outcome unknown) is in the log in part: %d of %d", o.client, o.ids, present, len(o.ids))
		}
	}
	for agg, res := range linearizable(h, byID) {
		if res != porcupine.Ok {
			bad("linearizable", "the operations on %s are not linearizable (%s)", agg, res)
		}
	}
	return out
}

// checkAcknowledged: each event of an acknowledged append is in the log
// at the sequence and version it was acknowledged with.
func checkAcknowledged(o *histOp, byID map[string]domain.Record, bad func(string, string, ...any)) {
	if len(o.recs) != len(o.ids) {
		bad("acknowledged", "client %d's append of %v was answered %d with %d records", o.client, o.ids, o.status, len(o.recs))
		return
	}
	for _, r := range o.recs {
		got, ok := byID[r.Subject+" "+r.ID]
		switch {
		case !ok:
			bad("lost", "%s %s acknowledged at sequence %d is not in the log", r.Subject, r.ID, r.Sequence)
		case got.Sequence != r.Sequence || got.Version != r.Version:
			bad("moved", "%s %s acknowledged at sequence %d version %d is at %d version %d", r.Subject, r.ID, r.Sequence, r.Version, got.Sequence, got.Version)
		}
	}
}

// aggIn and aggOut are an operation on one aggregate, for porcupine.
type aggIn struct {
	read     bool
	n        uint64 // events appended to the aggregate
	expected *uint64
}

type aggOut struct {
	ok       bool   // appended (or read)
	version  uint64 // after the append, or read
	conflict bool
}

// versionedLog is the sequential specification of one aggregate: its
// version, moved by appends; an expectation holds only at that version.
// Each team starts at version 1 (formed before the history).
var versionedLog = porcupine.Model{
	Init: func() any { return uint64(1) },
	Step: func(state, input, output any) (bool, any) {
		v, in, out := state.(uint64), input.(aggIn), output.(aggOut)
		switch {
		case in.read:
			return out.version == v, v
		case out.conflict:
			return in.expected == nil || *in.expected != v, v
		case in.expected != nil && *in.expected != v:
			return false, v
		}
		return out.version == v+in.n, v + in.n
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(aggIn), output.(aggOut)
		return fmt.Sprintf("%+v -> %+v", in, out)
	},
}

// linearizable checks each aggregate's operations.
func linearizable(h *history, byID map[string]domain.Record) map[string]porcupine.CheckResult {
	per := map[string][]porcupine.Operation{}
	end := int64(math.MaxInt64 / 2)
	for _, o := range h.ops {
		for _, agg := range o.aggregates {
			op, ok := aggOperation(o, agg, byID, end)
			if ok {
				per[agg] = append(per[agg], op)
			}
		}
	}
	out := map[string]porcupine.CheckResult{}
	for agg, ops := range per {
		out[agg] = porcupine.CheckOperationsTimeout(versionedLog, ops, 30*time.Second)
	}
	return out
}

// aggOperation is o's part on one aggregate, as porcupine takes it: an
// unknown append found in the log took effect after its call (its return
// is the end of time); one not found did nothing and is left out.
func aggOperation(o *histOp, agg string, byID map[string]domain.Record, end int64) (porcupine.Operation, bool) {
	op := porcupine.Operation{ClientId: o.client, Call: o.call, Return: o.ret}
	if o.kind == opRead {
		op.Input, op.Output = aggIn{read: true}, aggOut{ok: true, version: o.readVersion}
		return op, o.status == 200
	}
	in := aggIn{}
	if exp, ok := o.expected[agg]; ok {
		in.expected = &exp
	}
	var last domain.Record
	found := false
	for i, id := range o.ids {
		if o.of[i] != agg {
			continue
		}
		in.n++
		if r, ok := byID["service_team/"+agg+" "+id]; ok {
			last, found = r, true
		}
	}
	op.Input = in
	switch {
	case o.status == 409:
		op.Output = aggOut{conflict: true}
	case o.unknown() && !found:
		return op, false
	case o.unknown():
		op.Return = end
		op.Output = aggOut{ok: true, version: last.Version}
	default:
		op.Output = aggOut{ok: true, version: last.Version}
	}
	return op, true
}

// historyStats sums up a run for the results table.
type historyStats struct {
	faults, ops, acked, retried, unknown int
}

func statsOf(h *history) historyStats {
	var s historyStats
	for _, o := range h.ops {
		s.ops++
		if o.tries > 1 {
			s.retried++
		}
		switch {
		case o.kind == opAppend && (o.status == 201 || o.status == 200):
			s.acked += len(o.ids)
		case o.unknown():
			s.unknown++
		}
	}
	return s
}

// describeAnomalies writes anomalies for a failure message.
func describeAnomalies(as []anomaly) string {
	lines := make([]string, len(as))
	for i, a := range as {
		lines[i] = a.String()
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
