// Package audit is the auditors' tooling behind `planledger verify`,
// `export` and `import`: it checks a log end to end, and moves it out and
// back in as NDJSON records, keeping every record's sequence, version,
// times and submitter.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"planledger/cmd/planledger/archive"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

// Checks verify makes; a Finding names one.
const (
	CheckStream       = "stream"
	CheckGap          = "gap"
	CheckDecode       = "decode"
	CheckVersion      = "version"
	CheckDuplicateID  = "duplicate_id"
	CheckRecordedTime = "recorded_time"
	CheckRule         = "rule"
	CheckViews        = "views"
	// CheckForeign: a record this ledger did not write, or a copy of one
	// it did. It stays in the log, marked; nothing counts it.
	CheckForeign = "foreign"
	// CheckProof: the records' proofs could not be checked.
	CheckProof = "proof"
	// CheckCheckpoint: the log's latest checkpoint is not signed by the
	// pinned key, or names another log.
	CheckCheckpoint = "checkpoint"
	// CheckTree: the records do not hash to the root a checkpoint signed
	// for them.
	CheckTree = "tree"
	// CheckConsistency: the log is not an extension of one verified before.
	CheckConsistency = "consistency"
	// CheckLost: the log ends before a sequence the stream itself, or a
	// carrier of the acknowledged mark, says it held.
	CheckLost = "lost"
	// CheckKnockOn summarises the findings on an aggregate that follow
	// from records lost in a hole.
	CheckKnockOn = "knock_on"
)

// Finding is one thing wrong with the log.
type Finding struct {
	Check     string `json:"check"`
	Sequence  uint64 `json:"sequence,omitempty"`
	Aggregate string `json:"aggregate,omitempty"`
	Detail    string `json:"detail"`
}

func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Check)
	if f.Sequence > 0 {
		fmt.Fprintf(&b, " at sequence %d", f.Sequence)
	}
	if f.Aggregate != "" {
		fmt.Fprintf(&b, " (%s)", f.Aggregate)
	}
	b.WriteString(": ")
	b.WriteString(f.Detail)
	return b.String()
}

// Reference is a saved or live state of the views to hold against a
// replay from scratch: the checkpoint, or a running server's views.
type Reference struct {
	What     string
	Sequence uint64
	// Views returns each view as JSON, as the reference has it.
	Views func(ctx context.Context) (map[string]json.RawMessage, error)
}

// Input is a log to verify.
type Input struct {
	Info archive.LogInfo
	// Each calls fn with every stored record in sequence order, with its
	// line (the leaf of the log's tree); a record that did not decode
	// comes with decodeErr set and only its sequence and line.
	Each    func(ctx context.Context, fn func(seq uint64, rec domain.Record, line []byte, decodeErr error) error) error
	History projections.History
	// Reference, if not nil, is compared with the views rebuilt from
	// scratch at its sequence.
	Reference *Reference
	// Clock is the "today" of the compared views; now if zero.
	Clock time.Time
	// Progress, if not nil, receives a line every 100,000 records.
	Progress io.Writer
	// Note, if set, says why no reference is compared.
	Note string
	// Proofs says how records' proofs are checked: "key" (with the log
	// key: records without this ledger's proof are foreign), "server" (by
	// the server read through its API, which marks foreign records), or
	// "" (not at all: no key).
	Proofs string
	// Tree, if set, holds the log against its signed checkpoints.
	Tree *TreeInput
	// LocalKey is the verifier key of the store's own log key, when the
	// log is read from its store with one.
	LocalKey note.Verifier
}

// Report is verify's result.
type Report struct {
	Records      uint64 `json:"records"`
	Aggregates   int    `json:"aggregates"`
	LastSequence uint64 `json:"last_sequence"`
	Foreign      uint64 `json:"foreign_records"`
	// Checkpoint is the log's latest signed checkpoint, if it was checked
	// and the records hash to it.
	Checkpoint *logtree.Checkpoint `json:"checkpoint,omitempty"`
	// Edge is the checkpoint's tree's complete subtrees, for the state.
	Edge []logtree.Subtree `json:"-"`
	// TreeNote says what was proved of the log's tree.
	TreeNote string `json:"tree,omitempty"`
	// Proofs says who checked the records' proofs: "key", "server", or ""
	// (nobody: verify had no log key).
	Proofs        string    `json:"proofs_checked_by"`
	ViewsCompared string    `json:"views_compared,omitempty"`
	Findings      []Finding `json:"findings"`
}

// OK reports whether nothing is wrong.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// Summary is the one line verify ends with.
func (r *Report) Summary() string {
	if r.OK() {
		return fmt.Sprintf("verify: OK: %d records in %d aggregates, sequences 1-%d gap-free, %s, every event valid when it was recorded%s%s",
			r.Records, r.Aggregates, r.LastSequence, r.proofsNote(), r.treeNote(), r.viewsNote())
	}
	return fmt.Sprintf("verify: FAILED: %d findings in %d records of %d aggregates%s%s", len(r.Findings), r.Records, r.Aggregates, r.treeNote(), r.viewsNote())
}

func (r *Report) proofsNote() string {
	switch r.Proofs {
	case "key":
		return "every record proven the ledger's with its log key"
	case "server":
		return "no record the server marks foreign"
	case "export":
		return "no record the export marks foreign (proofs need the log key)"
	}
	return "record proofs NOT checked (no log key: give --log-key FILE)"
}

func (r *Report) treeNote() string {
	if r.TreeNote == "" {
		return ""
	}
	return "; " + r.TreeNote
}

func (r *Report) viewsNote() string {
	if r.ViewsCompared == "" {
		return ""
	}
	return "; " + r.ViewsCompared
}

// maxFindingsPerCheck bounds the report of a badly broken log.
const maxFindingsPerCheck = 1000

// Verify checks a log end to end: the stream's configuration, sequences
// gap-free from 1, every record decodes, per aggregate versions 1..n and
// no id twice, recorded times never going backwards, every event accepted
// by domain/ given the history before it, and the reference views equal to
// a replay from scratch.
func Verify(ctx context.Context, in Input) (*Report, error) {
	v := &verifier{ctx: ctx, in: in, report: &Report{Findings: []Finding{}, Proofs: in.Proofs}, aggs: map[domain.Ref]*domain.Aggregate{}, damaged: map[domain.Ref]int{},
		views: projections.NewViews(in.History), perCheck: map[string]int{}, versions: eventstore.Versions{}}
	if v.in.Clock.IsZero() {
		v.in.Clock = time.Now()
	}
	for _, p := range in.Info.ConfigProblems {
		v.find(Finding{Check: CheckStream, Detail: fmt.Sprintf("stream %s: %s", in.Info.Stream, p)})
	}
	if err := v.openTree(); err != nil {
		return nil, err
	}
	// The tree's leaves are the records as stored, in order, whatever they
	// mean; the checks take a batch when its last record is read, and one
	// the log holds only part of (or ends inside) record by record,
	// foreign.
	var batches eventstore.Batches
	each := func(seq uint64, rec domain.Record, line []byte, decodeErr error) error {
		v.leaf(line)
		if decodeErr != nil {
			for _, r := range batches.Flush() {
				_ = v.record(r.Sequence, r, nil)
			}
			return v.record(seq, rec, decodeErr)
		}
		for _, r := range batches.Add(rec) {
			if err := v.record(r.Sequence, r, nil); err != nil {
				return err
			}
		}
		return nil
	}
	var missing *eventstore.MissingError
	if err := in.Each(ctx, each); err != nil && !errors.As(err, &missing) {
		return nil, err
	}
	v.openAtEnd(&batches)
	v.closeTree(ctx)
	v.lostTail()
	// The state's count, if the read did not already name what is missing.
	if in.Info.LastSequence > 0 && (in.Info.FirstSequence != 1 || in.Info.Messages != in.Info.LastSequence) && v.perCheck[CheckGap]+v.perCheck[CheckLost] == 0 {
		v.find(Finding{Check: CheckGap, Detail: fmt.Sprintf("the stream ends at sequence %d but holds %d messages from sequence %d: %d are missing",
			in.Info.LastSequence, in.Info.Messages, in.Info.FirstSequence, in.Info.LastSequence-in.Info.Messages)})
	}
	v.knockOns()
	if ref := in.Reference; ref != nil && !v.compared && v.perCheck[CheckLost] == 0 {
		if ref.Sequence > v.report.LastSequence {
			v.find(Finding{Check: CheckViews, Detail: fmt.Sprintf("%s reflects sequence %d, beyond the end of the log at %d", ref.What, ref.Sequence, v.report.LastSequence)})
		} else if ref.Sequence == 0 {
			v.compare(ctx)
		}
	}
	if v.report.ViewsCompared == "" {
		v.report.ViewsCompared = in.Note
	}
	v.report.Aggregates = len(v.aggs)
	return v.report, nil
}

type verifier struct {
	ctx    context.Context
	in     Input
	report *Report
	aggs   map[domain.Ref]*domain.Aggregate
	// holes are the sequences missing before the current record; damaged
	// counts, per aggregate that lost records in them, the findings left
	// out as knock-on effects.
	holes    []string
	damaged  map[domain.Ref]int
	views    *projections.Views
	perCheck map[string]int
	prevSeq  uint64
	prevTime time.Time
	compared bool
	viewsBad bool
	versions eventstore.Versions
	// unproven is set once a record with a proof was met without a key.
	unproven bool
	tree     *treeCheck
}

func (v *verifier) find(f Finding) {
	v.perCheck[f.Check]++
	if v.perCheck[f.Check] <= maxFindingsPerCheck {
		v.report.Findings = append(v.report.Findings, f)
	}
}

func (v *verifier) record(seq uint64, rec domain.Record, decodeErr error) error {
	ctx := v.ctx
	r := v.report
	r.Records++
	if seq != v.prevSeq+1 {
		hole := fmt.Sprintf("%d-%d", v.prevSeq+1, seq-1)
		if seq == v.prevSeq+2 {
			hole = fmt.Sprint(v.prevSeq + 1)
		}
		v.holes = append(v.holes, hole)
		v.find(Finding{Check: CheckGap, Sequence: seq, Detail: fmt.Sprintf("sequences %s are missing before it: the stream counts them but holds no records there (the storage lost them)", hole)})
	}
	v.prevSeq, r.LastSequence = seq, seq
	if decodeErr != nil {
		v.find(Finding{Check: CheckDecode, Sequence: seq, Detail: decodeErr.Error()})
		v.viewsBad = true
		return nil
	}
	if v.foreign(&rec) {
		return nil
	}
	if rec.RecordedTime.Before(v.prevTime) {
		v.find(Finding{Check: CheckRecordedTime, Sequence: seq, Aggregate: rec.Subject,
			Detail: fmt.Sprintf("recorded at %s, before the record ahead of it (%s)", rec.RecordedTime.Format(time.RFC3339Nano), v.prevTime.Format(time.RFC3339Nano))})
	}
	v.prevTime = rec.RecordedTime
	ref, err := domain.ParseRef(rec.Subject)
	if err != nil {
		v.find(Finding{Check: CheckDecode, Sequence: seq, Detail: err.Error()})
		return nil
	}
	agg, ok := v.aggs[ref]
	if !ok {
		agg = domain.NewAggregate(ref)
		v.aggs[ref] = agg
	}
	if _, ok := v.damaged[ref]; ok {
		v.damaged[ref]++ // its history lacks what was lost: every check on it would fail
	} else if len(v.holes) > 0 && rec.Version > agg.Version()+1 {
		v.damaged[ref] = 0
		v.find(Finding{Check: CheckVersion, Sequence: seq, Aggregate: rec.Subject, Detail: fmt.Sprintf("version %d after version %d: its versions %d-%d were lost in the missing sequences (%s)",
			rec.Version, agg.Version(), agg.Version()+1, rec.Version-1, strings.Join(v.holes, ", "))})
	} else {
		if agg.Has(rec.ID) {
			v.find(Finding{Check: CheckDuplicateID, Sequence: seq, Aggregate: rec.Subject, Detail: fmt.Sprintf("event id %q is stored on this aggregate already", rec.ID)})
		}
		if rec.Version != agg.Version()+1 {
			v.find(Finding{Check: CheckVersion, Sequence: seq, Aggregate: rec.Subject, Detail: fmt.Sprintf("version %d after version %d", rec.Version, agg.Version())})
		}
		v.checkRules(&rec, ref, agg)
	}
	applied := rec
	applied.Version = agg.Version() + 1
	if err := agg.Apply(&applied); err != nil {
		v.find(Finding{Check: CheckDecode, Sequence: seq, Aggregate: rec.Subject, Detail: err.Error()})
	}
	v.applyViews(&rec)
	if v.in.Progress != nil && r.Records%100_000 == 0 {
		fmt.Fprintf(v.in.Progress, "verify: %d records read, at sequence %d\n", r.Records, seq)
	}
	if ref := v.in.Reference; ref != nil && ref.Sequence == seq {
		v.compare(ctx)
	}
	return nil
}

// foreign reports a foreign record as a finding and moves the views past
// it; it reports whether rec was one. A record that decodes but does not
// continue its aggregate is a copy of a stored one (or out of order): with
// proofs checked that is what it is; without, it is left to the version
// and id checks, as before proofs existed.
func (v *verifier) foreign(rec *domain.Record) bool {
	if rec.Foreign == nil && v.in.Proofs == "" && rec.MAC != "" && !v.unproven {
		v.unproven = true
		v.find(Finding{Check: CheckProof, Sequence: rec.Sequence, Detail: "records carry proofs, but verify has no log key to check them: records the ledger did not write cannot be told from its own (give --log-key FILE, the ledger's log.key)"})
	}
	switch {
	case rec.Foreign != nil || v.in.Proofs == "":
	case len(v.holes) > 0 && rec.Version > v.versions[rec.Subject]+1:
		// Not a copy: the ledger's own record, whose predecessors were
		// lost in a hole (record checks it as such).
		v.versions[rec.Subject] = rec.Version
	default:
		v.versions.Next(rec)
	}
	f := rec.Foreign
	if f == nil {
		return false
	}
	v.report.Foreign++
	detail := string(f.Reason)
	if f.Detail != "" { // a server read through its API says only the reason
		detail += ": " + f.Detail
	}
	v.find(Finding{Check: CheckForeign, Sequence: rec.Sequence, Aggregate: f.Subject, Detail: detail + "; it stays in the log, marked, and counts nowhere"})
	v.applyViews(rec)
	if ref := v.in.Reference; ref != nil && ref.Sequence == rec.Sequence {
		v.compare(v.ctx)
	}
	return true
}

// applyViews folds a record into the replayed views. After a hole the
// views go on from the record (a replay of what is left), and are not
// compared: they lack what was lost.
func (v *verifier) applyViews(rec *domain.Record) {
	if len(v.holes) > 0 && rec.Sequence != v.views.Next() {
		v.viewsBad = true
		v.views.DropHeld()
		v.views.Sequence = rec.Sequence - 1
	}
	if err := v.views.Apply(v.ctx, rec); err != nil {
		v.find(Finding{Check: CheckViews, Sequence: rec.Sequence, Aggregate: rec.Subject, Detail: "the views cannot apply it: " + err.Error()})
		v.viewsBad = true
	}
}

// openAtEnd reports the records of a batch the log ends inside. If the
// log lost its tail, the batch was acknowledged and lost its end with it:
// one knock-on finding (the lost finding names the range). Otherwise the
// batch was never acknowledged: its records are foreign, one by one.
func (v *verifier) openAtEnd(batches *eventstore.Batches) {
	held := batches.Flush()
	if len(held) == 0 {
		return
	}
	last := held[len(held)-1].Sequence
	if max(v.in.Info.LastSequence, v.in.Info.Acknowledged) > last {
		v.report.Records += uint64(len(held))
		v.prevSeq, v.report.LastSequence = last, last
		v.find(Finding{Check: CheckKnockOn, Sequence: held[0].Sequence, Detail: fmt.Sprintf("sequences %d-%d are the start of an atomic batch whose end was lost with the log's tail: not checked, and counted nowhere", held[0].Sequence, last)})
		return
	}
	for _, r := range held {
		_ = v.record(r.Sequence, r, nil)
	}
}

// lostTail reports a log whose records end before the stream's last
// sequence, or before the acknowledged mark: one finding for the range.
func (v *verifier) lostTail() {
	read, info := v.report.LastSequence, v.in.Info
	end := max(info.LastSequence, info.Acknowledged)
	if end <= read {
		return
	}
	var said []string
	if info.LastSequence > read {
		said = append(said, fmt.Sprintf("the stream's state says it ends at %d", info.LastSequence))
	}
	if info.Acknowledged > read {
		said = append(said, fmt.Sprintf("%s names %d as acknowledged", strings.Join(info.AcknowledgedBy, " and "), info.Acknowledged))
	}
	v.find(Finding{Check: CheckLost, Sequence: read + 1, Detail: fmt.Sprintf("sequences %d-%d are lost: the last record is %d but %s; a ledger refuses to start on this log (restore a backup, or import an export into an empty folder)",
		read+1, end, read, strings.Join(said, ", and "))})
	v.viewsBad = true
}

// knockOns sums up, per aggregate that lost records, the findings left out.
func (v *verifier) knockOns() {
	refs := make([]domain.Ref, 0, len(v.damaged))
	for ref := range v.damaged {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b domain.Ref) int { return strings.Compare(a.String(), b.String()) })
	for _, ref := range refs {
		if n := v.damaged[ref]; n > 0 {
			v.find(Finding{Check: CheckKnockOn, Aggregate: ref.String(), Detail: fmt.Sprintf("%d later records of this aggregate are not checked: its history lacks the records lost in sequences %s, so every check on them would fail for that alone", n, strings.Join(v.holes, ", "))})
		}
	}
	if len(v.holes) > 0 && v.in.Reference != nil {
		v.report.ViewsCompared = v.in.Reference.What + " not compared: a replay of a log with holes lacks what was lost"
	}
}

// checkRules asks domain/ whether the event was acceptable when it was
// recorded, given the aggregate's history before it.
func (v *verifier) checkRules(rec *domain.Record, ref domain.Ref, agg *domain.Aggregate) {
	raw, err := json.Marshal(rec.Event)
	if err != nil {
		v.find(Finding{Check: CheckDecode, Sequence: rec.Sequence, Aggregate: rec.Subject, Detail: err.Error()})
		return
	}
	sub, probs := domain.DecodeEvent(raw, rec.RecordedTime)
	if len(probs) == 0 {
		env := domain.Env{Now: rec.RecordedTime, SocietyExists: func(id string) bool {
			s, ok := v.aggs[domain.Ref{Type: domain.AggregateSociety, ID: id}]
			return ok && s.Exists()
		}}
		var de *domain.Error
		if err := agg.Decide(&sub, env); errors.As(err, &de) {
			probs = de.Problems
		}
	}
	if len(probs) > 0 {
		details := make([]string, len(probs))
		for i, p := range probs {
			details[i] = p.String()
		}
		v.find(Finding{Check: CheckRule, Sequence: rec.Sequence, Aggregate: ref.String(),
			Detail: fmt.Sprintf("%s %q would be refused: %s", rec.Type, rec.ID, strings.Join(details, "; "))})
	}
}

// compare holds the reference views against the replay at this point.
func (v *verifier) compare(ctx context.Context) {
	v.compared = true
	ref := v.in.Reference
	if v.viewsBad {
		v.report.ViewsCompared = ref.What + " not compared: the replay itself met records it could not apply"
		return
	}
	theirs, err := ref.Views(ctx)
	if err != nil {
		v.find(Finding{Check: CheckViews, Sequence: ref.Sequence, Detail: fmt.Sprintf("%s cannot be read: %v", ref.What, err)})
		return
	}
	differ := 0
	for _, name := range projections.ViewNames {
		mine, err := v.views.Render(name, v.in.Clock)
		if err != nil {
			continue
		}
		if !sameJSON(mine, theirs[name]) {
			differ++
			v.find(Finding{Check: CheckViews, Sequence: ref.Sequence,
				Detail: fmt.Sprintf("view %s of %s differs from a replay of the log up to sequence %d", name, ref.What, ref.Sequence)})
		}
	}
	if differ == 0 {
		v.report.ViewsCompared = fmt.Sprintf("%s at sequence %d equals a replay from scratch", ref.What, ref.Sequence)
	}
}

// sameJSON compares a rendered view with the reference's JSON as values,
// leaving out what only says when or how it was rendered.
func sameJSON(mine any, theirs json.RawMessage) bool {
	b, err := json.Marshal(mine)
	if err != nil {
		return false
	}
	var x, y map[string]any
	if json.Unmarshal(b, &x) != nil || json.Unmarshal(theirs, &y) != nil {
		return false
	}
	for _, k := range []string{"as_of", "axis"} {
		delete(x, k)
		delete(y, k)
	}
	return reflect.DeepEqual(x, y)
}
