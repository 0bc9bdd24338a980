package lockcache_test

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"planledger/eventstore/lockcache"
)

// TestOverlappingLocksDoNotDeadlock: users locking overlapping keys in
// opposite orders all get through.
func TestOverlappingLocksDoNotDeadlock(t *testing.T) {
	c := lockcache.New[string, int](100, cmp.Compare[string], nil, 0)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys := []string{"a", "b", "c"}
			if i%2 == 1 {
				keys = []string{"c", "b", "a"}
			}
			for j := 0; j < 100; j++ {
				es, err := c.Lock(context.Background(), keys)
				if err != nil {
					t.Error(err)
					return
				}
				es[0].Value++
				c.Unlock(es)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("deadlock")
	}
	es, _ := c.Lock(context.Background(), []string{"a", "c"})
	defer c.Unlock(es)
	if es[0].Value+es[1].Value != 5000 {
		t.Fatalf("counts %d + %d, want 5000", es[0].Value, es[1].Value)
	}
}

// TestLockGivesUpWithTheContext: a user whose context ends while another
// holds a key gets the context's error and holds nothing.
func TestLockGivesUpWithTheContext(t *testing.T) {
	c := lockcache.New[string, int](100, cmp.Compare[string], nil, 0)
	held, _ := c.Lock(context.Background(), []string{"b"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Lock(ctx, []string{"a", "b"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock while held: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("waited past the context")
	}
	c.Unlock(held)
	es, err := c.Lock(context.Background(), []string{"a", "b"}) // "a" was released by the failed attempt
	if err != nil {
		t.Fatal(err)
	}
	c.Unlock(es)
}

// TestEviction: past its size, or its weight, the cache forgets the least
// recently used; entries being locked stay.
func TestEviction(t *testing.T) {
	c := lockcache.New[int, int](3, cmp.Compare[int], func(v *int) int { return *v }, 100)
	for k := 0; k < 5; k++ {
		es, _ := c.Lock(context.Background(), []int{k})
		es[0].Value = 10
		c.Unlock(es)
	}
	if c.Len() != 3 {
		t.Fatalf("%d entries, want 3", c.Len())
	}
	es, _ := c.Lock(context.Background(), []int{0}) // forgotten: fresh
	if es[0].Value != 0 {
		t.Fatalf("key 0 has %d, want a fresh entry", es[0].Value)
	}
	es[0].Value = 95 // heavy: 95 + 10 + 10 > 100
	c.Unlock(es)
	es, _ = c.Lock(context.Background(), []int{9})
	c.Unlock(es)
	if c.Len() > 2 {
		t.Fatalf("%d entries over the weight bound", c.Len())
	}
}
