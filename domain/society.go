package domain

import (
	"encoding/json"
	"fmt"
)

// Society kinds. Municipal associations are not counted in party coverage.
const (
	SocietyKindSociety              = "society"
	SocietyKindAssociation          = "association"
	SocietyKindResearchSociety      = "research_society"
	SocietyKindMunicipalAssociation = "municipal_association"
)

var (
	societyKinds      = []string{SocietyKindSociety, SocietyKindAssociation, SocietyKindResearchSociety, SocietyKindMunicipalAssociation}
	partyOrgTypes     = []string{"party_committee", "general_branch", "branch", "joint_branch", "functional"}
	leadershipRoles   = []string{"president", "vice_president", "secretary_general", "standing_director", "director"}
	inspectionResults = []string{"pass", "basic_pass", "fail"}
)

// MinPartyMembers is the fewest party members a party organisation has.
const MinPartyMembers = 3

// Member is one member of a leadership body.
type Member struct {
	MemberID string `json:"member_id"`
	Role     string `json:"role"`
	Sector   string `json:"sector"`
}

// SocietyRegisteredData is the data of society.registered.
type SocietyRegisteredData struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	City string `json:"city,omitempty"`
}

// PartyOrganizationEstablishedData is the data of society.party_organization_established.
type PartyOrganizationEstablishedData struct {
	OrgType       string `json:"org_type"`
	Members       int    `json:"members"`
	EstablishedOn Date   `json:"established_on"`
}

// PartyBuildingAssessedData is the data of society.party_building_assessed.
type PartyBuildingAssessedData struct {
	Year  int     `json:"year"`
	Score float64 `json:"score"`
}

// PartyHistoryActivityHeldData is the data of society.party_history_activity_held.
type PartyHistoryActivityHeldData struct {
	Title        string `json:"title"`
	Participants int    `json:"participants"`
	HeldOn       Date   `json:"held_on"`
}

// ReelectionHeldData is the data of society.reelection_held.
type ReelectionHeldData struct {
	TermStart  Date     `json:"term_start"`
	TermYears  int      `json:"term_years"`
	Leadership []Member `json:"leadership"`
}

// LeadershipChangedData is the data of society.leadership_changed.
type LeadershipChangedData struct {
	Added   []Member `json:"added"`
	Removed []string `json:"removed"`
}

// AnnualInspectionRecordedData is the data of society.annual_inspection_recorded.
type AnnualInspectionRecordedData struct {
	Year   int    `json:"year"`
	Result string `json:"result"`
}

func (SocietyRegisteredData) EventType() EventType { return SocietyRegistered }
func (PartyOrganizationEstablishedData) EventType() EventType {
	return SocietyPartyOrganizationEstablished
}
func (PartyBuildingAssessedData) EventType() EventType    { return SocietyPartyBuildingAssessed }
func (PartyHistoryActivityHeldData) EventType() EventType { return SocietyPartyHistoryActivityHeld }
func (ReelectionHeldData) EventType() EventType           { return SocietyReelectionHeld }
func (LeadershipChangedData) EventType() EventType        { return SocietyLeadershipChanged }
func (AnnualInspectionRecordedData) EventType() EventType { return SocietyAnnualInspectionRecorded }

func decodeSocietyRegistered(f *fields) SocietyRegisteredData {
	return SocietyRegisteredData{
		Name: f.text("name", true, 200),
		Kind: f.enum("kind", true, societyKinds),
		City: f.text("city", false, 100),
	}
}

func decodePartyOrganizationEstablished(f *fields) PartyOrganizationEstablishedData {
	return PartyOrganizationEstablishedData{
		OrgType:       f.enum("org_type", true, partyOrgTypes),
		Members:       int(f.integer("members", MinPartyMembers, 1_000_000)),
		EstablishedOn: f.date("established_on", true),
	}
}

func decodePartyBuildingAssessed(f *fields) PartyBuildingAssessedData {
	return PartyBuildingAssessedData{Year: int(f.integer("year", 2000, 2100)), Score: f.number("score", true, 0, 100)}
}

func decodePartyHistoryActivityHeld(f *fields) PartyHistoryActivityHeldData {
	return PartyHistoryActivityHeldData{
		Title:        f.text("title", true, maxText),
		Participants: int(f.integer("participants", 1, 1_000_000)),
		HeldOn:       f.date("held_on", true),
	}
}

func decodeMembers(f *fields, name string, required bool) []Member {
	raw := f.array(name, required)
	if required {
		f.nonEmpty(name, raw, "member")
	}
	members := make([]Member, 0, len(raw))
	seen := map[string]int{}
	for i, r := range raw {
		e := f.elem(name, i, r)
		m := Member{MemberID: e.slug("member_id", true), Role: e.enum("role", true, leadershipRoles), Sector: e.enum("sector", true, sectors)}
		e.done()
		if j, dup := seen[m.MemberID]; dup && m.MemberID != "" {
			e.problem("member_id", "%q is listed twice (also at %d)", m.MemberID, j)
		}
		seen[m.MemberID] = i
		members = append(members, m)
	}
	return members
}

func decodeReelectionHeld(f *fields) ReelectionHeldData {
	return ReelectionHeldData{
		TermStart:  f.date("term_start", true),
		TermYears:  int(f.integer("term_years", 1, 5)),
		Leadership: decodeMembers(f, "leadership", true),
	}
}

func decodeLeadershipChanged(f *fields) LeadershipChangedData {
	d := LeadershipChangedData{Added: decodeMembers(f, "added", false)}
	for i, r := range f.array("removed", false) {
		d.Removed = append(d.Removed, f.elemSlug("removed", i, r))
	}
	f.oneOfGiven([]string{"added", "removed"}, len(d.Added) > 0 || len(d.Removed) > 0, "a leadership change adds or removes at least one member")
	return d
}

func decodeAnnualInspectionRecorded(f *fields) AnnualInspectionRecordedData {
	return AnnualInspectionRecordedData{Year: int(f.integer("year", 2000, 2100)), Result: f.enum("result", true, inspectionResults)}
}

// MarshalJSON keeps empty lists as [] rather than null, as submitted.
func (d LeadershipChangedData) MarshalJSON() ([]byte, error) {
	type plain LeadershipChangedData
	p := plain(d)
	if p.Added == nil {
		p.Added = []Member{}
	}
	if p.Removed == nil {
		p.Removed = []string{}
	}
	return json.Marshal(p)
}

// SocietyState is a society (or association, research society, municipal
// association) as its live events leave it.
type SocietyState struct {
	Registered    bool                               `json:"registered"`
	ID            string                             `json:"id"`
	Info          SocietyRegisteredData              `json:"info"`
	PartyOrgs     []PartyOrganizationEstablishedData `json:"party_orgs,omitempty"`
	Assessments   map[int]float64                    `json:"assessments,omitempty"`
	Inspections   map[int]string                     `json:"inspections,omitempty"`
	HistoryEvents int                                `json:"history_events"`
	// Leadership is the current leadership body; nil before a re-election.
	Leadership []Member `json:"leadership,omitempty"`
	TermStart  Date     `json:"term_start"`
	TermYears  int      `json:"term_years"`
}

func (s *SocietyState) exists() bool  { return s.Registered }
func (s *SocietyState) owner() string { return s.ID }

func (s *SocietyState) check(f *Fact, env Env) []Problem {
	switch p := f.Payload.(type) {
	case PartyOrganizationEstablishedData:
		return notFuture(p.EstablishedOn, "/data/established_on", env)
	case PartyHistoryActivityHeldData:
		return notFuture(p.HeldOn, "/data/held_on", env)
	case PartyBuildingAssessedData:
		if _, done := s.Assessments[p.Year]; done {
			return []Problem{{Pointer: "/data/year", Detail: fmt.Sprintf("the party building of %d is already assessed; retract that assessment to correct it", p.Year)}}
		}
	case AnnualInspectionRecordedData:
		if _, done := s.Inspections[p.Year]; done {
			return []Problem{{Pointer: "/data/year", Detail: fmt.Sprintf("the annual inspection of %d is already recorded; retract it to correct it", p.Year)}}
		}
	case ReelectionHeldData:
		if !s.TermStart.IsZero() && !s.TermStart.Before(p.TermStart) {
			return []Problem{{Pointer: "/data/term_start", Detail: fmt.Sprintf("%s is not after the current term's start %s; a re-election starts a new term", p.TermStart, s.TermStart)}}
		}
	case LeadershipChangedData:
		return s.checkLeadershipChange(p)
	}
	return nil
}

func (s *SocietyState) checkLeadershipChange(p LeadershipChangedData) []Problem {
	if s.Leadership == nil {
		return []Problem{{Pointer: "/type", Detail: "the society has no recorded leadership; record a society.reelection_held first"}}
	}
	current := map[string]bool{}
	for _, m := range s.Leadership {
		current[m.MemberID] = true
	}
	var probs []Problem
	removed := map[string]bool{}
	for i, id := range p.Removed {
		if !current[id] {
			probs = append(probs, Problem{Pointer: fmt.Sprintf("/data/removed/%d", i), Detail: fmt.Sprintf("%q is not a current member of the leadership", id)})
		}
		removed[id] = true
	}
	for i, m := range p.Added {
		if current[m.MemberID] && !removed[m.MemberID] {
			probs = append(probs, Problem{Pointer: fmt.Sprintf("/data/added/%d/member_id", i), Detail: fmt.Sprintf("%q is already a member; to change a role, remove and add in one change", m.MemberID)})
		}
	}
	if len(probs) == 0 && len(s.Leadership)-len(p.Removed)+len(p.Added) == 0 {
		probs = append(probs, Problem{Pointer: "/data/removed", Detail: "the change would leave the leadership empty; hold a re-election instead"})
	}
	return probs
}

func (s *SocietyState) apply(f *Fact) {
	switch p := f.Payload.(type) {
	case SocietyRegisteredData:
		s.Registered, s.Info = true, p
		s.Assessments, s.Inspections = map[int]float64{}, map[int]string{}
	case PartyOrganizationEstablishedData:
		s.PartyOrgs = append(s.PartyOrgs, p)
	case PartyBuildingAssessedData:
		if s.Assessments == nil { // a state read back from JSON leaves empty maps out
			s.Assessments = map[int]float64{}
		}
		s.Assessments[p.Year] = p.Score
	case AnnualInspectionRecordedData:
		if s.Inspections == nil {
			s.Inspections = map[int]string{}
		}
		s.Inspections[p.Year] = p.Result
	case PartyHistoryActivityHeldData:
		s.HistoryEvents++
	case ReelectionHeldData:
		s.Leadership = append([]Member{}, p.Leadership...)
		s.TermStart, s.TermYears = p.TermStart, p.TermYears
	case LeadershipChangedData:
		removed := map[string]bool{}
		for _, id := range p.Removed {
			removed[id] = true
		}
		next := []Member{}
		for _, m := range s.Leadership {
			if !removed[m.MemberID] {
				next = append(next, m)
			}
		}
		s.Leadership = append(next, p.Added...)
	}
}

// DueOn is when the current term ends; zero without a re-election.
func (s *SocietyState) DueOn() Date {
	if s.TermStart.IsZero() {
		return Date{}
	}
	return s.TermStart.AddYears(s.TermYears)
}
