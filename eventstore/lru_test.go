package eventstore_test

import (
	"context"
	"fmt"
	"testing"

	"planledger/eventstore"
)

// TestForgottenAggregateIsReadAgain: past the bound the store forgets the
// least recently used aggregates; appending to one again reads it from the
// stream, so versions and idempotency hold as before.
func TestForgottenAggregateIsReadAgain(t *testing.T) {
	s := openStore(t, eventstore.Config{DataDir: t.TempDir(), CachedAggregates: 2})
	first := mustAppend(t, s, pending("society/a", "a1", 0), pending("society/a", "a2"))
	for i := 0; i < 5; i++ {
		mustAppend(t, s, pending(fmt.Sprintf("society/o%d", i), "x", 0))
	}
	again := mustAppend(t, s, pending("society/a", "a1"), pending("society/a", "a2"))
	if !again.Duplicate || again.Records[1].Sequence != first.Records[1].Sequence {
		t.Fatalf("resubmission to a forgotten aggregate: %+v", again)
	}
	next := mustAppend(t, s, pending("society/a", "a3", 2))
	if next.Records[0].Version != 3 {
		t.Fatalf("version %d after the store forgot and read society/a again, want 3", next.Records[0].Version)
	}
	if _, err := s.Append(context.Background(), []eventstore.Pending{pending("society/a", "a4", 1)}); err == nil {
		t.Fatal("a stale expectation passed on a re-read aggregate")
	}
}
