package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"planledger/domain"
	"planledger/eventstore"
)

// TestGroupCommit: 128 writers at once; their appends are gathered into
// shared atomic batches, every one lands exactly once with gap-free
// versions, each answer (sequence, version, recorded time) is what the log
// holds, and the log stays gap-free with recorded times in order.
func TestGroupCommit(t *testing.T) {
	s := openStore(t, eventstore.Config{DataDir: t.TempDir()})
	const writers, each = 128, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	var mu sync.Mutex
	answered := map[string]domain.Record{}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p := pending(fmt.Sprintf("project/w%03d", w), fmt.Sprintf("e%d", i), uint64(i))
				res, err := s.Append(context.Background(), []eventstore.Pending{p})
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				answered[p.Event.Subject+"@"+p.Event.ID] = res.Records[0]
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s.GroupedBatches() == 0 {
		t.Error("128 concurrent writers, and not one shared batch")
	}
	versions := map[string]uint64{}
	var prev domain.Record
	err := s.Each(context.Background(), 1, func(r domain.Record) error {
		if r.Sequence != prev.Sequence+1 || r.RecordedTime.Before(prev.RecordedTime) {
			return fmt.Errorf("record %d after %d (recorded %v after %v)", r.Sequence, prev.Sequence, r.RecordedTime, prev.RecordedTime)
		}
		if r.Version != versions[r.Subject]+1 {
			return fmt.Errorf("%s version %d after %d", r.Subject, r.Version, versions[r.Subject])
		}
		versions[r.Subject] = r.Version
		a := answered[r.Subject+"@"+r.ID]
		if a.Sequence != r.Sequence || a.Version != r.Version || !a.RecordedTime.Equal(r.RecordedTime) {
			return fmt.Errorf("%s %s answered at %d v%d recorded %v; stored at %d v%d recorded %v",
				r.Subject, r.ID, a.Sequence, a.Version, a.RecordedTime, r.Sequence, r.Version, r.RecordedTime)
		}
		prev = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if prev.Sequence != writers*each {
		t.Fatalf("%d records, want %d", prev.Sequence, writers*each)
	}
	t.Logf("%d shared batches", s.GroupedBatches())
}

// TestGroupCommitOffender: one append in a shared batch carries an
// expectation JetStream refuses (its process had a stale view); only it
// fails, every other append of the batch lands.
func TestGroupCommitOffender(t *testing.T) {
	b := embeddedBackend(t)
	s := b.open(t)
	peer := b.peer(t, s)
	ctx := context.Background()
	mustAppend(t, s, pending("society/x", "x1", 0))
	if v, err := peer.Version(ctx, domain.Ref{Type: domain.AggregateSociety, ID: "x"}); err != nil || v != 1 {
		t.Fatalf("peer version %d %v", v, err)
	}
	mustAppend(t, s, pending("society/x", "x2", 1)) // the peer does not know

	for round := 0; round < 5; round++ {
		if round > 0 {
			// Move x on behind the peer's back again.
			mustAppend(t, s, pending("society/x", fmt.Sprintf("x%d", round+2), uint64(round+1)))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				subj := fmt.Sprintf("project/r%d-w%02d", round, w)
				p := pending(subj, "e", 0)
				if w == 7 {
					subj = "society/x"
					p = pending(subj, fmt.Sprintf("stale-%d", round), uint64(round+1)) // right for the peer's view, wrong in fact
				}
				if _, err := peer.Append(ctx, []eventstore.Pending{p}); err != nil {
					mu.Lock()
					failed = append(failed, subj+": "+err.Error())
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(failed) != 1 || failed[0][:9] != "society/x" {
			t.Fatalf("round %d: failed %v; want only society/x", round, failed)
		}
	}
	if n := lastSeq(t, s); n != 2+4+5*63 {
		t.Fatalf("log has %d records, want %d", n, 2+4+5*63)
	}
	if peer.GroupedBatches() == 0 {
		t.Fatal("64 concurrent writers, and not one shared batch")
	}
}
