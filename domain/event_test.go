package domain_test

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"planledger/domain"
)

// TestRecordJSONCoversEveryField: a genuine record's JSON (its line:
// export writes it and import reads it back) carries every field of
// Record, so a field added to Record without its twin in the line fails
// here. Foreign is not a genuine record's (TestLineGolden pins its form).
func TestRecordJSONCoversEveryField(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: "e1", Source: "/s", Type: "society.registered", Subject: "society/s",
		Time: time.Date(2021, 5, 1, 10, 0, 0, 0, domain.CST), Data: json.RawMessage(`{"name":"n","kind":"society"}`),
		Extensions: domain.Extensions{"traceparent": json.RawMessage(`"00-x"`)}}}
	v := reflect.ValueOf(&rec).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		switch {
		case f.Name == "Event" || f.Name == "Foreign" || f.Name == "Batch": // not a record's JSON: what the log says around it
		case f.Type == reflect.TypeOf(time.Time{}):
			v.Field(i).Set(reflect.ValueOf(time.Date(2021, 5, 1, 2, 3, 4, 5, time.UTC)))
		default:
			for {
				x, ok := quick.Value(f.Type, rng)
				if !ok {
					t.Fatalf("cannot make a value for Record.%s", f.Name)
				}
				if !x.IsZero() {
					v.Field(i).Set(x)
					break
				}
			}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back domain.Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Time, rec.Time = back.Time.UTC(), rec.Time.UTC()
	if !reflect.DeepEqual(back, rec) {
		t.Fatalf("record JSON %s reads back as\n%+v\nwant\n%+v", b, back, rec)
	}
}

// TestRecordIsACloudEvent: a record's JSON is the event's members,
// extensions included, then the record's attributes.
func TestRecordIsACloudEvent(t *testing.T) {
	rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: "e1", Source: "/s", Type: "society.registered", Subject: "society/s",
		Time: time.Date(2021, 5, 1, 10, 0, 0, 0, domain.CST), DataSchema: "https://example.org/s.json",
		Data: json.RawMessage(`{"name":"n","kind":"society"}`), Extensions: domain.Extensions{"traceparent": json.RawMessage(`"00-x"`), "a": json.RawMessage(`1`)}},
		Sequence: 7, Version: 2, RecordedTime: time.Date(2021, 5, 1, 2, 3, 4, 0, time.UTC), Submitter: "chem"}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"e1","source":"/s","type":"society.registered","subject":"society/s","time":"2021-05-01T10:00:00+08:00","dataschema":"https://example.org/s.json","data":{"name":"n","kind":"society"},"a":1,"traceparent":"00-x","sequence":7,"version":2,"recordedtime":"2021-05-01T02:03:04Z","submitter":"chem"}`
	if string(b) != want {
		t.Fatalf("record JSON\n%s\nwant\n%s", b, want)
	}
	// A bare event has no record attributes, and reads back the same.
	eb, err := json.Marshal(rec.Event)
	if err != nil || strings.Contains(string(eb), "sequence") {
		t.Fatalf("event JSON %s (%v)", eb, err)
	}
	var ev domain.Event
	if err := json.Unmarshal(eb, &ev); err != nil || !reflect.DeepEqual(ev.Extensions, rec.Extensions) {
		t.Fatalf("event reads back with extensions %v (%v)", ev.Extensions, err)
	}
}

// referenceRecord is encoding/json's reading of a record's JSON.
func referenceRecord(b []byte) (domain.Record, error) {
	var ev domain.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return domain.Record{}, err
	}
	var w struct {
		Sequence     uint64    `json:"sequence"`
		Version      uint64    `json:"version"`
		RecordedTime time.Time `json:"recordedtime"`
		Submitter    string    `json:"submitter"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return domain.Record{}, err
	}
	return domain.Record{Event: ev, Sequence: w.Sequence, Version: w.Version, RecordedTime: w.RecordedTime, Submitter: w.Submitter}, nil
}

// checkRecordJSON: the one-pass reading of a record agrees with
// encoding/json's, and what reads back writes back the same.
func checkRecordJSON(t *testing.T, b []byte) {
	ref, refErr := referenceRecord(b)
	if fast, ok := domain.FastRecordJSON(b); ok {
		if refErr != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", refErr, b)
		}
		if !sameRecord(fast, ref) || !fast.RecordedTime.Equal(ref.RecordedTime) {
			t.Fatalf("fast path\n%+v\nencoding/json\n%+v\nrecord %q", fast, ref, b)
		}
	}
	var rec domain.Record
	err := json.Unmarshal(b, &rec)
	if (err != nil) != (refErr != nil) {
		t.Fatalf("UnmarshalJSON error %v, encoding/json %v: %q", err, refErr, b)
	}
	if err != nil {
		return
	}
	out, err := json.Marshal(rec)
	if err != nil {
		return // a time encoding/json cannot write either
	}
	var back domain.Record
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%q written as %q, which does not read back: %v", b, out, err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(out) {
		t.Fatalf("record JSON is not stable:\n%s\n%s", out, again)
	}
}

var recordTexts = []string{
	`{"specversion":"1.0","id":"e-1","source":"/bench","type":"society.registered","subject":"society/x","time":"2021-05-25T10:00:00+08:00","data":{"name":"n","kind":"society"},"sequence":12,"version":2,"recordedtime":"2021-05-25T02:00:00.123Z","submitter":"bench"}`,
	`{"specversion":"1.0","id":"e-2","source":"/s","type":"t","subject":"s/x","time":"2021-01-01T00:00:00Z","datacontenttype":"application/json","dataschema":"https://x.org/s","data":{},"a":1,"traceparent":"00-x","sequence":1,"version":1,"recordedtime":"2021-01-01T00:00:00Z","submitter":"s"}`,
	`{"id":"esc\u00e9","sequence":"1"}`,
	`{"id":"x","recordedtime":null,"sequence":1.5}`,
	`{"id":"x","Sequence":3,"RecordedTime":"2021-01-01T00:00:00Z"}`,
	`{"id":"x","data":{},"weird":{"a":1}}`,
}

func TestRecordJSON(t *testing.T) {
	for _, b := range recordTexts {
		checkRecordJSON(t, []byte(b))
	}
	if _, ok := domain.FastRecordJSON([]byte(recordTexts[1])); !ok {
		t.Fatal("a record with extensions is not read in one pass")
	}
}

func FuzzRecordJSON(f *testing.F) {
	for _, b := range append(recordTexts, bodies...) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkRecordJSON(t, b) })
}

// FuzzEventStrings: the hand-written record JSON escapes strings as
// encoding/json does (without HTML escaping).
func FuzzEventStrings(f *testing.F) {
	for _, s := range []string{"plain", "quote \" back \\ slash", "ctl \x01\x1f\n\r\t\b\f", "bad \xff utf8", "sep \u2028\u2029", "中文 <&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec := domain.Record{Event: domain.Event{ID: s, Source: s, Type: s, Subject: s, SpecVersion: s, DataSchema: s, DataContentType: s,
			Data: json.RawMessage(`{}`)}, Submitter: s}
		encode := func(v any) string {
			var buf strings.Builder
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			return strings.TrimSuffix(buf.String(), "\n")
		}
		got, want := encode(rec), encode(s)
		if !strings.Contains(string(got), `"id":`+want+`,`) || !strings.Contains(string(got), `"submitter":`+want+`}`) {
			t.Fatalf("%q written as %s; encoding/json writes %s", s, got, want)
		}
	})
}

// BenchmarkRecordJSON is a read reply's (and export's) writing of a
// record, and an import's reading of it.
func BenchmarkRecordJSON(b *testing.B) {
	var rec domain.Record
	if err := json.Unmarshal([]byte(recordTexts[0]), &rec); err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		text := []byte(recordTexts[0])
		b.ReportAllocs()
		for b.Loop() {
			var r domain.Record
			if err := json.Unmarshal(text, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
