package domain_test

import (
	"strings"
	"testing"

	"planledger/domain"
)

// FuzzDecodeEvent: decoding never panics, and an accepted event always
// names a valid aggregate whose id is a slug, so nothing that reaches the
// store can inject '.', '*', '>' or white space into a NATS subject. The
// seed corpus is in testdata/fuzz/FuzzDecodeEvent.
func FuzzDecodeEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, probs := domain.DecodeEvent(raw, now)
		if len(probs) > 0 {
			for _, p := range probs {
				if p.Detail == "" {
					t.Fatalf("problem without a detail at %q", p.Pointer)
				}
			}
			return
		}
		ref, err := domain.ParseRef(s.Event.Subject)
		if err != nil || ref != s.Ref {
			t.Fatalf("accepted subject %q: %v", s.Event.Subject, err)
		}
		if strings.ContainsAny(ref.ID, ".*> \t\r\n") || domain.CheckSlug(ref.ID) != nil {
			t.Fatalf("accepted id %q is not a slug", ref.ID)
		}
		if s.Payload == nil || s.Payload.EventType() != domain.EventType(s.Event.Type) {
			t.Fatalf("accepted %s with payload %T", s.Event.Type, s.Payload)
		}
		if domain.CheckEventID(s.Event.ID) != nil {
			t.Fatalf("accepted event id %q", s.Event.ID)
		}
	})
}
