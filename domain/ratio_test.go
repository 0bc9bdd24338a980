package domain_test

import (
	"fmt"
	"math"
	"testing"

	"planledger/domain"
)

var rule2021 = domain.LeadershipRule{University: 0.3, ResearchInstitute: 0.3, Enterprise: 0.3, Government: 0.1, Tolerance: 0.1}

// body makes a leadership body with n members of each sector, in the order
// university, research_institute, enterprise, government, other.
func body(n ...int) []domain.Member {
	names := []string{"university", "research_institute", "enterprise", "government", "other"}
	var ms []domain.Member
	for i, k := range n {
		for j := 0; j < k; j++ {
			ms = append(ms, domain.Member{MemberID: fmt.Sprintf("%s-%d", names[i], j), Role: "director", Sector: names[i]})
		}
	}
	return ms
}

func TestRatio(t *testing.T) {
	cases := []struct {
		name    string
		members []domain.Member
		rule    domain.LeadershipRule
		status  string
		maxDev  float64
	}{
		{"no leadership is unknown", nil, rule2021, domain.RatioUnknown, 0},
		{"3:3:3:1", body(3, 3, 3, 1), rule2021, domain.RatioCompliant, 0},
		{"exactly 10 points off complies", body(2, 3, 4, 1), rule2021, domain.RatioCompliant, 0.1},
		{"10.01 points off does not", body(1999, 3000, 4001, 1000), rule2021, domain.RatioNonCompliant, 0.1001},
		{"other counts in the size only", body(3, 3, 3, 0, 1), rule2021, domain.RatioCompliant, 0.1},
		{"all from universities", body(10), rule2021, domain.RatioNonCompliant, 0.7},
		{"a stricter plan", body(2, 3, 4, 1), domain.LeadershipRule{University: 0.3, ResearchInstitute: 0.3, Enterprise: 0.3, Government: 0.1, Tolerance: 0.05}, domain.RatioNonCompliant, 0.1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := domain.Ratio(c.members, c.rule)
			if r.Status != c.status || math.Abs(r.MaxDeviation-c.maxDev) > 1e-9 || r.Size != len(c.members) {
				t.Fatalf("got %s, max deviation %v, size %d; want %s, %v, %d", r.Status, r.MaxDeviation, r.Size, c.status, c.maxDev, len(c.members))
			}
			if len(c.members) > 0 {
				sum := r.Shares.University + r.Shares.ResearchInstitute + r.Shares.Enterprise + r.Shares.Government + r.Shares.Other
				if math.Abs(sum-1) > 1e-9 {
					t.Fatalf("shares add up to %v", sum)
				}
			}
		})
	}
}

func TestShippedPlan2021(t *testing.T) {
	ev := domain.Plan2021()
	if ev.Subject != "plan/henan-2021" || ev.Type != string(domain.PlanPublished) {
		t.Fatalf("shipped plan event %s %s", ev.Type, ev.Subject)
	}
	p, probs := domain.DecodeData(domain.PlanPublished, ev.Data)
	if len(probs) > 0 {
		t.Fatalf("shipped plan does not decode: %v", probs)
	}
	plan := p.(domain.PlanPublishedData)
	want := map[string]int{"one_city_one_product": 3, "one_industry_one_report": 7, "one_enterprise_one_innovation": 25,
		"one_industry_one_society": 3, "one_industry_service_team": 20, "platform": 3, "academic_exchange": 26, "discipline_report": 4}
	if plan.Year != 2021 || plan.DocumentNo != "豫科协办发〔2021〕9号" || len(plan.Targets) != len(want) || plan.LeadershipRule != rule2021 {
		t.Fatalf("shipped plan %+v", plan)
	}
	for k, v := range want {
		if plan.Targets[k] != v {
			t.Errorf("target %s = %d, want %d", k, plan.Targets[k], v)
		}
	}
}
