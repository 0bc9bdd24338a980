package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
// data. Attributes other than specversion, id, source, type, subject,
// time, data, datacontenttype and expectedversion are refused rather than
// silently dropped. now is the ledger's clock: a business time later than now plus
// ClockSkew is refused. Problems point into the event object ("/data/x");
// a caller decoding a batch prefixes them with the event's index.
func DecodeEvent(raw json.RawMessage, now time.Time) (Submission, []Problem) {
	var probs []Problem
	f := readObject(raw, "", &probs)
	if f.m == nil {
		return Submission{}, probs
	}
	var s Submission
	ev := &s.Event

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
	typ := EventType(ev.Type)
	if ev.Type != "" && !typ.Known() {
		f.problem("type", "unknown event type %q; see the catalogue (society.registered, decision.proposed, ...)", ev.Type)
	}
	ev.Subject = f.text("subject", true, 256)
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
	if ct := f.text("datacontenttype", false, 128); ct != "" && ct != "application/json" {
		f.problem("datacontenttype", "%q is not supported; data is application/json", ct)
	}
	if v, ok := f.get("expectedversion", false); ok {
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 63)
		if err != nil {
			f.problem("expectedversion", "must be a whole number of at least 0, not %s", v)
		} else {
			s.ExpectedVersion = &n
		}
	}
	data, hasData := f.get("data", true)
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
