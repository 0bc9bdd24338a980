package domain_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"planledger/domain"
)

// bodies are record bodies as the ledger writes them, and variants a
// store might hold.
var bodies = []string{
	`{"specversion":"1.0","id":"e-1","source":"/bench","type":"service_team.service_delivered","subject":"service_team/team-001","time":"2021-05-25T10:00:00+08:00","data":{"service_kind":"experts","partner_kind":"village","partner_name":"滑县留固镇东孔庄村","volunteers":6,"hours":24.5,"beneficiaries":180,"delivered_on":"2021-05-25","problems_solved":3,"technologies_promoted":2,"talents_trained":15,"demonstrations":1},"version":2,"submitter":"bench"}`,
	`{"specversion":"1.0","id":"r","source":"/s","type":"society.reelection_held","subject":"society/x","time":"2021-04-25T10:00:00.123456789Z","data":{"term_start":"2021-04-25","term_years":5,"leadership":[{"member_id":"m01","role":"president","sector":"university"}],"nested":{"a":[1,-2.5e3,true,false,null,"\u00e9\n"]}},"version":18446744073709551615,"submitter":"admin"}`,
	` { "specversion" : "1.0" , "id" : "ws" , "source":"/s","type":"plan.published","subject":"plan/p","time":"2021-01-01T00:00:00+08:00","data": {} ,"version":1,"submitter":"s" } `,
	`{"id":"esc\"aped","specversion":"1.0","source":"/s","type":"t","subject":"s/x","time":"2021-01-01T00:00:00Z","data":{},"version":1,"submitter":"s"}`,
	`{"ID":"cased","specversion":"1.0","data":{},"version":1}`,
	`{"id":"unknown","extra":1,"data":{}}`,
	`{"id":"nulls","time":null,"data":null,"version":null,"submitter":null}`,
	`{"id":"dup","id":"dup2","version":1,"version":2,"data":{"a":1},"data":{"b":2}}`,
	`{"id":"bad version","version":-1}`,
	`{"id":"float version","version":1.0}`,
	`{"id":"big","version":18446744073709551616}`,
	`{"id":"data array","data":[1,2]}`,
	`{"id":"bad time","time":"yesterday"}`,
	`{"id":"trailing comma",}`,
	`{"id":"broken data","data":{"a":01}}`,
	`{"id":"deep","data":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`,
	`{"id":"ctl` + "\x01" + `"}`,
	`{"id":"latin1 ` + "\xe9" + `"}`,
	`{"specversion":"1.0","id":"ext","source":"/s","type":"society.registered","subject":"society/x","time":"2021-01-01T00:00:00Z","datacontenttype":"application/json; charset=utf-8","dataschema":"https://example.org/s.json","data":{"name":"n","kind":"society"},"version":1,"submitter":"s","partitionkey":"p1","sampled":true,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","weight":-42}`,
	`{"id":"ext escaped","data":{},"traceparent":"\u003cx\u003e","big":1.5e3}`,
	`{"id":"ext null","data":{},"tracestate":null,"a1":"x","a1":null}`,
	`{"id":"ext object","data":{},"nested":{"a":1}}`,
	`{"id":"ext array","data":{},"list":[1]}`,
	`{"id":"reserved and odd names","data":{},"sequence":7,"recordedtime":"x","Trace":"x","trace_parent":"y","expectedversion":3}`,
	`{}`,
	`[]`,
	``,
	`{"id":"x"} trailing`,
}

// sameRecord compares records, times by instant and offset.
func sameRecord(a, b domain.Record) bool {
	if !a.Time.Equal(b.Time) || a.Time.Format(time.RFC3339Nano) != b.Time.Format(time.RFC3339Nano) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// referenceBody is encoding/json's reading of a body: the event (with its
// extensions), its version and its submitter.
func referenceBody(body []byte) (domain.Record, error) {
	var ev domain.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return domain.Record{}, err
	}
	var w struct {
		Version   uint64 `json:"version"`
		Submitter string `json:"submitter"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return domain.Record{}, err
	}
	return domain.Record{Event: ev, Version: w.Version, Submitter: w.Submitter}, nil
}

// checkBody: wherever the fast path answers, encoding/json gives the same
// record; and DecodeRecordBody always agrees with encoding/json.
func checkBody(t *testing.T, body []byte) {
	slow, slowErr := referenceBody(body)
	if fast, ok := domain.FastRecordBody(body); ok {
		if slowErr != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", slowErr, body)
		}
		if !sameRecord(fast, slow) {
			t.Fatalf("fast path\n%+v\nencoding/json\n%+v\nbody %q", fast, slow, body)
		}
	}
	got, err := domain.DecodeRecordBody(body)
	if (err != nil) != (slowErr != nil) {
		t.Fatalf("DecodeRecordBody error %v, encoding/json %v: %q", err, slowErr, body)
	}
	if err == nil && !sameRecord(got, slow) {
		t.Fatalf("DecodeRecordBody\n%+v\nencoding/json\n%+v", got, slow)
	}
}

func TestDecodeRecordBody(t *testing.T) {
	fast := 0
	for _, b := range bodies {
		checkBody(t, []byte(b))
		if _, ok := domain.FastRecordBody([]byte(b)); ok {
			fast++
		}
	}
	if fast < 4 {
		t.Fatalf("the fast path answered %d of the sample bodies; the ledger's own must go fast", fast)
	}

	// What the ledger writes, it reads back on the fast path.
	ev := domain.Event{SpecVersion: "1.0", ID: "reg-1", Source: "/societies/hn-cheng", Type: "society.registered",
		Subject: "society/hn-cheng", Time: time.Date(2021, 3, 1, 9, 0, 0, 0, domain.CST),
		Data: json.RawMessage(`{"name":"河南省化工学会","kind":"society","city":"zhengzhou"}`)}
	body, err := domain.EncodeRecordBody(&ev, 7, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := domain.FastRecordBody(body)
	want := domain.Record{Event: ev, Version: 7, Submitter: "admin"}
	if !ok || !sameRecord(rec, want) {
		t.Fatalf("the ledger's own body (%s) read back as %+v (fast path %v)", body, rec, ok)
	}
}

// TestRecordBodyFixedPoint: a body the ledger wrote decodes and encodes
// again to the same bytes, extensions, data schema and content type
// included; and an event without extensions is read on the fast path.
func TestRecordBodyFixedPoint(t *testing.T) {
	base := domain.Event{SpecVersion: "1.0", ID: "reg-1", Source: "/societies/hn-cheng", Type: "society.registered",
		Subject: "society/hn-cheng", Time: time.Date(2021, 3, 1, 9, 0, 0, 500_000_000, domain.CST),
		Data: json.RawMessage(`{"name":"河南省化工学会","kind":"society","city":"zhengzhou"}`)}
	withExt := base
	withExt.DataContentType = "application/json; charset=utf-8"
	withExt.DataSchema = "https://example.org/schemas/society.registered.json"
	withExt.Extensions = domain.Extensions{
		"traceparent":  json.RawMessage(`"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`),
		"tracestate":   json.RawMessage(`"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"`),
		"partitionkey": json.RawMessage(`42`), "sampled": json.RawMessage(`true`),
	}
	for name, ev := range map[string]domain.Event{"plain": base, "extensions": withExt} {
		t.Run(name, func(t *testing.T) {
			body, err := domain.EncodeRecordBody(&ev, 3, "chem-secretariat")
			if err != nil {
				t.Fatal(err)
			}
			checkFixedPoint(t, body)
			rec, err := domain.DecodeRecordBody(body)
			if err != nil || !sameRecord(rec, domain.Record{Event: ev, Version: 3, Submitter: "chem-secretariat"}) {
				t.Fatalf("%s read back as %+v, %v", body, rec, err)
			}
			if _, fast := domain.FastRecordBody(body); !fast {
				t.Fatalf("the ledger's own body %s is not read on the fast path", body)
			}
			// The record's JSON (what export writes and import reads) gives
			// back the same event, hence the same body.
			recJSON, err := json.Marshal(domain.Record{Event: ev, Sequence: 9, Version: 3, Submitter: "chem-secretariat"})
			if err != nil {
				t.Fatal(err)
			}
			var back domain.Record
			if err := json.Unmarshal(recJSON, &back); err != nil {
				t.Fatal(err)
			}
			again, err := domain.EncodeRecordBody(&back.Event, back.Version, back.Submitter)
			if err != nil || !bytes.Equal(again, body) {
				t.Fatalf("body from the exported record\n%s\nwant\n%s (%v)", again, body, err)
			}
		})
	}
}

// checkFixedPoint: encoding a decoded body is idempotent; for a body the
// ledger wrote, it is the identity.
func checkFixedPoint(t *testing.T, body []byte) {
	t.Helper()
	rec, err := domain.DecodeRecordBody(body)
	if err != nil {
		return
	}
	once, err := domain.EncodeRecordBody(&rec.Event, rec.Version, rec.Submitter)
	if err != nil {
		return // not encodable (a year past 9999): never stored
	}
	rec2, err := domain.DecodeRecordBody(once)
	if err != nil {
		t.Fatalf("re-encoded body %q does not decode: %v", once, err)
	}
	twice, err := domain.EncodeRecordBody(&rec2.Event, rec2.Version, rec2.Submitter)
	if err != nil || !bytes.Equal(once, twice) {
		t.Fatalf("encoding is not a fixed point:\n%s\n%s (%v)", once, twice, err)
	}
}

func FuzzRecordBodyFixedPoint(f *testing.F) {
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFixedPoint(t, body) })
}

func FuzzDecodeRecordBody(f *testing.F) {
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkBody(t, body) })
}

// BenchmarkDecodeRecordBody is the replay's reading of a usual body (no
// extensions), and of one with a traceparent.
func BenchmarkDecodeRecordBody(b *testing.B) {
	usual := []byte(bodies[0])
	traced := []byte(strings.Replace(bodies[0], `"submitter":"bench"}`, `"submitter":"bench","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`, 1))
	for name, body := range map[string][]byte{"usual": usual, "traceparent": traced} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := domain.DecodeRecordBody(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
