package server

import (
	"context"
	"testing"
	"time"

	"planledger/domain"
)

// TestReplayLimiter: n turns at once; a request beyond them waits for a
// turn given back, or is refused as unavailable when its wait (or its
// context) ends first.
func TestReplayLimiter(t *testing.T) {
	l := newReplayLimiter(2, 50*time.Millisecond)
	ctx := context.Background()
	r1, err1 := l.acquire(ctx)
	r2, err2 := l.acquire(ctx)
	if err1 != nil || err2 != nil || l.busy() != 2 {
		t.Fatalf("two turns: %v %v, busy %d", err1, err2, l.busy())
	}
	start := time.Now()
	if _, err := l.acquire(ctx); !domain.IsKind(err, domain.KindUnavailable) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("a third: %v after %s; want unavailable after the wait", err, time.Since(start))
	}
	go func() {
		time.Sleep(10 * time.Millisecond) // hand a turn back while the next waits
		r1()
	}()
	r3, err := l.acquire(ctx)
	if err != nil {
		t.Fatalf("a turn given back was not taken: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.acquire(cctx); !domain.IsKind(err, domain.KindUnavailable) {
		t.Fatalf("an ended request: %v", err)
	}
	r2()
	r3()
	if l.busy() != 0 {
		t.Fatalf("busy %d after every turn was given back", l.busy())
	}
}
