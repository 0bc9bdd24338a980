package domain

import (
	"fmt"
	"strings"
)

// AggregateType names a kind of aggregate: the part of an event type before
// the dot and of a subject before the slash.
type AggregateType string

// The aggregate types of the catalogue.
const (
	AggregatePlan        AggregateType = "plan"
	AggregateSociety     AggregateType = "society"
	AggregateDecision    AggregateType = "decision"
	AggregateConference  AggregateType = "conference"
	AggregateServiceTeam AggregateType = "service_team"
	AggregateProject     AggregateType = "project"
)

// AggregateTypes lists every aggregate type, in catalogue order.
var AggregateTypes = []AggregateType{
	AggregatePlan, AggregateSociety, AggregateDecision,
	AggregateConference, AggregateServiceTeam, AggregateProject,
}

// Valid reports whether t is one of the catalogue's aggregate types.
func (t AggregateType) Valid() bool {
	for _, v := range AggregateTypes {
		if t == v {
			return true
		}
	}
	return false
}

// Ref names one aggregate: its type and its id (a slug). Its string form
// is the CloudEvents subject, "society/hn-chem".
type Ref struct {
	Type AggregateType
	ID   string
}

func (r Ref) String() string { return string(r.Type) + "/" + r.ID }

// CompareRefs orders refs as their strings order: by type, then by id (a
// type never holds the "/" that separates them).
func CompareRefs(a, b Ref) int {
	if c := strings.Compare(string(a.Type), string(b.Type)); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// MaxSlugLen is the longest id a slug may be.
const MaxSlugLen = 64

// CheckSlug returns nil if id is a lowercase slug, [a-z0-9][a-z0-9-]{0,63},
// and otherwise says what is wrong with it. Slugs are the only ids that reach
// the store: the rule also keeps '.', '*', '>' and white space out of NATS
// subjects.
func CheckSlug(id string) error {
	if id == "" {
		return fmt.Errorf("id is empty; want a lowercase slug [a-z0-9][a-z0-9-]{0,63}")
	}
	if len(id) > MaxSlugLen {
		return fmt.Errorf("id is %d characters long; a slug has at most %d", len(id), MaxSlugLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		case c == '-':
			return fmt.Errorf("id %q starts with '-'; a slug starts with a lowercase letter or digit", id)
		case c >= 'A' && c <= 'Z':
			return fmt.Errorf("id %q has an uppercase letter; slugs (and UUIDs) are written in lowercase", id)
		default:
			return fmt.Errorf("id %q has %q at byte %d; a slug has only lowercase letters, digits and '-'", id, rune(c), i)
		}
	}
	return nil
}

// ParseRef parses a subject of the form "<aggregate-type>/<slug>".
func ParseRef(subject string) (Ref, error) {
	typ, id, ok := strings.Cut(subject, "/")
	if !ok {
		return Ref{}, fmt.Errorf("subject %q is not <aggregate-type>/<id>, e.g. society/hn-chem", subject)
	}
	t := AggregateType(typ)
	if !t.Valid() {
		return Ref{}, fmt.Errorf("subject %q: aggregate type %q is not one of %s", subject, typ, joinTypes())
	}
	if err := CheckSlug(id); err != nil {
		return Ref{}, fmt.Errorf("subject %q: %w", subject, err)
	}
	return Ref{Type: t, ID: id}, nil
}

func joinTypes() string {
	s := make([]string, len(AggregateTypes))
	for i, t := range AggregateTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// MarshalText writes a Ref as its subject, so it is a JSON string and a
// usable map key.
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a subject.
func (r *Ref) UnmarshalText(b []byte) error {
	p, err := ParseRef(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
