package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fields reads one JSON object member by member and collects every problem,
// each with a JSON Pointer, instead of stopping at the first. Getters of a
// member that is missing or wrong return the zero value; the caller checks
// the problems once at the end.
type fields struct {
	ptr   string
	m     map[string]json.RawMessage
	used  map[string]bool
	probs *[]Problem
	// desc, when set, makes the reader describe instead of read: each
	// getter adds its member's schema to desc and returns a zero value
	// (see DataSchema).
	desc *Schema
}

func readObject(raw json.RawMessage, ptr string, probs *[]Problem) *fields {
	f := &fields{ptr: ptr, used: map[string]bool{}, probs: probs}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		*probs = append(*probs, Problem{Pointer: ptr, Detail: "must be a JSON object"})
		return f
	}
	if m, ok := splitObject(trimmed); ok {
		f.m = m
		return f
	}
	if err := json.Unmarshal(trimmed, &f.m); err != nil {
		*probs = append(*probs, Problem{Pointer: ptr, Detail: "is not a valid JSON object: " + err.Error()})
	}
	return f
}

// pointerToken escapes a member name for a JSON Pointer (RFC 6901).
func pointerToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func (f *fields) at(name string) string { return f.ptr + "/" + pointerToken(name) }

func (f *fields) problem(name, format string, args ...any) {
	*f.probs = append(*f.probs, Problem{Pointer: f.at(name), Detail: fmt.Sprintf(format, args...)})
}

// describe returns the schema of member name when describing (nil when
// reading), noting whether it is required.
func (f *fields) describe(name string, required bool) *Schema {
	if f.desc == nil {
		return nil
	}
	f.used[name] = true
	if required && !f.desc.IsRequired(name) {
		f.desc.Required = append(f.desc.Required, name)
	}
	p := f.desc.property(name)
	p.Null = !f.desc.IsRequired(name) // null is absent
	return p
}

// present reports whether a member is given (not missing, not null).
func (f *fields) present(name string) bool {
	v, ok := f.m[name]
	return ok && string(v) != "null"
}

// get returns a member's raw value; a missing or null member is absent.
func (f *fields) get(name string, required bool) (json.RawMessage, bool) {
	f.used[name] = true
	if f.m == nil {
		return nil, false
	}
	v, ok := f.m[name]
	if !ok || string(v) == "null" {
		if required {
			f.problem(name, "is required")
		}
		return nil, false
	}
	return v, true
}

const maxText = 500

// text reads a string of at most maxLen characters; required strings must
// not be blank.
func (f *fields) text(name string, required bool, maxLen int) string {
	if p := f.describe(name, required); p != nil {
		p.Type, p.MaxLength = "string", intp(maxLen)
		if required {
			p.MinLength, p.Pattern = intp(1), patternNonBlank
		}
		return ""
	}
	v, ok := f.get(name, required)
	if !ok {
		return ""
	}
	s, ok := plainText(v)
	if !ok {
		if err := json.Unmarshal(v, &s); err != nil {
			f.problem(name, "must be a string, not %s", jsonKind(v))
			return ""
		}
	}
	if required && strings.TrimSpace(s) == "" {
		f.problem(name, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		f.problem(name, "is %d characters long; at most %d", n, maxLen)
	}
	return s
}

// enum reads a string that must be one of allowed.
func (f *fields) enum(name string, required bool, allowed []string) string {
	if p := f.describe(name, required); p != nil {
		p.Type, p.Enum = "string", slices.Clone(allowed)
		if !required {
			p.Enum = append(p.Enum, "") // an empty optional string is accepted as none
		}
		return ""
	}
	s := f.text(name, required, maxText)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	f.problem(name, "%q is not one of %s", s, strings.Join(allowed, ", "))
	return ""
}

// slug reads an id that must be a lowercase slug.
func (f *fields) slug(name string, required bool) string {
	if p := f.describe(name, required); p != nil {
		p.Type, p.Pattern, p.MaxLength = "string", patternSlug, intp(MaxSlugLen)
		return ""
	}
	s := f.text(name, required, 200)
	if s == "" {
		return ""
	}
	if err := CheckSlug(s); err != nil {
		f.problem(name, "%v", err)
		return ""
	}
	return s
}

// integer reads a whole number in [min, max].
func (f *fields) integer(name string, min, max int64) int64 {
	if p := f.describe(name, true); p != nil {
		p.Type, p.Minimum, p.Maximum = "integer", floatp(float64(min)), floatp(float64(max))
		return 0
	}
	v, ok := f.get(name, true)
	if !ok {
		return 0
	}
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		f.problem(name, "must be a whole number, not %s", jsonKind(v))
		return 0
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		f.problem(name, "%s is not a whole number", v)
		return 0
	}
	if n < min || n > max {
		f.problem(name, "%d is out of range; want %s", n, rangeText(float64(min), float64(max), true))
		return 0
	}
	return n
}

// number reads a number in [min, max].
func (f *fields) number(name string, required bool, min, max float64) float64 {
	if p := f.describe(name, required); p != nil {
		p.Type, p.Minimum, p.Maximum = "number", floatp(min), floatp(max)
		return 0
	}
	v, ok := f.get(name, required)
	if !ok {
		return 0
	}
	var x float64
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		f.problem(name, "must be a number, not %s", jsonKind(v))
		return 0
	}
	if err := json.Unmarshal(v, &x); err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		f.problem(name, "%s is not a usable number", v)
		return 0
	}
	if x < min || x > max {
		f.problem(name, "%s is out of range; want %s", v, rangeText(min, max, false))
		return 0
	}
	return x
}

func rangeText(min, max float64, whole bool) string {
	kind := "a number"
	if whole {
		kind = "a whole number"
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	if max >= 1_000_000 {
		return fmt.Sprintf("%s of at least %s", kind, num(min))
	}
	return fmt.Sprintf("%s from %s to %s", kind, num(min), num(max))
}

func (f *fields) boolean(name string) bool {
	if p := f.describe(name, true); p != nil {
		p.Type = "boolean"
		return false
	}
	v, ok := f.get(name, true)
	if !ok {
		return false
	}
	switch string(v) {
	case "true":
		return true
	case "false":
		return false
	}
	f.problem(name, "must be true or false, not %s", jsonKind(v))
	return false
}

// date reads a calendar date (or RFC 3339 timestamp).
func (f *fields) date(name string, required bool) Date {
	if p := f.describe(name, required); p != nil {
		p.Type, p.Pattern, p.Format = "string", patternDate, "date"
		p.Description = "a date, YYYY-MM-DD (China Standard Time), or an RFC 3339 timestamp"
		return Date{}
	}
	s := f.text(name, required, 64)
	if s == "" {
		return Date{}
	}
	d, err := ParseDate(s)
	if err != nil {
		f.problem(name, "%v", err)
	}
	return d
}

// array reads a JSON array; each element's pointer is name/i.
func (f *fields) array(name string, required bool) []json.RawMessage {
	if p := f.describe(name, required); p != nil {
		p.Type = "array"
		return []json.RawMessage{nil} // one element, so the caller describes its items
	}
	v, ok := f.get(name, required)
	if !ok {
		return nil
	}
	var a []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &a) != nil {
		f.problem(name, "must be an array, not %s", jsonKind(v))
		return nil
	}
	return a
}

// object reads a member that is itself an object.
func (f *fields) object(name string) *fields {
	if p := f.describe(name, true); p != nil {
		p.Type = "object"
		return &fields{ptr: f.at(name), used: map[string]bool{}, probs: f.probs, desc: p}
	}
	v, ok := f.get(name, true)
	if !ok {
		return &fields{ptr: f.at(name), used: map[string]bool{}, probs: f.probs}
	}
	return readObject(v, f.at(name), f.probs)
}

// elem reads element i of an array member as an object.
func (f *fields) elem(name string, i int, raw json.RawMessage) *fields {
	if f.desc != nil {
		items := &Schema{Type: "object"}
		f.desc.property(name).Items = items
		return &fields{ptr: f.at(name), used: map[string]bool{}, probs: f.probs, desc: items}
	}
	return readObject(raw, fmt.Sprintf("%s/%d", f.at(name), i), f.probs)
}

// elemSlug reads element i of an array member as a slug.
func (f *fields) elemSlug(name string, i int, raw json.RawMessage) string {
	if f.desc != nil {
		f.desc.property(name).Items = &Schema{Type: "string", Pattern: patternSlug, MaxLength: intp(MaxSlugLen)}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		*f.probs = append(*f.probs, Problem{Pointer: fmt.Sprintf("%s/%d", f.at(name), i), Detail: "must be a string, not " + jsonKind(raw)})
		return ""
	}
	if err := CheckSlug(s); err != nil {
		*f.probs = append(*f.probs, Problem{Pointer: fmt.Sprintf("%s/%d", f.at(name), i), Detail: err.Error()})
		return ""
	}
	return s
}

// extensions takes every member nobody asked for as an extension
// attribute of an event; a record attribute or a name outside the
// CloudEvents rules is a problem.
func (f *fields) extensions() Extensions {
	if !f.hasUnused() {
		return nil // every member is an attribute the caller read: the usual event
	}
	var x Extensions
	for _, k := range slices.Sorted(maps.Keys(f.m)) {
		if f.used[k] {
			continue
		}
		f.used[k] = true
		if slices.Contains(RecordAttributes, k) {
			f.problem(k, "is a record attribute, set by the ledger; leave it out of the event")
			continue
		}
		if err := CheckExtensionName(k); err != nil {
			f.problem(k, "%v", err)
			continue
		}
		v, keep, err := canonicalExtension(f.m[k])
		if err != nil {
			f.problem(k, "%v", err)
			continue
		}
		if keep {
			if x == nil {
				x = Extensions{}
			}
			x[k] = v
		}
	}
	if len(x) > MaxExtensions {
		*f.probs = append(*f.probs, Problem{Pointer: f.ptr, Detail: fmt.Sprintf("%d extension attributes; at most %d", len(x), MaxExtensions)})
	}
	return x
}

// nonEmpty checks that an array member, if given, lists at least one
// element; what names the elements in the message.
func (f *fields) nonEmpty(name string, elems []json.RawMessage, what string) {
	if f.desc != nil {
		f.desc.property(name).MinItems = intp(1)
		return
	}
	if elems != nil && len(elems) == 0 {
		f.problem(name, "must list at least one %s", what)
	}
}

// oneOfGiven checks that at least one of the named array members lists an
// element; given says whether one does.
func (f *fields) oneOfGiven(names []string, given bool, detail string) {
	if f.desc != nil {
		for _, n := range names {
			f.desc.AnyOf = append(f.desc.AnyOf, &Schema{Required: []string{n}, Properties: map[string]*Schema{n: {MinItems: intp(1)}}})
		}
		return
	}
	if !given {
		f.problem(names[0], "%s", detail)
	}
}

// onlyWhen checks a member that is required when member other has value
// want, and refused otherwise: amount_cny of a major_expense decision.
// given says whether the member was given, otherValue is other's; noun
// names what other describes in the messages.
func (f *fields) onlyWhen(name string, given bool, other, otherValue, want, noun string) {
	if f.desc != nil {
		f.desc.AllOf = append(f.desc.AllOf, &Schema{
			If:   &Schema{Required: []string{other}, Properties: map[string]*Schema{other: {Const: want}}},
			Then: &Schema{Required: []string{name}, Properties: map[string]*Schema{name: {Not: &Schema{Type: "null"}}}},
			Else: &Schema{Properties: map[string]*Schema{name: {Type: "null"}}}, // absent or null
		})
		return
	}
	switch {
	case given && otherValue != "" && otherValue != want:
		f.problem(name, "applies only to a %s %s, not %s", want, noun, otherValue)
	case !given && otherValue == want:
		f.problem(name, "is required for a %s %s", want, noun)
	}
}

// counts reads an object member whose keys are among allowed (each a
// keyNoun) and whose values are whole numbers in [min, max].
func (f *fields) counts(name string, allowed []string, keyNoun string, min, max int64) map[string]int {
	if p := f.describe(name, true); p != nil {
		p.Type = "object"
		p.PropertyNames = &Schema{Enum: slices.Clone(allowed)}
		p.AdditionalProperties = &Schema{Type: "integer", Minimum: floatp(float64(min)), Maximum: floatp(float64(max))}
		return nil
	}
	out := map[string]int{}
	t := f.object(name)
	for key := range t.m {
		if !slices.Contains(allowed, key) {
			t.used[key] = true
			t.problem(key, "%q is not a %s; the %ss are %s", key, keyNoun, keyNoun, joinNames(allowed))
			continue
		}
		out[key] = int(t.integer(key, min, max))
	}
	return out
}

// eventID reads the id of an event of the ledger (CheckEventID).
func (f *fields) eventID(name string) string {
	if p := f.describe(name, true); p != nil {
		p.Type, p.Pattern, p.MinLength, p.MaxLength = "string", patternEventID, intp(1), intp(MaxEventIDLen)
		return ""
	}
	id := f.text(name, true, MaxEventIDLen)
	if id != "" {
		if err := CheckEventID(id); err != nil {
			f.problem(name, "%v", err)
		}
	}
	return id
}

// hasUnused reports whether a member was not asked for.
func (f *fields) hasUnused() bool {
	for k := range f.m {
		if !f.used[k] {
			return true
		}
	}
	return false
}

// done reports every member nobody asked for.
func (f *fields) done() {
	if f.desc != nil {
		f.desc.AdditionalProperties = false
		return
	}
	var unknown []string
	for k := range f.m {
		if !f.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return
	}
	known := make([]string, 0, len(f.used))
	for k := range f.used {
		known = append(known, k)
	}
	slices.Sort(known)
	slices.Sort(unknown)
	for _, k := range unknown {
		f.problem(k, "is not a field here; the fields are %s", strings.Join(known, ", "))
	}
}

func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
