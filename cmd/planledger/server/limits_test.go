package server

import (
	"strings"
	"testing"
	"time"
)

// TestTokensFileRefusesOneTokenTwice: two entries with one hash would be
// one token with two principals (the later won, silently); and limits
// must make sense.
func TestTokensFileRefusesOneTokenTwice(t *testing.T) {
	h := HashToken("x")
	for _, c := range []struct{ file, want string }{
		{`{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin"},{"name":"b","sha256":"` + strings.ToUpper(h) + `","role":"auditor"}]}`,
			"tokens[1].sha256 is tokens[0]'s too"},
		{`{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin","limits":{"requests_per_second":-3}}]}`, "limits.requests_per_second"},
		{`{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin","limits":{"events_per_day":-2}}]}`, "limits.events_per_day"},
	} {
		if _, err := ParseTokens(strings.NewReader(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.file, err, c.want)
		}
	}
	tk, err := ParseTokens(strings.NewReader(`{"tokens":[{"name":"s","sha256":"` + h + `","role":"submitter","societies":["hn-chem"],"limits":{"events_per_day":7}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tk.Authenticate("x")
	if want := (TokenLimits{RequestsPerSecond: -1, Burst: -1, EventsPerDay: 7}); p.Limits != want {
		t.Fatalf("limits %+v; want %+v (the role's defaults, none, filled in)", p.Limits, want)
	}
}

// TestLimiters: a token's requests run from its burst, then at its rate;
// its events from a day's quota, and an append that did not happen gives
// its events back.
func TestLimiters(t *testing.T) {
	ls := newLimiters()
	p := &Principal{Name: "s", Role: RoleSubmitter, Limits: TokenLimits{RequestsPerSecond: 1, Burst: 2, EventsPerDay: 5}}
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
	admin := &Principal{Name: "a", Role: RoleAdmin, Limits: TokenLimits{}.resolve(RoleAdmin)}
	for i := 0; i < 1000; i++ {
		if ls.request(admin) != 0 {
			t.Fatal("an admin is limited")
		}
	}
	if g, _ := ls.events(admin, 100_000); g == nil {
		t.Fatal("an admin's events are limited")
	}
}
