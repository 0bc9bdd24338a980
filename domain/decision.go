package domain

import "fmt"

// Decision categories (三议一公布 applies to each).
const (
	CategoryPersonnel    = "personnel"
	CategoryMajorWork    = "major_work"
	CategoryMajorExpense = "major_expense"
)

// Decision stages.
const (
	StageProposed  = "proposed"
	StageReturned  = "returned"
	StageEndorsed  = "endorsed"
	StagePassed    = "passed"
	StageFailed    = "failed"
	StagePublished = "published"
)

var (
	decisionCategories = []string{CategoryPersonnel, CategoryMajorWork, CategoryMajorExpense}
	reviewOutcomes     = []string{"endorsed", "returned"}
	votingBodies       = []string{"standing_council", "council"}
)

// DecisionProposedData is the data of decision.proposed: the president's
// working meeting proposes (step 1).
type DecisionProposedData struct {
	SocietyID string   `json:"society_id"`
	Category  string   `json:"category"`
	Title     string   `json:"title"`
	AmountCNY *float64 `json:"amount_cny,omitempty"`
}

// DecisionPartyReviewedData is the data of decision.party_reviewed: the
// party committee endorses or returns the proposal (step 2).
type DecisionPartyReviewedData struct {
	Outcome string `json:"outcome"`
	Opinion string `json:"opinion,omitempty"`
}

// DecisionVotedData is the data of decision.voted: the council votes (step 3).
type DecisionVotedData struct {
	Body            string `json:"body"`
	MembersInOffice int    `json:"members_in_office"`
	Present         int    `json:"present"`
	VotesFor        int    `json:"votes_for"`
	VotesAgainst    int    `json:"votes_against"`
	Abstentions     int    `json:"abstentions"`
}

// DecisionPublishedData is the data of decision.published: the resolution
// is made known to all members (step 4).
type DecisionPublishedData struct {
	Channel     string `json:"channel"`
	PublishedOn Date   `json:"published_on"`
}

func (DecisionProposedData) EventType() EventType      { return DecisionProposed }
func (DecisionPartyReviewedData) EventType() EventType { return DecisionPartyReviewed }
func (DecisionVotedData) EventType() EventType         { return DecisionVoted }
func (DecisionPublishedData) EventType() EventType     { return DecisionPublished }

// Passed reports whether the vote carries: at least two thirds of the
// members in office present, and more than half of those present for.
func (v DecisionVotedData) Passed() bool {
	return 3*v.Present >= 2*v.MembersInOffice && 2*v.VotesFor > v.Present
}

func decodeDecisionProposed(f *fields) DecisionProposedData {
	d := DecisionProposedData{
		SocietyID: f.slug("society_id", true),
		Category:  f.enum("category", true, decisionCategories),
		Title:     f.text("title", true, maxText),
	}
	given := f.present("amount_cny")
	if amount := f.number("amount_cny", false, 0.01, 1e12); given {
		d.AmountCNY = &amount
	}
	f.onlyWhen("amount_cny", given, "category", d.Category, CategoryMajorExpense, "decision")
	return d
}

func decodeDecisionPartyReviewed(f *fields) DecisionPartyReviewedData {
	return DecisionPartyReviewedData{Outcome: f.enum("outcome", true, reviewOutcomes), Opinion: f.text("opinion", false, 2000)}
}

func decodeDecisionVoted(f *fields) DecisionVotedData {
	const most = 100_000
	v := DecisionVotedData{
		Body:            f.enum("body", true, votingBodies),
		MembersInOffice: int(f.integer("members_in_office", 1, most)),
		Present:         int(f.integer("present", 0, most)),
		VotesFor:        int(f.integer("votes_for", 0, most)),
		VotesAgainst:    int(f.integer("votes_against", 0, most)),
		Abstentions:     int(f.integer("abstentions", 0, most)),
	}
	if len(*f.probs) > 0 {
		return v
	}
	if v.Present > v.MembersInOffice {
		f.problem("present", "%d present is more than the %d members in office", v.Present, v.MembersInOffice)
	}
	if sum := v.VotesFor + v.VotesAgainst + v.Abstentions; sum != v.Present {
		f.problem("votes_for", "votes_for + votes_against + abstentions = %d, but %d were present; every member present votes for, against or abstains", sum, v.Present)
	}
	return v
}

func decodeDecisionPublished(f *fields) DecisionPublishedData {
	return DecisionPublishedData{Channel: f.text("channel", true, 200), PublishedOn: f.date("published_on", true)}
}

// DecisionState is a major decision on its way through 三议一公布.
type DecisionState struct {
	Proposed bool                 `json:"proposed"`
	Proposal DecisionProposedData `json:"proposal"`
	Stage    string               `json:"stage"`
	Vote     *DecisionVotedData   `json:"vote,omitempty"`
}

func (s *DecisionState) exists() bool  { return s.Proposed }
func (s *DecisionState) owner() string { return s.Proposal.SocietyID }

// next says, for each stage, what the procedure expects next.
var next = map[string]string{
	StageProposed:  "the party committee's review (decision.party_reviewed)",
	StageReturned:  "a new party committee review of the revised proposal (decision.party_reviewed)",
	StageEndorsed:  "the council's vote (decision.voted)",
	StagePassed:    "publication to all members (decision.published)",
	StageFailed:    "nothing: a failed proposal ends here; propose a new decision",
	StagePublished: "nothing: the procedure is complete",
}

func (s *DecisionState) check(f *Fact, env Env) []Problem {
	var allowed bool
	switch p := f.Payload.(type) {
	case DecisionProposedData:
		return knownSociety(p.SocietyID, "/data/society_id", env)
	case DecisionPartyReviewedData:
		allowed = s.Stage == StageProposed || s.Stage == StageReturned
	case DecisionVotedData:
		allowed = s.Stage == StageEndorsed
	case DecisionPublishedData:
		allowed = s.Stage == StagePassed
		if allowed {
			return notFuture(p.PublishedOn, "/data/published_on", env)
		}
	default:
		allowed = true
	}
	if allowed {
		return nil
	}
	return []Problem{{Pointer: "/type", Detail: fmt.Sprintf("%s is out of order: the decision is %s, so what comes next is %s", f.Type, s.Stage, next[s.Stage])}}
}

func (s *DecisionState) apply(f *Fact) {
	switch p := f.Payload.(type) {
	case DecisionProposedData:
		s.Proposed, s.Proposal, s.Stage = true, p, StageProposed
	case DecisionPartyReviewedData:
		s.Stage = StageReturned
		if p.Outcome == "endorsed" {
			s.Stage = StageEndorsed
		}
	case DecisionVotedData:
		s.Vote = &p
		s.Stage = StageFailed
		if p.Passed() {
			s.Stage = StagePassed
		}
	case DecisionPublishedData:
		s.Stage = StagePublished
	}
}
