package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"planledger/domain"
)

// Media types of the API.
const (
	mediaEvent   = "application/cloudevents+json"
	mediaBatch   = "application/cloudevents-batch+json"
	mediaJSON    = "application/json"
	mediaNDJSON  = "application/x-ndjson"
	mediaProblem = "application/problem+json"
)

// contentMode is how a POST carries its events (CloudEvents HTTP binding).
type contentMode int

const (
	modeStructured contentMode = iota // one event, the body is the event
	modeBatch                         // a JSON array of events
	modeBinary                        // attributes in ce-* headers, the body is the data
)

// ceHeaderPrefix starts the header of each attribute in binary mode.
const ceHeaderPrefix = "Ce-"

// requestMode reads the content mode from the headers, as the binding says:
// an application/cloudevents media type is structured (or batched); any
// other is binary when ce- headers come with it. application/json without
// them is one structured event, as the ledger has always read it.
func requestMode(r *http.Request) (contentMode, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = ""
	}
	binary := hasCEHeaders(r.Header)
	switch {
	case mt == mediaEvent:
		return modeStructured, nil
	case mt == mediaBatch:
		return modeBatch, nil
	case strings.HasPrefix(mt, "application/cloudevents"):
		return 0, fmt.Errorf("Content-Type %q is not taken; the ledger reads CloudEvents in JSON: %s, %s", ct, mediaEvent, mediaBatch)
	case binary && (ct == "" || domain.CheckJSONMediaType(ct) == nil):
		return modeBinary, nil
	case binary:
		return 0, fmt.Errorf("in binary mode the body is the event's data, which is JSON; Content-Type %q is not taken (send %s)", ct, mediaJSON)
	case mt == mediaJSON:
		return modeStructured, nil
	}
	return 0, fmt.Errorf("Content-Type %q is not taken; send one event as %s (or %s), a batch as %s, or one event in binary mode (ce-* headers, the data as %s)", ct, mediaEvent, mediaJSON, mediaBatch, mediaJSON)
}

// hasCEHeaders reports whether any header is a ce- attribute.
func hasCEHeaders(h http.Header) bool {
	for name := range h {
		if len(name) > len(ceHeaderPrefix) && strings.EqualFold(name[:len(ceHeaderPrefix)], ceHeaderPrefix) {
			return true
		}
	}
	return false
}

// binaryEvent turns a binary-mode request into the event in structured
// form: each ce-* header is an attribute (its value percent-decoded, as
// the binding says), Content-Type is datacontenttype, and the body is the
// data. Problems point at the attribute ("/traceparent").
func binaryEvent(h http.Header, body []byte) (json.RawMessage, []domain.Problem) {
	attrs := map[string]string{}
	var probs []domain.Problem
	for name, values := range h {
		if len(name) <= len(ceHeaderPrefix) || !strings.EqualFold(name[:len(ceHeaderPrefix)], ceHeaderPrefix) {
			continue
		}
		attr := strings.ToLower(name[len(ceHeaderPrefix):])
		ptr := "/" + attr
		switch {
		case len(values) > 1:
			probs = append(probs, domain.Problem{Pointer: ptr, Detail: fmt.Sprintf("header %s is given %d times; an attribute has one value", name, len(values))})
			continue
		case attr == "data" || attr == "data_base64" || attr == "datacontenttype":
			probs = append(probs, domain.Problem{Pointer: ptr, Detail: fmt.Sprintf("header %s is not taken: in binary mode the body is the data and Content-Type is its media type", name)})
			continue
		}
		v, err := percentDecode(values[0])
		if err != nil {
			probs = append(probs, domain.Problem{Pointer: ptr, Detail: fmt.Sprintf("header %s: %v", name, err)})
			continue
		}
		attrs[attr] = v
	}
	if ct := h.Get("Content-Type"); ct != "" {
		attrs["datacontenttype"] = ct
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		key, _ := json.Marshal(k)
		val, _ := json.Marshal(attrs[k])
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
		b.WriteByte(',')
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		b.WriteString(`"data":`)
		b.Write(trimmed)
	} else if b.Len() > 1 {
		b.Truncate(b.Len() - 1) // no data: the decoder says it is required
	}
	b.WriteByte('}')
	return b.Bytes(), probs
}

// percentDecode undoes the binding's percent-encoding of a header value:
// each %XX is a byte, and the result must be UTF-8.
func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", errors.New("the value is not UTF-8; percent-encode other bytes")
		}
		return s, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			return "", fmt.Errorf("%q has a %% not followed by two hex digits; a literal %% is written %%25", s)
		}
		out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("%q decodes to bytes that are not UTF-8", s)
	}
	return string(out), nil
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// accepts reports whether the request's Accept header names media type mt
// (parameters and q-values aside; q=0 refuses).
func accepts(r *http.Request, mt string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		m, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && m == mt && params["q"] != "0" {
			return true
		}
	}
	return false
}

// writeRecord answers with one stored record: a CloudEvent.
func writeRecord(w http.ResponseWriter, status int, rec domain.Record) {
	writeRecords(w, status, mediaEvent, nil, []domain.Record{rec}, nil)
}

// writeBatch answers with stored records: a CloudEvents batch.
func writeBatch(w http.ResponseWriter, status int, recs []domain.Record) {
	writeRecords(w, status, mediaBatch, []byte("["), recs, []byte("]"))
}

// writeRecords writes recs between open and end, separated by commas,
// each as its line (what encoding/json would write for it, without the
// reflection and the second pass that validates a MarshalJSON's output:
// a tenth of a 100-event batch's CPU).
func writeRecords(w http.ResponseWriter, status int, mediaType string, open []byte, recs []domain.Record, end []byte) {
	buf := make([]byte, 0, 2+len(recs)*768)
	buf = append(buf, open...)
	for i := range recs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = domain.AppendLine(buf, &recs[i])
	}
	buf = append(append(buf, end...), '\n')
	startBody(w, status, mediaType)
	_, _ = w.Write(buf)
}
