package domain_test

import (
	"fmt"
	"testing"
	"time"

	"planledger/domain"
)

const (
	proposed   = `{"society_id":"hn-chem","category":"major_work","title":"年会方案"}`
	endorsed   = `{"outcome":"endorsed"}`
	returned   = `{"outcome":"returned","opinion":"请补充预算"}`
	votePass   = `{"body":"council","members_in_office":30,"present":20,"votes_for":11,"votes_against":5,"abstentions":4}`
	voteFail   = `{"body":"council","members_in_office":30,"present":20,"votes_for":10,"votes_against":6,"abstentions":4}`
	published  = `{"channel":"官网","published_on":"2021-06-10"}`
	registered = `{"name":"河南省化学会","kind":"society"}`
)

// TestDecisionProcedure takes 三议一公布 through every order it must refuse.
func TestDecisionProcedure(t *testing.T) {
	type step struct{ typ, data string }
	P := step{"decision.proposed", proposed}
	E := step{"decision.party_reviewed", endorsed}
	R := step{"decision.party_reviewed", returned}
	V := step{"decision.voted", votePass}
	F := step{"decision.voted", voteFail}
	B := step{"decision.published", published}
	cases := []struct {
		name    string
		before  []step
		next    step
		pointer string
		want    string
	}{
		{"review before proposal", nil, E, "/subject", "does not exist: it is created by decision.proposed"},
		{"vote before proposal", nil, V, "/subject", "does not exist"},
		{"proposal twice", []step{P}, P, "/type", "already exists"},
		{"vote before party review", []step{P}, V, "/type", "the decision is proposed, so what comes next is the party committee's review"},
		{"publish before party review", []step{P}, B, "/type", "out of order"},
		{"publish before vote", []step{P, E}, B, "/type", "the decision is endorsed, so what comes next is the council's vote"},
		{"vote after return", []step{P, R}, V, "/type", "decision is returned"},
		{"publish after return", []step{P, R}, B, "/type", "decision is returned"},
		{"review after endorsement", []step{P, E}, E, "/type", "decision is endorsed"},
		{"return after endorsement", []step{P, E}, R, "/type", "decision is endorsed"},
		{"review after vote", []step{P, E, V}, E, "/type", "decision is passed"},
		{"vote twice", []step{P, E, V}, V, "/type", "decision is passed"},
		{"publish a failed vote", []step{P, E, F}, B, "/type", "a failed proposal ends here"},
		{"vote again after failing", []step{P, E, F}, V, "/type", "decision is failed"},
		{"review after publication", []step{P, E, V, B}, E, "/type", "the procedure is complete"},
		{"publish twice", []step{P, E, V, B}, B, "/type", "the procedure is complete"},
		{"vote after publication", []step{P, E, V, B}, V, "/type", "the procedure is complete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHistory(t, "decision/d-1")
			for _, s := range c.before {
				h.ok(s.typ, s.data)
			}
			h.refuse(c.next.typ, c.next.data, c.pointer, c.want)
		})
	}
	t.Run("returned, revised, reviewed again, passed, published", func(t *testing.T) {
		h := newHistory(t, "decision/d-1")
		for _, s := range []step{P, R, R, E, V, B} {
			h.ok(s.typ, s.data)
		}
		if got := h.agg.Decision.Stage; got != domain.StagePublished {
			t.Fatalf("stage %s, want published", got)
		}
	})
}

func TestVoteArithmetic(t *testing.T) {
	cases := []struct {
		name                                   string
		inOffice, present, forV, against, abst int
		passes                                 bool
	}{
		{"two thirds present, majority for", 30, 20, 11, 9, 0, true},
		{"one short of two thirds", 30, 19, 19, 0, 0, false},
		{"exactly half for is not more than half", 30, 20, 10, 10, 0, false},
		{"abstentions count as present", 9, 6, 4, 0, 2, true},
		{"all present all for", 7, 7, 7, 0, 0, true},
		{"two thirds of an odd body rounds up", 10, 6, 6, 0, 0, false},
		{"two thirds of an odd body", 10, 7, 4, 3, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := domain.DecisionVotedData{MembersInOffice: c.inOffice, Present: c.present, VotesFor: c.forV, VotesAgainst: c.against, Abstentions: c.abst}
			if got := v.Passed(); got != c.passes {
				t.Fatalf("Passed() = %v, want %v", got, c.passes)
			}
			h := newHistory(t, "decision/d-1")
			h.ok("decision.proposed", proposed)
			h.ok("decision.party_reviewed", endorsed)
			h.ok("decision.voted", fmt.Sprintf(`{"body":"standing_council","members_in_office":%d,"present":%d,"votes_for":%d,"votes_against":%d,"abstentions":%d}`, c.inOffice, c.present, c.forV, c.against, c.abst))
			want := domain.StageFailed
			if c.passes {
				want = domain.StagePassed
			}
			if got := h.agg.Decision.Stage; got != want {
				t.Fatalf("stage %s, want %s", got, want)
			}
		})
	}
}

func TestSocietyRules(t *testing.T) {
	reelect := func(start string, ids ...string) string {
		s := `{"term_start":"` + start + `","term_years":5,"leadership":[`
		for i, id := range ids {
			if i > 0 {
				s += ","
			}
			s += `{"member_id":"` + id + `","role":"director","sector":"university"}`
		}
		return s + "]}"
	}
	t.Run("event before registration", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.refuse("society.party_building_assessed", `{"year":2021,"score":90}`, "/subject", "created by society.registered")
	})
	t.Run("registered twice", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.refuse("society.registered", registered, "/type", "already exists")
	})
	t.Run("leadership change without re-election", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.refuse("society.leadership_changed", `{"added":[{"member_id":"x","role":"director","sector":"other"}],"removed":[]}`, "/type", "no recorded leadership")
	})
	t.Run("remove a non-member", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.reelection_held", reelect("2021-01-01", "a", "b"))
		h.refuse("society.leadership_changed", `{"added":[],"removed":["c"]}`, "/data/removed/0", `"c" is not a current member`)
	})
	t.Run("add a current member", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.reelection_held", reelect("2021-01-01", "a", "b"))
		h.refuse("society.leadership_changed", `{"added":[{"member_id":"a","role":"president","sector":"other"}]}`, "/data/added/0/member_id", "already a member")
	})
	t.Run("change of role, remove and add", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.reelection_held", reelect("2021-01-01", "a", "b"))
		h.ok("society.leadership_changed", `{"added":[{"member_id":"a","role":"president","sector":"other"}],"removed":["a"]}`)
		if l := h.agg.Society.Leadership; len(l) != 2 || l[1].MemberID != "a" || l[1].Role != "president" {
			t.Fatalf("leadership %v", l)
		}
	})
	t.Run("change leaving the body empty", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.reelection_held", reelect("2021-01-01", "a"))
		h.refuse("society.leadership_changed", `{"removed":["a"]}`, "/data/removed", "leave the leadership empty")
	})
	t.Run("re-election not after the current term", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.reelection_held", reelect("2021-01-01", "a"))
		h.refuse("society.reelection_held", reelect("2021-01-01", "b"), "/data/term_start", "not after the current term's start")
		h.ok("society.reelection_held", reelect("2021-03-01", "b"))
		if due := h.agg.Society.DueOn().Day(); due != "2026-03-01" {
			t.Fatalf("due %s, want 2026-03-01", due)
		}
	})
	t.Run("assessed twice in a year", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.party_building_assessed", `{"year":2021,"score":90}`)
		h.refuse("society.party_building_assessed", `{"year":2021,"score":95}`, "/data/year", "already assessed")
		h.ok("society.party_building_assessed", `{"year":2020,"score":80}`)
	})
	t.Run("inspected twice in a year", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		h.ok("society.annual_inspection_recorded", `{"year":2020,"result":"pass"}`)
		h.refuse("society.annual_inspection_recorded", `{"year":2020,"result":"fail"}`, "/data/year", "already recorded")
	})
	t.Run("activity dated in the future", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		tomorrow := now.Add(24 * time.Hour).In(domain.CST).Format(time.DateOnly)
		h.refuse("society.party_history_activity_held", `{"title":"t","participants":5,"held_on":"`+tomorrow+`"}`, "/data/held_on", "in the future")
		h.ok("society.party_history_activity_held", `{"title":"t","participants":5,"held_on":"`+now.In(domain.CST).Format(time.DateOnly)+`"}`)
	})
}

func TestProjectAndReferences(t *testing.T) {
	reg := `{"program":"one_industry_one_report","title":"报告","lead_society":"hn-chem"}`
	t.Run("complete after cancel", func(t *testing.T) {
		h := newHistory(t, "project/p")
		h.ok("project.registered", reg)
		h.ok("project.cancelled", `{"reason":"r"}`)
		h.refuse("project.completed", `{"completed_on":"2021-05-01","deliverable":"d"}`, "/type", "the project is cancelled")
	})
	t.Run("milestone after completion", func(t *testing.T) {
		h := newHistory(t, "project/p")
		h.ok("project.registered", reg)
		h.ok("project.completed", `{"completed_on":"2021-05-01","deliverable":"d"}`)
		h.refuse("project.milestone_reached", `{"milestone":"m","reached_on":"2021-05-02"}`, "/type", "the project is completed")
	})
	t.Run("unknown lead society", func(t *testing.T) {
		h := newHistory(t, "project/p")
		h.env.SocietyExists = func(id string) bool { return id == "hn-phys" }
		h.refuse("project.registered", reg, "/data/lead_society", `society "hn-chem" is not registered`)
	})
	t.Run("owner is fixed by the first event", func(t *testing.T) {
		for subject, pair := range map[string][2]string{
			"project/p":       {"project.registered", reg},
			"decision/d":      {"decision.proposed", proposed},
			"conference/c":    {"conference.registered", `{"title":"t","level":"national","organizer_society":"hn-chem"}`},
			"service_team/t":  {"service_team.formed", `{"society_id":"hn-chem","industry":"i","title":"t"}`},
			"society/hn-chem": {"society.registered", registered},
		} {
			h := newHistory(t, subject)
			h.ok(pair[0], pair[1])
			if h.agg.Owner() != "hn-chem" {
				t.Errorf("%s owner %q, want hn-chem", subject, h.agg.Owner())
			}
		}
	})
	t.Run("plan takes nothing but its publication", func(t *testing.T) {
		h := newHistory(t, "plan/p")
		if h.agg.Owner() != "" || h.agg.Exists() {
			t.Fatal("a plan before publication exists or has an owner")
		}
		h.ok("plan.published", `{"year":2022,"document_no":"d","title":"t","targets":{"platform":2},"leadership_rule":{"university":0.25,"research_institute":0.25,"enterprise":0.25,"government":0.25,"tolerance":0.05}}`)
		h.refuse("plan.published", `{"year":2022,"document_no":"d","title":"t","targets":{},"leadership_rule":{"university":0.25,"research_institute":0.25,"enterprise":0.25,"government":0.25,"tolerance":0.05}}`, "/type", "already exists")
		if p := h.agg.Plan; p.Data.Targets["platform"] != 2 || p.Data.LeadershipRule.Tolerance != 0.05 {
			t.Fatalf("plan state %+v", p)
		}
	})
}

func TestRetraction(t *testing.T) {
	t.Run("unknown event", func(t *testing.T) {
		h := newHistory(t, "project/p")
		h.ok("project.registered", `{"program":"award","title":"t","lead_society":"s"}`)
		h.refuse("project.event_retracted", retract("nope"), "/data/event_id", `no event with id "nope"`)
	})
	t.Run("a retraction", func(t *testing.T) {
		h := newHistory(t, "project/p")
		h.ok("project.registered", `{"program":"award","title":"t","lead_society":"s"}`)
		m := h.ok("project.milestone_reached", `{"milestone":"m","reached_on":"2021-05-01"}`)
		r := h.ok("project.event_retracted", retract(m))
		h.refuse("project.event_retracted", retract(r), "/data/event_id", "itself a retraction")
		h.refuse("project.event_retracted", retract(m), "/data/event_id", "already retracted by event \""+r+"\"")
	})
	t.Run("middle step of a decision", func(t *testing.T) {
		h := newHistory(t, "decision/d")
		h.ok("decision.proposed", proposed)
		e := h.ok("decision.party_reviewed", endorsed)
		h.ok("decision.voted", votePass)
		h.refuse("decision.event_retracted", retract(e), "/data/event_id", "retract the later events first")
	})
	t.Run("last step of a decision", func(t *testing.T) {
		h := newHistory(t, "decision/d")
		h.ok("decision.proposed", proposed)
		h.ok("decision.party_reviewed", endorsed)
		v := h.ok("decision.voted", voteFail)
		h.ok("decision.event_retracted", retract(v))
		if s := h.agg.Decision.Stage; s != domain.StageEndorsed {
			t.Fatalf("stage after retracting the vote %s, want endorsed", s)
		}
		h.ok("decision.voted", votePass)
	})
	t.Run("registration with later events", func(t *testing.T) {
		h := newHistory(t, "society/s")
		r := h.ok("society.registered", registered)
		h.ok("society.party_building_assessed", `{"year":2021,"score":90}`)
		h.refuse("society.event_retracted", retract(r), "/data/event_id", "retract the later events first")
	})
	t.Run("everything, then registered again", func(t *testing.T) {
		h := newHistory(t, "society/s")
		r := h.ok("society.registered", registered)
		a := h.ok("society.party_building_assessed", `{"year":2021,"score":90}`)
		h.ok("society.event_retracted", retract(a))
		h.ok("society.event_retracted", retract(r))
		if h.agg.Exists() {
			t.Fatal("society exists after its registration was retracted")
		}
		h.refuse("society.party_building_assessed", `{"year":2021,"score":90}`, "/subject", "does not exist")
		h.ok("society.registered", `{"name":"河南省化学学会","kind":"society"}`)
		if s := h.agg.Society; s.Info.Name != "河南省化学学会" || len(s.Assessments) != 0 {
			t.Fatalf("state after re-registration %+v", s)
		}
	})
	t.Run("a retracted assessment frees its year", func(t *testing.T) {
		h := newHistory(t, "society/s")
		h.ok("society.registered", registered)
		a := h.ok("society.party_building_assessed", `{"year":2021,"score":59}`)
		h.ok("society.event_retracted", retract(a))
		h.ok("society.party_building_assessed", `{"year":2021,"score":95}`)
		if got := h.agg.Society.Assessments[2021]; got != 95 {
			t.Fatalf("2021 score %v, want 95", got)
		}
	})
}
