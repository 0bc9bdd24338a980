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
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject"`
	Time        time.Time       `json:"time"`
	Data        json.RawMessage `json:"data"`
}

// Ref returns the aggregate the event's subject names.
func (e *Event) Ref() (Ref, error) { return ParseRef(e.Subject) }

// SameContent reports whether two events with the same id say the same
// thing: the same source, type, subject, instant and data. Data is compared
// as JSON values, so member order and white space do not matter.
func (e *Event) SameContent(o *Event) bool {
	if e.ID != o.ID || e.Source != o.Source || e.Type != o.Type || e.Subject != o.Subject || !e.Time.Equal(o.Time) {
		return false
	}
	a, errA := CanonicalJSON(e.Data)
	b, errB := CanonicalJSON(o.Data)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// Record is an event as the ledger stored it.
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
