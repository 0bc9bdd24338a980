package server

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"planledger/domain"
)

// TestAggCacheBoundsEvents: besides the number of aggregates, the cache
// bounds the events they hold, evicting the least recently used.
func TestAggCacheBoundsEvents(t *testing.T) {
	c := newAggCache(100)
	c.maxEvents = 10
	fill := func(id string, n int) {
		ref := domain.Ref{Type: domain.AggregateSociety, ID: id}
		es := c.lock([]domain.Ref{ref})
		a := domain.NewAggregate(ref)
		for i := 0; i < n; i++ {
			typ, data := "society.party_history_activity_held", `{"title":"t","participants":3,"held_on":"2021-04-30"}`
			if i == 0 {
				typ, data = "society.registered", `{"name":"n","kind":"society"}`
			}
			rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprint(i), Source: "/t", Type: typ, Subject: ref.String(),
				Time: time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(data)}, Sequence: uint64(i + 1), Version: uint64(i + 1)}
			if err := a.Apply(&rec); err != nil {
				t.Fatal(err)
			}
		}
		es[0].agg = a
		c.unlock(es)
	}
	fill("a", 6)
	fill("b", 6) // 12 events: over the bound once the next lock evicts
	fill("c", 1)
	if _, ok := c.entries[domain.Ref{Type: domain.AggregateSociety, ID: "a"}]; ok {
		t.Fatal("the least recently used aggregate was kept past the event bound")
	}
	if c.events != 7 || c.lru.Len() != 2 {
		t.Fatalf("cache holds %d events in %d aggregates; want 7 in 2", c.events, c.lru.Len())
	}
}
