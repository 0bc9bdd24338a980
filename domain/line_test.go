package domain_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"planledger/domain"
)

var update = flag.Bool("update", false, "rewrite the golden lines")

// lineCases are records whose lines are pinned in testdata/lines: a change
// to any of them changes the leaves of every log's Merkle tree.
func lineCases() map[string]domain.Record {
	at := time.Date(2026, 12, 2, 17, 3, 4, 500_600_000, time.UTC)
	cst := time.FixedZone("CST", 8*3600)
	return map[string]domain.Record{
		"genuine": {Event: domain.Event{SpecVersion: "1.0", ID: "cheng-reg-1", Source: "/societies/hn-cheng", Type: "society.registered",
			Subject: "society/hn-cheng", Time: time.Date(2021, 3, 1, 9, 0, 0, 0, cst),
			Data: json.RawMessage(`{"name":"河南省化工学会","kind":"society","city":"zhengzhou"}`)},
			Sequence: 2, Version: 1, RecordedTime: at, Submitter: "chem-secretariat", MAC: "dUZnRZDfdEumr83hobiucQ"},
		"legacy, escapes": {Event: domain.Event{SpecVersion: "1.0", ID: "id \"q\" \\ <&>", Source: "/s\u2028\t\x01", Type: "conference.session_held",
			Subject: "conference/c1", Time: time.Date(2021, 6, 1, 10, 0, 0, 1, time.UTC),
			Data: json.RawMessage(`{"session_title":"\u003cb\u003e主论坛","attendees":320,"online":false}`)},
			Sequence: 7, Version: 2, RecordedTime: at, Submitter: "bad \xff utf-8"},
		"genuine with extensions": {Event: domain.Event{SpecVersion: "1.0", ID: "cheng-party-1", Source: "/societies/hn-cheng", Type: "society.party_organization_established",
			Subject: "society/hn-cheng", Time: time.Date(2021, 4, 20, 10, 0, 0, 0, cst), DataContentType: "application/json; charset=utf-8",
			DataSchema: "https://example.org/schemas/society.party_organization_established.json",
			Data:       json.RawMessage(`{"org_type":"branch","members":5,"established_on":"2021-04-20"}`),
			Extensions: domain.Extensions{"traceparent": json.RawMessage(`"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`), "partitionkey": json.RawMessage(`7`), "sampled": json.RawMessage(`true`)}},
			Sequence: 3, Version: 2, RecordedTime: at, Submitter: "chem-secretariat", MAC: "dUZnRZDfdEumr83hobiucQ"},
		"foreign, JSON body": {Sequence: 1253, RecordedTime: at, Foreign: &domain.Foreign{Reason: domain.ForeignNoProof, Detail: "not in the line",
			Subject: "planledger.events.society.x", Header: map[string][]string{"X-B": {"2", "3"}, "X-A": {"1"}}, Body: []byte(`{"a":[1,2.50,"x"]}`)}},
		"foreign, junk body": {Sequence: 1254, RecordedTime: at, Foreign: &domain.Foreign{Reason: domain.ForeignUndecodable,
			Subject: "planledger.events.society.x", Body: []byte("\x00\xff junk")}},
		"foreign, JSON with spaces": {Sequence: 1255, RecordedTime: at, Foreign: &domain.Foreign{Reason: domain.ForeignWrongSubject,
			Subject: "planledger.events.society.y", Body: []byte(`{ "a": 1 }`)}},
	}
}

// TestLineGolden: the line of each case is exactly the pinned bytes, and
// reads back as the record it came from.
func TestLineGolden(t *testing.T) {
	for name, rec := range lineCases() {
		file := filepath.Join("testdata", "lines", strings.ReplaceAll(name, ", ", "-")+".ndjson")
		got := domain.AppendLine(nil, &rec)
		if *update {
			os.WriteFile(file, append(got, '\n'), 0o644)
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(got, '\n'), want) {
			t.Errorf("%s: line changed:\ngot  %s\nwant %s", name, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: not JSON: %s", name, got)
		}
		var back domain.Record
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if again := domain.AppendLine(nil, &back); !bytes.Equal(again, got) && !strings.Contains(name, "utf-8") && name != "legacy, escapes" {
			t.Errorf("%s: read back and written again differs:\n%s\n%s", name, again, got)
		}
	}
}

// TestLineIsEncodingJSON: for ordinary records the line is what
// encoding/json (without HTML escaping) writes, so that nothing changed
// for clients when the line became hand-written.
func TestLineIsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcXYZ09 -_/:.\"\\\n\t\x01中文€\u2028<>&é")
	str := func() string {
		n := r.IntN(12)
		out := make([]rune, n)
		for i := range out {
			out[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(out)
	}
	type plain struct { // the record's fields, as encoding/json writes them
		SpecVersion  string          `json:"specversion"`
		ID           string          `json:"id"`
		Source       string          `json:"source"`
		Type         string          `json:"type"`
		Subject      string          `json:"subject"`
		Time         time.Time       `json:"time"`
		Data         json.RawMessage `json:"data"`
		Sequence     uint64          `json:"sequence"`
		Version      uint64          `json:"version"`
		RecordedTime time.Time       `json:"recordedtime"`
		Submitter    string          `json:"submitter"`
		MAC          string          `json:"recordmac,omitempty"`
	}
	for i := 0; i < 2000; i++ {
		rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: str(), Source: str(), Type: str(), Subject: str(),
			Time: time.Unix(r.Int64N(2e9), r.Int64N(1e9)).In(time.FixedZone("", 3600*r.IntN(14))), Data: json.RawMessage(`{"n":1}`)},
			Sequence: r.Uint64(), Version: r.Uint64N(100), RecordedTime: time.Unix(r.Int64N(2e9), r.Int64N(1e9)).UTC(), Submitter: str()}
		if r.IntN(2) == 0 {
			rec.MAC = str()
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		e := rec.Event
		if err := enc.Encode(plain{e.SpecVersion, e.ID, e.Source, e.Type, e.Subject, e.Time, e.Data, rec.Sequence, rec.Version, rec.RecordedTime, rec.Submitter, rec.MAC}); err != nil {
			t.Fatal(err)
		}
		if got := domain.AppendLine(nil, &rec); string(got)+"\n" != b.String() {
			t.Fatalf("record %d:\nline         %s\nencoding/json %s", i, got, b.String())
		}
	}
}
