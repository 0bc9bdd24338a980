package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// TypeDoc is what people read about an event type (docs/events.md and the
// OpenAPI document): what it records, the rules beyond its data's schema,
// a few words on fields whose names do not say enough, and an example the
// ledger accepts (TestCatalogueExamples posts each one to a real server).
type TypeDoc struct {
	Summary string
	// Rules are checked by the decoder across fields, or by the aggregate
	// against its history; the schema cannot say them.
	Rules   []string
	Fields  map[string]string
	Example Example
}

// Example is an event of a type, as a submitter would post it.
type Example struct {
	Subject string
	Data    json.RawMessage
}

// Event returns the example as a CloudEvent of type t, with a fixed id
// ("example-society-registered"), source and time.
func (x Example) Event(t EventType) Event {
	return Event{
		SpecVersion: SpecVersion,
		ID:          ExampleID(t),
		Source:      "/societies/hn-chem/secretariat",
		Type:        string(t),
		Subject:     x.Subject,
		Time:        exampleTime,
		Data:        x.Data,
	}
}

// ExampleID is the id of the example of type t.
func ExampleID(t EventType) string {
	return "example-" + strings.NewReplacer(".", "-", "_", "-").Replace(string(t))
}

// exampleTime is when every example happened.
var exampleTime = time.Date(2021, 6, 1, 10, 0, 0, 0, CST)

// The aggregates the examples are about.
const (
	examplePlan       = "plan/henan-2022"
	exampleSociety    = "society/hn-chem"
	exampleDecision   = "decision/hn-chem-2021-venue"
	exampleConference = "conference/zz-chem-2021"
	exampleTeam       = "service_team/hn-chem-fertilizer"
	exampleProject    = "project/report-newmaterials"
)

// AggregateDoc says what an aggregate is and which society owns it.
func AggregateDoc(a AggregateType) string {
	switch a {
	case AggregatePlan:
		return "A year's work plan (工作要点): programme targets and the 三三三一 leadership rule. Written by admins only."
	case AggregateSociety:
		return "A provincial society, association, research society or municipal association: its party building, leadership and annual inspections. Owned by itself."
	case AggregateDecision:
		return "A major decision taken by 三议一公布: proposed, reviewed by the party organisation, voted by the council, published. Owned by its `society_id`."
	case AggregateConference:
		return "An academic exchange event (conference, forum, platform) and its sessions. Owned by its `organizer_society`."
	case AggregateServiceTeam:
		return "A volunteer service team (科技志愿服务团) and its deliveries. Owned by its `society_id`."
	case AggregateProject:
		return "A programme project: a report, an innovation, a pilot, an award. Owned by its `lead_society`."
	}
	return ""
}

// Doc returns the documentation of a catalogue type (the zero TypeDoc for
// another).
func Doc(t EventType) TypeDoc {
	if t.IsRetraction() && t.Aggregate().Valid() {
		return retractionDoc(t.Aggregate())
	}
	switch t {
	case PlanPublished:
		return TypeDoc{
			Summary: "A work plan is published: the targets of each programme and the 三三三一 leadership rule, for the plan's year.",
			Rules:   []string{"The four target shares of `leadership_rule` add up to 1.", "The plan in force is the latest published plan whose year is not after the clock's year."},
			Fields:  map[string]string{"targets": "programme → number to deliver in the year", "leadership_rule": "target share of each sector in a leadership body, and the tolerance"},
			Example: Example{examplePlan, raw(`{"year":2022,"document_no":"豫科协办发〔2022〕5号","title":"河南省科协2022年学会学术工作要点","targets":{"academic_exchange":30,"platform":3},` +
				`"leadership_rule":{"university":0.3,"research_institute":0.3,"enterprise":0.3,"government":0.1,"tolerance":0.1}}`)},
		}
	case SocietyRegistered:
		return TypeDoc{
			Summary: "A society (or association, research society, municipal association) is registered with the ledger; it creates the society.",
			Rules:   []string{"Once per society (retract it to correct it).", "Municipal associations are not counted in party coverage."},
			Example: Example{exampleSociety, raw(`{"name":"河南省化学会","kind":"society","city":"zhengzhou"}`)},
		}
	case SocietyPartyOrganizationEstablished:
		return TypeDoc{
			Summary: "The society sets up a party organisation (党组织).",
			Rules:   []string{"`established_on` is not in the future."},
			Example: Example{exampleSociety, raw(`{"org_type":"branch","members":5,"established_on":"2021-05-20"}`)},
		}
	case SocietyPartyBuildingAssessed:
		return TypeDoc{
			Summary: "The society's party building is assessed for a year.",
			Rules:   []string{"One assessment a year: retract the earlier one to correct it."},
			Example: Example{exampleSociety, raw(`{"year":2021,"score":92.5}`)},
		}
	case SocietyPartyHistoryActivityHeld:
		return TypeDoc{
			Summary: "The society holds a party-history learning activity (党史学习教育).",
			Rules:   []string{"`held_on` is not in the future."},
			Example: Example{exampleSociety, raw(`{"title":"党史学习教育专题报告会","participants":48,"held_on":"2021-05-28"}`)},
		}
	case SocietyReelectionHeld:
		return TypeDoc{
			Summary: "The society elects a new leadership body (换届) for a term of 1 to 5 years.",
			Rules:   []string{"`term_start` is after the current term's start.", "A member is listed once.", "The term is due at `term_start` plus `term_years`; the reelections view says when it is overdue."},
			Fields:  map[string]string{"leadership": "the whole new leadership body, each member with role and sector (the 三三三一 ratio is over sectors)"},
			Example: Example{exampleSociety, raw(`{"term_start":"2021-05-15","term_years":5,"leadership":[` +
				`{"member_id":"m-001","role":"president","sector":"university"},{"member_id":"m-002","role":"vice_president","sector":"research_institute"},` +
				`{"member_id":"m-003","role":"secretary_general","sector":"enterprise"},{"member_id":"m-004","role":"director","sector":"government"}]}`)},
		}
	case SocietyLeadershipChanged:
		return TypeDoc{
			Summary: "Members join or leave the current leadership body between re-elections.",
			Rules: []string{"The society has a leadership (a re-election was recorded).", "Each removed member is a current member; an added one is not (to change a role, remove and add in one change).",
				"The change adds or removes at least one member, and leaves the body not empty."},
			Example: Example{exampleSociety, raw(`{"added":[{"member_id":"m-005","role":"director","sector":"enterprise"}],"removed":["m-004"]}`)},
		}
	case SocietyAnnualInspectionRecorded:
		return TypeDoc{
			Summary: "The result of the society's annual inspection (年检) for a year.",
			Rules:   []string{"One inspection a year: retract the earlier one to correct it."},
			Example: Example{exampleSociety, raw(`{"year":2020,"result":"basic_pass"}`)},
		}
	}
	return otherDoc(t)
}

// otherDoc documents the types of the aggregates after society.
func otherDoc(t EventType) TypeDoc {
	switch t {
	case DecisionProposed:
		return TypeDoc{
			Summary: "The president's working meeting proposes a major decision (三议一公布, step 1); it creates the decision.",
			Rules:   []string{"`society_id` is a registered society.", "`amount_cny` is given for a major_expense, and only then."},
			Example: Example{exampleDecision, raw(`{"society_id":"hn-chem","category":"major_expense","title":"购置学术年会会场设备","amount_cny":150000}`)},
		}
	case DecisionPartyReviewed:
		return TypeDoc{
			Summary: "The party organisation reviews the proposal (step 2): endorsed, or returned for revision.",
			Rules:   []string{"Follows a proposal, or a returned review (a returned proposal is reviewed again)."},
			Example: Example{exampleDecision, raw(`{"outcome":"endorsed","opinion":"同意提交理事会审议"}`)},
		}
	case DecisionVoted:
		return TypeDoc{
			Summary: "The council or standing council votes (step 3).",
			Rules: []string{"Follows an endorsement.", "`present` is at most `members_in_office`; `votes_for + votes_against + abstentions = present`.",
				"The vote passes with at least two thirds of the members in office present and more than half of those present for; otherwise the decision has failed."},
			Example: Example{exampleDecision, raw(`{"body":"standing_council","members_in_office":21,"present":18,"votes_for":15,"votes_against":1,"abstentions":2}`)},
		}
	case DecisionPublished:
		return TypeDoc{
			Summary: "The passed resolution is made known to all members (step 4, 一公布).",
			Rules:   []string{"Follows a vote that passed.", "`published_on` is not in the future."},
			Example: Example{exampleDecision, raw(`{"channel":"学会官网公告","published_on":"2021-06-01"}`)},
		}
	case ConferenceRegistered:
		return TypeDoc{
			Summary: "An academic exchange event is registered; it creates the conference.",
			Rules:   []string{"`organizer_society` is a registered society.", "A programme counts the conference once a session is held."},
			Example: Example{exampleConference, raw(`{"title":"一市一品 郑州化工产业技术大会","level":"provincial","program":"one_city_one_product","organizer_society":"hn-chem","city":"zhengzhou"}`)},
		}
	case ConferenceSessionHeld:
		return TypeDoc{
			Summary: "A session of the conference is held.",
			Rules:   []string{"`held_on` is not in the future."},
			Example: Example{exampleConference, raw(`{"session_title":"主论坛","held_on":"2021-05-30","attendees":320,"online":false}`)},
		}
	case ServiceTeamFormed:
		return TypeDoc{
			Summary: "A volunteer service team for an industry is formed; it creates the team.",
			Rules:   []string{"`society_id` is a registered society.", "A programme counts the team once it has a delivery."},
			Example: Example{exampleTeam, raw(`{"society_id":"hn-chem","industry":"化肥","title":"化肥产业科技服务团","program":"one_industry_service_team"}`)},
		}
	case ServiceTeamServiceDelivered:
		return TypeDoc{
			Summary: "The team delivers a service to a village, township, enterprise, institute or school.",
			Rules:   []string{"`delivered_on` is not in the future."},
			Example: Example{exampleTeam, raw(`{"service_kind":"experts","partner_kind":"village","partner_name":"滑县留固镇东孔庄村","volunteers":6,"hours":24.5,"beneficiaries":180,` +
				`"delivered_on":"2021-05-25","problems_solved":3,"technologies_promoted":2,"talents_trained":15,"demonstrations":1}`)},
		}
	case ProjectRegistered:
		return TypeDoc{
			Summary: "A programme project is registered; it creates the project, active until completed or cancelled.",
			Rules:   []string{"`lead_society` is a registered society.", "A programme counts the project once it is completed."},
			Example: Example{exampleProject, raw(`{"program":"one_industry_one_report","title":"河南省新材料产业发展研究报告","lead_society":"hn-chem","city":"luoyang"}`)},
		}
	case ProjectMilestoneReached:
		return TypeDoc{
			Summary: "An active project reaches a milestone.",
			Rules:   []string{"The project is active.", "`reached_on` is not in the future."},
			Example: Example{exampleProject, raw(`{"milestone":"调研完成","reached_on":"2021-05-10"}`)},
		}
	case ProjectCompleted:
		return TypeDoc{
			Summary: "An active project is completed with its deliverable.",
			Rules:   []string{"The project is active.", "`completed_on` is not in the future."},
			Example: Example{exampleProject, raw(`{"completed_on":"2021-05-31","deliverable":"研究报告（定稿）"}`)},
		}
	case ProjectCancelled:
		return TypeDoc{
			Summary: "An active project is cancelled.",
			Rules:   []string{"The project is active."},
			Example: Example{"project/youth-salon-2021", raw(`{"reason":"牵头学会调整工作计划"}`)},
		}
	}
	return TypeDoc{}
}

// retractionDoc documents <aggregate>.event_retracted.
func retractionDoc(a AggregateType) TypeDoc {
	var subject string
	var retracted EventType
	switch a {
	case AggregatePlan:
		subject, retracted = examplePlan, PlanPublished
	case AggregateSociety:
		subject, retracted = exampleSociety, SocietyPartyHistoryActivityHeld
	case AggregateDecision:
		subject, retracted = exampleDecision, DecisionPublished
	case AggregateConference:
		subject, retracted = exampleConference, ConferenceSessionHeld
	case AggregateServiceTeam:
		subject, retracted = exampleTeam, ServiceTeamServiceDelivered
	case AggregateProject:
		subject, retracted = exampleProject, ProjectMilestoneReached
	}
	return TypeDoc{
		Summary: "An earlier event of this " + string(a) + " is withdrawn: the views leave it out, the history keeps both.",
		Rules: []string{"`event_id` names an event of the same aggregate that is not a retraction and not retracted already.",
			"The history without that event still obeys every rule; otherwise retract the later events first."},
		Example: Example{subject, raw(`{"event_id":"` + ExampleID(retracted) + `","reason":"录入错误：重复提交"}`)},
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }
