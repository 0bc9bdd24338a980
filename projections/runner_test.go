package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/projections"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runner(t *testing.T, s *eventstore.Store, path string) (*projections.Runner, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	r := projections.NewRunner(s, slog.New(slog.NewTextHandler(buf, nil)), path)
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, buf
}

func rendered(t *testing.T, r *projections.Runner) map[string]string {
	t.Helper()
	var out map[string]string
	r.Read(func(v *projections.Views) { out = renderAll(t, v, clock2021) })
	return out
}

func TestRunnerResumesFromCheckpoint(t *testing.T) {
	ctx := context.Background()
	l := knownHistory(t)
	path := filepath.Join(t.TempDir(), "views.json.gz")
	r1, _ := runner(t, l.store, path)
	if err := r1.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r1.SaveCheckpoint(); err != nil {
		t.Fatal(err)
	}
	saved := r1.Sequence()
	// More history after the checkpoint, a retraction of an event before it
	// among them.
	p5done := l.recs[len(l.recs)-1].ID // the last event of knownHistory
	l.add("project/p6", "project.registered", `{"program":"award","title":"p6","lead_society":"hn-chem"}`)
	l.retract("project/p5", p5done)
	l.add("society/hn-bio", "society.party_organization_established", branch)

	r2, logs := runner(t, l.store, path)
	if r2.Sequence() != saved || r2.Applied() != 0 {
		t.Fatalf("resumed at %d having applied %d; want %d and 0\n%s", r2.Sequence(), r2.Applied(), saved, logs)
	}
	if err := r2.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if r2.Applied() != 3 {
		t.Fatalf("applied %d records after the checkpoint, want 3 (the tail only)", r2.Applied())
	}
	sameViews(t, "resumed", rendered(t, r2), renderAll(t, l.replay(), clock2021))
	var cov projections.PartyCoverageView
	r2.Read(func(v *projections.Views) { cov = v.PartyCoverage() })
	if cov.WithPartyOrganization != 2 {
		t.Fatalf("coverage after resume %+v", cov)
	}
}

func TestCheckpointThatDoesNotMatchIsDiscarded(t *testing.T) {
	ctx := context.Background()
	long := knownHistory(t)
	path := filepath.Join(t.TempDir(), "views.json.gz")
	r, _ := runner(t, long.store, path)
	if err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveCheckpoint(); err != nil {
		t.Fatal(err)
	}
	checkpoint, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		log  func() *ledgerLog
		file []byte
		why  string
	}{
		{"a shorter log", func() *ledgerLog { return newLog(t) }, checkpoint, "but the log ends at"},
		{"another stream of the same length", func() *ledgerLog { return knownHistory(t) }, checkpoint, "stream created"},
		{"an unreadable file", func() *ledgerLog { return knownHistory(t) }, []byte("not gzip"), "checkpoint unreadable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.log()
			p := filepath.Join(t.TempDir(), "views.json.gz")
			if err := os.WriteFile(p, c.file, 0o600); err != nil {
				t.Fatal(err)
			}
			r, logs := runner(t, l.store, p)
			if r.Sequence() != 0 || !strings.Contains(logs.String(), c.why) {
				t.Fatalf("resumed at %d; log:\n%s\nwant a discard saying %q", r.Sequence(), logs, c.why)
			}
			if err := r.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			sameViews(t, "rebuilt", rendered(t, r), renderAll(t, l.replay(), clock2021))
		})
	}
}

// TestRunnerFollowsAndWaits: the live runner applies appends as they land;
// WaitFor returns once the views reflect a sequence, and gives up with an
// "unavailable" error when they do not get there in time.
func TestRunnerFollowsAndWaits(t *testing.T) {
	l := newLog(t)
	path := filepath.Join(t.TempDir(), "views.json.gz")
	r, _ := runner(t, l.store, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	l.add("society/hn-a", "society.registered", reg("a", "society"))
	seq := l.recs[len(l.recs)-1].Sequence
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := r.WaitFor(wctx, seq); err != nil {
		t.Fatal(err)
	}
	var cov projections.PartyCoverageView
	r.Read(func(v *projections.Views) { cov = v.PartyCoverage() })
	if cov.Societies != 1 || cov.Sequence != seq {
		t.Fatalf("coverage %+v at %d", cov, seq)
	}
	short, scancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer scancel()
	if err := r.WaitFor(short, seq+100); !domain.IsKind(err, domain.KindUnavailable) {
		t.Fatalf("WaitFor a sequence not in the log: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no checkpoint after Run stopped: %v", err)
	}
}

// TestResumeWith100000Events: a runner restarted on a log of 100,000
// events resumes from its checkpoint, reads only the tail, and gives the
// same views as a full replay.
func TestResumeWith100000Events(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 events")
	}
	ctx := context.Background()
	l := newLog(t)
	const teams, perTeam = 100, 999
	for tm := 0; tm < teams; tm++ {
		subject := fmt.Sprintf("service_team/t%03d", tm)
		batch := make([]eventstore.Pending, 0, perTeam+1)
		for i := 0; i <= perTeam; i++ {
			typ, data := "service_team.service_delivered", delivery(1+i%5, 2, 10, i%3, 0, 1, 0, "2021-06-01")
			if i == 0 {
				typ, data = "service_team.formed", `{"society_id":"hn-chem","industry":"i","title":"t"}`
			}
			batch = append(batch, eventstore.Pending{Submitter: "bulk", Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", i), Source: "/bulk",
				Type: typ, Subject: subject, Time: time.Date(2021, 6, 1, 0, 0, 0, 0, domain.CST), Data: json.RawMessage(data)}})
		}
		if _, err := l.store.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "views.json.gz")
	r1, _ := runner(t, l.store, path)
	if err := r1.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if r1.Sequence() != 1+teams*(perTeam+1) {
		t.Fatalf("views at %d", r1.Sequence())
	}
	if err := r1.SaveCheckpoint(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		l.add("service_team/t007", "service_team.service_delivered", delivery(1, 1, 1, 1, 1, 1, 1, "2021-07-01"))
	}
	r2, _ := runner(t, l.store, path)
	if err := r2.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if r2.Applied() != 5 {
		t.Fatalf("the restarted runner applied %d records; want the 5 of the tail", r2.Applied())
	}
	if err := r1.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	sameViews(t, "resumed on 100,000 events", rendered(t, r2), rendered(t, r1))
	var vs projections.VolunteerServicesView
	r2.Read(func(v *projections.Views) { vs = v.VolunteerServices() })
	if vs.Totals.Deliveries != teams*perTeam+5 {
		t.Fatalf("deliveries %d", vs.Totals.Deliveries)
	}
}
