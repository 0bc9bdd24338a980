package domain

import "encoding/json"

// Reading a submitted event, the strict decoder looks at each object's
// members one by one. encoding/json, asked for a map of raw members and
// then for each string, validates and copies every value again each time:
// most of what a POST costs before the store. splitObject and plainText
// read the usual object in one pass with the record body's scanner
// (body.go); anything unusual (an escaped key or string, invalid UTF-8)
// goes to encoding/json, so the result is always encoding/json's.
// FuzzSplitObject holds the two to the same answer.

// splitObject returns the members of a JSON object as raw values (the
// last of a repeated name wins, as with encoding/json); ok is false when
// it leaves the object to encoding/json.
func splitObject(b []byte) (map[string]json.RawMessage, bool) {
	s := scanner{b: b}
	if !s.consume('{') {
		return nil, false
	}
	m := make(map[string]json.RawMessage, 16)
	if s.consume('}') {
		return m, s.end()
	}
	for {
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return nil, false
		}
		s.ws()
		start := s.i
		if !s.skipValue(0) {
			return nil, false
		}
		m[string(key)] = json.RawMessage(b[start:s.i])
		if s.consume('}') {
			if !s.end() {
				return nil, false
			}
			return m, true
		}
		if !s.consume(',') {
			return nil, false
		}
	}
}

// plainText reads a JSON string without escapes, in valid UTF-8; ok is
// false when it leaves the value to encoding/json.
func plainText(v []byte) (string, bool) { return plainValue(v) }

// SplitArray returns the elements of a JSON array as raw values, slices of
// b, as encoding/json reads them into []json.RawMessage (each without the
// white space around it); ok is false when b is not an array the scanner
// reads (then encoding/json says what is wrong with it). A batch's
// elements are split this way instead of copied out one by one.
func SplitArray(b []byte) ([]json.RawMessage, bool) {
	s := scanner{b: b}
	if !s.consume('[') {
		return nil, false
	}
	out := []json.RawMessage{}
	ok := s.elements(']', func() bool {
		start := s.i
		if !s.skipValue(0) {
			return false
		}
		out = append(out, json.RawMessage(b[start:s.i]))
		return true
	})
	if !ok || !s.end() {
		return nil, false
	}
	return out, true
}
