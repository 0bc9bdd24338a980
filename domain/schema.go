package domain

import (
	"encoding/json"
	"slices"
)

// Schema is a JSON Schema (2020-12), as much of it as the catalogue needs.
// The schema of an event type's data is not written by hand: DataSchema
// runs the type's decoder in describe mode, where each of the readers in
// fields.go adds its member's schema instead of reading it. The decoder is
// the one source of truth; the schema says what it checks member by
// member, and the rules that span members or the aggregate's history are
// the decoder's and Decide's alone (docs/events.md lists them).
type Schema struct {
	Schema               string             `json:"$schema,omitempty"`
	ID                   string             `json:"$id,omitempty"`
	Title                string             `json:"title,omitempty"`
	Description          string             `json:"description,omitempty"`
	Type                 string             `json:"-"`
	Const                string             `json:"const,omitempty"`
	Enum                 []string           `json:"-"`
	Format               string             `json:"format,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	MinLength            *int               `json:"minLength,omitempty"`
	MaxLength            *int               `json:"maxLength,omitempty"`
	Minimum              *float64           `json:"minimum,omitempty"`
	Maximum              *float64           `json:"maximum,omitempty"`
	MinItems             *int               `json:"minItems,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	PropertyNames        *Schema            `json:"propertyNames,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"`
	AnyOf                []*Schema          `json:"anyOf,omitempty"`
	AllOf                []*Schema          `json:"allOf,omitempty"`
	If                   *Schema            `json:"if,omitempty"`
	Then                 *Schema            `json:"then,omitempty"`
	Else                 *Schema            `json:"else,omitempty"`
	Not                  *Schema            `json:"not,omitempty"`
	Examples             []json.RawMessage  `json:"examples,omitempty"`

	// Null says null is taken too: an optional member may be null,
	// which the decoder reads as absent.
	Null bool `json:"-"`

	// order is the properties in the order the decoder reads them.
	order []string
}

// schemaFields is a Schema without its methods, for encoding/json.
type schemaFields Schema

// MarshalJSON writes the schema, its type first; a schema that takes null
// has ["<type>", "null"] and null among its enum.
func (s Schema) MarshalJSON() ([]byte, error) {
	out := struct {
		Type any   `json:"type,omitempty"`
		Enum []any `json:"enum,omitempty"`
		schemaFields
	}{schemaFields: schemaFields(s)}
	if s.Type != "" {
		out.Type = s.Type
		if s.Null {
			out.Type = []string{s.Type, "null"}
		}
	}
	for _, v := range s.Enum {
		out.Enum = append(out.Enum, v)
	}
	if s.Null && len(s.Enum) > 0 {
		out.Enum = append(out.Enum, nil)
	}
	return json.Marshal(out)
}

// JSONSchemaDialect is the JSON Schema version of every schema here.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Order returns the object's properties in the order the decoder reads
// them (the order docs/events.md lists them in).
func (s *Schema) Order() []string { return s.order }

// IsRequired reports whether the object requires a property.
func (s *Schema) IsRequired(name string) bool { return slices.Contains(s.Required, name) }

// property returns the schema of an object's property, made on first use.
func (s *Schema) property(name string) *Schema {
	if p, ok := s.Properties[name]; ok {
		return p
	}
	if s.Properties == nil {
		s.Properties = map[string]*Schema{}
	}
	p := &Schema{}
	s.Properties[name] = p
	s.order = append(s.order, name)
	return p
}

// DataSchema returns the JSON Schema of an event type's data, with the
// catalogue's description and example; nil for a type not in the
// catalogue.
func DataSchema(t EventType) *Schema {
	if !t.Known() {
		return nil
	}
	var probs []Problem
	f := &fields{used: map[string]bool{}, probs: &probs, desc: &Schema{Type: "object"}}
	decodePayload(t, f)
	f.done()
	s := f.desc
	doc := Doc(t)
	s.Title = string(t)
	s.Description = doc.Summary
	s.Examples = []json.RawMessage{doc.Example.Data}
	return s
}

func intp(n int) *int { return &n }

func floatp(x float64) *float64 { return &x }

// Patterns of the strings the readers check beyond their length.
const (
	// patternNonBlank: a required string has a character that is not
	// white space.
	patternNonBlank = `\S`
	// patternSlug is CheckSlug's rule.
	patternSlug = `^[a-z0-9][a-z0-9-]{0,63}$`
	// patternEventID is CheckEventID's rule, not blank.
	patternEventID = `^[ -~]*[!-~][ -~]*$`
	// patternDate is ParseDate's shape: a date, or an RFC 3339 timestamp.
	patternDate = `^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$`
)
