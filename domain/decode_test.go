package domain_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"planledger/domain"
)

func TestEnvelope(t *testing.T) {
	good := func(mod func(m map[string]string)) string {
		m := map[string]string{
			"specversion": `"1.0"`, "id": `"e1"`, "source": `"/test"`, "type": `"society.registered"`,
			"subject": `"society/hn-chem"`, "time": `"` + busTime + `"`, "data": `{"name":"化学会","kind":"society"}`,
		}
		mod(m)
		var b strings.Builder
		b.WriteString("{")
		first := true
		for k, v := range m {
			if v == "" {
				continue
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(`"` + k + `":` + v)
		}
		b.WriteString("}")
		return b.String()
	}
	set := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	cases := []struct {
		name, body, pointer, want string
	}{
		{"not an object", `[1,2]`, "", "must be a JSON object"},
		{"wrong specversion", good(set("specversion", `"0.3"`)), "/specversion", `"0.3" is not supported`},
		{"missing id", good(set("id", "")), "/id", "is required"},
		{"empty id", good(set("id", `""`)), "/id", "must not be empty"},
		{"id too long", good(set("id", `"`+strings.Repeat("x", 129)+`"`)), "/id", "at most 128"},
		{"id not printable", good(set("id", `"a\u0001b"`)), "/id", "printable ASCII"},
		{"id not ascii", good(set("id", `"编号"`)), "/id", "printable ASCII"},
		{"source with space", good(set("source", `"my system"`)), "/source", "URI-reference"},
		{"unknown type", good(set("type", `"society.dissolved"`)), "/type", "unknown event type"},
		{"type of another aggregate", good(set("subject", `"project/hn-chem"`)), "/subject", "belongs to a society aggregate"},
		{"subject with dot", good(set("subject", `"society/a.b"`)), "/subject", `'.'`},
		{"subject with star", good(set("subject", `"society/*"`)), "/subject", `'*'`},
		{"subject with gt", good(set("subject", `"society/>"`)), "/subject", `'>'`},
		{"subject with space", good(set("subject", `"society/A B"`)), "/subject", "uppercase"},
		{"subject with space lowercase", good(set("subject", `"society/a b"`)), "/subject", `' '`},
		{"subject id of 200", good(set("subject", `"society/`+strings.Repeat("a", 200)+`"`)), "/subject", "at most 64"},
		{"subject without type", good(set("subject", `"hn-chem"`)), "/subject", "<aggregate-type>/<id>"},
		{"subject of unknown aggregate", good(set("subject", `"club/hn-chem"`)), "/subject", `aggregate type "club"`},
		{"subject slug starting with dash", good(set("subject", `"society/-x"`)), "/subject", "starts with '-'"},
		{"time not rfc3339", good(set("time", `"2021-06-01 10:00"`)), "/time", "not an RFC 3339"},
		{"time in the future", good(set("time", `"`+now.Add(10*time.Minute).Format(time.RFC3339)+`"`)), "/time", "in the future"},
		{"attribute name with a dash", good(set("trace-parent", `"red"`)), "/trace-parent", "only lowercase letters a-z and digits"},
		{"attribute name in capitals", good(set("Colour", `"red"`)), "/Colour", "only lowercase letters a-z and digits"},
		{"record attribute", good(set("sequence", `5`)), "/sequence", "record attribute, set by the ledger"},
		{"submitter given", good(set("submitter", `"me"`)), "/submitter", "record attribute, set by the ledger"},
		{"extension object", good(set("colour", `{"r":1}`)), "/colour", "a string, a whole number or a boolean"},
		{"extension fraction", good(set("weight", `1.5`)), "/weight", "not a CloudEvents integer"},
		{"extension past int32", good(set("weight", `2147483648`)), "/weight", "not a CloudEvents integer"},
		{"expectedversion negative", good(set("expectedversion", `-1`)), "/expectedversion", "whole number"},
		{"expectedversion words", good(set("expectedversion", `"three"`)), "/expectedversion", "whole number"},
		{"datacontenttype", good(set("datacontenttype", `"text/plain"`)), "/datacontenttype", "not supported"},
		{"datacontenttype charset", good(set("datacontenttype", `"application/json; charset=latin1"`)), "/datacontenttype", "charset"},
		{"dataschema relative", good(set("dataschema", `"/schemas/x"`)), "/dataschema", "absolute URI"},
		{"data and data_base64", good(set("data_base64", `"e30="`)), "/data_base64", "not both"},
		{"data_base64 not JSON", good(func(m map[string]string) { m["data"] = ""; m["data_base64"] = `"aGVsbG8="` }), "/data_base64", "does not hold JSON"},
		{"data missing", good(set("data", "")), "/data", "is required"},
		{"data not object", good(set("data", `[1]`)), "/data", "must be a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := domain.DecodeEvent([]byte(c.body), now)
			wantProblem(t, domain.Invalid("decode", probs...), c.pointer, c.want)
		})
	}
	t.Run("ok with skew and expectedversion", func(t *testing.T) {
		body := good(func(m map[string]string) {
			m["time"] = `"` + now.Add(4*time.Minute).Format(time.RFC3339) + `"`
			m["expectedversion"] = "0"
			m["datacontenttype"] = `"application/json"`
		})
		s, probs := domain.DecodeEvent([]byte(body), now)
		if len(probs) > 0 || s.ExpectedVersion == nil || *s.ExpectedVersion != 0 || s.Ref.ID != "hn-chem" {
			t.Fatalf("got %+v, %v", s, probs)
		}
	})
	t.Run("ok with extensions, data schema, content type and base64 data", func(t *testing.T) {
		body := good(func(m map[string]string) {
			m["expectedversion"] = `"3"`
			m["datacontenttype"] = `"application/json; charset=utf-8"`
			m["dataschema"] = `"https://example.org/schemas/society.registered.json"`
			m["traceparent"] = `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`
			m["comment"] = `"a \u003cb\u003e \u00e9"`
			m["partitionkey"] = `-7`
			m["sampled"] = `true`
			m["dropped"] = `null`
			m["data"] = ""
			m["data_base64"] = `"eyJuYW1lIjoi5YyW5a2m5LyaIiwia2luZCI6InNvY2lldHkifQ=="` // {"name":"化学会","kind":"society"}
		})
		s, probs := domain.DecodeEvent([]byte(body), now)
		if len(probs) > 0 {
			t.Fatalf("problems %v", probs)
		}
		ev := s.Event
		if *s.ExpectedVersion != 3 || ev.DataContentType != "application/json; charset=utf-8" || ev.DataSchema != "https://example.org/schemas/society.registered.json" {
			t.Fatalf("got %+v", s)
		}
		if string(ev.Data) != `{"name":"化学会","kind":"society"}` {
			t.Fatalf("data %s", ev.Data)
		}
		want := domain.Extensions{
			"traceparent":  []byte(`"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`),
			"comment":      []byte(`"a \u003cb\u003e é"`), // canonical: as encoding/json writes it
			"partitionkey": []byte(`-7`), "sampled": []byte(`true`),
		}
		if fmt.Sprint(ev.Extensions) != fmt.Sprint(want) {
			t.Fatalf("extensions %s, want %s", ev.Extensions, want)
		}
		if tp, ok := ev.Extensions.String("traceparent"); !ok || tp != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
			t.Fatalf("traceparent %q %v", tp, ok)
		}
	})
}

func TestDataRules(t *testing.T) {
	lead := func(sectors ...string) string {
		var parts []string
		for i, s := range sectors {
			parts = append(parts, `{"member_id":"m`+string(rune('a'+i))+`","role":"director","sector":"`+s+`"}`)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	cases := []struct {
		name, typ, subject, data, pointer, want string
	}{
		{"party organisation of two", "society.party_organization_established", "society/s", `{"org_type":"branch","members":2,"established_on":"2021-05-01"}`, "/data/members", "out of range"},
		{"unknown party organisation type", "society.party_organization_established", "society/s", `{"org_type":"cell","members":3,"established_on":"2021-05-01"}`, "/data/org_type", `"cell" is not one of party_committee, general_branch, branch, joint_branch, functional`},
		{"term of six years", "society.reelection_held", "society/s", `{"term_start":"2021-01-01","term_years":6,"leadership":` + lead("university") + `}`, "/data/term_years", "from 1 to 5"},
		{"term of zero years", "society.reelection_held", "society/s", `{"term_start":"2021-01-01","term_years":0,"leadership":` + lead("university") + `}`, "/data/term_years", "from 1 to 5"},
		{"unknown sector", "society.reelection_held", "society/s", `{"term_start":"2021-01-01","term_years":5,"leadership":` + lead("university", "university", "enterprise", "industry") + `}`, "/data/leadership/3/sector", `"industry" is not one of university, research_institute, enterprise, government, other`},
		{"empty leadership", "society.reelection_held", "society/s", `{"term_start":"2021-01-01","term_years":5,"leadership":[]}`, "/data/leadership", "at least one member"},
		{"member twice", "society.reelection_held", "society/s", `{"term_start":"2021-01-01","term_years":5,"leadership":[{"member_id":"m1","role":"president","sector":"other"},{"member_id":"m1","role":"director","sector":"other"}]}`, "/data/leadership/1/member_id", "listed twice"},
		{"bad date", "society.party_history_activity_held", "society/s", `{"title":"t","participants":3,"held_on":"2021/05/01"}`, "/data/held_on", "YYYY-MM-DD"},
		{"unknown field", "society.registered", "society/s", `{"name":"n","kind":"society","colour":"red"}`, "/data/colour", "is not a field here"},
		{"missing field", "society.registered", "society/s", `{"kind":"society"}`, "/data/name", "is required"},
		{"unknown kind", "society.registered", "society/s", `{"name":"n","kind":"club"}`, "/data/kind", "is not one of"},
		{"number as string", "conference.session_held", "conference/c", `{"session_title":"s","held_on":"2021-05-01","attendees":"12","online":false}`, "/data/attendees", "must be a whole number, not a string"},
		{"fraction where whole", "conference.session_held", "conference/c", `{"session_title":"s","held_on":"2021-05-01","attendees":12.5,"online":false}`, "/data/attendees", "not a whole number"},
		{"boolean as string", "conference.session_held", "conference/c", `{"session_title":"s","held_on":"2021-05-01","attendees":12,"online":"no"}`, "/data/online", "true or false"},
		{"score over 100", "society.party_building_assessed", "society/s", `{"year":2021,"score":101}`, "/data/score", "from 0 to 100"},
		{"expense without amount", "decision.proposed", "decision/d", `{"society_id":"s","category":"major_expense","title":"t"}`, "/data/amount_cny", "required for a major_expense"},
		{"amount on personnel", "decision.proposed", "decision/d", `{"society_id":"s","category":"personnel","title":"t","amount_cny":5}`, "/data/amount_cny", "only to a major_expense"},
		{"present above in office", "decision.voted", "decision/d", `{"body":"council","members_in_office":10,"present":11,"votes_for":11,"votes_against":0,"abstentions":0}`, "/data/present", "more than the 10 members in office"},
		{"votes do not add up", "decision.voted", "decision/d", `{"body":"council","members_in_office":10,"present":9,"votes_for":5,"votes_against":2,"abstentions":1}`, "/data/votes_for", "= 8, but 9 were present"},
		{"conference programme on a project", "project.registered", "project/p", `{"program":"platform","title":"t","lead_society":"s"}`, "/data/program", `"platform" is not one of`},
		{"project programme on a conference", "conference.registered", "conference/c", `{"title":"t","level":"national","program":"youth_talent","organizer_society":"s"}`, "/data/program", "is not one of"},
		{"organizer not a slug", "conference.registered", "conference/c", `{"title":"t","level":"national","organizer_society":"HN Chem"}`, "/data/organizer_society", "uppercase"},
		{"delivery without volunteers", "service_team.service_delivered", "service_team/t", `{"service_kind":"experts","partner_kind":"village","partner_name":"p","volunteers":0,"hours":1,"beneficiaries":1,"delivered_on":"2021-05-01","problems_solved":0,"technologies_promoted":0,"talents_trained":0,"demonstrations":0}`, "/data/volunteers", "at least 1"},
		{"unknown partner kind", "service_team.service_delivered", "service_team/t", `{"service_kind":"experts","partner_kind":"hospital","partner_name":"p","volunteers":1,"hours":1,"beneficiaries":1,"delivered_on":"2021-05-01","problems_solved":0,"technologies_promoted":0,"talents_trained":0,"demonstrations":0}`, "/data/partner_kind", "village, township, enterprise, institute, school"},
		{"plan shares not adding up", "plan.published", "plan/p", `{"year":2022,"document_no":"d","title":"t","targets":{},"leadership_rule":{"university":0.4,"research_institute":0.3,"enterprise":0.3,"government":0.1,"tolerance":0.1}}`, "/data/leadership_rule", "add up to 1.1"},
		{"plan target of unknown programme", "plan.published", "plan/p", `{"year":2022,"document_no":"d","title":"t","targets":{"moonshot":1},"leadership_rule":{"university":0.3,"research_institute":0.3,"enterprise":0.3,"government":0.1,"tolerance":0.1}}`, "/data/targets/moonshot", "not a programme"},
		{"retraction without reason", "project.event_retracted", "project/p", `{"event_id":"e1"}`, "/data/reason", "is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := domain.DecodeEvent(envelope("x", c.typ, c.subject, c.data), now)
			wantProblem(t, domain.Invalid("decode", probs...), c.pointer, c.want)
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, probs := domain.DecodeEvent(envelope("x", "conference.session_held", "conference/c", `{"held_on":"soon","attendees":-1,"online":1}`), now)
	got := map[string]bool{}
	for _, p := range probs {
		got[p.Pointer] = true
	}
	for _, want := range []string{"/data/session_title", "/data/held_on", "/data/attendees", "/data/online"} {
		if !got[want] {
			t.Errorf("no problem at %s in %v", want, probs)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	raw := []byte(`{"specversion":"1.0","id":"b-1","source":"/bench","type":"service_team.service_delivered","subject":"service_team/t0001","time":"2021-05-25T10:00:00+08:00","data":{"service_kind":"experts","partner_kind":"village","partner_name":"滑县留固镇东孔庄村","volunteers":6,"hours":24.5,"beneficiaries":180,"delivered_on":"2021-05-25","problems_solved":3,"technologies_promoted":2,"talents_trained":15,"demonstrations":1}}`)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, probs := domain.DecodeEvent(raw, now); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}
