package domain_test

import (
	"encoding/json"
	"reflect"
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

// checkBody: wherever the fast path answers, encoding/json gives the same
// record; and DecodeRecordBody always agrees with encoding/json.
func checkBody(t *testing.T, body []byte) {
	var w struct {
		domain.Event
		Version   uint64 `json:"version"`
		Submitter string `json:"submitter"`
	}
	slowErr := json.Unmarshal(body, &w)
	slow := domain.Record{Event: w.Event, Version: w.Version, Submitter: w.Submitter}
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
	if fast < 3 {
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

func FuzzDecodeRecordBody(f *testing.F) {
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkBody(t, body) })
}
