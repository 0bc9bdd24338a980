package domain_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"planledger/domain"
)

// TestGolden freezes the wire format: one stored example per event type
// decodes without a problem and its payload re-encodes to the same JSON,
// so a renamed field or type can never silently break the replay of events
// already in a ledger.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.json")
	if len(files) != len(domain.EventTypes) {
		t.Errorf("%d golden files for %d event types", len(files), len(domain.EventTypes))
	}
	for _, typ := range domain.EventTypes {
		t.Run(string(typ), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "golden", string(typ)+".json"))
			if err != nil {
				t.Fatalf("no golden file for %s: %v", typ, err)
			}
			s, probs := domain.DecodeEvent(raw, now)
			if len(probs) > 0 {
				t.Fatalf("golden %s does not decode: %v", typ, probs)
			}
			if s.Payload.EventType() != typ {
				t.Fatalf("payload type %s, want %s", s.Payload.EventType(), typ)
			}
			var doc struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			reencoded, err := json.Marshal(s.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, reencoded, doc.Data) {
				t.Fatalf("payload re-encodes as\n%s\nwant\n%s", reencoded, doc.Data)
			}
			// The fast decoder of stored records reads the same payload.
			stored, err := domain.DecodeStored(typ, s.Event.Data)
			if err != nil || !reflect.DeepEqual(stored, s.Payload) {
				t.Fatalf("DecodeStored = %#v, %v; DecodeData = %#v", stored, err, s.Payload)
			}
			// The stored form of the envelope round-trips too.
			envelope, err := json.Marshal(s.Event)
			if err != nil {
				t.Fatal(err)
			}
			var back domain.Event
			if err := json.Unmarshal(envelope, &back); err != nil || !back.SameContent(&s.Event) {
				t.Fatalf("envelope does not round-trip: %s (%v)", envelope, err)
			}
		})
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestEveryTypeNamedOnce checks the catalogue's list against the decoder
// and against names that are not in it: a listed type the decoder does not
// know would be refused on every append, and Known must say no to a name
// that is merely close to one.
func TestEveryTypeNamedOnce(t *testing.T) {
	seen := map[domain.EventType]bool{}
	for _, typ := range domain.EventTypes {
		if seen[typ] {
			t.Errorf("event type %q is listed twice", typ)
		}
		seen[typ] = true
		if !typ.Aggregate().Valid() || strings.ToLower(string(typ)) != string(typ) {
			t.Errorf("event type %q is badly named: want <aggregate>.<what happened>, lower case", typ)
		}
		if _, probs := domain.DecodeData(typ, json.RawMessage(`{}`)); len(probs) > 0 && probs[0].Pointer == "/type" {
			t.Errorf("event type %q is listed, but DecodeData does not know it: %v", typ, probs)
		}
	}
	for _, typ := range []domain.EventType{"", "society", "society.", "society.founded", "Society.registered",
		"society.registered ", "nosuch.event_retracted", "society.event_retracted.x", "plan.published.v2"} {
		if typ.Known() {
			t.Errorf("%q.Known() = true, want false: it is not in the catalogue", typ)
		}
		if _, probs := domain.DecodeData(typ, json.RawMessage(`{}`)); len(probs) == 0 || probs[0].Pointer != "/type" {
			t.Errorf("DecodeData(%q) = %v, want an unknown event type at /type", typ, probs)
		}
	}
}
