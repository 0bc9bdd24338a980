package retry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	"planledger/eventstore/retry"
)

var errTransient = errors.New("transient")

// tries runs Do under p with fn failing with errs in turn (nil once they
// run out) and returns when each try started, counted from the first, and
// Do's error. Inside a synctest bubble the clock moves only by the pauses,
// so the times are exact.
func tries(ctx context.Context, p retry.Policy, errs ...error) ([]time.Duration, error) {
	var at []time.Duration
	start := time.Now()
	err := retry.Do(ctx, p, func(context.Context) error {
		at = append(at, time.Since(start))
		if len(at) > len(errs) {
			return nil
		}
		return errs[len(at)-1]
	})
	return at, err
}

func ms(ds ...int) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d) * time.Millisecond
	}
	return out
}

func TestPausesGrowToMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond}
		at, err := tries(t.Context(), p, errTransient, errTransient, errTransient, errTransient)
		if err != nil {
			t.Fatalf("Do = %v, want nil after the fifth try succeeds", err)
		}
		// Pauses of 10, 20, 40, 40 ms.
		if want := ms(0, 10, 30, 70, 110); !slices.Equal(at, want) {
			t.Errorf("tries at %v, want %v", at, want)
		}
	})
}

func TestConstantPauseWithoutMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at, err := tries(t.Context(), retry.Policy{Initial: 25 * time.Millisecond}, errTransient, errTransient)
		if err != nil {
			t.Fatal(err)
		}
		if want := ms(0, 25, 50); !slices.Equal(at, want) {
			t.Errorf("tries at %v, want %v", at, want)
		}
	})
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	permanent := errors.New("invalid input")
	p := retry.Policy{Initial: time.Millisecond, Retryable: func(err error) bool { return errors.Is(err, errTransient) }}
	at, err := tries(context.Background(), p, errTransient, permanent, errTransient)
	if err != permanent {
		t.Errorf("Do = %v, want the permanent error itself", err)
	}
	if len(at) != 2 {
		t.Errorf("%d tries, want 2: one transient failure, then the permanent one", len(at))
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{Initial: 10 * time.Millisecond, Attempts: 3}
		at, err := tries(t.Context(), p, errTransient, errTransient, errTransient, errTransient)
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 || re.Stopped != nil {
			t.Fatalf("Do = %#v, want a *retry.Error after 3 attempts", err)
		}
		if !errors.Is(err, errTransient) {
			t.Errorf("Do = %v, does not wrap the last try's error", err)
		}
		if want := ms(0, 10, 20); !slices.Equal(at, want) {
			t.Errorf("tries at %v, want %v (no pause after the last)", at, want)
		}
		if want := "gave up after 3 tries in 20ms: transient"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	})
}

// An error that comes back at once (no responders: nobody listens yet)
// must still be paused on, or the tries spin until the budget runs out.
func TestPausesOnImmediateNoResponders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{Initial: 100 * time.Millisecond, Budget: time.Second,
			Retryable: func(err error) bool { return errors.Is(err, nats.ErrNoResponders) }}
		errs := make([]error, 100)
		for i := range errs {
			errs[i] = nats.ErrNoResponders
		}
		at, err := tries(t.Context(), p, errs...)
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("Do = %v, want it to wrap nats.ErrNoResponders", err)
		}
		// A try every 100 ms from 0 to 1 s; the pause after the one at
		// 1 s would end past the budget.
		if want := ms(0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000); !slices.Equal(at, want) {
			t.Errorf("tries at %v, want %v", at, want)
		}
	})
}

// The same on the real clock: a pause lasts at least what the policy says.
func TestPausesOnImmediateNoRespondersRealClock(t *testing.T) {
	p := retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Attempts: 4}
	start := time.Now()
	n := 0
	err := retry.Do(context.Background(), p, func(context.Context) error {
		n++
		return nats.ErrNoResponders
	})
	if elapsed := time.Since(start); elapsed < 35*time.Millisecond {
		t.Errorf("4 tries took %s, want at least the pauses of 5+10+20 ms", elapsed)
	}
	if n != 4 || !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("%d tries, Do = %v; want 4 and nats.ErrNoResponders wrapped", n, err)
	}
}

func TestStopsWhenContextIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		at, err := tries(ctx, retry.Policy{Initial: time.Hour}, errTransient, errTransient)
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
			t.Fatalf("Do = %v, want a *retry.Error wrapping context.Canceled and the last error", err)
		}
		if len(at) != 1 || re.Attempts != 1 {
			t.Errorf("%d tries (%d attempts in the error), want 1", len(at), re.Attempts)
		}
		if want := "stopped retrying after 1 try (context canceled): transient"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		if elapsed := time.Since(start); elapsed != 30*time.Millisecond {
			t.Errorf("Do returned after %s, want 30ms: when the context ended, not after the hour's pause", elapsed)
		}
	})
}

func TestDoesNotPauseOnAnEndedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		err := retry.Policy{Initial: time.Hour}.Begin().Pause(ctx, errTransient)
		if !errors.Is(err, context.Canceled) || time.Since(start) != 0 {
			t.Errorf("Pause = %v after %s, want context.Canceled at once", err, time.Since(start))
		}
	})
}

func TestJitterShortensPausesWithinBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{Initial: 100 * time.Millisecond, Jitter: 0.5}
		b := p.Begin()
		for range 50 {
			start := time.Now()
			if err := b.Pause(t.Context(), errTransient); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 50*time.Millisecond || d > 100*time.Millisecond {
				t.Fatalf("pause of %s, want 50ms to 100ms", d)
			}
		}
	})
}

func TestResetStartsPausesAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := retry.Policy{Initial: 10 * time.Millisecond, Max: time.Second}.Begin()
		pause := func() time.Duration {
			start := time.Now()
			if err := b.Pause(t.Context(), errTransient); err != nil {
				t.Fatal(err)
			}
			return time.Since(start)
		}
		got := []time.Duration{pause(), pause(), pause()}
		b.Reset()
		got = append(got, pause())
		if want := ms(10, 20, 40, 10); !slices.Equal(got, want) {
			t.Errorf("pauses %v, want %v", got, want)
		}
		if b.Attempts() != 4 {
			t.Errorf("Attempts() = %d, want 4", b.Attempts())
		}
	})
}
