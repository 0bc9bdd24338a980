// Package client is the HTTP API client of the planledger commands that
// talk to a running ledger. It speaks the API's media types, sends the
// bearer token and a request id, retries a 503 (the ledger appended
// nothing, and the same ids are stored at most once) after the Retry-After
// it asks for, and turns a problem reply into a *Problem that says in
// plain words what was wrong.
//
// Every command that talks to a running ledger uses it: post, token,
// demo, and the readers of replay, verify, export, import, prove and
// check-view.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"planledger/eventstore/retry"

	"planledger/domain"
)

// Media types of the API.
const (
	MediaEvent   = "application/cloudevents+json"
	MediaBatch   = "application/cloudevents-batch+json"
	MediaJSON    = "application/json"
	MediaNDJSON  = "application/x-ndjson"
	MediaProblem = "application/problem+json"
)

// Client calls one ledger's API.
type Client struct {
	// BaseURL is the ledger's, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token is the bearer token; requests go without one if empty.
	Token string
	// HTTP sends the requests; one with a 2-minute timeout if nil.
	HTTP *http.Client
	// Retries is how often a 503 is tried again; 5 if zero, none if
	// negative.
	Retries int
	// MaxRetryWait bounds one wait between tries (the first is the
	// Retry-After the ledger asks for, each later one twice the last);
	// 10s if zero.
	MaxRetryWait time.Duration
}

// New returns a client of the ledger at baseURL with token.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

var defaultHTTP = &http.Client{Timeout: 2 * time.Minute}

// Problem is an error reply of the ledger (RFC 9457).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Errors   []struct {
		Pointer string `json:"pointer"`
		Detail  string `json:"detail"`
	} `json:"errors"`
	Aggregate      string  `json:"aggregate"`
	CurrentVersion *uint64 `json:"current_version"`
	// RequestID is the reply's X-Request-Id: the server's log has a line
	// for the request under it.
	RequestID string `json:"-"`
}

// Error says what the ledger refused and why, one problem a line.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", p.Status, p.Title, p.Detail)
	for _, e := range p.Errors {
		where := e.Pointer
		if where == "" {
			where = "(the request)"
		}
		fmt.Fprintf(&b, "\n  %s: %s", where, e.Detail)
	}
	if p.CurrentVersion != nil {
		fmt.Fprintf(&b, "\n  %s is at version %d", p.Aggregate, *p.CurrentVersion)
	}
	if p.RequestID != "" {
		fmt.Fprintf(&b, "\n  (request %s in the server's log)", p.RequestID)
	}
	return b.String()
}

// Request is one call of the API.
type Request struct {
	Method string
	// Path is below BaseURL: /v1/events.
	Path  string
	Query url.Values
	// Body is sent as is (and again on a retry).
	Body []byte
	// Stream, if set, is sent instead of Body, once: a reply asking to
	// try again is an error.
	Stream      io.Reader
	ContentType string
	Accept      string
	// Token, if set, is sent instead of the client's.
	Token string
}

// Do sends r and returns the response of a 2xx or 3xx reply (the caller
// closes its body); another reply is a *Problem (a plain one made from
// the status if the body is not a problem). A 503 is tried again, up to
// Retries times, the waits ending with ctx.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	u := c.BaseURL + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	retries := c.Retries
	if retries == 0 {
		retries = 5
	}
	if r.Stream != nil {
		retries = -1 // a stream cannot be sent again
	}
	var backoff *retry.Backoff
	for {
		resp, err := c.send(ctx, u, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 400 {
			return resp, nil
		}
		p := readProblem(resp)
		if resp.StatusCode != http.StatusServiceUnavailable || retries < 0 {
			return nil, p
		}
		if backoff == nil {
			// The first wait is the one the ledger asks for; later ones
			// grow, up to MaxRetryWait.
			backoff = retry.Policy{Initial: c.retryWait(resp.Header.Get("Retry-After")), Max: c.maxRetryWait(), Attempts: retries + 1}.Begin()
		}
		if backoff.Pause(ctx, p) != nil {
			return nil, p
		}
	}
}

func (c *Client) send(ctx context.Context, u string, r Request) (*http.Response, error) {
	var body io.Reader = bytes.NewReader(r.Body)
	if r.Stream != nil {
		body = r.Stream
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return nil, err
	}
	if r.Body == nil && r.Stream == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	token := r.Token
	if token == "" {
		token = c.Token
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.Accept != "" {
		req.Header.Set("Accept", r.Accept)
	}
	req.Header.Set("X-Request-Id", uuid.Must(uuid.NewV7()).String())
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, u, err)
	}
	return resp, nil
}

// retryWait is the wait a reply's Retry-After asks for (2s without one),
// at most MaxRetryWait.
func (c *Client) retryWait(retryAfter string) time.Duration {
	wait := 2 * time.Second
	if n, err := strconv.Atoi(retryAfter); err == nil && n >= 0 {
		wait = time.Duration(n) * time.Second
	}
	return min(wait, c.maxRetryWait())
}

func (c *Client) maxRetryWait() time.Duration {
	if c.MaxRetryWait == 0 {
		return 10 * time.Second
	}
	return c.MaxRetryWait
}

// readProblem reads a problem reply and closes its body.
func readProblem(resp *http.Response) *Problem {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != MediaProblem || json.Unmarshal(body, p) != nil || p.Status == 0 {
		p = &Problem{Status: resp.StatusCode, Detail: strings.TrimSpace(string(body))}
	}
	if p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	p.RequestID = resp.Header.Get("X-Request-Id")
	return p
}

// GetJSON reads a JSON reply into v.
func (c *Client) GetJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: q, Accept: MediaJSON})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: the reply is not what was expected: %w", path, err)
	}
	return nil
}

// Posted is what the ledger stored for a POST /v1/events.
type Posted struct {
	Records []domain.Record
	// Created is false when every event was already stored (200): the
	// records are the originals.
	Created bool
}

// PostEvents posts one event, or with batch a batch of them (all or
// nothing).
func (c *Client) PostEvents(ctx context.Context, events []json.RawMessage, batch bool) (Posted, error) {
	if !batch && len(events) != 1 {
		return Posted{}, errors.New("one event, or a batch")
	}
	body, ct := []byte(events[0]), MediaEvent
	if batch {
		ct = MediaBatch
		var err error
		if body, err = json.Marshal(events); err != nil {
			return Posted{}, err
		}
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/v1/events", Body: body, ContentType: ct})
	if err != nil {
		return Posted{}, err
	}
	defer resp.Body.Close()
	out := Posted{Created: resp.StatusCode == http.StatusCreated}
	dec := json.NewDecoder(resp.Body)
	if batch {
		err = dec.Decode(&out.Records)
	} else {
		var rec domain.Record
		err = dec.Decode(&rec)
		out.Records = []domain.Record{rec}
	}
	if err != nil {
		return Posted{}, fmt.Errorf("the ledger's reply is not a record: %w", err)
	}
	return out, nil
}

// Principal is who a token acts for.
type Principal struct {
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Societies []string `json:"societies"`
}

// Whoami returns the principal of token (the client's if empty).
func (c *Client) Whoami(ctx context.Context, token string) (Principal, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/v1/whoami", Accept: MediaJSON, Token: token})
	if err != nil {
		return Principal{}, err
	}
	defer resp.Body.Close()
	var p Principal
	return p, json.NewDecoder(resp.Body).Decode(&p)
}
