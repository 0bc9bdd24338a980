package domain

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// LeadershipRule is the 三三三一 rule a plan publishes: the target share of
// each sector in a leadership body and the tolerance ("in principle").
type LeadershipRule struct {
	University        float64 `json:"university"`
	ResearchInstitute float64 `json:"research_institute"`
	Enterprise        float64 `json:"enterprise"`
	Government        float64 `json:"government"`
	Tolerance         float64 `json:"tolerance"`
}

// PlanPublishedData is the data of plan.published: the plan is data, so a
// 2022 plan is another event, not a code change.
type PlanPublishedData struct {
	Year           int            `json:"year"`
	DocumentNo     string         `json:"document_no"`
	Title          string         `json:"title"`
	Targets        map[string]int `json:"targets"`
	LeadershipRule LeadershipRule `json:"leadership_rule"`
}

func (PlanPublishedData) EventType() EventType { return PlanPublished }

func decodePlanPublished(f *fields) PlanPublishedData {
	p := PlanPublishedData{
		Year:       int(f.integer("year", 2000, 2100)),
		DocumentNo: f.text("document_no", true, 200),
		Title:      f.text("title", true, maxText),
		Targets:    f.counts("targets", programNames(Programs), "programme", 0, 1_000_000),
	}
	r := f.object("leadership_rule")
	p.LeadershipRule = LeadershipRule{
		University:        r.number("university", true, 0, 1),
		ResearchInstitute: r.number("research_institute", true, 0, 1),
		Enterprise:        r.number("enterprise", true, 0, 1),
		Government:        r.number("government", true, 0, 1),
		Tolerance:         r.number("tolerance", true, 0, 1),
	}
	r.done()
	lr := p.LeadershipRule
	if sum := lr.University + lr.ResearchInstitute + lr.Enterprise + lr.Government; len(*f.probs) == 0 && math.Abs(sum-1) > 1e-9 {
		f.problem("leadership_rule", "the four target shares add up to %g; they must add up to 1", sum)
	}
	return p
}

func isProgram(s string) bool {
	for _, p := range Programs {
		if string(p) == s {
			return true
		}
	}
	return false
}

// PlanState is a published plan.
type PlanState struct {
	Published bool              `json:"published"`
	Data      PlanPublishedData `json:"data"`
	// PublishedAt is the plan's business time.
	PublishedAt time.Time `json:"published_at"`
}

func (s *PlanState) exists() bool  { return s.Published }
func (s *PlanState) owner() string { return "" }

func (s *PlanState) check(f *Fact, env Env) []Problem {
	if f.Type == PlanPublished {
		return nil
	}
	return []Problem{{Pointer: "/type", Detail: fmt.Sprintf("a plan takes only %s and retractions", PlanPublished)}}
}

func (s *PlanState) apply(f *Fact) {
	if p, ok := f.Payload.(PlanPublishedData); ok {
		s.Published, s.Data, s.PublishedAt = true, p, f.Time
	}
}

// The 2021 plan ships inside the binary and is published as
// plan/henan-2021 on first start.
//
//go:embed plan2021.json
var plan2021JSON []byte

// Plan2021ID is the aggregate id of the shipped 2021 plan.
const Plan2021ID = "henan-2021"

// Plan2021 returns the shipped 2021 plan as an event to submit: its id is
// fixed, so publishing it twice stores it once.
func Plan2021() Event {
	var shipped struct {
		Time time.Time       `json:"time"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(plan2021JSON, &shipped); err != nil {
		panic("domain: shipped plan2021.json: " + err.Error())
	}
	return Event{
		SpecVersion: SpecVersion,
		ID:          "plan-henan-2021-published",
		Source:      "/planledger/shipped-plans",
		Type:        string(PlanPublished),
		Subject:     "plan/" + Plan2021ID,
		Time:        shipped.Time,
		Data:        shipped.Data,
	}
}

func joinNames(s []string) string {
	return strings.Join(slices.Sorted(slices.Values(s)), ", ")
}
