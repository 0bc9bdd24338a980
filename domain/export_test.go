package domain

// FastRecordBody exposes the fast path of DecodeRecordBody to the fuzz test.
func FastRecordBody(b []byte) (Record, bool) { return fastRecord(b, false) }

// FastRecordJSON exposes the fast path of Record.UnmarshalJSON.
func FastRecordJSON(b []byte) (Record, bool) { return fastRecord(b, true) }
