package domain

import (
	"encoding/json"
	"fmt"
	"reflect"
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
	c, ok := codecs[t]
	if !ok {
		return nil
	}
	return c.strict(f)
}

// codec decodes the data of one event type: strictly, member by member
// (DecodeData, DataSchema), or as stored, straight into the payload
// struct (DecodeStored): on the fast path of the struct's plan (nil when
// it has none, see storedPlan) when the data allows, else with
// encoding/json.
type codec struct {
	strict func(*fields) Payload
	fast   func(json.RawMessage) (Payload, bool)
	slow   func(json.RawMessage) (Payload, error)
}

// stored decodes a stored record's data.
func (c codec) stored(data json.RawMessage) (Payload, error) {
	if c.fast != nil {
		if p, ok := c.fast(data); ok {
			return p, nil
		}
	}
	return c.slow(data)
}

// codecOf is the codec of a payload struct T and its strict decoder.
func codecOf[T Payload](strict func(*fields) T) codec {
	return storedCodec(func(f *fields) Payload { return strict(f) }, func() T { var x T; return x })
}

// storedCodec is the codec of the payload struct T, whose zero value (its
// aggregate aside, for a retraction) zero gives.
func storedCodec[T Payload](strict func(*fields) Payload, zero func() T) codec {
	c := codec{
		strict: strict,
		slow: func(data json.RawMessage) (Payload, error) {
			x := zero()
			err := json.Unmarshal(data, &x)
			return x, err
		},
	}
	if plan := planStored(reflect.TypeFor[T]()); plan != nil {
		c.fast = func(data json.RawMessage) (Payload, bool) {
			x := zero()
			ok := plan.decode(data, reflect.ValueOf(&x).Elem())
			return x, ok
		}
	}
	return c
}

// codecs is the catalogue's decoders by event type: the one table both
// ways of decoding read.
var codecs = func() map[EventType]codec {
	m := map[EventType]codec{
		PlanPublished: codecOf(decodePlanPublished),

		SocietyRegistered:                   codecOf(decodeSocietyRegistered),
		SocietyPartyOrganizationEstablished: codecOf(decodePartyOrganizationEstablished),
		SocietyPartyBuildingAssessed:        codecOf(decodePartyBuildingAssessed),
		SocietyPartyHistoryActivityHeld:     codecOf(decodePartyHistoryActivityHeld),
		SocietyReelectionHeld:               codecOf(decodeReelectionHeld),
		SocietyLeadershipChanged:            codecOf(decodeLeadershipChanged),
		SocietyAnnualInspectionRecorded:     codecOf(decodeAnnualInspectionRecorded),

		DecisionProposed:      codecOf(decodeDecisionProposed),
		DecisionPartyReviewed: codecOf(decodeDecisionPartyReviewed),
		DecisionVoted:         codecOf(decodeDecisionVoted),
		DecisionPublished:     codecOf(decodeDecisionPublished),

		ConferenceRegistered:  codecOf(decodeConferenceRegistered),
		ConferenceSessionHeld: codecOf(decodeConferenceSessionHeld),

		ServiceTeamFormed:           codecOf(decodeServiceTeamFormed),
		ServiceTeamServiceDelivered: codecOf(decodeServiceDelivered),

		ProjectRegistered:       codecOf(decodeProjectRegistered),
		ProjectMilestoneReached: codecOf(decodeProjectMilestoneReached),
		ProjectCompleted:        codecOf(decodeProjectCompleted),
		ProjectCancelled:        codecOf(decodeProjectCancelled),
	}
	for _, a := range AggregateTypes {
		m[RetractionType(a)] = retractionCodec(a)
	}
	return m
}()

// retractionCodec decodes the retractions of aggregate type a, which
// carry it.
func retractionCodec(a AggregateType) codec {
	return storedCodec(func(f *fields) Payload { return decodeEventRetracted(f, a) },
		func() EventRetracted { return EventRetracted{aggregate: a} })
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
	c, ok := codecs[t]
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", t)
	}
	p, err := c.stored(data)
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", t, err)
	}
	return p, nil
}
