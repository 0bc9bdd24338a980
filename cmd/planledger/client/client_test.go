package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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
