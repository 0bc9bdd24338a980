package domain

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// A stored record's body is the event as submitted plus "version" and
// "submitter", written by encoding/json, with the event's extensions last,
// in name order. Bodies are hashed (a record's MAC covers its body, and an
// exported line is a leaf of the log's tree), and an import re-encodes a
// body from its exported JSON: so the encoding is a fixed point, and
// decoding a body and encoding it again gives the same bytes
// (FuzzRecordBodyFixedPoint).
//
// Replays decode millions of bodies, and encoding/json spends most of its
// time validating the whole body first and then reflecting over the
// struct. DecodeRecordBody reads the usual body in one pass instead;
// anything unusual (an escaped string, an unknown or differently cased
// member, a null, a number that is not a plain unsigned integer) sends it
// to encoding/json, so the result is always the one encoding/json gives.
// FuzzDecodeRecordBody holds the two paths to that.

// bodyFields is the body as encoding/json reads and writes it, extensions
// aside.
type bodyFields struct {
	eventFields
	Version   uint64 `json:"version"`
	Submitter string `json:"submitter"`
}

// EncodeRecordBody writes the body the ledger stores for an event.
func EncodeRecordBody(ev *Event, version uint64, submitter string) ([]byte, error) {
	b, err := json.Marshal(bodyFields{eventFields: eventFields(*ev), Version: version, Submitter: submitter})
	if err != nil {
		return nil, err
	}
	return ev.Extensions.appendTo(b), nil
}

// DecodeRecordBody decodes a stored record's body into the event, version
// and submitter of a Record (sequence and recorded time are the stream's).
func DecodeRecordBody(body []byte) (Record, error) {
	if rec, ok := fastRecord(body, false); ok {
		return rec, nil
	}
	return slowRecordBody(body)
}

// slowRecordBody is encoding/json's reading of a body.
func slowRecordBody(body []byte) (Record, error) {
	var w bodyFields
	if err := json.Unmarshal(body, &w); err != nil {
		return Record{}, err
	}
	x, err := extensionsOf(body)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Event: Event(w.eventFields), Version: w.Version, Submitter: w.Submitter}
	rec.Extensions = x
	return rec, nil
}

// fastRecord is the one-pass reading of a body, or with record set of a
// record's JSON (which also has sequence and recordedtime); ok is false
// where it leaves the text to encoding/json.
func fastRecord(b []byte, record bool) (rec Record, ok bool) {
	s := scanner{b: b}
	if !s.consume('{') {
		return Record{}, false
	}
	if s.consume('}') {
		return rec, s.end()
	}
	for {
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return Record{}, false
		}
		s.ws()
		start := s.i
		if !s.skipValue(0) {
			return Record{}, false
		}
		val := b[start:s.i]
		switch string(key) {
		case "specversion":
			rec.SpecVersion, ok = plainValue(val)
		case "id":
			rec.ID, ok = plainValue(val)
		case "source":
			rec.Source, ok = plainValue(val)
		case "type":
			rec.Type, ok = plainValue(val)
		case "subject":
			rec.Subject, ok = plainValue(val)
		case "datacontenttype":
			rec.DataContentType, ok = plainValue(val)
		case "dataschema":
			rec.DataSchema, ok = plainValue(val)
		case "submitter":
			rec.Submitter, ok = plainValue(val)
		case "time":
			ok = val[0] == '"' && rec.Time.UnmarshalJSON(val) == nil
		case "data":
			// encoding/json keeps a raw member as is, in a copy.
			ok = val[0] == '{'
			rec.Data = append(json.RawMessage(nil), val...)
		case "version":
			rec.Version, ok = plainUint(val)
		case "sequence":
			rec.Sequence, ok = plainUint(val)
			ok = ok && record
		case "recordedtime":
			ok = record && val[0] == '"' && rec.RecordedTime.UnmarshalJSON(val) == nil
		case "recordmac":
			rec.MAC, ok = plainValue(val)
			ok = ok && record
		default:
			// An extension with a plain value is kept as written; anything
			// else (unknown, differently cased, null, escaped) follows
			// encoding/json's rules.
			ok = isExtensionMember(string(key)) && plainScalar(val)
			if ok {
				if rec.Extensions == nil {
					rec.Extensions = Extensions{}
				}
				rec.Extensions[string(key)] = append(json.RawMessage(nil), val...)
			}
		}
		if !ok {
			return Record{}, false
		}
		if s.consume('}') {
			return rec, s.end()
		}
		if !s.consume(',') {
			return Record{}, false
		}
	}
}

// plainValue is a JSON string without escapes, valid UTF-8, as a Go string.
func plainValue(v []byte) (string, bool) {
	s := scanner{b: v}
	str, ok := s.plainString()
	return string(str), ok && s.i == len(v)
}

// plainScalar is a plain string, a boolean or a number (which skipValue
// has checked).
func plainScalar(v []byte) bool {
	switch v[0] {
	case '"':
		_, ok := plainValue(v)
		return ok
	case 't', 'f':
		return true
	case 'n':
		return false
	}
	return v[0] == '-' || (v[0] >= '0' && v[0] <= '9')
}

// plainUint is a JSON number that is a plain unsigned integer.
func plainUint(v []byte) (uint64, bool) {
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	if len(v) > 1 && v[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil
}

// scanner walks JSON text; every method reports false on anything it does
// not accept, and the caller then gives up on the fast path.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and the byte c, if it is next.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// elements reads the rest of an array or object whose opening byte is
// consumed: items separated by commas up to the byte end, each read by
// item from its first byte that is not white space.
func (s *scanner) elements(end byte, item func() bool) bool {
	if s.consume(end) {
		return true
	}
	for {
		s.ws()
		if !item() {
			return false
		}
		if s.consume(end) {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// plainString reads a string with no escapes and valid UTF-8 and returns
// its contents (a slice of the input).
func (s *scanner) plainString() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			str := s.b[start:j]
			return str, utf8.Valid(str)
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// maxDepth bounds nesting on the fast path (encoding/json allows 10000).
const maxDepth = 100

// skipValue moves past one JSON value, checking its grammar as strictly as
// encoding/json does.
func (s *scanner) skipValue(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		if s.consume('}') {
			return true
		}
		for {
			s.ws()
			if !s.skipString() || !s.consume(':') || !s.skipValue(depth+1) {
				return false
			}
			if s.consume('}') {
				return true
			}
			if !s.consume(',') {
				return false
			}
		}
	case c == '[':
		s.i++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skipValue(depth + 1) {
				return false
			}
			if s.consume(']') {
				return true
			}
			if !s.consume(',') {
				return false
			}
		}
	case c == '"':
		return s.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.skipNumber()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// skipString moves past a string, escapes included; like encoding/json it
// does not check the UTF-8 of a value it keeps raw.
func (s *scanner) skipString() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !isHex(h) {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// skipNumber moves past a number of the JSON grammar.
func (s *scanner) skipNumber() bool {
	b, i := s.b, s.i
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}
