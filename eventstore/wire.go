package eventstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"planledger/domain"
)

// HeaderRecordedTime carries the original recorded time of an imported
// record. A record without it was recorded when JetStream stored it: its
// recorded time is the stream's own timestamp, which JetStream assigns in
// sequence order (one timestamp for all messages of an atomic batch).
const HeaderRecordedTime = "Planledger-Recorded-Time"

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

// decodeRecord turns a stored message into a record and checks that the
// message is where its body says it belongs.
func decodeRecord(subj string, seq uint64, ts time.Time, hdr nats.Header, data []byte) (domain.Record, error) {
	rec, err := domain.DecodeRecordBody(data)
	if err != nil {
		return domain.Record{}, fmt.Errorf("sequence %d: body is not a ledger record: %w", seq, err)
	}
	ref, err := refFromSubject(subj)
	if err != nil {
		return domain.Record{}, fmt.Errorf("sequence %d: %w", seq, err)
	}
	if ref.String() != rec.Subject {
		return domain.Record{}, fmt.Errorf("sequence %d: stored on %s but its subject says %q", seq, subj, rec.Subject)
	}
	rec.Sequence, rec.RecordedTime = seq, ts.UTC()
	if v := hdr.Get(HeaderRecordedTime); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return domain.Record{}, fmt.Errorf("sequence %d: header %s: %w", seq, HeaderRecordedTime, err)
		}
		rec.RecordedTime = t.UTC()
	}
	return rec, nil
}
