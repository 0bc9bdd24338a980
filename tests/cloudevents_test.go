package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// TestCloudEventsSDK: the official Go SDK posts one event in binary mode
// (its default, with a traceparent extension), one in structured mode and
// a batch; every one is 201, and the replies and the aggregate's history,
// read with the SDK's own HTTP readers, give back the attributes and
// extensions that were sent, plus the record's.
func TestCloudEventsSDK(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := cehttp.New(cehttp.WithTarget(ts.url+"/v1/events"), cehttp.WithHeader("Authorization", "Bearer "+chemToken))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cloudevents.NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2021, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	newEvent := func(id, typ string, data any, ext map[string]any) event.Event {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("/sdk/tests")
		e.SetType(typ)
		e.SetSubject("society/hn-chem")
		e.SetTime(at)
		for k, v := range ext {
			e.SetExtension(k, v)
		}
		if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
			t.Fatal(err)
		}
		return e
	}
	var sent []event.Event

	binaryEv := newEvent("sdk-binary", "society.registered", map[string]any{"name": "河南省化学会", "kind": "society"},
		map[string]any{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	reply, res := c.Request(ctx, binaryEv)
	wantCreated(t, "binary", res)
	checkSame(t, "binary reply", binaryEv, reply, 2)
	sent = append(sent, binaryEv)

	structuredEv := newEvent("sdk-structured", "society.party_organization_established",
		map[string]any{"org_type": "branch", "members": 5, "established_on": "2021-04-20"},
		map[string]any{"partitionkey": "hn-chem", "priority": 3, "sampled": true})
	structuredEv.SetDataSchema(ts.url + "/v1/schemas/society.party_organization_established")
	reply, res = c.Request(binding.WithForceStructured(ctx), structuredEv)
	wantCreated(t, "structured", res)
	checkSame(t, "structured reply", structuredEv, reply, 3)
	sent = append(sent, structuredEv)

	batch := []event.Event{
		newEvent("sdk-batch-1", "society.party_history_activity_held", map[string]any{"title": "党史学习", "participants": 30, "held_on": "2021-04-30"},
			map[string]any{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "rojo=00f067aa0ba902b7"}),
		newEvent("sdk-batch-2", "society.annual_inspection_recorded", map[string]any{"year": 2020, "result": "pass"}, nil),
	}
	req, err := cehttp.NewHTTPRequestFromEvents(ctx, ts.url+"/v1/events", batch)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+chemToken)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	replies, err := cehttp.NewEventsFromHTTPResponse(resp)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || len(replies) != 2 {
		t.Fatalf("batch: status %d, %d events, %v", resp.StatusCode, len(replies), err)
	}
	for i := range batch {
		checkSame(t, "batch reply", batch[i], &replies[i], int32(4+i))
	}
	sent = append(sent, batch...)

	// The aggregate's history, as a bare batch.
	req, _ = http.NewRequestWithContext(ctx, "GET", ts.url+"/v1/aggregates/society/hn-chem/events", nil)
	req.Header.Set("Authorization", "Bearer "+auditToken)
	req.Header.Set("Accept", "application/cloudevents-batch+json")
	resp, err = testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	history, err := cehttp.NewEventsFromHTTPResponse(resp)
	resp.Body.Close()
	if err != nil || len(history) != len(sent) {
		t.Fatalf("history: %d events, %v", len(history), err)
	}
	for i := range sent {
		checkSame(t, "history", sent[i], &history[i], int32(2+i))
		if v := history[i].Extensions()["version"]; v != int32(i+1) {
			t.Errorf("history[%d] version %v, want %d", i, v, i+1)
		}
	}
}

func wantCreated(t *testing.T, mode string, res cloudevents.Result) {
	t.Helper()
	if !cloudevents.IsACK(res) {
		t.Fatalf("%s: not acknowledged: %v", mode, res)
	}
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) || hr.StatusCode != http.StatusCreated {
		t.Fatalf("%s: result %v, want 201", mode, res)
	}
}

// checkSame: got is the record of sent: the same attributes, data and
// extensions, and the record's own extensions.
func checkSame(t *testing.T, what string, sent event.Event, got *event.Event, sequence int32) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no event read", what)
	}
	if got.ID() != sent.ID() || got.Source() != sent.Source() || got.Type() != sent.Type() || got.Subject() != sent.Subject() ||
		!got.Time().Equal(sent.Time()) || got.DataSchema() != sent.DataSchema() || got.DataContentType() != sent.DataContentType() {
		t.Errorf("%s: attributes\n%s\nwant\n%s", what, got.Context, sent.Context)
	}
	var a, b any
	if json.Unmarshal(got.Data(), &a) != nil || json.Unmarshal(sent.Data(), &b) != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("%s: data %s, want %s", what, got.Data(), sent.Data())
	}
	ext := got.Extensions()
	for k, v := range sent.Extensions() {
		if !reflect.DeepEqual(ext[k], v) {
			t.Errorf("%s: extension %s = %#v, want %#v", what, k, ext[k], v)
		}
	}
	if ext["sequence"] != sequence || ext["submitter"] != "chem-secretariat" || ext["recordedtime"] == nil || ext["version"] == nil {
		t.Errorf("%s: record extensions %v, want sequence %d", what, ext, sequence)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("%s: not a valid CloudEvent: %v", what, err)
	}
}
