// Package retry is the ledger's one way of trying something again: a
// Policy says how long to pause between tries (growing from Initial to
// Max, with jitter), which errors are worth another try, and when to give
// up (a number of tries, a time budget, or the caller's context ending).
// Every pause ends with the context, so no retry outlives the request or
// the process step it serves.
//
// Do suits a call that either succeeds or fails; a loop that decides for
// itself what to do between tries (re-read, log, count) takes a Backoff
// from Policy.Begin and calls its Pause after each failed try.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how to retry. The zero Policy retries every error at once,
// forever, until the context ends: give it at least an Initial pause.
type Policy struct {
	// Initial is the pause after the first failed try; each later pause
	// doubles, up to Max. With Max zero (or below Initial) every pause is
	// Initial.
	Initial, Max time.Duration
	// Jitter, from 0 to 1, is the share of each pause drawn at random:
	// a pause of d lasts between d-Jitter*d and d. Writers that collided
	// spread out instead of colliding again.
	Jitter float64
	// Attempts is the most tries, the first included; 0 means no limit.
	Attempts int
	// Budget, if not zero, is how long the tries may take from Begin: a
	// pause that would end past it is not taken.
	Budget time.Duration
	// Retryable says whether a try that failed with err is worth another;
	// nil means every error is.
	Retryable func(err error) bool
}

// Error is the last try's error when the tries were given up: the policy's
// attempts or budget were spent, or the context ended (Stopped is then its
// error). errors.Is and errors.As see both.
type Error struct {
	// Attempts is how many tries failed, Elapsed how long they took.
	Attempts int
	Elapsed  time.Duration
	// Err is the last try's error.
	Err error
	// Stopped is the context's error, if it ended the tries.
	Stopped error
}

func (e *Error) Error() string {
	tries := fmt.Sprintf("%d tries", e.Attempts)
	if e.Attempts == 1 {
		tries = "1 try"
	}
	if e.Stopped != nil {
		return fmt.Sprintf("stopped retrying after %s (%v): %v", tries, e.Stopped, e.Err)
	}
	return fmt.Sprintf("gave up after %s in %s: %v", tries, e.Elapsed.Round(time.Millisecond), e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Stopped != nil {
		return []error{e.Err, e.Stopped}
	}
	return []error{e.Err}
}

// Do calls fn until it returns nil, an error the policy does not retry
// (returned as it is), or the policy or ctx gives up (an *Error wrapping
// fn's last error).
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	b := p.Begin()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if err := b.Pause(ctx, err); err != nil {
			return err
		}
	}
}

// Backoff is one run of tries under a policy. It is not safe for
// concurrent use.
type Backoff struct {
	p        Policy
	start    time.Time
	attempts int
	next     time.Duration
}

// Begin starts a run of tries now: its budget counts from here.
func (p Policy) Begin() *Backoff {
	return &Backoff{p: p, start: time.Now(), next: p.Initial}
}

// Attempts is how many tries have failed so far.
func (b *Backoff) Attempts() int { return b.attempts }

// Reset starts the pauses again from Initial (after a try made progress);
// the attempts and the budget go on counting.
func (b *Backoff) Reset() { b.next = b.p.Initial }

// Pause is told that a try failed with err. If the policy allows another
// try it pauses, and returns nil once the next try may start; if not, it
// returns at once: err itself if the policy does not retry it, otherwise
// an *Error wrapping it (the attempts or budget spent, or ctx ended).
func (b *Backoff) Pause(ctx context.Context, err error) error {
	b.attempts++
	if b.p.Retryable != nil && !b.p.Retryable(err) {
		return err
	}
	if b.p.Attempts > 0 && b.attempts >= b.p.Attempts {
		return b.giveUp(err, nil)
	}
	d := b.pause()
	if b.p.Budget > 0 && time.Since(b.start)+d > b.p.Budget {
		return b.giveUp(err, nil)
	}
	if ctx.Err() != nil {
		return b.giveUp(err, context.Cause(ctx))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return b.giveUp(err, context.Cause(ctx))
	case <-t.C:
		return nil
	}
}

// pause returns the next pause, jittered, and grows the one after.
func (b *Backoff) pause() time.Duration {
	d := b.next
	if b.p.Max > b.p.Initial {
		b.next = min(2*b.next, b.p.Max)
	}
	if b.p.Jitter > 0 && d > 0 {
		d -= time.Duration(rand.Float64() * min(b.p.Jitter, 1) * float64(d))
	}
	return d
}

func (b *Backoff) giveUp(err, stopped error) error {
	return &Error{Attempts: b.attempts, Elapsed: time.Since(b.start), Err: err, Stopped: stopped}
}
