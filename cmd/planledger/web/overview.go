package web

import (
	"net/http"
	"time"

	"planledger/domain"
	"planledger/projections"
)

// overviewPage is 总览: the plan in force and every view's figures, as
// the JSON views give them, rounded for people.
type overviewPage struct {
	*base
	Plan       projections.ProgramsView
	HasPlan    bool
	Tolerance  string
	Programs   []programRow
	Coverage   projections.PartyCoverageView
	Without    []projections.SocietyName // those the reader may see
	CoverageW  string
	Ratio      []segment
	RatioN     []count
	Terms      []segment
	TermsN     []count
	Due        []projections.TermState // overdue or due soon, that the reader may see
	Stages     []count
	StageBars  []segment
	Volunteer  domain.DeliveryTotals
	Teams      int
	Conference projections.ConferenceTotals
	Confs      int
	Log        *checkpointView // the latest signed checkpoint
}

type programRow struct {
	projections.ProgramProgress
	Label string
	W     string // the progress bar's width
}

func (s *Site) handleOverview(r *http.Request, b *base) (string, any, error) {
	b.Title, b.Nav = b.T("overview.title"), "overview"
	p := &overviewPage{base: b, Log: s.latest()}
	err := s.withViews(r.Context(), b, func(v *projections.Views, clock time.Time) error {
		p.Plan = v.Programs(clock)
		_, plan, ok := v.PlanInForce(clock)
		p.HasPlan = ok
		p.Tolerance = pct(plan.LeadershipRule.Tolerance)
		for _, pp := range p.Plan.Programs {
			row := programRow{ProgramProgress: pp, Label: b.L("program", pp.Program)}
			if pp.Progress != nil {
				row.W = width(*pp.Progress)
			}
			p.Programs = append(p.Programs, row)
		}
		p.Coverage = v.PartyCoverage()
		p.CoverageW = width(p.Coverage.Ratio)
		for _, w := range p.Coverage.WithoutSocieties {
			if b.Reader.MayRead(w.SocietyID) {
				p.Without = append(p.Without, w)
			}
		}
		ratio := v.LeadershipRatio(clock)
		p.RatioN = b.counts("ratio", ratio.Counts, domain.RatioCompliant, domain.RatioNonCompliant, domain.RatioUnknown)
		p.Ratio = stack(p.RatioN)
		terms := v.Reelections(clock)
		p.TermsN = b.counts("term", terms.Counts, projections.TermCurrent, projections.TermDueSoon, projections.TermOverdue, projections.TermUnknown)
		p.Terms = stack(p.TermsN)
		for _, t := range terms.Societies {
			if (t.State == projections.TermOverdue || t.State == projections.TermDueSoon) && b.Reader.MayRead(t.SocietyID) {
				p.Due = append(p.Due, t)
			}
		}
		p.Stages = b.counts("stage", v.Decisions().Counts, domain.StageProposed, domain.StageReturned, domain.StageEndorsed, domain.StagePassed, domain.StageFailed, domain.StagePublished)
		p.StageBars = stack(p.Stages)
		vs := v.VolunteerServices()
		p.Volunteer, p.Teams = vs.Totals.DeliveryTotals, vs.Totals.Teams
		cs := v.Conferences()
		p.Conference, p.Confs = cs.Totals.ConferenceTotals, cs.Totals.Conferences
		return nil
	})
	return "overview", p, err
}

// counts lists a view's counts in the order given, labelled.
func (b *base) counts(kind string, m map[string]int, codes ...string) []count {
	out := make([]count, len(codes))
	for i, c := range codes {
		out[i] = count{Code: c, Class: kind + "-" + c, Label: b.L(kind, c), N: m[c]}
	}
	return out
}
