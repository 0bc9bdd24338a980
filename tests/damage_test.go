package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/datadir"
	"planledger/cmd/planledger/server"
	"planledger/eventstore"
)

// A damaged log: what a disk that lost writes, or rotted a block, leaves.
// The ledger never reuses an acknowledged sequence, never runs writes on
// a log with a hole, and verify always ends with one clear finding.

// TestLostTailRefused: the appender child is killed with SIGKILL, then
// the block file loses its tail, below what the store's acknowledged mark
// recorded. The next start is refused, naming the lost range, instead of
// handing the lost sequences to new events; verify reports one finding.
func TestLostTailRefused(t *testing.T) {
	dir := t.TempDir()
	acked := map[string]ack{}
	if n := killAppender(t, dir, 0, 1000, time.Second, acked); n < 1000 {
		t.Fatalf("child stopped after %d acks", n)
	}
	a := openAuditNoCleanup(t, dir)
	marks, err := a.Marks(context.Background())
	a.Close()
	if err != nil || len(marks) != 1 || marks[0].Sequence < 500 {
		t.Fatalf("the acknowledged mark after a second of appends: %v, %v", marks, err)
	}
	mark := marks[0].Sequence
	cut := mark - 5
	truncateAt(t, streamBlocks(t, dir), cut)
	// The stream's own state file lost its last writes too (or was
	// rebuilt): only the blocks say where the log ends now, and nothing in
	// the stream remembers the lost sequences.
	if err := os.Remove(filepath.Join(dir, "jetstream", "$G", "streams", "PLANLEDGER", "msgs", "index.db")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}

	_, err = eventstore.Open(context.Background(), eventstore.Config{DataDir: dir})
	var lost *eventstore.LostError
	if !errors.As(err, &lost) || lost.Last != cut-1 || lost.Highest() != mark {
		t.Fatalf("open after the tail was lost: %v; want a LostError from %d to %d", err, cut, mark)
	}
	if want := fmt.Sprintf("acknowledged records %d-%d are lost", cut, mark); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	_, err = server.Open(context.Background(), server.Config{HTTPAddr: "127.0.0.1:0", Store: eventstore.Config{DataDir: dir}, TokensFile: writeTokens(t)})
	if !errors.As(err, &lost) {
		t.Fatalf("serve after the tail was lost: %v", err)
	}

	a = openAuditNoCleanup(t, dir)
	defer a.Close()
	rep := verifyLocal(t, a, "")
	wantFinding(t, rep, audit.CheckLost, cut, fmt.Sprintf("sequences %d-%d are lost", cut, mark))
	if countCheck(rep, audit.CheckLost) != 1 || countCheck(rep, audit.CheckGap) != 0 {
		t.Fatalf("findings %v; want the lost range once", rep.Findings)
	}
}

// TestVerifyNeverHangs: a stopped folder whose newest block lost its last
// 400 bytes still counts the lost record in its state. serve refuses, and
// verify ends at once with one finding instead of waiting for the record.
func TestVerifyNeverHangs(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, func(c *server.Config) { c.Store.DataDir = dir })
	fillSocieties(t, ts, 4, 10, 50)
	last := ts.logLength()
	ts.stop()

	recs := streamBlocks(t, dir)
	lastRec := recs[len(recs)-1]
	if err := os.Truncate(lastRec.file, lastRec.off+lastRec.len-400); err != nil {
		t.Fatal(err)
	}
	_, err := server.Open(context.Background(), ts.cfg)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(last)) {
		t.Fatalf("serve on a log that lost its last record: %v", err)
	}
	a := openAuditNoCleanup(t, dir)
	defer a.Close()
	done := make(chan *audit.Report, 1)
	go func() {
		in, err := audit.LocalInput(context.Background(), a, datadir.Dir(dir).ViewsCheckpoint(), time.Now())
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		rep, err := audit.Verify(context.Background(), in)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	select {
	case rep := <-done:
		if rep == nil {
			return
		}
		wantFinding(t, rep, audit.CheckLost, last, fmt.Sprintf("sequences %d-%d are lost", last, last))
		// The lost record ended a batch of 50: the rest of it is one
		// knock-on finding.
		wantFinding(t, rep, audit.CheckKnockOn, last-49, fmt.Sprintf("sequences %d-%d are the start of an atomic batch", last-49, last-1))
		if len(rep.Findings) != 2 {
			t.Fatalf("findings %v; want the lost tail and its batch", rep.Findings)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("verify did not end within 30 s on a log that lost its tail")
	}
}

// TestFlippedBytes: 16 bytes flipped in the body of a record in the middle
// of a block. The server passes over the record without a word and its
// state still counts it. A restart from the checkpoint finds the hole by
// reading the log back (the scrub): writes stop, readiness and the metric
// say why, an occurred-axis as_of says why; verify reports the hole and
// sums up its knock-on effects; and without a checkpoint serve refuses.
func TestFlippedBytes(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, func(c *server.Config) {
		c.Store.DataDir = dir
		c.Store.ScrubDelay = 50 * time.Millisecond
		c.Store.WatchInterval = 50 * time.Millisecond
	})
	fillSocieties(t, ts, 4, 20, 50)
	ts.stop()
	recs := streamBlocks(t, dir)
	victim := recs[len(recs)/2].seq
	flipBody(t, recs, victim, 16)

	ts.start()
	deadline := time.Now().Add(20 * time.Second)
	for len(ts.srv.Store().Damage()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hole was not found within 20 s")
		}
		time.Sleep(20 * time.Millisecond) // poll for the scrub
	}
	hole := fmt.Sprintf("sequences %d are missing", victim)
	r := ts.post(adminToken, register("after", "hn-after", "society"))
	if p := r.problem(t); r.status != 503 || !strings.Contains(p.Detail, hole) {
		t.Fatalf("append after the hole was found: %d %s", r.status, r.body)
	}
	r = ts.do("GET", "/readyz", "", "", nil)
	if p := r.problem(t); r.status != 503 || !strings.Contains(p.Detail, hole) {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	if m := ts.do("GET", "/metrics", "", "", nil); !strings.Contains(string(m.body), "planledger_log_missing_records 1") {
		t.Fatal("the metric does not count the missing record")
	}
	r = ts.do("GET", "/v1/views/programs?as_of=2030-01-01T00:00:00Z&axis=occurred", auditToken, "", nil)
	if p := r.problem(t); r.status != 503 || !strings.Contains(p.Detail, hole) {
		t.Fatalf("occurred-axis as_of over the hole: %d %s", r.status, r.body)
	}
	ts.stop()

	a := openAuditNoCleanup(t, dir)
	rep := verifyLocal(t, a, datadir.Dir(dir).ViewsCheckpoint())
	a.Close()
	wantFinding(t, rep, audit.CheckGap, victim+1, hole)
	wantFinding(t, rep, audit.CheckKnockOn, 0, "later records of this aggregate are not checked")
	if len(rep.Findings) > 3 {
		t.Fatalf("%d findings for one lost record: %v", len(rep.Findings), rep.Findings)
	}

	if err := os.Remove(datadir.Dir(dir).ViewsCheckpoint()); err != nil {
		t.Fatal(err)
	}
	_, err := server.Open(context.Background(), ts.cfg)
	if err == nil || !strings.Contains(err.Error(), hole) {
		t.Fatalf("serve without a checkpoint over the hole: %v", err)
	}
}

// fillSocieties registers n societies and posts batches of per party
// history activities spread over them.
func fillSocieties(t *testing.T, ts *testServer, n, batches, per int) {
	t.Helper()
	var regs []string
	for i := 0; i < n; i++ {
		regs = append(regs, register(fmt.Sprintf("reg-%d", i), fmt.Sprintf("hn-d%d", i), "society"))
	}
	ts.mustPost(adminToken, regs...)
	for b := 0; b < batches; b++ {
		var evs []string
		for i := 0; i < per; i++ {
			evs = append(evs, ev(fmt.Sprintf("act-%d-%d", b, i), "society.party_history_activity_held", fmt.Sprintf("society/hn-d%d", i%n),
				`{"title":"t","participants":3,"held_on":"2021-04-30"}`))
		}
		ts.mustPost(adminToken, evs...)
	}
}

func openAuditNoCleanup(t *testing.T, dir string) *eventstore.Store {
	t.Helper()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func countCheck(rep *audit.Report, check string) int {
	n := 0
	for _, f := range rep.Findings {
		if f.Check == check {
			n++
		}
	}
	return n
}
