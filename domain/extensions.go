package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Extensions are a CloudEvent's extension attributes (traceparent,
// partitionkey, ...): each name's value as compact JSON, a string, a whole
// number or a boolean, in the canonical form DecodeEvent gives it. In JSON
// they are members of the event object itself, written in name order, so
// that a stored record re-encodes to the same bytes.
type Extensions map[string]json.RawMessage

// Limits on extensions, so that metadata stays metadata.
const (
	MaxExtensions      = 32
	MaxExtensionName   = 64
	MaxExtensionString = 2048
)

// reservedAttributes are the names an extension may not take: the
// CloudEvents attributes the ledger reads, the ledger's own "expectedversion",
// and the attributes of a stored record.
var reservedAttributes = []string{
	"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data",
	"expectedversion",
	"sequence", "version", "recordedtime", "submitter", "recordmac", "foreign", "foreignreason",
}

// RecordAttributes are the attributes the ledger adds to a stored event:
// a submitter may not send them.
var RecordAttributes = []string{"sequence", "version", "recordedtime", "submitter", "recordmac", "foreign", "foreignreason"}

// IsReservedAttribute reports whether name is one an extension may not take.
func IsReservedAttribute(name string) bool { return slices.Contains(reservedAttributes, name) }

// CheckExtensionName returns nil if name follows the CloudEvents naming
// rule: lowercase ASCII letters and digits only.
func CheckExtensionName(name string) error {
	if name == "" || len(name) > MaxExtensionName {
		return fmt.Errorf("an attribute name is 1 to %d characters long", MaxExtensionName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("%q is not an attribute name: CloudEvents attribute names have only lowercase letters a-z and digits", name)
		}
	}
	return nil
}

// isExtensionMember reports whether a member of a stored event or record
// is an extension: a valid name the ledger does not use itself.
func isExtensionMember(name string) bool {
	return CheckExtensionName(name) == nil && !IsReservedAttribute(name)
}

// canonicalExtension checks a submitted extension value and returns it in
// canonical form; ok is false for null (the attribute is then absent).
func canonicalExtension(raw json.RawMessage) (json.RawMessage, bool, error) {
	switch kind := jsonKind(raw); kind {
	case "null":
		return nil, false, nil
	case "a boolean":
		return json.RawMessage(string(raw)), true, nil
	case "a string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, err
		}
		if len(s) > MaxExtensionString {
			return nil, false, fmt.Errorf("is %d bytes long; an extension value is at most %d", len(s), MaxExtensionString)
		}
		b, err := json.Marshal(s)
		return b, true, err
	case "a number":
		n, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return nil, false, fmt.Errorf("%s is not a CloudEvents integer (a whole number from -2147483648 to 2147483647, no fraction or exponent)", raw)
		}
		return json.RawMessage(strconv.FormatInt(n, 10)), true, nil
	default:
		return nil, false, fmt.Errorf("is %s; an extension is a string, a whole number or a boolean", kind)
	}
}

// storedExtension checks the value of an extension read from a stored
// body or record: a JSON scalar, kept exactly as written.
func storedExtension(raw json.RawMessage) (keep bool, err error) {
	switch jsonKind(raw) {
	case "null":
		return false, nil
	case "a boolean", "a string", "a number":
		return true, nil
	}
	return false, fmt.Errorf("extension value %s is not a string, number or boolean", raw)
}

// Names returns the extension names in order.
func (x Extensions) Names() []string {
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// String returns the value of a string extension.
func (x Extensions) String(name string) (string, bool) {
	raw, ok := x[name]
	if !ok || jsonKind(raw) != "a string" {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// appendTo adds the extensions as members to the JSON object obj, which
// has members already and ends in '}', in name order.
func (x Extensions) appendTo(obj []byte) []byte {
	if len(x) == 0 {
		return obj
	}
	return append(x.appendMembers(obj[:len(obj)-1]), '}')
}

// appendMembers writes ,"name":value for each extension, in name order.
func (x Extensions) appendMembers(dst []byte) []byte {
	for _, k := range x.Names() {
		dst = append(dst, ',', '"')
		dst = append(dst, k...) // names are [a-z0-9]: nothing to escape
		dst = append(dst, '"', ':')
		dst = append(dst, x[k]...)
	}
	return dst
}

// extensionsOf reads the extension members of a JSON object (an event, a
// record or a stored body). Other members are the caller's.
func extensionsOf(obj []byte) (Extensions, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	var x Extensions
	for k, v := range m {
		if !isExtensionMember(k) {
			continue
		}
		keep, err := storedExtension(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if keep {
			if x == nil {
				x = Extensions{}
			}
			x[k] = v
		}
	}
	return x, nil
}
