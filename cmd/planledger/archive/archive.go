// Package archive copies a ledger's log out and back in: Export writes it
// as NDJSON, one record a line (the leaves of the log's tree), and Import
// restores such a file in place, sequence for sequence. StoreInfo
// describes the stream that holds the log (GET /v1/log, and what verify
// starts from).
package archive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

// MaxLine bounds one NDJSON record: a record is at most an event under the
// default 1 MiB body limit plus its envelope.
const MaxLine = 4 << 20

// ExportOptions cut the exported log.
type ExportOptions struct {
	// After leaves out sequences up to and including it.
	After uint64
	// UntilRecorded, if not zero, stops before the first record recorded
	// after it.
	UntilRecorded time.Time
}

// Export writes the log as NDJSON, one stored record a line (its
// canonical line: domain.AppendLine), in sequence order, streaming: memory
// does not grow with the log. Foreign records are written marked, exactly
// as stored, for an import to restore. Each line is a leaf of the log's
// Merkle tree, so an export is the list of the tree's entries.
func Export(ctx context.Context, s *eventstore.Store, w io.Writer, opt ExportOptions) (int, error) {
	var line []byte
	return WriteExport(w, opt, func(emit func([]byte, *domain.Record) error) error {
		return s.Each(ctx, opt.After+1, func(rec domain.Record) error {
			line = domain.AppendLine(line[:0], &rec)
			return emit(line, &rec)
		})
	})
}

// WriteExport writes the lines each gives (the records after opt.After,
// in order, each with its line) as Export does, and says how many.
func WriteExport(w io.Writer, opt ExportOptions, each func(emit func(line []byte, rec *domain.Record) error) error) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	n := 0
	err := each(func(line []byte, rec *domain.Record) error {
		if !opt.UntilRecorded.IsZero() && rec.Foreign == nil && rec.RecordedTime.After(opt.UntilRecorded) {
			return eventstore.ErrStop
		}
		n++
		if _, err := bw.Write(line); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	})
	if err != nil && !errors.Is(err, eventstore.ErrStop) {
		return n, err
	}
	return n, bw.Flush()
}

// ImportResult says what an import did.
type ImportResult struct {
	// Read is the number of records in the file.
	Read uint64 `json:"read"`
	// Present were already in the log, identical.
	Present uint64 `json:"present"`
	// Appended were added.
	Appended     uint64 `json:"appended"`
	LastSequence uint64 `json:"last_sequence"`
}

// importBatch is how many records one atomic append restores.
const importBatch = eventstore.MaxBatch

// Import restores exported records into s. Every record keeps its id,
// aggregate, sequence, version, business and recorded time and submitter.
// Records the log already holds must be identical (an import of the same
// file twice appends nothing); the first that differs stops the import,
// naming its sequence, before anything is appended. The rest is appended
// in atomic batches of up to 1000, each at exactly the sequences it had.
func Import(ctx context.Context, s *eventstore.Store, r io.Reader, progress io.Writer) (ImportResult, error) {
	var res ImportResult
	last, err := s.LastSequence(ctx)
	if err != nil {
		return res, err
	}
	res.LastSequence = last
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	order, err := lastRecorded(ctx, s, last)
	if err != nil {
		return res, err
	}
	var batch []eventstore.Pending
	var next uint64 // the sequence the next record must have; 0 before the first
	// A copy of a record, republished behind the ledger's back, reads as
	// the record; its aggregate's versions tell it, and it is restored as
	// the message it is.
	versions := eventstore.Versions{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := s.AppendAt(ctx, res.LastSequence, batch)
		if err != nil {
			return fmt.Errorf("append sequences %d-%d: %w", res.LastSequence+1, res.LastSequence+uint64(len(batch)), err)
		}
		if out.Duplicate || out.Records[0].Sequence != res.LastSequence+1 {
			return domain.Errorf(domain.KindConflict, "sequences %d-%d were not restored in place", res.LastSequence+1, res.LastSequence+uint64(len(batch)))
		}
		res.Appended += uint64(len(batch))
		res.LastSequence += uint64(len(batch))
		batch = batch[:0]
		if progress != nil {
			fmt.Fprintf(progress, "import: %d records read, %d already present, %d appended, log at sequence %d\n", res.Read, res.Present, res.Appended, res.LastSequence)
		}
		return nil
	}
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		rec, err := parseRecord(sc.Bytes())
		if err != nil {
			return res, domain.Errorf(domain.KindInvalid, "line %d: %v", line, err)
		}
		versions.Next(&rec)
		res.Read++
		switch {
		case next != 0 && rec.Sequence != next:
			return res, domain.Errorf(domain.KindInvalid, "line %d: sequence %d follows %d; an export is gap-free", line, rec.Sequence, next-1)
		case rec.Sequence <= res.LastSequence && len(batch) == 0:
			if err := samePresent(ctx, s, &rec); err != nil {
				return res, err
			}
			res.Present++
		case order.check(line, &rec, res.LastSequence) != nil:
			if err := flush(); err != nil { // what came before it is in order: keep it
				return res, err
			}
			return res, order.check(line, &rec, res.LastSequence)
		case rec.Sequence != res.LastSequence+uint64(len(batch))+1:
			return res, domain.Errorf(domain.KindConflict, "line %d: the file goes on at sequence %d but the log ends at %d; import the export from the start", line, rec.Sequence, res.LastSequence)
		default:
			batch = append(batch, pending(&rec))
			if len(batch) == importBatch {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		next = rec.Sequence + 1
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("read the export: %w", err)
	}
	return res, flush()
}

// recordedOrder keeps the recorded times an import appends in order along
// the log and never in the future: what the ledger knew at a moment (the
// recorded axis of "as of") must not change afterwards, so a record may
// not be dated before one the log already holds, nor after now. An export
// of any ledger passes into an empty log; on a live ledger, only records
// recorded after its last one do.
type recordedOrder struct {
	prev    time.Time
	prevSeq uint64
	now     time.Time
}

// lastRecorded starts the order from the log's last record.
func lastRecorded(ctx context.Context, s *eventstore.Store, last uint64) (*recordedOrder, error) {
	o := &recordedOrder{now: time.Now()}
	if last == 0 {
		return o, nil
	}
	rec, err := s.Get(ctx, last)
	if err != nil {
		return nil, err
	}
	o.prev, o.prevSeq = rec.RecordedTime, last
	return o, nil
}

// check says what is wrong with appending rec next; a record that passes
// becomes the one the next is held to. Foreign records count nowhere, and
// keep the time they were stored with.
func (o *recordedOrder) check(line int, rec *domain.Record, logEnd uint64) error {
	if rec.Foreign != nil {
		return nil
	}
	at := rec.RecordedTime.Format(time.RFC3339Nano)
	switch {
	case rec.RecordedTime.After(o.now):
		return domain.Errorf(domain.KindInvalid, "line %d: the record at sequence %d (%s %q) is recorded at %s, in the future; nothing from it on was imported (the log ends at %d)",
			line, rec.Sequence, rec.Subject, rec.ID, at, logEnd)
	case rec.RecordedTime.Before(o.prev):
		return domain.Errorf(domain.KindInvalid, "line %d: the record at sequence %d (%s %q) is recorded at %s, before sequence %d (%s): recorded times never go backwards along the log, or what the ledger knew at a moment would change afterwards; nothing from it on was imported (the log ends at %d)",
			line, rec.Sequence, rec.Subject, rec.ID, at, o.prevSeq, o.prev.Format(time.RFC3339Nano), logEnd)
	}
	o.prev, o.prevSeq = rec.RecordedTime, rec.Sequence
	return nil
}

// pending is what an exported record is appended as: the event with its
// version, submitter, recorded time and proof, or a foreign record as it
// was stored.
func pending(rec *domain.Record) eventstore.Pending {
	if rec.Foreign != nil {
		return eventstore.Pending{Foreign: rec.Foreign, RecordedTime: rec.RecordedTime}
	}
	prev := rec.Version - 1
	return eventstore.Pending{Event: rec.Event, Submitter: rec.Submitter, ExpectedVersion: &prev, RecordedTime: rec.RecordedTime, MAC: rec.MAC}
}

// parseRecord reads one exported record.
func parseRecord(line []byte) (domain.Record, error) {
	var rec domain.Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, fmt.Errorf("not an exported record: %w", err)
	}
	if f := rec.Foreign; f != nil {
		if rec.Sequence == 0 || rec.RecordedTime.IsZero() || f.Subject == "" {
			return rec, fmt.Errorf("foreign record %d lacks its sequence, recordedtime or data.nats_subject", rec.Sequence)
		}
		return rec, nil
	}
	switch {
	case rec.Sequence == 0 || rec.Version == 0:
		return rec, fmt.Errorf("record %q has no sequence or version", rec.ID)
	case rec.RecordedTime.IsZero():
		return rec, fmt.Errorf("record at sequence %d has no recordedtime", rec.Sequence)
	}
	if _, err := domain.ParseRef(rec.Subject); err != nil {
		return rec, fmt.Errorf("sequence %d: %w", rec.Sequence, err)
	}
	return rec, nil
}

// samePresent checks that the log holds exactly rec at its sequence.
func samePresent(ctx context.Context, s *eventstore.Store, rec *domain.Record) error {
	have, err := s.Get(ctx, rec.Sequence)
	if err != nil {
		return err
	}
	if rec.Foreign != nil || have.Foreign != nil {
		return sameStored(&have, rec)
	}
	if have.Subject != rec.Subject || have.ID != rec.ID || have.Version != rec.Version || have.Submitter != rec.Submitter ||
		!have.RecordedTime.Equal(rec.RecordedTime) || !have.SameContent(&rec.Event) || have.MAC != rec.MAC {
		return domain.Errorf(domain.KindConflict, "the log and the file differ at sequence %d: the log has %s %q (version %d, recorded %s), the file %s %q (version %d, recorded %s); nothing was imported",
			rec.Sequence, have.Subject, have.ID, have.Version, have.RecordedTime.Format(time.RFC3339Nano), rec.Subject, rec.ID, rec.Version, rec.RecordedTime.Format(time.RFC3339Nano))
	}
	return nil
}

// sameStored compares two records, one of them foreign, as the messages
// they are stored as (a copy of a ledger record reads as the record when
// read alone).
func sameStored(have, rec *domain.Record) error {
	hs, hh, hb := storedForm(have)
	rs, rh, rb := storedForm(rec)
	if hs != rs || !bytes.Equal(hb, rb) || fmt.Sprint(hh) != fmt.Sprint(rh) || !have.RecordedTime.Equal(rec.RecordedTime) {
		return domain.Errorf(domain.KindConflict, "the log and the file differ at sequence %d: the log has a message on %s recorded %s, the file one on %s recorded %s (at least one of them foreign); nothing was imported",
			rec.Sequence, hs, have.RecordedTime.Format(time.RFC3339Nano), rs, rec.RecordedTime.Format(time.RFC3339Nano))
	}
	return nil
}

func storedForm(r *domain.Record) (string, map[string][]string, []byte) {
	if r.Foreign != nil {
		return r.Foreign.Subject, r.Foreign.Header, r.Foreign.Body
	}
	return eventstore.StoredForm(r)
}
