package web

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"time"

	"planledger/domain"
	"planledger/projections"
)

// societyPage is one society: its profile, its leadership body against
// 三三三一, party organisations, term, what it owns, and its history.
type societyPage struct {
	*base
	ID          string
	Info        domain.SocietyRegisteredData
	Ratio       projections.SocietyRatio
	Rule        domain.LeadershipRule
	Bars        []shareBar
	Members     []domain.Member
	PartyOrgs   []domain.PartyOrganizationEstablishedData
	Assessments []yearValue
	Inspections []yearValue
	Term        projections.TermState
	Work        []workRow
	Timeline    timeline
}

type yearValue struct {
	Year  int
	Value string
}

// workRow is a decision, conference, service team or project the society
// owns.
type workRow struct {
	Ref         domain.Ref
	Kind, Title string
	State, Href string
}

func (s *Site) handleSociety(r *http.Request, b *base) (string, any, error) {
	id := r.PathValue("id")
	if domain.CheckSlug(id) != nil || !b.Reader.MayRead(id) {
		return "", nil, notFound()
	}
	ref := domain.Ref{Type: domain.AggregateSociety, ID: id}
	recs, _, err := s.history(r.Context(), b, ref)
	if err != nil {
		return "", nil, err
	}
	p := &societyPage{base: b, ID: id}
	found := false
	err = s.withViews(r.Context(), b, func(v *projections.Views, clock time.Time) error {
		sum, ok := v.Summaries[ref]
		if !ok || !sum.Exists() {
			return nil
		}
		found = true
		p.fill(v, sum.Society, clock)
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, notFound()
	}
	p.Timeline = b.timeline(ref, recs)
	b.Title, b.Nav = p.Info.Name, "societies"
	return "society", p, nil
}

// fill copies what the page shows out of the views (which it must not
// keep: they may be the live ones, under a lock).
func (p *societyPage) fill(v *projections.Views, st *domain.SocietyState, clock time.Time) {
	p.Info = st.Info
	p.Members = slices.Clone(st.Leadership)
	p.PartyOrgs = slices.Clone(st.PartyOrgs)
	for _, y := range slices.Sorted(maps.Keys(st.Assessments)) {
		p.Assessments = append(p.Assessments, yearValue{y, num(st.Assessments[y])})
	}
	for _, y := range slices.Sorted(maps.Keys(st.Inspections)) {
		p.Inspections = append(p.Inspections, yearValue{y, p.L("result", st.Inspections[y])})
	}
	ratio := v.LeadershipRatio(clock)
	if ratio.Rule != nil {
		p.Rule = *ratio.Rule
	}
	for _, sr := range ratio.Societies {
		if sr.SocietyID == p.ID {
			p.Ratio = sr
		}
	}
	for _, t := range v.Reelections(clock).Societies {
		if t.SocietyID == p.ID {
			p.Term = t
		}
	}
	sh := p.Ratio.Shares
	shares := []float64{sh.University, sh.ResearchInstitute, sh.Enterprise, sh.Government}
	targets := []float64{p.Rule.University, p.Rule.ResearchInstitute, p.Rule.Enterprise, p.Rule.Government}
	for k, sec := range sectorOrder {
		p.Bars = append(p.Bars, newShareBar(sec, p.L("sector", sec), shares[k], targets[k], p.Rule.Tolerance))
	}
	p.Work = p.work(v)
}

// work lists what the society owns, by kind then id.
func (p *societyPage) work(v *projections.Views) []workRow {
	var out []workRow
	for ref, sum := range v.Summaries {
		if ref.Type == domain.AggregateSociety || !sum.Exists() || sum.Owner() != p.ID {
			continue
		}
		row := workRow{Ref: ref, Kind: p.L("aggregate", string(ref.Type)), Href: p.Href("/aggregates", string(ref.Type), ref.ID)}
		switch {
		case sum.Decision != nil:
			row.Title, row.State = sum.Decision.Proposal.Title, p.L("stage", sum.Decision.Stage)
		case sum.Conference != nil:
			row.Title, row.State = sum.Conference.Info.Title, num(sum.Conference.Sessions)+" "+p.T("sessions")
		case sum.ServiceTeam != nil:
			row.Title, row.State = sum.ServiceTeam.Info.Title, num(sum.ServiceTeam.Totals.Deliveries)+" "+p.T("deliveries")
		case sum.Project != nil:
			row.Title, row.State = sum.Project.Info.Title, p.L("project_status", sum.Project.Status)
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b workRow) int {
		return cmp.Or(cmp.Compare(a.Ref.Type, b.Ref.Type), cmp.Compare(a.Ref.ID, b.Ref.ID))
	})
	return out
}
