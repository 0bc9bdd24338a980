package domain

import "reflect"

// FastRecordBody exposes the fast path of DecodeRecordBody to the fuzz test.
func FastRecordBody(b []byte) (Record, bool) { return fastRecord(b, false) }

// FastRecordJSON exposes the fast path of Record.UnmarshalJSON.
func FastRecordJSON(b []byte) (Record, bool) { return fastRecord(b, true) }

// StoredFast runs the fast path of DecodeStored alone: planned is false
// for a type without a plan, ok whether the path took the data.
func StoredFast(t EventType, data []byte) (p Payload, planned, ok bool) {
	c := codecs[t]
	if c.fast == nil {
		return nil, false, false
	}
	p, ok = c.fast(data)
	return p, true, ok
}

// StoredSlow is DecodeStored on encoding/json alone.
func StoredSlow(t EventType, data []byte) (Payload, error) { return codecs[t].slow(data) }

// HasStoredPlan reports whether the fast path would read v's type.
func HasStoredPlan(v any) bool { return planStored(reflect.TypeOf(v)) != nil }
