package projections

import (
	"slices"

	"planledger/domain"
)

// maxLatestForeign is how many of the latest foreign records the views
// name; the counts cover them all.
const maxLatestForeign = 100

// ForeignRecords is what the views have met of records that are not the
// ledger's: counted, the latest named, none folded. A log cannot be
// cleaned, so this only grows.
type ForeignRecords struct {
	// Counts are per reason.
	Counts map[domain.ForeignReason]uint64 `json:"counts"`
	// Latest are the most recent, oldest first.
	Latest []ForeignEntry `json:"latest"`
}

// ForeignEntry names one foreign record.
type ForeignEntry struct {
	Sequence uint64               `json:"sequence"`
	Reason   domain.ForeignReason `json:"reason"`
	Subject  string               `json:"nats_subject"`
	Detail   string               `json:"detail"`
}

// Total is how many foreign records there are.
func (f *ForeignRecords) Total() uint64 {
	var n uint64
	for _, c := range f.Counts {
		n += c
	}
	return n
}

func (f *ForeignRecords) note(rec *domain.Record) {
	if f.Counts == nil {
		f.Counts = map[domain.ForeignReason]uint64{}
	}
	fr := rec.Foreign
	f.Counts[fr.Reason]++
	if len(f.Latest) == maxLatestForeign {
		f.Latest = slices.Delete(f.Latest, 0, 1)
	}
	f.Latest = append(f.Latest, ForeignEntry{Sequence: rec.Sequence, Reason: fr.Reason, Subject: fr.Subject, Detail: fr.Detail})
}

// clone copies what a reader may keep.
func (f *ForeignRecords) clone() ForeignRecords {
	c := ForeignRecords{Counts: make(map[domain.ForeignReason]uint64, len(f.Counts)), Latest: slices.Clone(f.Latest)}
	for k, v := range f.Counts {
		c.Counts[k] = v
	}
	return c
}
