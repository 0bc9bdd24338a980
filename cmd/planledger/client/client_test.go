package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"planledger/domain"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetryAndProblems: a 503 is tried again with the same body after its
// Retry-After; a problem reply becomes a *Problem that lists each error.
func TestRetryAndProblems(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Request-Id") == "" {
			t.Errorf("headers %v", r.Header)
		}
		w.Header().Set("X-Request-Id", "req-1")
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", MediaProblem)
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the store is unavailable"}`))
		case 2:
			w.Header().Set("Content-Type", MediaEvent)
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"specversion":"1.0","id":"e1","source":"/s","type":"society.registered","subject":"society/s","time":"2021-05-01T10:00:00+08:00","data":{},"sequence":7,"version":1,"recordedtime":"2021-05-01T02:00:00Z","submitter":"x"}`))
		default:
			w.Header().Set("Content-Type", MediaProblem)
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"1 problem(s)","instance":"urn:uuid:x","errors":[{"pointer":"/data/members","detail":"2 is out of range"}]}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	c.MaxRetryWait = time.Second
	ev := json.RawMessage(`{"id":"e1"}`)
	res, err := c.PostEvents(context.Background(), []json.RawMessage{ev}, false)
	if err != nil || !res.Created || len(res.Records) != 1 || res.Records[0].Sequence != 7 {
		t.Fatalf("post after a 503: %+v, %v", res, err)
	}
	if len(bodies) != 2 || bodies[0] != bodies[1] || bodies[1] != string(ev) {
		t.Fatalf("the retry sent %q", bodies)
	}
	_, err = c.PostEvents(context.Background(), []json.RawMessage{ev}, false)
	var p *Problem
	if !errors.As(err, &p) || p.Status != 422 || p.RequestID != "req-1" {
		t.Fatalf("a refusal: %v", err)
	}
	want := "422 Unprocessable Entity: 1 problem(s)\n  /data/members: 2 is out of range\n  (request req-1 in the server's log)"
	if p.Error() != want {
		t.Fatalf("problem text\n%s\nwant\n%s", p.Error(), want)
	}
}

// TestRetriesEnd: a 503 that persists is tried Retries times more and
// then returned; a streamed body is sent once; a wait ends with the
// context.
func TestRetriesEnd(t *testing.T) {
	var calls atomic.Int32
	var retryAfter atomic.Value
	retryAfter.Store("0")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", retryAfter.Load().(string))
		w.WriteHeader(503)
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	c.Retries = 3
	_, err := c.GetBytes(context.Background(), "/v1/log", nil)
	var p *Problem
	if !errors.As(err, &p) || p.Status != 503 || calls.Load() != 4 {
		t.Fatalf("after %d calls: %v; want a 503 problem after 4 calls", calls.Load(), err)
	}
	calls.Store(0)
	var res struct{}
	if err := c.Import(context.Background(), strings.NewReader("{}\n"), &res); !errors.As(err, &p) || calls.Load() != 1 {
		t.Fatalf("a streamed body was sent %d times (%v); want once", calls.Load(), err)
	}
	calls.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c.Retries, c.MaxRetryWait = 0, time.Hour
	retryAfter.Store("60")
	start := time.Now()
	if _, err := c.GetBytes(ctx, "/v1/log", nil); !errors.As(err, &p) || time.Since(start) > 10*time.Second || calls.Load() != 1 {
		t.Fatalf("a wait of 60 s under a context of 100 ms: %v after %s and %d calls", err, time.Since(start), calls.Load())
	}
}

// TestEachRecord reads an NDJSON stream line by line, a line that is not
// a record with its error.
func TestEachRecord(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.URL.Query().Get("after") != "4" || r.Header.Get("Accept") != MediaNDJSON {
			t.Errorf("asked %s with Accept %q", r.URL, r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", MediaNDJSON)
		_, _ = w.Write([]byte(`{"specversion":"1.0","id":"a","sequence":5}` + "\nnot json\n" + `{"specversion":"1.0","id":"b","sequence":7}` + "\n"))
	}))
	defer srv.Close()
	var got []string
	err := New(srv.URL, "tok").EachRecord(context.Background(), 4, func(line []byte, rec domain.Record, err error) error {
		got = append(got, fmt.Sprintf("%d %s %v", rec.Sequence, line, err != nil))
		return nil
	})
	want := []string{`5 {"specversion":"1.0","id":"a","sequence":5} false`, "0 not json true", `7 {"specversion":"1.0","id":"b","sequence":7} false`}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}
