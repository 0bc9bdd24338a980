package domain

import (
	"encoding/json"
	"fmt"
	"strings"
)

// EventType is a CloudEvents type of the catalogue: "<aggregate>.<what happened>".
type EventType string

// The catalogue. Names are the wire contract: never rename one.
const (
	PlanPublished EventType = "plan.published"

	SocietyRegistered                   EventType = "society.registered"
	SocietyPartyOrganizationEstablished EventType = "society.party_organization_established"
	SocietyPartyBuildingAssessed        EventType = "society.party_building_assessed"
	SocietyPartyHistoryActivityHeld     EventType = "society.party_history_activity_held"
	SocietyReelectionHeld               EventType = "society.reelection_held"
	SocietyLeadershipChanged            EventType = "society.leadership_changed"
	SocietyAnnualInspectionRecorded     EventType = "society.annual_inspection_recorded"

	DecisionProposed      EventType = "decision.proposed"
	DecisionPartyReviewed EventType = "decision.party_reviewed"
	DecisionVoted         EventType = "decision.voted"
	DecisionPublished     EventType = "decision.published"

	ConferenceRegistered  EventType = "conference.registered"
	ConferenceSessionHeld EventType = "conference.session_held"

	ServiceTeamFormed           EventType = "service_team.formed"
	ServiceTeamServiceDelivered EventType = "service_team.service_delivered"

	ProjectRegistered       EventType = "project.registered"
	ProjectMilestoneReached EventType = "project.milestone_reached"
	ProjectCompleted        EventType = "project.completed"
	ProjectCancelled        EventType = "project.cancelled"
)

// retractedSuffix ends the type of a retraction on any aggregate:
// "society.event_retracted", "project.event_retracted", ...
const retractedSuffix = ".event_retracted"

// RetractionType returns the retraction event type of an aggregate type.
func RetractionType(t AggregateType) EventType { return EventType(string(t) + retractedSuffix) }

// EventTypes lists every type of the catalogue, retractions last.
var EventTypes = func() []EventType {
	ts := []EventType{
		PlanPublished,
		SocietyRegistered, SocietyPartyOrganizationEstablished, SocietyPartyBuildingAssessed,
		SocietyPartyHistoryActivityHeld, SocietyReelectionHeld, SocietyLeadershipChanged, SocietyAnnualInspectionRecorded,
		DecisionProposed, DecisionPartyReviewed, DecisionVoted, DecisionPublished,
		ConferenceRegistered, ConferenceSessionHeld,
		ServiceTeamFormed, ServiceTeamServiceDelivered,
		ProjectRegistered, ProjectMilestoneReached, ProjectCompleted, ProjectCancelled,
	}
	for _, a := range AggregateTypes {
		ts = append(ts, RetractionType(a))
	}
	return ts
}()

// Aggregate returns the aggregate type an event type belongs to.
func (t EventType) Aggregate() AggregateType {
	a, _, _ := strings.Cut(string(t), ".")
	return AggregateType(a)
}

// Known reports whether t is in the catalogue.
func (t EventType) Known() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// IsRetraction reports whether t retracts an earlier event.
func (t EventType) IsRetraction() bool { return strings.HasSuffix(string(t), retractedSuffix) }

// Payload is the decoded data of one event type.
type Payload interface {
	EventType() EventType
}

// DecodeData decodes an event's data strictly: unknown fields, wrong JSON
// types, values out of range and unknown enumeration values are problems,
// each with a pointer below /data.
func DecodeData(t EventType, data json.RawMessage) (Payload, []Problem) {
	var probs []Problem
	f := readObject(data, "/data", &probs)
	p := decodePayload(t, f)
	if p == nil {
		return nil, []Problem{{Pointer: "/type", Detail: "unknown event type " + quote(string(t))}}
	}
	f.done()
	if len(probs) > 0 {
		return nil, probs
	}
	return p, nil
}

// decodePayload runs the decoder of type t over f (which reads, or
// describes: see DataSchema); nil for a type not in the catalogue.
func decodePayload(t EventType, f *fields) Payload {
	switch t {
	case PlanPublished:
		return decodePlanPublished(f)
	case SocietyRegistered:
		return decodeSocietyRegistered(f)
	case SocietyPartyOrganizationEstablished:
		return decodePartyOrganizationEstablished(f)
	case SocietyPartyBuildingAssessed:
		return decodePartyBuildingAssessed(f)
	case SocietyPartyHistoryActivityHeld:
		return decodePartyHistoryActivityHeld(f)
	case SocietyReelectionHeld:
		return decodeReelectionHeld(f)
	case SocietyLeadershipChanged:
		return decodeLeadershipChanged(f)
	case SocietyAnnualInspectionRecorded:
		return decodeAnnualInspectionRecorded(f)
	case DecisionProposed:
		return decodeDecisionProposed(f)
	case DecisionPartyReviewed:
		return decodeDecisionPartyReviewed(f)
	case DecisionVoted:
		return decodeDecisionVoted(f)
	case DecisionPublished:
		return decodeDecisionPublished(f)
	case ConferenceRegistered:
		return decodeConferenceRegistered(f)
	case ConferenceSessionHeld:
		return decodeConferenceSessionHeld(f)
	case ServiceTeamFormed:
		return decodeServiceTeamFormed(f)
	case ServiceTeamServiceDelivered:
		return decodeServiceDelivered(f)
	case ProjectRegistered:
		return decodeProjectRegistered(f)
	case ProjectMilestoneReached:
		return decodeProjectMilestoneReached(f)
	case ProjectCompleted:
		return decodeProjectCompleted(f)
	case ProjectCancelled:
		return decodeProjectCancelled(f)
	}
	if t.IsRetraction() && t.Aggregate().Valid() {
		return decodeEventRetracted(f, t.Aggregate())
	}
	return nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// EventRetracted withdraws an earlier event of the same aggregate. Views
// leave the retracted event out; the history keeps both.
type EventRetracted struct {
	aggregate AggregateType
	EventID   string `json:"event_id"`
	Reason    string `json:"reason"`
}

func (e EventRetracted) EventType() EventType { return RetractionType(e.aggregate) }

func decodeEventRetracted(f *fields, a AggregateType) EventRetracted {
	return EventRetracted{aggregate: a, EventID: f.eventID("event_id"), Reason: f.text("reason", true, maxText)}
}

// DecodeStored decodes the data of a record the ledger stored, which passed
// DecodeData when it was appended: straight into the payload struct,
// several times faster than the strict member-by-member check. Replays and
// views use it; verify uses the strict path.
func DecodeStored(t EventType, data json.RawMessage) (Payload, error) {
	var err error
	decode := func(p any) { err = json.Unmarshal(data, p) }
	var p Payload
	switch t {
	case PlanPublished:
		var x PlanPublishedData
		decode(&x)
		p = x
	case SocietyRegistered:
		var x SocietyRegisteredData
		decode(&x)
		p = x
	case SocietyPartyOrganizationEstablished:
		var x PartyOrganizationEstablishedData
		decode(&x)
		p = x
	case SocietyPartyBuildingAssessed:
		var x PartyBuildingAssessedData
		decode(&x)
		p = x
	case SocietyPartyHistoryActivityHeld:
		var x PartyHistoryActivityHeldData
		decode(&x)
		p = x
	case SocietyReelectionHeld:
		var x ReelectionHeldData
		decode(&x)
		p = x
	case SocietyLeadershipChanged:
		var x LeadershipChangedData
		decode(&x)
		p = x
	case SocietyAnnualInspectionRecorded:
		var x AnnualInspectionRecordedData
		decode(&x)
		p = x
	case DecisionProposed:
		var x DecisionProposedData
		decode(&x)
		p = x
	case DecisionPartyReviewed:
		var x DecisionPartyReviewedData
		decode(&x)
		p = x
	case DecisionVoted:
		var x DecisionVotedData
		decode(&x)
		p = x
	case DecisionPublished:
		var x DecisionPublishedData
		decode(&x)
		p = x
	case ConferenceRegistered:
		var x ConferenceRegisteredData
		decode(&x)
		p = x
	case ConferenceSessionHeld:
		var x ConferenceSessionHeldData
		decode(&x)
		p = x
	case ServiceTeamFormed:
		var x ServiceTeamFormedData
		decode(&x)
		p = x
	case ServiceTeamServiceDelivered:
		var x ServiceDeliveredData
		decode(&x)
		p = x
	case ProjectRegistered:
		var x ProjectRegisteredData
		decode(&x)
		p = x
	case ProjectMilestoneReached:
		var x ProjectMilestoneReachedData
		decode(&x)
		p = x
	case ProjectCompleted:
		var x ProjectCompletedData
		decode(&x)
		p = x
	case ProjectCancelled:
		var x ProjectCancelledData
		decode(&x)
		p = x
	default:
		if t.IsRetraction() && t.Aggregate().Valid() {
			x := EventRetracted{aggregate: t.Aggregate()}
			decode(&x)
			p = x
			break
		}
		return nil, fmt.Errorf("unknown event type %q", t)
	}
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", t, err)
	}
	return p, nil
}
