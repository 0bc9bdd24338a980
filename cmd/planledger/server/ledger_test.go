package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"planledger/domain"
)

// TestAggCacheBoundsEvents: besides the number of aggregates, the cache
// bounds the events they hold, evicting the least recently used.
func TestAggCacheBoundsEvents(t *testing.T) {
	c := newAggCache(100, 10)
	fill := func(id string, n int) {
		ref := domain.Ref{Type: domain.AggregateSociety, ID: id}
		es, err := c.Lock(context.Background(), []domain.Ref{ref})
		if err != nil {
			t.Fatal(err)
		}
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
		es[0].Value.agg = a
		c.Unlock(es)
	}
	fill("a", 6)
	fill("b", 6) // 12 events: over the bound once the next lock evicts
	fill("c", 1)
	if c.Len() != 2 {
		t.Fatalf("cache holds %d aggregates; want 2 (b and c, 7 events)", c.Len())
	}
	es, _ := c.Lock(context.Background(), []domain.Ref{{Type: domain.AggregateSociety, ID: "a"}})
	defer c.Unlock(es)
	if es[0].Value.agg != nil {
		t.Fatal("the least recently used aggregate was kept past the event bound")
	}
}
