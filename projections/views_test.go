package projections_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"planledger/domain"
	"planledger/projections"
)

func members(spec string) string {
	// spec: "u3 r3 e3 g1 o1" = 3 university, 3 research institute, ...
	sectors := map[byte]string{'u': "university", 'r': "research_institute", 'e': "enterprise", 'g': "government", 'o': "other"}
	var parts []string
	n := 0
	for _, f := range strings.Fields(spec) {
		var k int
		fmt.Sscanf(f[1:], "%d", &k)
		for i := 0; i < k; i++ {
			n++
			parts = append(parts, fmt.Sprintf(`{"member_id":"m%d","role":"director","sector":"%s"}`, n, sectors[f[0]]))
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func reg(name, kind string) string { return `{"name":"` + name + `","kind":"` + kind + `"}` }

const branch = `{"org_type":"branch","members":3,"established_on":"2021-04-01"}`

func delivery(volunteers, hours, benef, probs, techs, talents, demos int, on string) string {
	return fmt.Sprintf(`{"service_kind":"experts","partner_kind":"village","partner_name":"p","volunteers":%d,"hours":%d,"beneficiaries":%d,"delivered_on":%q,"problems_solved":%d,"technologies_promoted":%d,"talents_trained":%d,"demonstrations":%d}`,
		volunteers, hours, benef, on, probs, techs, talents, demos)
}

// knownHistory is a year with a bit of everything, retractions included.
func knownHistory(t *testing.T) *ledgerLog {
	l := newLog(t)
	l.add("society/hn-chem", "society.registered", reg("化学会", "society"))
	l.add("society/hn-phys", "society.registered", reg("物理学会", "association"))
	l.add("society/hn-bio", "society.registered", reg("生物研究会", "research_society"))
	l.add("society/zz-kx", "society.registered", reg("郑州市科协", "municipal_association"))
	l.add("society/hn-chem", "society.party_organization_established", branch)
	phys := l.add("society/hn-phys", "society.party_organization_established", branch)
	l.retract("society/hn-phys", phys)
	l.add("society/zz-kx", "society.party_organization_established", branch)
	l.add("society/hn-chem", "society.reelection_held", `{"term_start":"2021-04-25","term_years":5,"leadership":`+members("u3 r3 e3 g1")+`}`)
	l.add("society/hn-chem", "society.leadership_changed", `{"added":[{"member_id":"x1","role":"director","sector":"other"}],"removed":[]}`)
	l.add("society/hn-phys", "society.reelection_held", `{"term_start":"2018-01-10","term_years":3,"leadership":`+members("u5")+`}`)
	l.add("society/zz-kx", "society.reelection_held", `{"term_start":"2019-06-01","term_years":2,"leadership":`+members("u2 r3 e4 g1")+`}`)

	d := func(id, typ, data string) string { return l.add("decision/"+id, "decision."+typ, data) }
	prop := `{"society_id":"hn-chem","category":"major_work","title":"年会"}`
	d("d1", "proposed", prop)
	d("d1", "party_reviewed", `{"outcome":"endorsed"}`)
	d("d1", "voted", `{"body":"council","members_in_office":9,"present":9,"votes_for":9,"votes_against":0,"abstentions":0}`)
	d("d1", "published", `{"channel":"官网","published_on":"2021-05-01"}`)
	d("d2", "proposed", prop)
	d("d2", "party_reviewed", `{"outcome":"returned"}`)
	d("d3", "proposed", prop)
	d("d3", "party_reviewed", `{"outcome":"endorsed"}`)
	d("d3", "voted", `{"body":"council","members_in_office":9,"present":5,"votes_for":5,"votes_against":0,"abstentions":0}`)
	d("d4", "proposed", prop)
	review := d("d4", "party_reviewed", `{"outcome":"endorsed"}`)
	l.retract("decision/d4", review)

	conf := func(id, program string) {
		l.add("conference/"+id, "conference.registered", `{"title":"`+id+`","level":"provincial","program":"`+program+`","organizer_society":"hn-chem","city":"zhengzhou"}`)
	}
	session := func(id, on string, attendees int, online bool) string {
		return l.add("conference/"+id, "conference.session_held", fmt.Sprintf(`{"session_title":"s","held_on":%q,"attendees":%d,"online":%v}`, on, attendees, online))
	}
	conf("c1", "one_city_one_product")
	session("c1", "2021-05-10", 100, false)
	session("c1", "2021-05-11", 50, true)
	conf("c2", "academic_exchange")
	conf("c3", "platform")
	session("c3", "2020-11-01", 30, false)
	conf("c4", "academic_exchange")
	s4 := session("c4", "2021-06-01", 70, false)
	l.retract("conference/c4", s4)

	l.add("service_team/t1", "service_team.formed", `{"society_id":"hn-chem","industry":"化工","title":"t1"}`)
	l.add("service_team/t1", "service_team.service_delivered", delivery(3, 10, 100, 2, 1, 5, 1, "2021-05-02"))
	l.add("service_team/t1", "service_team.service_delivered", delivery(2, 5, 40, 1, 0, 3, 0, "2021-05-20"))
	l.add("service_team/t2", "service_team.formed", `{"society_id":"hn-phys","industry":"光电","title":"t2","program":"one_industry_service_team"}`)
	l.add("service_team/t3", "service_team.formed", `{"society_id":"hn-bio","industry":"育种","title":"t3"}`)
	bad := l.add("service_team/t3", "service_team.service_delivered", delivery(9, 9, 9, 9, 9, 9, 9, "2021-05-05"))
	l.retract("service_team/t3", bad)

	l.add("project/p1", "project.registered", `{"program":"one_industry_one_report","title":"p1","lead_society":"hn-chem"}`)
	l.add("project/p1", "project.completed", `{"completed_on":"2021-09-30","deliverable":"报告"}`)
	l.add("project/p2", "project.registered", `{"program":"one_industry_one_report","title":"p2","lead_society":"hn-chem"}`)
	done := l.add("project/p2", "project.completed", `{"completed_on":"2021-10-30","deliverable":"报告"}`)
	l.retract("project/p2", done)
	l.add("project/p3", "project.registered", `{"program":"one_enterprise_one_innovation","title":"p3","lead_society":"hn-chem"}`)
	l.add("project/p3", "project.cancelled", `{"reason":"r"}`)
	l.add("project/p4", "project.registered", `{"program":"discipline_report","title":"p4","lead_society":"hn-chem"}`)
	l.add("project/p4", "project.completed", `{"completed_on":"2022-01-05","deliverable":"d"}`, "2022-01-05T10:00:00+08:00")
	l.add("project/p5", "project.registered", `{"program":"discipline_report","title":"p5","lead_society":"hn-chem"}`)
	l.add("project/p5", "project.completed", `{"completed_on":"2021-12-31","deliverable":"d"}`)
	return l
}

var clock2021 = time.Date(2021, 3, 15, 12, 0, 0, 0, domain.CST)

func TestViewsOfAKnownHistory(t *testing.T) {
	l := knownHistory(t)
	v := l.replay()
	last := l.recs[len(l.recs)-1].Sequence

	t.Run("leadership-ratio", func(t *testing.T) {
		got := v.LeadershipRatio(clock2021)
		if got.Sequence != last || got.PlanID != "henan-2021" || got.Rule.Tolerance != 0.1 {
			t.Fatalf("header %d %s %+v", got.Sequence, got.PlanID, got.Rule)
		}
		want := map[string]struct {
			status string
			size   int
			dev    float64
			shares domain.Shares
		}{
			"hn-bio":  {domain.RatioUnknown, 0, 0, domain.Shares{}},
			"hn-chem": {domain.RatioCompliant, 11, 0.3 - 3.0/11, domain.Shares{University: 3.0 / 11, ResearchInstitute: 3.0 / 11, Enterprise: 3.0 / 11, Government: 1.0 / 11, Other: 1.0 / 11}},
			"hn-phys": {domain.RatioNonCompliant, 5, 0.7, domain.Shares{University: 1}},
			"zz-kx":   {domain.RatioCompliant, 10, 0.1, domain.Shares{University: 0.2, ResearchInstitute: 0.3, Enterprise: 0.4, Government: 0.1}},
		}
		if len(got.Societies) != len(want) {
			t.Fatalf("%d societies, want %d", len(got.Societies), len(want))
		}
		for _, s := range got.Societies {
			w := want[s.SocietyID]
			if s.Status != w.status || s.Size != w.size || math.Abs(s.MaxDeviation-w.dev) > 1e-9 || !closeShares(s.Shares, w.shares) {
				t.Errorf("%s: %+v, want %+v", s.SocietyID, s, w)
			}
		}
		if got.Counts[domain.RatioCompliant] != 2 || got.Counts[domain.RatioNonCompliant] != 1 || got.Counts[domain.RatioUnknown] != 1 {
			t.Errorf("counts %v", got.Counts)
		}
	})
	t.Run("party-coverage", func(t *testing.T) {
		got := v.PartyCoverage()
		if got.Societies != 3 || got.WithPartyOrganization != 1 || math.Abs(got.Ratio-1.0/3) > 1e-12 || !reflect.DeepEqual(got.Without, []string{"hn-bio", "hn-phys"}) || got.Sequence != last {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("reelections", func(t *testing.T) {
		got := v.Reelections(clock2021)
		want := map[string][4]string{
			"hn-bio":  {"", "", "unknown"},
			"hn-chem": {"2021-04-25", "2026-04-25", "current"},
			"hn-phys": {"2018-01-10", "2021-01-10", "overdue"},
			"zz-kx":   {"2019-06-01", "2021-06-01", "due_soon"},
		}
		for _, s := range got.Societies {
			w := want[s.SocietyID]
			if s.TermStart != w[0] || s.DueOn != w[1] || s.State != w[2] {
				t.Errorf("%s: %+v, want %v", s.SocietyID, s, w)
			}
		}
		if got.Today != "2021-03-15" || len(got.Societies) != 4 || got.Counts["overdue"] != 1 || got.Counts["due_soon"] != 1 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("programs", func(t *testing.T) {
		got := v.Programs(clock2021)
		want := map[string][2]float64{ // delivered, target (-1: none)
			"one_city_one_product": {1, 3}, "one_industry_one_report": {1, 7}, "one_enterprise_one_innovation": {0, 25},
			"one_industry_one_society": {0, 3}, "one_industry_service_team": {1, 20}, "kechuang_china_pilot": {0, -1},
			"platform": {0, 3}, "academic_exchange": {0, 26}, "discipline_report": {1, 4}, "youth_talent": {0, -1}, "award": {0, -1},
		}
		if got.PlanID != "henan-2021" || got.Year != 2021 || len(got.Programs) != len(want) {
			t.Fatalf("%+v", got)
		}
		for _, p := range got.Programs {
			w := want[p.Program]
			if float64(p.Delivered) != w[0] {
				t.Errorf("%s delivered %d, want %v", p.Program, p.Delivered, w[0])
			}
			switch {
			case w[1] < 0 && (p.Target != nil || p.Progress != nil):
				t.Errorf("%s has a target or progress without a target in the plan", p.Program)
			case w[1] >= 0 && (p.Target == nil || float64(*p.Target) != w[1] || p.Progress == nil || math.Abs(*p.Progress-w[0]/w[1]) > 1e-12):
				t.Errorf("%s: target %v progress %v, want %v and %v", p.Program, p.Target, p.Progress, w[1], w[0]/w[1])
			}
		}
	})
	t.Run("decisions", func(t *testing.T) {
		got := v.Decisions()
		want := map[string]string{"d1": "published", "d2": "returned", "d3": "failed", "d4": "proposed"}
		for _, d := range got.Decisions {
			if d.Stage != want[d.DecisionID] || d.SocietyID != "hn-chem" || d.Category != "major_work" {
				t.Errorf("%+v, want stage %s", d, want[d.DecisionID])
			}
		}
		if len(got.Decisions) != 4 || got.Counts["published"] != 1 || got.Counts["endorsed"] != 0 || got.Counts["proposed"] != 1 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("conferences", func(t *testing.T) {
		got := v.Conferences()
		want := map[string][3]int{"c1": {2, 1, 150}, "c2": {0, 0, 0}, "c3": {1, 0, 30}, "c4": {0, 0, 0}}
		for _, c := range got.Conferences {
			w := want[c.ConferenceID]
			if c.Sessions != w[0] || c.OnlineSessions != w[1] || c.Attendees != w[2] || c.OrganizerSociety != "hn-chem" || c.City != "zhengzhou" {
				t.Errorf("%+v, want %v", c, w)
			}
		}
		tot := got.Totals
		if tot.Conferences != 4 || tot.Sessions != 3 || tot.OnlineSessions != 1 || tot.Attendees != 180 || tot.ByProgram["academic_exchange"] != 2 || tot.ByLevel["provincial"] != 4 {
			t.Fatalf("totals %+v", tot)
		}
	})
	t.Run("volunteer-services", func(t *testing.T) {
		got := v.VolunteerServices()
		t1 := domain.DeliveryTotals{Deliveries: 2, Volunteers: 5, Hours: 15, Beneficiaries: 140, ProblemsSolved: 3, TechnologiesPromoted: 1, TalentsTrained: 8, Demonstrations: 1}
		want := map[string]domain.DeliveryTotals{"t1": t1, "t2": {}, "t3": {}}
		for _, tm := range got.Teams {
			if tm.DeliveryTotals != want[tm.TeamID] || tm.Program != "one_industry_service_team" {
				t.Errorf("%+v, want %+v", tm, want[tm.TeamID])
			}
		}
		if got.Totals.Teams != 3 || got.Totals.DeliveryTotals != t1 {
			t.Fatalf("totals %+v", got.Totals)
		}
	})
}

func closeShares(a, b domain.Shares) bool {
	return math.Abs(a.University-b.University) < 1e-9 && math.Abs(a.ResearchInstitute-b.ResearchInstitute) < 1e-9 &&
		math.Abs(a.Enterprise-b.Enterprise) < 1e-9 && math.Abs(a.Government-b.Government) < 1e-9 && math.Abs(a.Other-b.Other) < 1e-9
}

func TestTermWindow(t *testing.T) {
	today := time.Date(2021, 3, 15, 23, 30, 0, 0, domain.CST)
	cases := []struct {
		due, want string
	}{
		{"", projections.TermUnknown},
		{"2021-03-14", projections.TermOverdue},
		{"2021-03-15", projections.TermDueSoon},
		{"2021-06-13", projections.TermDueSoon}, // today + 90 days
		{"2021-06-14", projections.TermCurrent}, // today + 91 days
	}
	for _, c := range cases {
		t.Run(c.due, func(t *testing.T) {
			var d domain.Date
			if c.due != "" {
				d = domain.MustDate(c.due)
			}
			if got := projections.TermStateAt(d, today); got != c.want {
				t.Fatalf("due %s on %s: %s, want %s", c.due, today.Format(time.DateOnly), got, c.want)
			}
		})
	}
	// The clock is read in China Standard Time: 2021-03-14T17:00Z is
	// already the 15th in Zhengzhou.
	if got := projections.TermStateAt(domain.MustDate("2021-03-14"), time.Date(2021, 3, 14, 17, 0, 0, 0, time.UTC)); got != projections.TermOverdue {
		t.Fatalf("CST day boundary: %s", got)
	}
}

func TestPlanInForce(t *testing.T) {
	l := newLog(t)
	l.add("plan/henan-2023", "plan.published", `{"year":2023,"document_no":"d","title":"t","targets":{"platform":5},"leadership_rule":{"university":0.25,"research_institute":0.25,"enterprise":0.25,"government":0.25,"tolerance":0.05}}`, "2023-02-01T00:00:00+08:00")
	v := l.replay()
	for _, c := range []struct {
		year int
		want string
	}{{2020, "henan-2021"}, {2021, "henan-2021"}, {2022, "henan-2021"}, {2023, "henan-2023"}, {2030, "henan-2023"}} {
		id, _, ok := v.PlanInForce(time.Date(c.year, 6, 1, 0, 0, 0, 0, domain.CST))
		if !ok || id != c.want {
			t.Errorf("%d: plan %s, want %s", c.year, id, c.want)
		}
	}
	if p := v.Programs(time.Date(2023, 6, 1, 0, 0, 0, 0, domain.CST)); p.PlanID != "henan-2023" || *p.Programs[6].Target != 5 {
		t.Fatalf("programs against the 2023 plan: %+v", p)
	}
}
