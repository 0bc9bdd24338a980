package server

import (
	"planledger/cmd/planledger/tokens"
	"testing"
	"time"
)

// TestLimiters: a token's requests run from its burst, then at its rate;
// its events from a day's quota, and an append that did not happen gives
// its events back.
func TestLimiters(t *testing.T) {
	ls := newLimiters()
	p := &tokens.Principal{Name: "s", Role: tokens.RoleSubmitter, Limits: tokens.Limits{RequestsPerSecond: 1, Burst: 2, EventsPerDay: 5}}
	if ls.request(p) != 0 || ls.request(p) != 0 {
		t.Fatal("the burst was refused")
	}
	if wait := ls.request(p); wait <= 0 || wait > time.Second {
		t.Fatalf("a third request at once waits %s; want up to a second", wait)
	}
	giveBack, _ := ls.events(p, 3)
	if giveBack == nil {
		t.Fatal("3 of 5 events refused")
	}
	if again, wait := ls.events(p, 3); again != nil || wait < time.Hour {
		t.Fatalf("3 more of a quota of 5 a day: allowed %v, wait %s", again != nil, wait)
	}
	giveBack() // the first append did not happen after all
	if again, _ := ls.events(p, 5); again == nil {
		t.Fatal("the events given back were not")
	}
	admin := &tokens.Principal{Name: "a", Role: tokens.RoleAdmin, Limits: tokens.Limits{}.Resolve(tokens.RoleAdmin)}
	for i := 0; i < 1000; i++ {
		if ls.request(admin) != 0 {
			t.Fatal("an admin is limited")
		}
	}
	if g, _ := ls.events(admin, 100_000); g == nil {
		t.Fatal("an admin's events are limited")
	}
}
