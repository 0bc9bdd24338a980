package tokens

import (
	"strings"
	"testing"

	"planledger/domain"
)

func TestParseTokens(t *testing.T) {
	h := Hash("x")
	cases := []struct{ name, file, want string }{
		{"not json", `{`, "is not"},
		{"no tokens", `{"tokens":[]}`, "lists no tokens"},
		{"unknown field", `{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin","colour":1}]}`, "unknown field"},
		{"bad hash", `{"tokens":[{"name":"a","sha256":"abc","role":"admin"}]}`, "64 hex digits"},
		{"unknown role", `{"tokens":[{"name":"a","sha256":"` + h + `","role":"root"}]}`, `"root" is not one of`},
		{"submitter without societies", `{"tokens":[{"name":"a","sha256":"` + h + `","role":"submitter"}]}`, "needs the societies"},
		{"auditor with societies", `{"tokens":[{"name":"a","sha256":"` + h + `","role":"auditor","societies":["s"]}]}`, "only submitters"},
		{"society not a slug", `{"tokens":[{"name":"a","sha256":"` + h + `","role":"submitter","societies":["HN"]}]}`, "uppercase"},
		{"name twice", `{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin"},{"name":"a","sha256":"` + h + `","role":"auditor"}]}`, "used twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
	toks, err := Parse(strings.NewReader(`{"tokens":[{"name":"chem","sha256":"` + Hash("t-chem") + `","role":"submitter","societies":["hn-chem"]},{"name":"audit","sha256":"` + Hash("t-audit") + `","role":"auditor"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := toks.Authenticate("t-chem"); !ok || p.Name != "chem" {
		t.Fatalf("t-chem: %v %v", p, ok)
	}
	if _, ok := toks.Authenticate("t-chem "); ok {
		t.Fatal("a token with a trailing space authenticated")
	}
	chem, _ := toks.Authenticate("t-chem")
	audit, _ := toks.Authenticate("t-audit")
	admin := &Principal{Name: "root", Role: RoleAdmin}
	soc := func(id string) domain.Ref { return domain.Ref{Type: domain.AggregateSociety, ID: id} }
	plan := domain.Ref{Type: domain.AggregatePlan, ID: "henan-2022"}
	for _, c := range []struct {
		who   *Principal
		ref   domain.Ref
		owner string
		ok    bool
	}{
		{chem, soc("hn-chem"), "hn-chem", true},
		{chem, soc("hn-phys"), "hn-phys", false},
		{chem, domain.Ref{Type: domain.AggregateProject, ID: "p"}, "hn-chem", true},
		{chem, plan, "", false},
		{audit, soc("hn-chem"), "hn-chem", false},
		{admin, plan, "", true},
		{admin, soc("hn-phys"), "hn-phys", true},
	} {
		err := c.who.MayWrite(c.ref, c.owner)
		if (err == nil) != c.ok || (err != nil && !domain.IsKind(err, domain.KindForbidden)) {
			t.Errorf("%s writes %s (owner %q): %v, want allowed=%v", c.who.Name, c.ref, c.owner, err, c.ok)
		}
	}
}

// TestTokensFileRefusesOneTokenTwice: two entries with one hash would be
// one token with two principals (the later won, silently); and limits
// must make sense.
func TestTokensFileRefusesOneTokenTwice(t *testing.T) {
	h := Hash("x")
	for _, c := range []struct{ file, want string }{
		{`{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin"},{"name":"b","sha256":"` + strings.ToUpper(h) + `","role":"auditor"}]}`,
			"tokens[1].sha256 is tokens[0]'s too"},
		{`{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin","limits":{"requests_per_second":-3}}]}`, "limits.requests_per_second"},
		{`{"tokens":[{"name":"a","sha256":"` + h + `","role":"admin","limits":{"events_per_day":-2}}]}`, "limits.events_per_day"},
	} {
		if _, err := Parse(strings.NewReader(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.file, err, c.want)
		}
	}
	tk, err := Parse(strings.NewReader(`{"tokens":[{"name":"s","sha256":"` + h + `","role":"submitter","societies":["hn-chem"],"limits":{"events_per_day":7}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tk.Authenticate("x")
	if want := (Limits{RequestsPerSecond: -1, Burst: -1, EventsPerDay: 7}); p.Limits != want {
		t.Fatalf("limits %+v; want %+v (the role's defaults, none, filled in)", p.Limits, want)
	}
}
