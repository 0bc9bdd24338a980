package projections

import (
	"slices"
	"strings"
	"time"

	"planledger/domain"
)

// View names: the contract of GET /v1/views/{view}.
const (
	ViewLeadershipRatio   = "leadership-ratio"
	ViewPartyCoverage     = "party-coverage"
	ViewReelections       = "reelections"
	ViewPrograms          = "programs"
	ViewDecisions         = "decisions"
	ViewConferences       = "conferences"
	ViewVolunteerServices = "volunteer-services"
)

// ViewNames lists every view.
var ViewNames = []string{ViewLeadershipRatio, ViewPartyCoverage, ViewReelections, ViewPrograms, ViewDecisions, ViewConferences, ViewVolunteerServices}

// DueSoonDays is the window in which a term is "due soon".
const DueSoonDays = 90

// Reelection states.
const (
	TermCurrent = "current"
	TermDueSoon = "due_soon"
	TermOverdue = "overdue"
	TermUnknown = "unknown"
)

// Render returns one view as it stands, against clock (the view's "today").
func (v *Views) Render(name string, clock time.Time) (any, error) {
	switch name {
	case ViewLeadershipRatio:
		return v.LeadershipRatio(clock), nil
	case ViewPartyCoverage:
		return v.PartyCoverage(), nil
	case ViewReelections:
		return v.Reelections(clock), nil
	case ViewPrograms:
		return v.Programs(clock), nil
	case ViewDecisions:
		return v.Decisions(), nil
	case ViewConferences:
		return v.Conferences(), nil
	case ViewVolunteerServices:
		return v.VolunteerServices(), nil
	}
	return nil, domain.Errorf(domain.KindNotFound, "no view %q; the views are %s", name, strings.Join(ViewNames, ", "))
}

// PlanInForce is the plan that applies at clock: the latest published plan
// whose year is not after clock's year (in CST), else the earliest plan.
// ok is false when no plan is published.
func (v *Views) PlanInForce(clock time.Time) (id string, plan domain.PlanPublishedData, ok bool) {
	year := clock.In(domain.CST).Year()
	var best, earliest *domain.Summary
	v.each(domain.AggregatePlan, func(s *domain.Summary) {
		y := s.Plan.Data.Year
		if earliest == nil || y < earliest.Plan.Data.Year {
			earliest = s
		}
		if y <= year && (best == nil || y >= best.Plan.Data.Year) {
			best = s
		}
	})
	if best == nil {
		best = earliest
	}
	if best == nil {
		return "", domain.PlanPublishedData{}, false
	}
	return best.Ref.ID, best.Plan.Data, true
}

// SocietyRatio is one society's leadership against the 三三三一 rule.
type SocietyRatio struct {
	SocietyID string `json:"society_id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	City      string `json:"city,omitempty"`
	domain.RatioResult
}

// LeadershipRatioView is the leadership-ratio view.
type LeadershipRatioView struct {
	Sequence  uint64                 `json:"sequence"`
	PlanID    string                 `json:"plan_id,omitempty"`
	Rule      *domain.LeadershipRule `json:"rule,omitempty"`
	Counts    map[string]int         `json:"counts"`
	Societies []SocietyRatio         `json:"societies"`
}

// LeadershipRatio measures every society's leadership body against the rule
// of the plan in force at clock.
func (v *Views) LeadershipRatio(clock time.Time) LeadershipRatioView {
	out := LeadershipRatioView{Sequence: v.Sequence, Counts: map[string]int{domain.RatioCompliant: 0, domain.RatioNonCompliant: 0, domain.RatioUnknown: 0}, Societies: []SocietyRatio{}}
	id, plan, ok := v.PlanInForce(clock)
	if ok {
		out.PlanID = id
		out.Rule = &plan.LeadershipRule
	}
	v.each(domain.AggregateSociety, func(s *domain.Summary) {
		r := domain.RatioResult{Status: domain.RatioUnknown}
		if ok {
			r = domain.Ratio(s.Society.Leadership, plan.LeadershipRule)
		}
		out.Counts[r.Status]++
		out.Societies = append(out.Societies, SocietyRatio{SocietyID: s.Ref.ID, Name: s.Society.Info.Name, Kind: s.Society.Info.Kind, City: s.Society.Info.City, RatioResult: r})
	})
	return out
}

// PartyCoverageView is the party-coverage view: 党的组织全面覆盖.
type PartyCoverageView struct {
	Sequence              uint64   `json:"sequence"`
	Societies             int      `json:"societies"`
	WithPartyOrganization int      `json:"with_party_organization"`
	Ratio                 float64  `json:"ratio"`
	Without               []string `json:"without"`
	// WithoutSocieties names the societies of Without, in the same order.
	WithoutSocieties []SocietyName `json:"without_societies"`
}

// SocietyName is a society's id with its registered name.
type SocietyName struct {
	SocietyID string `json:"society_id"`
	Name      string `json:"name"`
}

// SocietyName is the registered name of society id, "" if it is not
// registered.
func (v *Views) SocietyName(id string) string {
	if s, ok := v.Summaries[domain.Ref{Type: domain.AggregateSociety, ID: id}]; ok && s.Exists() {
		return s.Society.Info.Name
	}
	return ""
}

// PartyCoverage counts provincial societies, associations and research
// societies with a party organisation; municipal associations are not
// counted.
func (v *Views) PartyCoverage() PartyCoverageView {
	out := PartyCoverageView{Sequence: v.Sequence, Without: []string{}, WithoutSocieties: []SocietyName{}}
	v.each(domain.AggregateSociety, func(s *domain.Summary) {
		if s.Society.Info.Kind == domain.SocietyKindMunicipalAssociation {
			return
		}
		out.Societies++
		if len(s.Society.PartyOrgs) > 0 {
			out.WithPartyOrganization++
		} else {
			out.Without = append(out.Without, s.Ref.ID)
			out.WithoutSocieties = append(out.WithoutSocieties, SocietyName{SocietyID: s.Ref.ID, Name: s.Society.Info.Name})
		}
	})
	if out.Societies > 0 {
		out.Ratio = float64(out.WithPartyOrganization) / float64(out.Societies)
	}
	return out
}

// TermState is one society's term of office.
type TermState struct {
	SocietyID string `json:"society_id"`
	Name      string `json:"name"`
	TermStart string `json:"term_start,omitempty"`
	TermYears int    `json:"term_years,omitempty"`
	DueOn     string `json:"due_on,omitempty"`
	State     string `json:"state"`
}

// ReelectionsView is the reelections view.
type ReelectionsView struct {
	Sequence  uint64         `json:"sequence"`
	Today     string         `json:"today"`
	Counts    map[string]int `json:"counts"`
	Societies []TermState    `json:"societies"`
}

// TermStateAt classifies a term due on due against today (both CST days).
func TermStateAt(due domain.Date, today time.Time) string {
	if due.IsZero() {
		return TermUnknown
	}
	d := due.Day()
	t := today.In(domain.CST).Format(time.DateOnly)
	soon := today.In(domain.CST).AddDate(0, 0, DueSoonDays).Format(time.DateOnly)
	switch {
	case d < t:
		return TermOverdue
	case d <= soon:
		return TermDueSoon
	}
	return TermCurrent
}

// Reelections says, against clock, whose term is current, due within 90
// days, overdue, or unknown (no re-election recorded).
func (v *Views) Reelections(clock time.Time) ReelectionsView {
	out := ReelectionsView{Sequence: v.Sequence, Today: clock.In(domain.CST).Format(time.DateOnly),
		Counts: map[string]int{TermCurrent: 0, TermDueSoon: 0, TermOverdue: 0, TermUnknown: 0}, Societies: []TermState{}}
	v.each(domain.AggregateSociety, func(s *domain.Summary) {
		st := s.Society
		ts := TermState{SocietyID: s.Ref.ID, Name: st.Info.Name, State: TermStateAt(st.DueOn(), clock)}
		if !st.TermStart.IsZero() {
			ts.TermStart, ts.TermYears, ts.DueOn = st.TermStart.Day(), st.TermYears, st.DueOn().Day()
		}
		out.Counts[ts.State]++
		out.Societies = append(out.Societies, ts)
	})
	return out
}

// ProgramProgress is one programme against its target.
type ProgramProgress struct {
	Program   string   `json:"program"`
	Target    *int     `json:"target,omitempty"`
	Delivered int      `json:"delivered"`
	Progress  *float64 `json:"progress,omitempty"`
}

// ProgramsView is the programs view.
type ProgramsView struct {
	Sequence   uint64            `json:"sequence"`
	PlanID     string            `json:"plan_id"`
	Year       int               `json:"year,omitempty"`
	DocumentNo string            `json:"document_no,omitempty"`
	Title      string            `json:"title,omitempty"`
	Programs   []ProgramProgress `json:"programs"`
}

// Programs counts what each programme delivered in the year of the plan
// in force at clock: completed projects, conferences with a session held,
// service teams with a delivery (retracted events count nowhere).
func (v *Views) Programs(clock time.Time) ProgramsView {
	id, plan, ok := v.PlanInForce(clock)
	out := ProgramsView{Sequence: v.Sequence, PlanID: id, Year: plan.Year, DocumentNo: plan.DocumentNo, Title: plan.Title, Programs: []ProgramProgress{}}
	inYear := func(d domain.Date) bool {
		return !d.IsZero() && (!ok || d.Time().In(domain.CST).Year() == plan.Year)
	}
	delivered := map[string]int{}
	v.each(domain.AggregateProject, func(s *domain.Summary) {
		if s.Project.Status == domain.StatusCompleted && inYear(s.Project.CompletedOn) {
			delivered[s.Project.Info.Program]++
		}
	})
	v.each(domain.AggregateConference, func(s *domain.Summary) {
		if c := s.Conference; c.Info.Program != "" && c.Sessions > 0 && inYear(c.FirstSessionOn) {
			delivered[c.Info.Program]++
		}
	})
	v.each(domain.AggregateServiceTeam, func(s *domain.Summary) {
		if t := s.ServiceTeam; t.Totals.Deliveries > 0 && inYear(t.FirstDeliveredOn) {
			delivered[t.Program()]++
		}
	})
	for _, p := range domain.Programs {
		pp := ProgramProgress{Program: string(p), Delivered: delivered[string(p)]}
		if target, has := plan.Targets[string(p)]; has {
			pp.Target = &target
			if target > 0 {
				progress := float64(pp.Delivered) / float64(target)
				pp.Progress = &progress
			}
		}
		out.Programs = append(out.Programs, pp)
	}
	return out
}

// DecisionStage is one decision's place in 三议一公布.
type DecisionStage struct {
	DecisionID  string `json:"decision_id"`
	SocietyID   string `json:"society_id"`
	SocietyName string `json:"society_name"`
	Category    string `json:"category"`
	Title       string `json:"title"`
	Stage       string `json:"stage"`
}

// DecisionsView is the decisions view.
type DecisionsView struct {
	Sequence  uint64          `json:"sequence"`
	Counts    map[string]int  `json:"counts"`
	Decisions []DecisionStage `json:"decisions"`
}

// Decisions lists the stage of every decision.
func (v *Views) Decisions() DecisionsView {
	out := DecisionsView{Sequence: v.Sequence, Counts: map[string]int{}, Decisions: []DecisionStage{}}
	for _, st := range []string{domain.StageProposed, domain.StageReturned, domain.StageEndorsed, domain.StagePassed, domain.StageFailed, domain.StagePublished} {
		out.Counts[st] = 0
	}
	v.each(domain.AggregateDecision, func(s *domain.Summary) {
		d := s.Decision
		out.Counts[d.Stage]++
		out.Decisions = append(out.Decisions, DecisionStage{DecisionID: s.Ref.ID, SocietyID: d.Proposal.SocietyID, SocietyName: v.SocietyName(d.Proposal.SocietyID), Category: d.Proposal.Category, Title: d.Proposal.Title, Stage: d.Stage})
	})
	return out
}

// ConferenceTotals is one conference's (or the province's) totals.
type ConferenceTotals struct {
	Sessions       int `json:"sessions"`
	OnlineSessions int `json:"online_sessions"`
	Attendees      int `json:"attendees"`
}

// ConferenceRow is one conference.
type ConferenceRow struct {
	ConferenceID     string `json:"conference_id"`
	Title            string `json:"title"`
	Level            string `json:"level"`
	Program          string `json:"program,omitempty"`
	OrganizerSociety string `json:"organizer_society"`
	// OrganizerName is the organizing society's registered name.
	OrganizerName string `json:"organizer_society_name"`
	City          string `json:"city,omitempty"`
	ConferenceTotals
}

// ConferencesView is the conferences view.
type ConferencesView struct {
	Sequence    uint64          `json:"sequence"`
	Conferences []ConferenceRow `json:"conferences"`
	Totals      struct {
		Conferences int `json:"conferences"`
		ConferenceTotals
		ByProgram map[string]int `json:"by_program"`
		ByLevel   map[string]int `json:"by_level"`
	} `json:"totals"`
}

// Conferences lists every conference with its sessions and attendees, and
// the province-wide totals.
func (v *Views) Conferences() ConferencesView {
	out := ConferencesView{Sequence: v.Sequence, Conferences: []ConferenceRow{}}
	out.Totals.ByProgram, out.Totals.ByLevel = map[string]int{}, map[string]int{}
	v.each(domain.AggregateConference, func(s *domain.Summary) {
		c := s.Conference
		row := ConferenceRow{ConferenceID: s.Ref.ID, Title: c.Info.Title, Level: c.Info.Level, Program: c.Info.Program,
			OrganizerSociety: c.Info.OrganizerSociety, OrganizerName: v.SocietyName(c.Info.OrganizerSociety), City: c.Info.City,
			ConferenceTotals: ConferenceTotals{Sessions: c.Sessions, OnlineSessions: c.OnlineSessions, Attendees: c.Attendees}}
		out.Conferences = append(out.Conferences, row)
		out.Totals.Conferences++
		out.Totals.Sessions += c.Sessions
		out.Totals.OnlineSessions += c.OnlineSessions
		out.Totals.Attendees += c.Attendees
		if c.Info.Program != "" {
			out.Totals.ByProgram[c.Info.Program]++
		}
		out.Totals.ByLevel[c.Info.Level]++
	})
	return out
}

// TeamRow is one service team.
type TeamRow struct {
	TeamID      string `json:"team_id"`
	SocietyID   string `json:"society_id"`
	SocietyName string `json:"society_name"`
	Industry    string `json:"industry"`
	Title       string `json:"title"`
	Program     string `json:"program"`
	domain.DeliveryTotals
}

// VolunteerServicesView is the volunteer-services view.
type VolunteerServicesView struct {
	Sequence uint64    `json:"sequence"`
	Teams    []TeamRow `json:"teams"`
	Totals   struct {
		Teams int `json:"teams"`
		domain.DeliveryTotals
	} `json:"totals"`
}

// VolunteerServices lists every service team's delivery totals and the
// province-wide totals.
func (v *Views) VolunteerServices() VolunteerServicesView {
	out := VolunteerServicesView{Sequence: v.Sequence, Teams: []TeamRow{}}
	v.each(domain.AggregateServiceTeam, func(s *domain.Summary) {
		t := s.ServiceTeam
		out.Teams = append(out.Teams, TeamRow{TeamID: s.Ref.ID, SocietyID: t.Info.SocietyID, SocietyName: v.SocietyName(t.Info.SocietyID), Industry: t.Info.Industry, Title: t.Info.Title, Program: t.Program(), DeliveryTotals: t.Totals})
		out.Totals.Teams++
		out.Totals.Add(t.Totals)
	})
	return out
}

func sortRefs(refs []domain.Ref) {
	slices.SortFunc(refs, func(a, b domain.Ref) int { return strings.Compare(a.ID, b.ID) })
}
