package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"planledger/domain"
)

// TestForeignJSON: a foreign record is shown as a CloudEvent of the
// ledger's own holding the message exactly, and reads back as what it was.
func TestForeignJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 123, time.UTC)
	for _, body := range []string{`{"a":1}`, "\x00\xff junk", `{"s":"` + "\xff" + `"}`} {
		rec := domain.Record{Sequence: 1253, RecordedTime: at, Foreign: &domain.Foreign{Reason: domain.ForeignNoProof, Detail: "d",
			Subject: "planledger.events.society.x", Header: map[string][]string{"X-A": {"1"}}, Body: []byte(body)}}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["foreign"] != true || m["foreignreason"] != "no_proof" || m["type"] != domain.ForeignType || m["specversion"] != "1.0" || m["id"] != "planledger-foreign-1253" {
			t.Errorf("%q: shown as %s", body, b)
		}
		_, hasBody := m["data"].(map[string]any)["body"]
		if hasBody != (body == `{"a":1}`) {
			t.Errorf("%q: body shown as JSON: %v (only valid UTF-8 JSON is)", body, hasBody)
		}
		if strings.Contains(string(b), `"detail"`) {
			t.Errorf("the record's JSON carries the detail, which is not the log's: %s", b)
		}
		var back domain.Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		f := back.Foreign
		if f == nil || back.Sequence != 1253 || !back.RecordedTime.Equal(at) || f.Reason != domain.ForeignNoProof || string(f.Body) != body ||
			f.Subject != rec.Foreign.Subject || f.Header["X-A"][0] != "1" {
			t.Errorf("%q: read back as %+v %+v", body, back, f)
		}
	}
}

// TestRecordJSONUnchanged: a genuine record's JSON is the event plus its
// place in the log, as before foreign records existed, plus its proof.
func TestRecordJSONUnchanged(t *testing.T) {
	rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: "e1", Source: "/s", Type: "society.registered", Subject: "society/a",
		Time: time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"name":"a"}`)},
		Sequence: 3, Version: 1, RecordedTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Submitter: "t", MAC: "m"}
	b, _ := json.Marshal(rec)
	want := `{"specversion":"1.0","id":"e1","source":"/s","type":"society.registered","subject":"society/a","time":"2021-03-01T09:00:00Z","data":{"name":"a"},"sequence":3,"version":1,"recordedtime":"2026-01-01T00:00:00Z","submitter":"t","recordmac":"m"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back domain.Record
	if err := json.Unmarshal(b, &back); err != nil || back.Foreign != nil || back.ID != "e1" || back.MAC != "m" || back.Sequence != 3 {
		t.Fatalf("read back %+v %v", back, err)
	}
}
