package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	"golang.org/x/mod/sumdb/tlog"

	"planledger/cmd/planledger/archive"
	"planledger/cmd/planledger/client"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/retry"
	"planledger/projections"
)

// RemoteInput reads the log through a running ledger's API, as an
// auditor would; the reference is the server's live views.
func RemoteInput(ctx context.Context, c *client.Client) (Input, error) {
	var info archive.LogInfo
	if err := c.GetJSON(ctx, "/v1/log", nil, &info); err != nil {
		return Input{}, err
	}
	ref, err := liveViews(ctx, c)
	if err != nil {
		return Input{}, err
	}
	var prev uint64
	return Input{
		Info: info,
		Each: func(ctx context.Context, fn func(uint64, domain.Record, []byte, error) error) error {
			return eachRecord(ctx, c, 0, func(line []byte, rec domain.Record, err error) error {
				seq := rec.Sequence
				if err != nil {
					seq = prev + 1
				}
				prev = seq
				return fn(seq, rec, line, err)
			})
		},
		History: func(ctx context.Context, ref domain.Ref, upTo uint64) ([]domain.Record, error) {
			return history(ctx, c, ref, upTo)
		},
		Reference: ref,
		Proofs:    "server",
	}, nil
}

// eachRecord streams the log through the API; fn's eventstore.ErrStop
// ends it without an error.
func eachRecord(ctx context.Context, c *client.Client, after uint64, fn func([]byte, domain.Record, error) error) error {
	err := c.EachRecord(ctx, after, fn)
	if errors.Is(err, eventstore.ErrStop) {
		return nil
	}
	return err
}

// RemoteExport writes the log read through the API, as archive.Export
// writes it from the store.
func RemoteExport(ctx context.Context, c *client.Client, w io.Writer, opt archive.ExportOptions) (int, error) {
	return archive.WriteExport(w, opt, func(emit func([]byte, *domain.Record) error) error {
		n := uint64(0)
		return eachRecord(ctx, c, opt.After, func(line []byte, rec domain.Record, err error) error {
			if err != nil {
				return fmt.Errorf("record after sequence %d: %w", opt.After+n, err)
			}
			n++
			return emit(line, &rec)
		})
	})
}

// history reads an aggregate's records up to sequence upTo, a page at a
// time.
func history(ctx context.Context, c *client.Client, ref domain.Ref, upTo uint64) ([]domain.Record, error) {
	var out []domain.Record
	var after uint64
	for {
		page, err := c.Aggregate(ctx, ref, after)
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Events {
			if rec.Sequence > upTo {
				return out, nil
			}
			out = append(out, rec)
		}
		if len(page.Events) == 0 || page.NextAfter == after {
			return out, nil
		}
		after = page.NextAfter
	}
}

// liveViews fetches every view at one and the same sequence: read again
// (up to five times, at once, each view at least at the highest sequence
// seen) while writes move them.
func liveViews(ctx context.Context, c *client.Client) (*Reference, error) {
	var minSeq uint64
	var ref *Reference
	err := retry.Do(ctx, retry.Policy{Attempts: 5, Retryable: func(err error) bool { return errors.Is(err, errViewsMoved) }}, func(ctx context.Context) error {
		views, seqs, err := viewsOnce(ctx, c, &minSeq)
		if err != nil {
			return err
		}
		for _, s := range seqs {
			if s != seqs[0] {
				return errViewsMoved
			}
		}
		ref = &Reference{What: "the server's live views", Sequence: seqs[0], Views: func(context.Context) (map[string]json.RawMessage, error) { return views, nil }}
		return nil
	})
	if errors.Is(err, errViewsMoved) {
		return nil, errViewsMoved
	}
	return ref, err
}

var errViewsMoved = errors.New("the server's views kept moving while being read; verify again when writes pause")

// viewsOnce reads every view, each at least at the highest sequence seen
// so far (minSeq), and the sequence each reflects.
func viewsOnce(ctx context.Context, c *client.Client, minSeq *uint64) (map[string]json.RawMessage, []uint64, error) {
	views := map[string]json.RawMessage{}
	var seqs []uint64
	for _, name := range projections.ViewNames {
		var raw json.RawMessage
		if err := c.GetJSON(ctx, "/v1/views/"+name, url.Values{"min_sequence": {fmt.Sprint(*minSeq)}}, &raw); err != nil {
			return nil, nil, err
		}
		var head struct {
			Sequence uint64 `json:"sequence"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, nil, err
		}
		views[name] = raw
		seqs = append(seqs, head.Sequence)
		*minSeq = max(*minSeq, head.Sequence)
	}
	return views, seqs, nil
}

// ProveTree fetches the log's proof that its tree of size m is a prefix
// of its tree of size n.
func ProveTree(ctx context.Context, c *client.Client, m, n int64) (tlog.TreeProof, error) {
	var reply struct {
		From, To int64
		Proof    []string
	}
	if err := c.GetJSON(ctx, "/v1/log/proof/tree", url.Values{"from": {fmt.Sprint(m)}, "to": {fmt.Sprint(n)}}, &reply); err != nil {
		return nil, err
	}
	if reply.From != m || reply.To != n {
		return nil, fmt.Errorf("asked for a proof from %d to %d, got one from %d to %d", m, n, reply.From, reply.To)
	}
	p := make(tlog.TreeProof, len(reply.Proof))
	for i, s := range reply.Proof {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		p[i] = h
	}
	return p, nil
}
