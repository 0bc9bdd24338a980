package eventstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"planledger/domain"
)

// TestTailRing: the tail answers for what it saw, refuses a message id
// that is not the one stored, forgets what has been overwritten, and gives
// up after tailWait on what it has not seen.
func TestTailRing(t *testing.T) {
	tl := newTail()
	base := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	for seq := uint64(1); seq <= 10; seq++ {
		tl.add(seq, fmt.Sprintf("id-%d", seq), base.Add(time.Duration(seq)*time.Second))
	}
	ctx := context.Background()
	got, ok := tl.times(ctx, 3, []string{"id-3", "id-4"})
	if !ok || !got[0].Equal(base.Add(3*time.Second)) || !got[1].Equal(base.Add(4*time.Second)) {
		t.Fatalf("times(3,4) = %v %v", got, ok)
	}
	if _, ok := tl.times(ctx, 5, []string{"someone-else"}); ok {
		t.Fatal("answered for a message id that is not the stored one")
	}
	tl.add(5+tailSize, "later", base)
	if _, ok := tl.times(ctx, 5, []string{"id-5"}); ok {
		t.Fatal("answered for an overwritten sequence")
	}
	start := time.Now()
	if _, ok := tl.times(ctx, 6+tailSize, []string{"unseen"}); ok {
		t.Fatal("answered for a sequence it has not seen")
	}
	if waited := time.Since(start); waited < tailWait {
		t.Fatalf("gave up after %v, before tailWait", waited)
	}

	// A waiter is woken when the tail reaches it.
	done := make(chan bool)
	go func() {
		_, ok := tl.times(ctx, 7+tailSize, []string{"soon"})
		done <- ok
	}()
	tl.add(7+tailSize, "soon", base)
	if !<-done {
		t.Fatal("a waiter was not answered when the tail reached it")
	}
}

// TestRecordedTimesWithoutTail: with the tail stopped, appends read their
// recorded times back, and the answers are what the log holds.
func TestRecordedTimesWithoutTail(t *testing.T) {
	for _, stop := range []bool{false, true} {
		t.Run(fmt.Sprintf("tail stopped %v", stop), func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, Config{DataDir: t.TempDir(), CreateKey: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if stop {
				s.stopTail()
				<-s.tailDone
				s.stopTail = nil
			}
			var answered []domain.Record
			for i := 0; i < 20; i++ {
				ev := domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", i), Source: "/test", Type: "society.registered",
					Subject: "society/t", Time: time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC), Data: []byte(`{}`)}
				res, err := s.Append(ctx, []Pending{{Event: ev, Submitter: "tester"}})
				if err != nil {
					t.Fatal(err)
				}
				answered = append(answered, res.Records...)
			}
			for _, a := range answered {
				r, err := s.Get(ctx, a.Sequence)
				if err != nil {
					t.Fatal(err)
				}
				if r.ID != a.ID || !r.RecordedTime.Equal(a.RecordedTime) {
					t.Fatalf("answered %s recorded %v at %d; the log holds %s recorded %v", a.ID, a.RecordedTime, a.Sequence, r.ID, r.RecordedTime)
				}
			}
			fromTail, readBack := s.RecordedTimeSources()
			if stop && (fromTail != 0 || readBack != 20) {
				t.Fatalf("tail stopped: %d from the tail, %d read back; want 0 and 20", fromTail, readBack)
			}
			if !stop && fromTail == 0 {
				t.Fatalf("tail running: not one append took its time from it (%d read back)", readBack)
			}
		})
	}
}
