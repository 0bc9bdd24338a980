package domain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Submission is one event as a submitter sent it, checked and decoded.
type Submission struct {
	Event   Event
	Ref     Ref
	Payload Payload
	// ExpectedVersion is the CloudEvents extension "expectedversion": the
	// aggregate's version must equal it (0: must not exist yet).
	ExpectedVersion *uint64
}

// Type returns the submission's event type.
func (s *Submission) Type() EventType { return EventType(s.Event.Type) }

// DecodeEvent checks one CloudEvent in structured JSON mode and decodes its
// data. specversion, id, source, type, subject, time and data (or
// data_base64 holding JSON) are required; datacontenttype (a JSON media
// type) and dataschema (a URI) are kept; expectedversion is the ledger's
// own extension, consumed here; every other member is an extension
// attribute, kept if its name and value follow the CloudEvents rules. now
// is the ledger's clock: a business time later than now plus ClockSkew is
// refused. Problems point into the event object ("/data/x"); a caller
// decoding a batch prefixes them with the event's index.
func DecodeEvent(raw json.RawMessage, now time.Time) (Submission, []Problem) {
	var probs []Problem
	f := readObject(raw, "", &probs)
	if f.m == nil {
		return Submission{}, probs
	}
	var s Submission
	ev := &s.Event
	decodeCore(f, ev, now)
	typ := EventType(ev.Type)
	if ev.Subject != "" {
		ref, err := ParseRef(ev.Subject)
		switch {
		case err != nil:
			f.problem("subject", "%v", err)
		case typ.Known() && ref.Type != typ.Aggregate():
			f.problem("subject", "a %s event belongs to a %s aggregate, not %q", ev.Type, typ.Aggregate(), ev.Subject)
		default:
			s.Ref = ref
		}
	}
	if v, ok := f.get("expectedversion", false); ok {
		n, err := parseExpectedVersion(v)
		if err != nil {
			f.problem("expectedversion", "must be a whole number of at least 0, not %s", v)
		} else {
			s.ExpectedVersion = &n
		}
	}
	data, hasData := eventData(f)
	ev.Extensions = f.extensions()
	f.done()

	if hasData && typ.Known() {
		p, dprobs := DecodeData(typ, data)
		probs = append(probs, dprobs...)
		s.Payload = p
		if p != nil {
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err == nil {
				ev.Data = buf.Bytes()
			}
		}
	}
	if len(probs) > 0 {
		return Submission{}, probs
	}
	return s, nil
}

// decodeCore reads the context attributes but subject's reference.
func decodeCore(f *fields, ev *Event, now time.Time) {
	ev.SpecVersion = f.text("specversion", true, 16)
	if ev.SpecVersion != "" && ev.SpecVersion != SpecVersion {
		f.problem("specversion", "%q is not supported; want \"1.0\"", ev.SpecVersion)
	}
	ev.ID = f.text("id", true, 1<<10)
	if ev.ID != "" {
		if err := CheckEventID(ev.ID); err != nil {
			f.problem("id", "%v", err)
		}
	}
	ev.Source = f.text("source", true, 1024)
	if ev.Source != "" {
		if err := checkURIReference(ev.Source); err != nil {
			f.problem("source", "%v", err)
		}
	}
	ev.Type = f.text("type", true, 128)
	if typ := EventType(ev.Type); ev.Type != "" && !typ.Known() {
		f.problem("type", "unknown event type %q; see the catalogue (society.registered, decision.proposed, ...)", ev.Type)
	}
	ev.Subject = f.text("subject", true, 256)
	if ts := f.text("time", true, 64); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		switch {
		case err != nil:
			f.problem("time", "%q is not an RFC 3339 timestamp (2021-05-01T09:30:00+08:00)", ts)
		case t.After(now.Add(ClockSkew)):
			f.problem("time", "%s is in the future (the ledger's clock says %s); record what has happened", ts, now.UTC().Format(time.RFC3339))
		default:
			ev.Time = t
		}
	}
	if ct := f.text("datacontenttype", false, 256); ct != "" {
		if err := CheckJSONMediaType(ct); err != nil {
			f.problem("datacontenttype", "%v", err)
		} else {
			ev.DataContentType = ct
		}
	}
	if ds := f.text("dataschema", false, 1024); ds != "" {
		if u, err := url.Parse(ds); err != nil || !u.IsAbs() || strings.ContainsAny(ds, " \t\r\n") {
			f.problem("dataschema", "%q is not an absolute URI (https://example.org/schemas/society.registered.json)", ds)
		} else {
			ev.DataSchema = ds
		}
	}
}

// eventData returns the event's data: the data member, or the JSON that
// data_base64 holds (what a client sends when it was given bytes).
func eventData(f *fields) (json.RawMessage, bool) {
	b64, hasB64 := f.get("data_base64", false)
	if !hasB64 {
		return f.get("data", true)
	}
	if _, both := f.get("data", false); both {
		f.problem("data_base64", "an event has data or data_base64, not both")
		return nil, false
	}
	var text string
	if err := json.Unmarshal(b64, &text); err != nil {
		f.problem("data_base64", "must be a base64 string, not %s", jsonKind(b64))
		return nil, false
	}
	data, err := base64.StdEncoding.DecodeString(text)
	if err != nil || !json.Valid(data) {
		f.problem("data_base64", "does not hold JSON in base64; data is a JSON object")
		return nil, false
	}
	return data, true
}

// parseExpectedVersion reads expectedversion as a JSON number or, as a
// CloudEvents integer may be written (and always is in binary mode), a
// string of digits.
func parseExpectedVersion(v json.RawMessage) (uint64, error) {
	text := string(bytes.TrimSpace(v))
	if len(text) > 0 && text[0] == '"' {
		if err := json.Unmarshal(v, &text); err != nil {
			return 0, err
		}
	}
	if text == "" || strings.TrimLeft(text, "0123456789") != "" {
		return 0, fmt.Errorf("not a whole number")
	}
	return strconv.ParseUint(text, 10, 63)
}

// CheckJSONMediaType returns nil if ct is a JSON media type the ledger
// takes as datacontenttype: application/json or any type with the +json
// suffix, with parameters, in UTF-8 if a charset is given.
func CheckJSONMediaType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%q is not a media type: %v", ct, err)
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return fmt.Errorf("%q is not supported; data is JSON (application/json, with parameters if need be)", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("charset %q is not supported; JSON is UTF-8", cs)
	}
	return nil
}

// checkURIReference accepts what CloudEvents' source may be: a non-empty
// URI-reference without spaces or control characters.
func checkURIReference(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%q is not a URI-reference (no spaces or control characters), e.g. /societies/hn-chem or https://example.org/sys", s)
		}
	}
	return nil
}
