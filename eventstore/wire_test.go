package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"planledger/domain"
	"planledger/eventstore/logkey"
)

const goodBody = `{"specversion":"1.0","id":"e1","source":"/t","type":"society.registered","subject":"society/a","time":"2021-03-01T09:00:00Z","data":{"name":"a","kind":"society"},"version":1,"submitter":"t"}`

// TestDecodeClassifies: every way a message can fail to be this ledger's
// record gives a foreign record with its reason, never an error.
func TestDecodeClassifies(t *testing.T) {
	key, err := logkey.Generate(10) // sequences 1-10 predate proofs
	if err != nil {
		t.Fatal(err)
	}
	subj := "planledger.events.society.a"
	sealed := func(s, body string) nats.Header { return nats.Header{HeaderMAC: {key.Seal(s, []byte(body))}} }
	cases := []struct {
		name string
		key  *logkey.Key
		seq  uint64
		subj string
		hdr  nats.Header
		body string
		want domain.ForeignReason // "" for the ledger's own
	}{
		{"proven", key, 11, subj, sealed(subj, goodBody), goodBody, ""},
		{"no proof", key, 11, subj, nil, goodBody, domain.ForeignNoProof},
		{"no proof, but older than proofs", key, 10, subj, nil, goodBody, ""},
		{"a proof of another body", key, 11, subj, sealed(subj, strings.Replace(goodBody, `"t"}`, `"u"}`, 1)), goodBody, domain.ForeignBadProof},
		{"a proof for another subject", key, 11, subj, sealed("planledger.events.society.b", goodBody), goodBody, domain.ForeignBadProof},
		{"junk, even proven", key, 11, subj, sealed(subj, "\x00junk"), "\x00junk", domain.ForeignUndecodable},
		{"an empty object", key, 11, subj, nil, `{}`, domain.ForeignUndecodable},
		{"JSON that is no record", key, 11, subj, nil, `[1,2]`, domain.ForeignUndecodable},
		{"the wrong subject", key, 11, "planledger.events.society.b", sealed("planledger.events.society.b", goodBody), goodBody, domain.ForeignWrongSubject},
		{"outside the aggregates", key, 11, "planledger.events.nothing", nil, goodBody, domain.ForeignWrongSubject},
		{"a recorded time that is no time", key, 11, subj, nats.Header{HeaderMAC: {key.Seal(subj, []byte(goodBody))}, HeaderRecordedTime: {"yesterday"}}, goodBody, domain.ForeignUndecodable},
		{"no key: proofs not checked", nil, 11, subj, nil, goodBody, ""},
		{"no key: junk is still junk", nil, 11, subj, nil, "junk", domain.ForeignUndecodable},
	}
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range cases {
		rec := codec{key: c.key}.decode(c.subj, c.seq, ts, c.hdr, []byte(c.body))
		var got domain.ForeignReason
		if rec.Foreign != nil {
			got = rec.Foreign.Reason
			if string(rec.Foreign.Body) != c.body || rec.Foreign.Subject != c.subj || rec.Foreign.Detail == "" {
				t.Errorf("%s: foreign record %+v does not keep the message", c.name, rec.Foreign)
			}
		}
		if got != c.want {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.want)
		}
		if rec.Sequence != c.seq || !rec.RecordedTime.Equal(ts) {
			t.Errorf("%s: sequence %d at %s", c.name, rec.Sequence, rec.RecordedTime)
		}
	}
}

// TestShownHeader: a foreign record shows its headers but JetStream's own
// and the recorded time.
func TestShownHeader(t *testing.T) {
	h := shownHeader(nats.Header{"Nats-Msg-Id": {"x"}, "Nats-Expected-Last-Sequence": {"3"}, HeaderRecordedTime: {"2021-01-01T00:00:00Z"}, HeaderMAC: {"m"}, "X-Mine": {"a", "b"}})
	if len(h) != 2 || h[HeaderMAC][0] != "m" || len(h["X-Mine"]) != 2 {
		t.Fatalf("shown headers %v", h)
	}
	if shownHeader(nats.Header{"Nats-Msg-Id": {"x"}}) != nil {
		t.Fatal("only control headers: shown as none")
	}
}

// TestStoredFormIsExact: a stored record body read and written again is
// the same bytes, for every event type's golden example: a copy of a
// record is shown (and exported, and imported) as exactly what was stored.
func TestStoredFormIsExact(t *testing.T) {
	key, _ := logkey.Generate(0)
	files, _ := filepath.Glob("../domain/testdata/golden/*.json")
	if len(files) < 20 {
		t.Fatalf("%d golden events", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev domain.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		body, err := encodeRecord(&ev, 7, "a submitter <with> \"quotes\" & 中文")
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := ev.Ref()
		subj := Subject(ref)
		rec := codec{key: key}.decode(subj, 1, time.Now(), nats.Header{HeaderMAC: {key.Seal(subj, body)}}, body)
		if rec.Foreign != nil {
			t.Fatalf("%s: %s", f, rec.Foreign.Detail)
		}
		s, hdr, again := StoredForm(&rec)
		if s != subj || string(again) != string(body) || hdr[HeaderMAC][0] != rec.MAC {
			t.Errorf("%s: stored form differs:\n%s\n%s", f, body, again)
		}
	}
}

// TestVersionsTellCopies: a record whose version its aggregate already
// has is marked a copy; the aggregate goes on from its own records.
func TestVersionsTellCopies(t *testing.T) {
	v := Versions{}
	mk := func(seq, version uint64) domain.Record {
		return domain.Record{Event: domain.Event{ID: "e", Subject: "society/a"}, Sequence: seq, Version: version}
	}
	for i, c := range []struct {
		rec  domain.Record
		next bool
	}{{mk(1, 1), true}, {mk(2, 2), true}, {mk(3, 2), false}, {mk(4, 1), false}, {mk(5, 4), false}, {mk(6, 3), true}} {
		rec := c.rec
		if got := v.Next(&rec); got != c.next || (rec.Foreign != nil) == c.next {
			t.Errorf("record %d (version %d): next %v, foreign %v", i, rec.Version, got, rec.Foreign != nil)
		}
		if rec.Foreign != nil && rec.Foreign.Reason != domain.ForeignReplayed {
			t.Errorf("record %d: reason %s", i, rec.Foreign.Reason)
		}
	}
}

// TestRecordSizeLimit: an event too large for an entry bundle is refused
// with a pointer to its data, and nothing is appended.
func TestRecordSizeLimit(t *testing.T) {
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := domain.Event{SpecVersion: "1.0", ID: "big", Source: "/t", Type: "society.registered", Subject: "society/a",
		Time: time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"name":"` + strings.Repeat("x", MaxRecordBody) + `"}`)}
	_, err = s.Append(context.Background(), []Pending{{Event: ev, Submitter: "t"}})
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindInvalid || len(de.Problems) != 1 || de.Problems[0].Pointer != "/data" {
		t.Fatalf("a %d-byte event: %v", len(ev.Data), err)
	}
	if n, _ := s.LastSequence(context.Background()); n != 0 {
		t.Fatalf("%d records appended", n)
	}
}

// BenchmarkDecode is a replay's reading of one stored record: the body,
// the subject, the proof, the batch headers.
func BenchmarkDecode(b *testing.B) {
	key, err := logkey.Generate(0)
	if err != nil {
		b.Fatal(err)
	}
	subj := "planledger.events.society.a"
	hdr := nats.Header{HeaderMAC: {key.Seal(subj, []byte(goodBody))}, hdrBatchID: {"b1"}, hdrBatchSeq: {"3"}, HeaderBatchSize: {"10"}}
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := codec{key: key}
	body := []byte(goodBody)
	b.ReportAllocs()
	for b.Loop() {
		if rec := c.decode(subj, 11, ts, hdr, body); rec.Foreign != nil {
			b.Fatal(rec.Foreign.Detail)
		}
	}
}
