package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// SpecVersion is the only CloudEvents version the ledger takes.
const SpecVersion = "1.0"

// MaxEventIDLen is the longest event id, in bytes.
const MaxEventIDLen = 128

// Event is a CloudEvents 1.0 event as a submitter sent it: the envelope and
// the type's payload in Data, kept as the JSON it arrived as.
type Event struct {
	SpecVersion string    `json:"specversion"`
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	Type        string    `json:"type"`
	Subject     string    `json:"subject"`
	Time        time.Time `json:"time"`
	// DataContentType is the media type the submitter gave data, if any
	// ("application/json; charset=utf-8"); data is always JSON.
	DataContentType string `json:"datacontenttype,omitempty"`
	// DataSchema is the URI of a schema the submitter says data follows.
	DataSchema string          `json:"dataschema,omitempty"`
	Data       json.RawMessage `json:"data"`
	// Extensions are the extension attributes, kept as sent. In JSON they
	// are members of the event object, after data.
	Extensions Extensions `json:"-"`
}

// eventFields is an Event without its methods, for encoding/json.
type eventFields Event

// MarshalJSON writes the event as a CloudEvent in the JSON format,
// extensions included, as it opens its record's line (AppendLine).
func (e Event) MarshalJSON() ([]byte, error) {
	return append(appendEventMembers(make([]byte, 0, 256+len(e.Data)), &e), '}'), nil
}

// UnmarshalJSON reads a CloudEvent in the JSON format. Members that are
// not attributes of the event (nor of a record) and have an extension's
// name are its extensions.
func (e *Event) UnmarshalJSON(b []byte) error {
	var f eventFields
	x, err := decodeWithExtensions(b, &f)
	if err != nil {
		return err
	}
	*e = Event(f)
	e.Extensions = x
	return nil
}

// decodeWithExtensions decodes the object b into fields and returns its
// extensions.
func decodeWithExtensions(b []byte, fields any) (Extensions, error) {
	if err := json.Unmarshal(b, fields); err != nil {
		return nil, err
	}
	return extensionsOf(b)
}

// Ref returns the aggregate the event's subject names.
func (e *Event) Ref() (Ref, error) { return ParseRef(e.Subject) }

// SameContent reports whether two events with the same id say the same
// thing: the same source, type, subject, instant, data schema and data.
// Data is compared as JSON values, so member order and white space do not
// matter. Extensions do not count: a retry through tracing middleware
// carries a new traceparent, and is still the same event.
func (e *Event) SameContent(o *Event) bool {
	if e.ID != o.ID || e.Source != o.Source || e.Type != o.Type || e.Subject != o.Subject || !e.Time.Equal(o.Time) || e.DataSchema != o.DataSchema {
		return false
	}
	a, errA := CanonicalJSON(e.Data)
	b, errB := CanonicalJSON(o.Data)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// Record is an event as the ledger stored it. In JSON it is a CloudEvent
// whose extensions are the event's own and the record's attributes below.
type Record struct {
	Event
	// Sequence is the record's position in the whole log, from 1, gap-free.
	Sequence uint64 `json:"sequence"`
	// Version is the record's position in its aggregate, from 1, gap-free.
	Version uint64 `json:"version"`
	// RecordedTime is when the ledger stored the record.
	RecordedTime time.Time `json:"recordedtime"`
	// Submitter is the authenticated principal that posted it.
	Submitter string `json:"submitter"`
	// MAC is the proof that this ledger wrote the record, as stored with
	// it; empty on records older than proofs.
	MAC string `json:"recordmac,omitempty"`
	// Foreign, if not nil, says that the record is not this ledger's:
	// Sequence and RecordedTime hold, and the other fields are empty but
	// for a copy of a ledger record (ForeignReplayed), where they say
	// what was copied.
	Foreign *Foreign `json:"-"`
	// Batch, if not nil, places the record in the all-or-nothing batch
	// that stored it: a reader of the log holds a batch's records until
	// its last one, and a batch the log holds only part of counts nowhere.
	Batch *BatchMember `json:"-"`
}

// BatchMember is a record's place in the batch that stored it.
type BatchMember struct {
	// ID names the batch.
	ID string
	// Index is the record's place in it, from 1; Size the batch's length
	// (0 when the log does not say).
	Index, Size uint64
	// Last is set on the record that completes the batch.
	Last bool
}

// recordFields is a Record's JSON as encoding/json reads it, extensions
// aside: the event's members and the record's.
type recordFields struct {
	eventFields
	Sequence     uint64    `json:"sequence"`
	Version      uint64    `json:"version"`
	RecordedTime time.Time `json:"recordedtime"`
	Submitter    string    `json:"submitter"`
	MAC          string    `json:"recordmac"`
}

// unmarshalGenuine reads a genuine record's line: the usual one in one
// pass (as DecodeRecordBody reads a body), anything else as encoding/json
// does.
func (r *Record) unmarshalGenuine(b []byte) error {
	if rec, ok := fastRecord(b, true); ok {
		*r = rec
		return nil
	}
	var f recordFields
	x, err := decodeWithExtensions(b, &f)
	if err != nil {
		return err
	}
	*r = Record{Event: Event(f.eventFields), Sequence: f.Sequence, Version: f.Version, RecordedTime: f.RecordedTime, Submitter: f.Submitter, MAC: f.MAC}
	r.Extensions = x
	return nil
}

// CheckEventID returns nil if id is 1 to 128 bytes of printable ASCII.
func CheckEventID(id string) error {
	if id == "" {
		return fmt.Errorf("id is empty; want 1 to %d printable ASCII characters", MaxEventIDLen)
	}
	if len(id) > MaxEventIDLen {
		return fmt.Errorf("id is %d bytes long; at most %d", len(id), MaxEventIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return fmt.Errorf("id has byte 0x%02x at %d; only printable ASCII (0x20-0x7e) is allowed", id[i], i)
		}
	}
	return nil
}

// CanonicalJSON re-encodes a JSON value with object members sorted and no
// white space; numbers keep their exact text.
func CanonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return json.Marshal(v)
}
