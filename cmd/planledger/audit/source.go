package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/projections"
)

// StoreInfo describes a store's stream for Verify, with the acknowledged
// marks of the store's own carrier and the ones given.
func StoreInfo(ctx context.Context, s *eventstore.Store, carriers ...eventstore.Carrier) (LogInfo, error) {
	info, err := s.StreamInfo(ctx)
	if err != nil {
		return LogInfo{}, err
	}
	li := LogInfo{
		Stream:         info.Config.Name,
		ConfigProblems: eventstore.CheckStreamConfig(info.Config, 0),
		FirstSequence:  info.State.FirstSeq,
		LastSequence:   info.State.LastSeq,
		Messages:       info.State.Msgs,
	}
	// A carrier that cannot be read (a read-only user may not see the
	// mark bucket) vouches for nothing; the others still count.
	marks, _ := s.Marks(ctx, carriers...)
	for _, m := range marks {
		if m.Sequence > li.Acknowledged {
			li.Acknowledged = m.Sequence
		}
	}
	for _, m := range marks {
		if m.Sequence == li.Acknowledged && m.Sequence > 0 {
			li.AcknowledgedBy = append(li.AcknowledgedBy, m.Carrier)
		}
	}
	return li, nil
}

// LocalInput reads a log straight from its store; checkpoint, if the file
// exists, is the reference for the views.
func LocalInput(ctx context.Context, s *eventstore.Store, checkpoint string, clock time.Time) (Input, error) {
	info, err := StoreInfo(ctx, s, projections.CheckpointCarrier(checkpoint, s))
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

// defaultClient gives up on a server that stops answering; exports of a
// large log stream for long, so the bound is generous.
var defaultClient = &http.Client{Timeout: 6 * time.Hour}

// Client reaches a running ledger's HTTP API as an auditor would.
type Client struct {
	Server string
	Token  string
	HTTP   *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	u := strings.TrimRight(c.Server, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodGet && path == "/v1/events" {
		req.Header.Set("Accept", "application/x-ndjson")
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// EachRecord streams the log from sequence after+1 on, as NDJSON lines;
// fn gets each line and its decoded record (or the error decoding it).
func (c *Client) EachRecord(ctx context.Context, after uint64, fn func(line []byte, rec domain.Record, err error) error) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/events", url.Values{"after": {fmt.Sprint(after)}}, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var rec domain.Record
		err := json.Unmarshal(sc.Bytes(), &rec)
		if err := fn(sc.Bytes(), rec, err); err != nil {
			if errors.Is(err, eventstore.ErrStop) {
				return nil
			}
			return err
		}
	}
	return sc.Err()
}

// Input reads the log through the API; the reference is the server's live
// views.
func (c *Client) Input(ctx context.Context) (Input, error) {
	var info LogInfo
	if err := c.getJSON(ctx, "/v1/log", nil, &info); err != nil {
		return Input{}, err
	}
	ref, err := c.liveViews(ctx)
	if err != nil {
		return Input{}, err
	}
	var prev uint64
	return Input{
		Info: info,
		Each: func(ctx context.Context, fn func(uint64, domain.Record, []byte, error) error) error {
			return c.EachRecord(ctx, 0, func(line []byte, rec domain.Record, err error) error {
				seq := rec.Sequence
				if err != nil {
					seq = prev + 1
				}
				prev = seq
				return fn(seq, rec, line, err)
			})
		},
		History:   c.history,
		Reference: ref,
		Proofs:    "server",
	}, nil
}

// history reads an aggregate's records up to sequence upTo, a page at a
// time.
func (c *Client) history(ctx context.Context, ref domain.Ref, upTo uint64) ([]domain.Record, error) {
	var out []domain.Record
	var after uint64
	for {
		var page struct {
			Events    []domain.Record `json:"events"`
			NextAfter uint64          `json:"next_after"`
		}
		q := url.Values{"after": {fmt.Sprint(after)}}
		if err := c.getJSON(ctx, "/v1/aggregates/"+string(ref.Type)+"/"+ref.ID+"/events", q, &page); err != nil {
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

// liveViews fetches every view at one and the same sequence.
func (c *Client) liveViews(ctx context.Context) (*Reference, error) {
	var minSeq uint64
	for attempt := 0; attempt < 5; attempt++ {
		views := map[string]json.RawMessage{}
		var seqs []uint64
		for _, name := range projections.ViewNames {
			var raw json.RawMessage
			if err := c.getJSON(ctx, "/v1/views/"+name, url.Values{"min_sequence": {fmt.Sprint(minSeq)}}, &raw); err != nil {
				return nil, err
			}
			var head struct {
				Sequence uint64 `json:"sequence"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return nil, err
			}
			views[name] = raw
			seqs = append(seqs, head.Sequence)
			minSeq = max(minSeq, head.Sequence)
		}
		same := true
		for _, s := range seqs {
			same = same && s == seqs[0]
		}
		if same {
			return &Reference{What: "the server's live views", Sequence: seqs[0], Views: func(context.Context) (map[string]json.RawMessage, error) { return views, nil }}, nil
		}
	}
	return nil, errors.New("the server's views kept moving while being read; verify again when writes pause")
}

// ExportInput reads a log from an export file, as an auditor given the
// file alone would: each line is hashed as it is (it is a leaf of the
// log's tree), and parsed. Foreign records are as the export marks them;
// proofs cannot be checked without the log key.
func ExportInput(r io.Reader) Input {
	history := map[domain.Ref][]domain.Record{}
	return Input{
		Info: LogInfo{Stream: "(an export file)"},
		Each: func(ctx context.Context, fn func(uint64, domain.Record, []byte, error) error) error {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), maxLine)
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

// Checkpoint fetches the log's latest signed checkpoint.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "/v1/log/checkpoint", nil)
}

// RecordProof fetches a record with its inclusion proof (C2SP tlog-proof).
func (c *Client) RecordProof(ctx context.Context, seq uint64) ([]byte, error) {
	return c.getBytes(ctx, fmt.Sprintf("/v1/events/%d/proof", seq), nil)
}

// ProveTree fetches the log's proof that its tree of size m is a prefix of
// its tree of size n.
func (c *Client) ProveTree(ctx context.Context, m, n int64) (tlog.TreeProof, error) {
	var reply struct {
		From, To int64
		Proof    []string
	}
	if err := c.getJSON(ctx, "/v1/log/proof/tree", url.Values{"from": {fmt.Sprint(m)}, "to": {fmt.Sprint(n)}}, &reply); err != nil {
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

func (c *Client) getBytes(ctx context.Context, path string, q url.Values) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxLine))
}
