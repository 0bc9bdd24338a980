package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"planledger/domain"
)

// MaxLine bounds one line of an NDJSON reply, and a reply read whole as
// bytes: a record is at most an event under the ledger's 1 MiB body limit
// plus its envelope.
const MaxLine = 4 << 20

// EachRecord streams the log from sequence after+1 on (GET /v1/events as
// NDJSON); fn gets each line and its decoded record (or the error
// decoding it). An error of fn ends the stream and is returned as it is.
func (c *Client) EachRecord(ctx context.Context, after uint64, fn func(line []byte, rec domain.Record, err error) error) error {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/v1/events", Query: url.Values{"after": {fmt.Sprint(after)}}, Accept: MediaNDJSON})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	for sc.Scan() {
		var rec domain.Record
		err := json.Unmarshal(sc.Bytes(), &rec)
		if err := fn(sc.Bytes(), rec, err); err != nil {
			return err
		}
	}
	return sc.Err()
}

// AggregatePage is a page of an aggregate's history.
type AggregatePage struct {
	Aggregate string          `json:"aggregate"`
	Version   uint64          `json:"version"`
	Events    []domain.Record `json:"events"`
	NextAfter uint64          `json:"next_after"`
}

// Aggregate reads the page of ref's history after sequence after.
func (c *Client) Aggregate(ctx context.Context, ref domain.Ref, after uint64) (AggregatePage, error) {
	var page AggregatePage
	err := c.GetJSON(ctx, "/v1/aggregates/"+string(ref.Type)+"/"+ref.ID+"/events", url.Values{"after": {fmt.Sprint(after)}}, &page)
	return page, err
}

// GetBytes reads a reply whole (at most MaxLine bytes).
func (c *Client) GetBytes(ctx context.Context, path string, q url.Values) ([]byte, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: q})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, MaxLine))
}

// Checkpoint fetches the log's latest signed checkpoint.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	return c.GetBytes(ctx, "/v1/log/checkpoint", nil)
}

// RecordProof fetches a record with its inclusion proof (C2SP tlog-proof).
func (c *Client) RecordProof(ctx context.Context, seq uint64) ([]byte, error) {
	return c.GetBytes(ctx, fmt.Sprintf("/v1/events/%d/proof", seq), nil)
}

// Import sends an export (NDJSON records) to POST /v1/import, once, and
// reads what the import did into v.
func (c *Client) Import(ctx context.Context, export io.Reader, v any) error {
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/v1/import", Stream: export, ContentType: MediaNDJSON, Accept: MediaJSON})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("POST /v1/import: the reply is not what was expected: %w", err)
	}
	return nil
}
