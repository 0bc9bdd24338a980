package domain

import "math"

// Sector is where a leadership member comes from (三三三一).
type Sector string

// The sectors. Other counts in a body's size but in none of the four shares.
const (
	SectorUniversity        Sector = "university"
	SectorResearchInstitute Sector = "research_institute"
	SectorEnterprise        Sector = "enterprise"
	SectorGovernment        Sector = "government"
	SectorOther             Sector = "other"
)

var sectors = []string{string(SectorUniversity), string(SectorResearchInstitute), string(SectorEnterprise), string(SectorGovernment), string(SectorOther)}

// Ratio statuses.
const (
	RatioCompliant    = "compliant"
	RatioNonCompliant = "non_compliant"
	RatioUnknown      = "unknown"
)

// Shares are the fractions of a leadership body per sector.
type Shares struct {
	University        float64 `json:"university"`
	ResearchInstitute float64 `json:"research_institute"`
	Enterprise        float64 `json:"enterprise"`
	Government        float64 `json:"government"`
	Other             float64 `json:"other"`
}

// RatioResult is a leadership body measured against the 三三三一 rule.
type RatioResult struct {
	Status       string  `json:"status"`
	Size         int     `json:"size"`
	Shares       Shares  `json:"shares"`
	MaxDeviation float64 `json:"max_deviation"`
}

// ratioEpsilon absorbs floating-point error, so that a share exactly
// tolerance away from its target (2 of 10 against 30 %) complies.
const ratioEpsilon = 1e-9

// Ratio measures a leadership body against rule. A body with no members is
// unknown; otherwise it complies when each of the four shares lies within
// rule.Tolerance of its target.
func Ratio(members []Member, rule LeadershipRule) RatioResult {
	if len(members) == 0 {
		return RatioResult{Status: RatioUnknown}
	}
	var n [5]int
	for _, m := range members {
		switch Sector(m.Sector) {
		case SectorUniversity:
			n[0]++
		case SectorResearchInstitute:
			n[1]++
		case SectorEnterprise:
			n[2]++
		case SectorGovernment:
			n[3]++
		default:
			n[4]++
		}
	}
	size := float64(len(members))
	sh := Shares{float64(n[0]) / size, float64(n[1]) / size, float64(n[2]) / size, float64(n[3]) / size, float64(n[4]) / size}
	dev := math.Max(math.Max(math.Abs(sh.University-rule.University), math.Abs(sh.ResearchInstitute-rule.ResearchInstitute)),
		math.Max(math.Abs(sh.Enterprise-rule.Enterprise), math.Abs(sh.Government-rule.Government)))
	status := RatioCompliant
	if dev > rule.Tolerance+ratioEpsilon {
		status = RatioNonCompliant
	}
	return RatioResult{Status: status, Size: len(members), Shares: sh, MaxDeviation: dev}
}
