package ledger

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

// Every test stops the servers and goroutines it starts.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// society is the aggregate society/ref-soc with n events, applied as the
// log would hold them.
func society(t *testing.T, id string, n int) *domain.Aggregate {
	t.Helper()
	ref := domain.Ref{Type: domain.AggregateSociety, ID: id}
	a := domain.NewAggregate(ref)
	for i := 0; i < n; i++ {
		typ, data := "society.party_history_activity_held", `{"title":"t","participants":3,"held_on":"2021-04-30"}`
		if i == 0 {
			typ, data = "society.registered", `{"name":"n","kind":"society"}`
		}
		rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprint(i), Source: "/t", Type: typ, Subject: ref.String(),
			Time: time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(data)},
			Sequence: uint64(i + 1), Version: uint64(i + 1), RecordedTime: time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC), Submitter: "s"}
		if err := a.Apply(&rec); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// TestAggCacheBoundsEvents: besides the number of aggregates, the cache
// bounds the events they hold, evicting the least recently used.
func TestAggCacheBoundsEvents(t *testing.T) {
	c := newAggCache(100, 10)
	fill := func(id string, n int) {
		a := society(t, id, n)
		es, err := c.Lock(context.Background(), []domain.Ref{a.Ref})
		if err != nil {
			t.Fatal(err)
		}
		es[0].Value.agg = a
		c.Unlock(es)
	}
	fill("a", 6)
	fill("b", 6) // 12 events: over the bound once the next lock evicts
	fill("c", 1)
	if c.Len() != 2 {
		t.Fatalf("cache holds %d aggregates; want 2 (b and c, 7 events)", c.Len())
	}
	es, _ := c.Lock(context.Background(), []domain.Ref{{Type: domain.AggregateSociety, ID: "a"}})
	defer c.Unlock(es)
	if es[0].Value.agg != nil {
		t.Fatal("the least recently used aggregate was kept past the event bound")
	}
}

// goldenSnapshot is the snapshot file of a fixed aggregate, its ids in
// sequence order (the aggregate keeps them in a map).
func goldenSnapshot(t *testing.T) snapshotFile {
	t.Helper()
	snap, err := society(t, "golden", 3).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(snap.IDs, func(a, b domain.IDSeq) int { return int(a.Seq) - int(b.Seq) })
	return snapshotFile{Format: SnapshotFormat, Stream: "PLANLEDGER", StreamCreated: time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC), Aggregate: snap}
}

// TestSnapshotGolden freezes the snapshot files' format: a change to
// their JSON (domain.Snapshot's, or a state struct's fields) fails here
// until SnapshotFormat is bumped and the new format's file written with
// -update, so a file of the old format is rebuilt, never half-read.
func TestSnapshotGolden(t *testing.T) {
	path := filepath.Join("testdata", fmt.Sprintf("snapshot.v%d.json", SnapshotFormat))
	var got bytes.Buffer
	if err := encodeSnapshot(&got, goldenSnapshot(t)); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (a new SnapshotFormat needs its file: go test -run TestSnapshotGolden -update)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("the snapshot file's JSON changed: bump SnapshotFormat and run with -update\ngot  %s\nwant %s", got.Bytes(), want)
	}
	f, err := decodeSnapshot(want)
	if err != nil {
		t.Fatalf("the golden file does not decode: %v", err)
	}
	a, err := domain.Restore(f.Aggregate.Summary.Ref, f.Aggregate)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != 3 || a.LastSequence() != 3 || !a.Has("2") || !a.Exists() {
		t.Fatalf("the golden file restores version %d, last sequence %d, has id 2 %v, exists %v; want 3, 3, true, true", a.Version(), a.LastSequence(), a.Has("2"), a.Exists())
	}
}

// TestSnapshotOfAnotherFormatIsRebuilt: a snapshot file of another
// format, or of this one with a field it does not have, is passed over
// (the aggregate is read from the log) and never read in part.
func TestSnapshotOfAnotherFormatIsRebuilt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := eventstore.Open(ctx, eventstore.Config{DataDir: filepath.Join(dir, "store"), Key: eventstoretest.Key()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l := New(store, Config{SnapshotDir: filepath.Join(dir, "snapshots")})
	defer l.Close()
	ref := domain.Ref{Type: domain.AggregateSociety, ID: "fmt"}
	submit(t, l, "r1", `"type":"society.registered","data":{"name":"n","kind":"society"}`)
	good, err := society(t, "fmt", 1).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.StreamInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.ReadAggregate(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	good.LastSequence, good.LastID = recs[0].Sequence, recs[0].ID
	file := snapshotFile{Format: SnapshotFormat, Stream: info.Config.Name, StreamCreated: info.Created, Aggregate: good}
	for _, tc := range []struct {
		name, edit, wantErr string
	}{
		{"this format", "", ""},
		{"a later format", `{"format":2,`, "format 2; this version reads format 1"},
		{"no format", `{"format":0,`, "format 0; this version reads format 1"},
		{"a field this format does not have", `{"format":1,"renamed_field":1,`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := encodeSnapshot(&b, file); err != nil {
				t.Fatal(err)
			}
			raw := b.String()
			if tc.edit != "" {
				raw = tc.edit + strings.TrimPrefix(raw, `{"format":1,`)
			}
			writeGzip(t, l.snaps.path(ref), raw)
			_, err := l.snaps.read(ctx, ref)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("read: %v; want an error saying %q", err, tc.wantErr)
			}
			// A ledger that starts afresh decides on the log either way.
			fresh := New(store, Config{SnapshotDir: l.snaps.dir})
			defer fresh.Close()
			res := submit(t, fresh, "r-"+strings.ReplaceAll(tc.name, " ", "-"), `"type":"society.party_history_activity_held","data":{"title":"t","participants":3,"held_on":"2021-04-30"}`)
			if v := res.Records[0].Version; v != recs[0].Version+1 {
				t.Fatalf("appended at version %d; want %d", v, recs[0].Version+1)
			}
			recs, _ = store.ReadAggregate(ctx, ref)
			recs = recs[len(recs)-1:]
		})
	}
}

// submit appends one event of society/fmt (its type and data in attrs) as
// an admin.
func submit(t *testing.T, l *Ledger, id, attrs string) eventstore.Result {
	t.Helper()
	raw := `{"specversion":"1.0","id":"` + id + `","source":"/t","subject":"society/fmt","time":"2021-05-01T00:00:00Z",` + attrs + `}`
	sub, probs := domain.DecodeEvent([]byte(raw), time.Now())
	if len(probs) > 0 {
		t.Fatalf("decode: %v", probs)
	}
	res, err := l.Submit(context.Background(), Request{Submitter: "admin", Scope: anyone{}, Events: []domain.Submission{sub}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// anyone may write anything.
type anyone struct{}

func (anyone) MayWrite(domain.Ref, string) error { return nil }

func writeGzip(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
