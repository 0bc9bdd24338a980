package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/projections"
)

// TestAsOfFromSnapshots: the runner keeps snapshots along the log; "as of"
// a recorded moment starts from the latest one before it and equals a
// replay from the start.
func TestAsOfFromSnapshots(t *testing.T) {
	ctx := context.Background()
	l := newLog(t)
	for b := 0; b < 6; b++ {
		var batch []eventstore.Pending
		for i := 0; i < 500; i++ {
			subject := fmt.Sprintf("service_team/t%02d", (b*500+i)%40)
			typ, data := "service_team.service_delivered", delivery(1+i%4, 2, 10, 1, 0, 1, 0, "2021-06-01")
			if b == 0 && i < 40 {
				typ, data = "service_team.formed", `{"society_id":"hn-chem","industry":"i","title":"t"}`
			}
			batch = append(batch, eventstore.Pending{Submitter: "t", Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("b%d-%d", b, i), Source: "/t",
				Type: typ, Subject: subject, Time: time.Date(2021, 6, 1, 0, 0, 0, 0, domain.CST), Data: json.RawMessage(data)}})
		}
		res, err := l.store.Append(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		l.recs = append(l.recs, res.Records...)
	}
	dir := filepath.Join(t.TempDir(), "history")
	r := projections.NewRunner(l.store, nil, "")
	r.SnapshotEvery = 400
	r.KeepSnapshots(dir)
	if err := r.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	r.WaitSnapshots()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	// 3001 records in atomic batches of 500: a snapshot is taken between
	// batches (the views never hold part of one), the first time 400 or
	// more records have passed: after each batch.
	if len(files) != 6 {
		t.Fatalf("%d snapshots, want 6", len(files))
	}
	for _, k := range []int{10, 399, 400, 401, 1234, 2999, 3000} {
		// A batch becomes visible whole when its last record is stored:
		// as of a moment inside it, the views end before it.
		want := l.recs[k].Sequence
		if k%500 != 0 {
			want = l.recs[k/500*500].Sequence
		}
		at := l.recs[k].RecordedTime
		fast, err := r.AsOf(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := projections.Replay(ctx, l.store, at, projections.AxisRecorded)
		if err != nil {
			t.Fatal(err)
		}
		sameViews(t, fmt.Sprintf("as of record %d", k), renderAll(t, fast, clock2021), renderAll(t, slow, clock2021))
		if fast.Sequence != want {
			t.Fatalf("as of record %d: views at %d, want %d", k, fast.Sequence, want)
		}
	}
	// The snapshot is what as-of starts from: a tampered one shows through.
	snap := files[1] // sequence 1001, the latest before record 1300's batch ends
	tamper(t, snap, `"industry":"i"`, `"industry":"tampered"`)
	v, err := r.AsOf(ctx, l.recs[1300].RecordedTime)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.VolunteerServices().Teams[0].Industry; got != "tampered" {
		t.Fatalf("as of record 1300: industry %q; want the tampered snapshot's %q", got, "tampered")
	}
	// Snapshots of another log are not used.
	other := newLog(t)
	for i := 0; i < 3; i++ {
		other.add("society/s", "society.registered", reg("s", "society"))
	}
	fromOther, err := projections.ReplayWithSnapshots(ctx, other.store, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if fromOther.Sequence != other.recs[len(other.recs)-1].Sequence || len(fromOther.VolunteerServices().Teams) != 0 {
		t.Fatalf("another log's snapshot was used: %d", fromOther.Sequence)
	}
	_ = os.Remove(snap)
}
