package domain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ForeignReason says why a record in the log is foreign.
type ForeignReason string

// Why a record is foreign. The list only grows.
const (
	// ForeignNoProof: the record carries no proof that this ledger wrote it.
	ForeignNoProof ForeignReason = "no_proof"
	// ForeignBadProof: its proof is not this ledger's proof of it.
	ForeignBadProof ForeignReason = "bad_proof"
	// ForeignUndecodable: it is not a ledger record.
	ForeignUndecodable ForeignReason = "undecodable"
	// ForeignWrongSubject: it is stored on a subject its body does not name.
	ForeignWrongSubject ForeignReason = "wrong_subject"
	// ForeignReplayed: a copy of a record its aggregate already holds
	// (its version is not the aggregate's next).
	ForeignReplayed ForeignReason = "replayed"
	// ForeignTornBatch: the ledger's own record, stored as part of an
	// all-or-nothing batch that the log holds only part of (the server's
	// disk filled, or it crashed, while it stored the batch). The batch
	// was never acknowledged, so none of it counts.
	ForeignTornBatch ForeignReason = "torn_batch"
)

// ForeignReasons lists every reason, for metrics.
var ForeignReasons = []ForeignReason{ForeignNoProof, ForeignBadProof, ForeignUndecodable, ForeignWrongSubject, ForeignReplayed, ForeignTornBatch}

// Foreign describes a message in the log that this ledger did not write,
// or a copy of one it did: it is never folded into a view, never counted,
// never part of an aggregate's history, and always reported. The log
// cannot be cleaned, so it stays, marked.
type Foreign struct {
	Reason ForeignReason
	// Detail says what exactly is wrong, for people.
	Detail string
	// Subject is the NATS subject it is stored on.
	Subject string
	// Header holds its headers as stored, but for the server's control
	// headers (Nats-*) and the recorded time, which the record carries.
	Header map[string][]string
	// Body is its body, byte for byte.
	Body []byte
}

// ForeignType is the CloudEvents type under which a foreign record is shown.
const ForeignType = "planledger.foreign_record"

// foreignEvent reads the form a foreign record is shown in (see
// AppendLine): a CloudEvent of the ledger's own, whose data holds the
// message exactly as stored.
type foreignEvent struct {
	Data struct {
		Reason      ForeignReason       `json:"reason"`
		NATSSubject string              `json:"nats_subject"`
		Headers     map[string][]string `json:"headers"`
		Body        json.RawMessage     `json:"body"`
		BodyBase64  *string             `json:"body_base64"`
	} `json:"data"`
	Sequence     uint64    `json:"sequence"`
	RecordedTime time.Time `json:"recordedtime"`
}

// foreignSource is the CloudEvents source of every foreign record.
const foreignSource = "/planledger/foreign"

// ForeignID is the CloudEvents id of the foreign record at seq.
func ForeignID(seq uint64) string { return "planledger-foreign-" + strconv.FormatUint(seq, 10) }

// MarshalJSON writes the record's line (AppendLine): a genuine record as
// the event plus its place in the log, a foreign one as a CloudEvent of
// type ForeignType with the extensions "foreign": true and
// "foreignreason".
func (r Record) MarshalJSON() ([]byte, error) {
	return AppendLine(nil, &r), nil
}

// UnmarshalJSON reads either form MarshalJSON writes.
func (r *Record) UnmarshalJSON(b []byte) error {
	if rec, ok := fastRecord(b, true); ok { // the usual genuine record
		*r = rec
		return nil
	}
	var probe struct {
		Foreign bool `json:"foreign"`
	}
	if bytes.Contains(b, []byte(`"foreign"`)) {
		if err := json.Unmarshal(b, &probe); err != nil {
			return err
		}
	}
	if !probe.Foreign {
		return r.unmarshalGenuine(b)
	}
	var fe foreignEvent
	if err := json.Unmarshal(b, &fe); err != nil {
		return err
	}
	body := []byte(fe.Data.Body)
	if fe.Data.BodyBase64 != nil {
		var err error
		if body, err = base64.StdEncoding.DecodeString(*fe.Data.BodyBase64); err != nil {
			return fmt.Errorf("foreign record %d: body_base64: %w", fe.Sequence, err)
		}
	}
	*r = Record{Sequence: fe.Sequence, RecordedTime: fe.RecordedTime, Foreign: &Foreign{Reason: fe.Data.Reason,
		Subject: fe.Data.NATSSubject, Header: fe.Data.Headers, Body: body}}
	return nil
}
