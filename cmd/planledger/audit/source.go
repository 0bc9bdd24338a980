package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"golang.org/x/mod/sumdb/note"

	"planledger/cmd/planledger/archive"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/projections"
)

// LocalInput reads a log straight from its store; checkpoint, if the file
// exists, is the reference for the views.
func LocalInput(ctx context.Context, s *eventstore.Store, checkpoint string, clock time.Time) (Input, error) {
	info, err := archive.StoreInfo(ctx, s, projections.CheckpointCarrier(checkpoint, s))
	if err != nil {
		return Input{}, err
	}
	si, err := s.StreamInfo(ctx)
	if err != nil {
		return Input{}, err
	}
	created := si.Created
	in := Input{
		Info: info,
		Each: func(ctx context.Context, fn func(uint64, domain.Record, []byte, error) error) error {
			var line []byte
			return s.EachRaw(ctx, 1, func(raw *eventstore.Raw) error {
				rec := raw.Decode()
				line = domain.AppendLine(line[:0], &rec)
				return fn(raw.Sequence, rec, line, nil)
			})
		},
		History: projections.StoreHistory(s),
		Clock:   clock,
	}
	if k := s.Key(); k != nil {
		in.Proofs = "key"
		if in.LocalKey, err = note.NewVerifier(k.VerifierKey()); err != nil {
			return Input{}, err
		}
	}
	if checkpoint != "" {
		v, origin, err := projections.ReadCheckpoint(checkpoint, projections.StoreHistory(s))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			in.Reference = &Reference{What: "the checkpoint " + checkpoint, Views: func(context.Context) (map[string]json.RawMessage, error) {
				return nil, err
			}}
		case origin.Stream != info.Stream || !origin.StreamCreated.Equal(created):
			in.Note = fmt.Sprintf("the checkpoint %s was taken from another log (stream %s created %s); not compared", checkpoint, origin.Stream, origin.StreamCreated.Format(time.RFC3339))
		default:
			in.Reference = &Reference{What: "the checkpoint " + checkpoint, Sequence: v.Sequence, Views: renderViews(v, in.Clock)}
		}
	}
	return in, nil
}

func renderViews(v *projections.Views, clock time.Time) func(context.Context) (map[string]json.RawMessage, error) {
	return func(context.Context) (map[string]json.RawMessage, error) {
		out := map[string]json.RawMessage{}
		for _, name := range projections.ViewNames {
			r, err := v.Render(name, clock)
			if err != nil {
				return nil, err
			}
			if out[name], err = json.Marshal(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

// ExportInput reads a log from an export file, as an auditor given the
// file alone would: each line is hashed as it is (it is a leaf of the
// log's tree), and parsed. Foreign records are as the export marks them;
// proofs cannot be checked without the log key.
func ExportInput(r io.Reader) Input {
	history := map[domain.Ref][]domain.Record{}
	return Input{
		Info: archive.LogInfo{Stream: "(an export file)"},
		Each: func(ctx context.Context, fn func(uint64, domain.Record, []byte, error) error) error {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), archive.MaxLine)
			var prev uint64
			for sc.Scan() {
				line := sc.Bytes()
				var rec domain.Record
				err := json.Unmarshal(line, &rec)
				seq := rec.Sequence
				if err != nil || seq == 0 {
					seq = prev + 1
				}
				prev = seq
				if ref, perr := domain.ParseRef(rec.Subject); err == nil && perr == nil && rec.Foreign == nil {
					history[ref] = append(history[ref], rec)
				}
				if err := fn(seq, rec, line, err); err != nil {
					return err
				}
			}
			return sc.Err()
		},
		History: func(_ context.Context, ref domain.Ref, upTo uint64) ([]domain.Record, error) {
			recs := history[ref]
			n := 0
			for n < len(recs) && recs[n].Sequence <= upTo {
				n++
			}
			return recs[:n], nil
		},
		Proofs: "export",
		Note:   "no views to compare in an export",
	}
}
