package eventstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"planledger/domain"
	"planledger/eventstore/logkey"
)

// HeaderRecordedTime carries the original recorded time of an imported
// record. A record without it was recorded when JetStream stored it: its
// recorded time is the stream's own timestamp, which JetStream assigns in
// sequence order (one timestamp for all messages of an atomic batch).
const HeaderRecordedTime = "Planledger-Recorded-Time"

// HeaderMAC carries a record's proof that this ledger wrote it: the log
// key's HMAC of its subject and body (see logkey.Key.Seal).
const HeaderMAC = "Planledger-Mac"

// Subject returns the NATS subject of an aggregate's events.
func Subject(ref domain.Ref) string {
	return SubjectPrefix + "." + string(ref.Type) + "." + ref.ID
}

// refFromSubject inverts Subject.
func refFromSubject(subj string) (domain.Ref, error) {
	rest, ok := strings.CutPrefix(subj, SubjectPrefix+".")
	if !ok {
		return domain.Ref{}, fmt.Errorf("subject %q is outside %s.>", subj, SubjectPrefix)
	}
	typ, id, ok := strings.Cut(rest, ".")
	if !ok {
		return domain.Ref{}, fmt.Errorf("subject %q has no aggregate id", subj)
	}
	return domain.ParseRef(typ + "/" + id)
}

// msgID is the Nats-Msg-Id of an event: unique per aggregate and event id.
// A subject never holds a space, so the first space splits it unambiguously.
func msgID(subject, id string) string { return subject + " " + id }

// encodeRecord is a message body: the event as submitted, its version and
// its submitter, as readable JSON for `nats stream view` (the format is
// domain's record body). The sequence and the recorded time are the
// stream's.
func encodeRecord(ev *domain.Event, version uint64, submitter string) ([]byte, error) {
	return domain.EncodeRecordBody(ev, version, submitter)
}

// codec turns stored messages into records. With a key, a record is this
// ledger's only if it carries the key's proof (or lies in the range the
// key's file says predates proofs); without one, proofs are not checked
// (a read-only look at a log that predates them).
type codec struct {
	key *logkey.Key
}

// decode turns a stored message into a record. A message that is not
// this ledger's record comes back as a record with Foreign set: a log is
// read past whatever it holds, never stopped by it.
func (c codec) decode(subj string, seq uint64, ts time.Time, hdr nats.Header, data []byte) domain.Record {
	rec := domain.Record{Sequence: seq, RecordedTime: ts.UTC()}
	recorded, timeErr := recordedTime(hdr)
	if timeErr == nil && !recorded.IsZero() {
		rec.RecordedTime = recorded
	}
	foreign := func(reason domain.ForeignReason, format string, args ...any) domain.Record {
		rec.Foreign = &domain.Foreign{Reason: reason, Detail: fmt.Sprintf(format, args...), Subject: subj, Header: shownHeader(hdr), Body: data}
		rec.Batch = batchMember(hdr) // a batch that holds it holds it whole, or not
		return rec
	}
	// What the message is comes before whose it is: junk is reported as
	// junk, a record on the wrong subject as that, whatever its proof.
	if timeErr != nil {
		return foreign(domain.ForeignUndecodable, "sequence %d: %v", seq, timeErr)
	}
	body, err := domain.DecodeRecordBody(data)
	if err == nil && (body.ID == "" || body.Type == "" || body.Subject == "" || body.Version == 0) {
		err = errors.New("it lacks an id, a type, a subject or a version")
	}
	if err != nil {
		return foreign(domain.ForeignUndecodable, "sequence %d: the body is not a ledger record: %v", seq, err)
	}
	ref, err := refFromSubject(subj)
	if err != nil {
		return foreign(domain.ForeignWrongSubject, "sequence %d: %v", seq, err)
	}
	if ref.String() != body.Subject {
		return foreign(domain.ForeignWrongSubject, "sequence %d is stored on %s but its subject says %q", seq, subj, body.Subject)
	}
	mac := hdr.Get(HeaderMAC)
	if c.key != nil {
		switch {
		case mac == "" && seq > c.key.LegacyThrough:
			return foreign(domain.ForeignNoProof, "sequence %d (%s %q, submitter %q) carries no %s header: this ledger did not write it", seq, body.Subject, body.ID, body.Submitter, HeaderMAC)
		case mac != "" && !c.key.Check(subj, data, mac):
			return foreign(domain.ForeignBadProof, "sequence %d (%s %q, submitter %q): its %s is not the proof this ledger's key gives its subject and body", seq, body.Subject, body.ID, body.Submitter, HeaderMAC)
		}
	}
	body.Sequence, body.RecordedTime, body.MAC = seq, rec.RecordedTime, mac
	body.Batch = batchMember(hdr)
	return body
}

// recordedTime reads HeaderRecordedTime: zero if absent.
func recordedTime(hdr nats.Header) (time.Time, error) {
	v := hdr.Get(HeaderRecordedTime)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("header %s %q is not an RFC 3339 time", HeaderRecordedTime, v)
	}
	return t.UTC(), nil
}

// shownHeader is what a foreign record shows of its headers: not the
// server's control headers (Nats-*: instructions to JetStream, which an
// import must not give again) and not the recorded time, which the record
// carries as its own.
func shownHeader(hdr nats.Header) map[string][]string {
	var out map[string][]string
	for k, v := range hdr {
		if strings.HasPrefix(k, "Nats-") || k == HeaderRecordedTime {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = v
	}
	return out
}

// MarkReplayed turns rec, which decodes as the ledger's record but does
// not continue its aggregate, into the foreign record it is: a copy
// republished behind the ledger's back. Its message is what the record
// says, byte for byte: a record body encodes to exactly the bytes it was
// read from. The record's fields stay, for whoever wants to see what was
// copied.
func MarkReplayed(rec *domain.Record) {
	subject, hdr, body := StoredForm(rec)
	rec.Foreign = &domain.Foreign{Reason: domain.ForeignReplayed, Subject: subject, Header: hdr, Body: body,
		Detail: fmt.Sprintf("sequence %d: %s %q claims version %d, which is not its aggregate's next: a copy of a stored record, or one out of order", rec.Sequence, rec.Subject, rec.ID, rec.Version)}
}

// StoredForm is the message a ledger record is stored as: its subject,
// the headers a reader sees (its proof) and its body, byte for byte.
func StoredForm(rec *domain.Record) (subject string, header map[string][]string, body []byte) {
	ref, _ := domain.ParseRef(rec.Subject) // decoding checked it
	body, _ = encodeRecord(&rec.Event, rec.Version, rec.Submitter)
	if rec.MAC != "" {
		header = map[string][]string{HeaderMAC: {rec.MAC}}
	}
	return Subject(ref), header, body
}

// Versions follows each aggregate's version along the log, to tell a
// record that continues its aggregate from one that does not.
type Versions map[string]uint64

// Next reports whether rec is its aggregate's next record, and counts it
// if so; otherwise it marks rec as replayed. Foreign records are passed
// over.
func (v Versions) Next(rec *domain.Record) bool {
	if rec.Foreign != nil {
		return false
	}
	have := v[rec.Subject]
	if rec.Version != have+1 {
		MarkReplayed(rec)
		return false
	}
	v[rec.Subject] = have + 1
	return true
}
