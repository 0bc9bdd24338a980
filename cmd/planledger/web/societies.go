package web

import (
	"cmp"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"planledger/domain"
	"planledger/projections"
)

// sectorOrder is the order of the 三三三一 rule: 高校, 科研院所, 企业, 党政机关.
var sectorOrder = []string{"university", "research_institute", "enterprise", "government"}

// societyRow is one line of the societies table: the leadership-ratio and
// reelections views joined, with the society's party organisation.
type societyRow struct {
	ID, Name, Kind, City string
	Party                string // the first party organisation's type, "" if none
	Ratio                projections.SocietyRatio
	Term                 projections.TermState
	Shares               []shareCell
}

type shareCell struct {
	Pct     string
	Outside bool
}

type societiesPage struct {
	*base
	Rows            []societyRow
	Total           int
	Filter          url.Values
	Kinds, Statuses []string
	Terms           []string
	Sort            string
	Desc            bool
}

// societyColumns are the table's sortable columns.
var societyColumns = map[string]func(a, b *societyRow) int{
	"id":     func(a, b *societyRow) int { return cmp.Compare(a.ID, b.ID) },
	"name":   func(a, b *societyRow) int { return cmp.Compare(a.Name, b.Name) },
	"kind":   func(a, b *societyRow) int { return cmp.Compare(a.Kind, b.Kind) },
	"city":   func(a, b *societyRow) int { return cmp.Compare(a.City, b.City) },
	"party":  func(a, b *societyRow) int { return cmp.Compare(a.Party, b.Party) },
	"status": func(a, b *societyRow) int { return cmp.Compare(a.Ratio.MaxDeviation, b.Ratio.MaxDeviation) },
	"due":    func(a, b *societyRow) int { return cmp.Compare(a.Term.DueOn, b.Term.DueOn) },
}

func (s *Site) handleSocieties(r *http.Request, b *base) (string, any, error) {
	b.Title, b.Nav = b.T("societies.title"), "societies"
	q := r.URL.Query()
	p := &societiesPage{base: b, Filter: url.Values{}, Sort: q.Get("sort"), Desc: q.Get("desc") == "1",
		Kinds:    []string{domain.SocietyKindSociety, domain.SocietyKindAssociation, domain.SocietyKindResearchSociety, domain.SocietyKindMunicipalAssociation},
		Statuses: []string{domain.RatioCompliant, domain.RatioNonCompliant, domain.RatioUnknown},
		Terms:    []string{projections.TermCurrent, projections.TermDueSoon, projections.TermOverdue, projections.TermUnknown}}
	for _, k := range []string{"q", "kind", "status", "term", "party"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			p.Filter.Set(k, v)
		}
	}
	var rule domain.LeadershipRule
	err := s.withViews(r.Context(), b, func(v *projections.Views, clock time.Time) error {
		_, plan, _ := v.PlanInForce(clock)
		rule = plan.LeadershipRule
		terms := map[string]projections.TermState{}
		for _, t := range v.Reelections(clock).Societies {
			terms[t.SocietyID] = t
		}
		for _, sr := range v.LeadershipRatio(clock).Societies {
			if !b.Reader.MayRead(sr.SocietyID) {
				continue
			}
			p.Total++
			row := societyRow{ID: sr.SocietyID, Name: sr.Name, Kind: sr.Kind, City: sr.City, Ratio: sr, Term: terms[sr.SocietyID]}
			if st := v.Summaries[domain.Ref{Type: domain.AggregateSociety, ID: sr.SocietyID}].Society; len(st.PartyOrgs) > 0 {
				row.Party = st.PartyOrgs[0].OrgType
			}
			if p.keep(&row) {
				p.Rows = append(p.Rows, row)
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	p.sortRows(rule)
	return "societies", p, nil
}

// keep applies the filters: a name or id containing q, and the kind,
// status, term state and party organisation asked for.
func (p *societiesPage) keep(row *societyRow) bool {
	f := p.Filter
	if q := strings.ToLower(f.Get("q")); q != "" && !strings.Contains(strings.ToLower(row.Name), q) && !strings.Contains(row.ID, q) {
		return false
	}
	switch {
	case f.Get("kind") != "" && f.Get("kind") != row.Kind,
		f.Get("status") != "" && f.Get("status") != row.Ratio.Status,
		f.Get("term") != "" && f.Get("term") != row.Term.State,
		f.Get("party") == "yes" && row.Party == "",
		f.Get("party") == "no" && row.Party != "":
		return false
	}
	return true
}

// sortRows marks each share outside the rule's tolerance and sorts.
func (p *societiesPage) sortRows(rule domain.LeadershipRule) {
	targets := []float64{rule.University, rule.ResearchInstitute, rule.Enterprise, rule.Government}
	for i := range p.Rows {
		row := &p.Rows[i]
		sh := []float64{row.Ratio.Shares.University, row.Ratio.Shares.ResearchInstitute, row.Ratio.Shares.Enterprise, row.Ratio.Shares.Government}
		for k := range sh {
			cell := shareCell{Pct: "—"}
			if row.Ratio.Size > 0 {
				cell = shareCell{Pct: pct(sh[k]), Outside: sh[k] < targets[k]-rule.Tolerance-1e-9 || sh[k] > targets[k]+rule.Tolerance+1e-9}
			}
			row.Shares = append(row.Shares, cell)
		}
	}
	by, ok := societyColumns[p.Sort]
	if !ok {
		p.Sort = "id"
		by = societyColumns["id"]
	}
	slices.SortStableFunc(p.Rows, func(a, b societyRow) int {
		if p.Desc {
			return by(&b, &a)
		}
		return by(&a, &b)
	})
}

// SortHref is the table sorted by col, the other way round if it already
// is; the filters stay.
func (p *societiesPage) SortHref(col string) string {
	q := maps.Clone(p.Filter)
	q.Set("sort", col)
	if col == p.Sort && !p.Desc {
		q.Set("desc", "1")
	}
	return p.HrefWith("/societies", q)
}

// SortMark shows the current sort on its column.
func (p *societiesPage) SortMark(col string) string {
	switch {
	case col != p.Sort:
		return ""
	case p.Desc:
		return " ▼"
	}
	return " ▲"
}
