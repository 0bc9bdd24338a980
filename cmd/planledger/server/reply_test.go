package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"planledger/domain"
)

// TestRecordRepliesAreWhatEncodingJSONWrites: the hand-assembled replies
// (one record, a batch) are byte for byte what encoding/json writes for
// the same records, over the golden lines (genuine records, extensions,
// foreign records, escapes).
func TestRecordRepliesAreWhatEncodingJSONWrites(t *testing.T) {
	files, err := filepath.Glob("../../../domain/testdata/lines/*.ndjson")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden lines: %v", err)
	}
	var recs []domain.Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var rec domain.Record
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			recs = append(recs, rec)
		}
	}
	want := func(v any) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, batch := range [][]domain.Record{nil, recs[:1], recs} {
		w := httptest.NewRecorder()
		writeBatch(w, 201, batch)
		expect := want(batch)
		if batch == nil {
			expect = "[]\n"
		}
		if got := w.Body.String(); got != expect {
			t.Errorf("batch of %d:\n got %s\nwant %s", len(batch), got, expect)
		}
		if ct := w.Header().Get("Content-Type"); ct != mediaBatch || w.Code != 201 {
			t.Errorf("batch: %d %s", w.Code, ct)
		}
	}
	for _, rec := range recs {
		w := httptest.NewRecorder()
		writeRecord(w, 200, rec)
		if got, expect := w.Body.String(), want(rec); got != expect {
			t.Errorf("record %d:\n got %s\nwant %s", rec.Sequence, got, expect)
		}
	}
}
