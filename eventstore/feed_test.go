package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"planledger/domain"
)

// TestFeed: followers of the log get every record once and in order,
// whether they start behind the feed (they read the gap), keep up, or
// fall so far behind that the feed cuts them off (they read again from
// where they were); and once they are caught up, the stream serves one
// consumer only, the store's own.
func TestFeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Open(ctx, Config{DataDir: t.TempDir(), CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN := func(from, n int) {
		for i := from; i < from+n; {
			var batch []Pending
			for ; i < from+n && len(batch) < 500; i++ {
				batch = append(batch, Pending{Submitter: "t", Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", i), Source: "/t",
					Type: "society.registered", Subject: fmt.Sprintf("society/s%d", i%50), Time: time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{}`)}})
			}
			if _, err := s.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(0, 100)

	type follower struct {
		mu   sync.Mutex
		seqs []uint64
		slow bool
	}
	followers := []*follower{{}, {slow: true}}
	froms := []uint64{1, 50}
	var wg sync.WaitGroup
	for i, f := range followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Follow(ctx, froms[i], func(rec domain.Record) error {
				if f.slow && rec.Sequence < 300 {
					time.Sleep(2 * time.Millisecond) // behind by more than the feed holds
				}
				f.mu.Lock()
				f.seqs = append(f.seqs, rec.Sequence)
				f.mu.Unlock()
				return nil
			})
		}()
	}
	appendN(100, 3*feedBuffer)
	last, _ := s.LastSequence(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for i, f := range followers {
		for {
			f.mu.Lock()
			n := len(f.seqs)
			f.mu.Unlock()
			if uint64(n) == last-froms[i]+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("follower %d got %d records of %d", i, n, last-froms[i]+1)
			}
			time.Sleep(10 * time.Millisecond) // poll until it has caught up
		}
		for j, seq := range f.seqs {
			if seq != froms[i]+uint64(j) {
				t.Fatalf("follower %d: record %d is sequence %d", i, j, seq)
			}
		}
	}
	for {
		info, err := s.StreamInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers on the stream once the followers caught up; want the store's one", info.State.Consumers)
		}
		time.Sleep(50 * time.Millisecond) // the gap readers' consumers go away
	}
	cancel()
	wg.Wait()
}
