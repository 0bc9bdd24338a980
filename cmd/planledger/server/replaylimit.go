package server

import (
	"context"
	"time"

	"planledger/domain"
)

// Rebuilding the views "as of" a moment replays the log: the occurred axis
// all of it (seconds, and a whole copy of the views in memory, for a
// million records), the recorded axis from a snapshot. Any reader may ask,
// so the rebuilds running at once are bounded: a request waits briefly
// for a turn, then gets 503 with Retry-After, and the server's memory
// holds at most that many copies of the views on their account.

// replayLimiter hands out turns to rebuild the views.
type replayLimiter struct {
	turns chan struct{}
	wait  time.Duration
}

// Defaults of Config.MaxReplays and Config.ReplayWait.
const (
	defaultMaxReplays = 2
	defaultReplayWait = 2 * time.Second
)

func newReplayLimiter(n int, wait time.Duration) *replayLimiter {
	return &replayLimiter{turns: make(chan struct{}, n), wait: wait}
}

// acquire waits for a turn, at most the limiter's wait and never past
// ctx; release gives the turn back.
func (l *replayLimiter) acquire(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	select {
	case l.turns <- struct{}{}:
		return func() { <-l.turns }, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, domain.Errorf(domain.KindUnavailable, "%d rebuilds of the views \"as of\" are running and none ended within %s; ask again shortly (nothing is wrong with the request)", cap(l.turns), l.wait)
}

// busy is how many rebuilds run now.
func (l *replayLimiter) busy() int { return len(l.turns) }
