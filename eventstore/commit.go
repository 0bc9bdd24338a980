package eventstore

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// Group commit. With fsync before every acknowledgement a single server
// stores one published message per fsync, whatever the number of writers;
// an atomic batch costs about one fsync (and a few milliseconds of staging)
// whatever its size. So when few appends wait, each is published directly
// (lowest latency); when many wait, the committer gathers them into one
// atomic batch and answers each when the batch is durable. Appends in one
// process never share an aggregate (they hold its lock), so each keeps its
// own per-subject expectations inside the shared batch.

// DefaultGroupCommitThreshold is how many appends must be in flight before
// they are gathered into batches: about where one batch costs what that
// many single fsyncs cost on this kind of machine.
const DefaultGroupCommitThreshold = 8

// groupWait is how long the committer waits for more appends when it has
// gathered fewer than the threshold.
const groupWait = time.Millisecond

// errAlone tells an append that the shared batch failed and it must be
// published on its own, to learn its own outcome.
var errAlone = errors.New("publish alone")

type commitJob struct {
	ctx  context.Context
	msgs []*nats.Msg
	done chan commitResult
}

type commitResult struct {
	lastSeq uint64
	err     error
}

// commit publishes msgs: directly, or through the committer when enough
// appends are in flight. It returns the sequence of the last message.
// exclusive appends (those expecting the whole stream's last sequence)
// never share a batch.
func (s *Store) commit(ctx context.Context, msgs []*nats.Msg, exclusive bool) (uint64, bool, error) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	if s.jobs != nil && !exclusive && int(n) > s.groupThreshold && len(msgs) < MaxBatch {
		job := &commitJob{ctx: ctx, msgs: msgs, done: make(chan commitResult, 1)}
		select {
		case s.jobs <- job:
			select {
			case r := <-job.done:
				if !errors.Is(r.err, errAlone) {
					return r.lastSeq, false, r.err
				}
			case <-ctx.Done():
				// The batch may still commit: the outcome is unknown.
				return 0, false, ctx.Err()
			}
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	return s.commitDirect(ctx, msgs)
}

// commitDirect publishes one message, or one atomic batch.
func (s *Store) commitDirect(ctx context.Context, msgs []*nats.Msg) (uint64, bool, error) {
	if len(msgs) == 1 {
		ack, err := s.js.PublishMsg(ctx, msgs[0])
		if err != nil {
			return 0, false, err
		}
		return ack.Sequence, ack.Duplicate, nil
	}
	ack, err := s.publishBatch(ctx, msgs)
	if err != nil {
		return 0, false, err
	}
	return ack.Sequence, false, nil
}

// runCommitter gathers waiting appends into atomic batches until done.
func (s *Store) runCommitter(done <-chan struct{}) {
	defer close(s.committerDone)
	for {
		var first *commitJob
		select {
		case first = <-s.jobs:
		case <-done:
			return
		}
		group := []*commitJob{first}
		size := len(first.msgs)
		timer := time.NewTimer(groupWait)
	gather:
		for size < MaxBatch {
			select {
			case j := <-s.jobs:
				if size+len(j.msgs) > MaxBatch {
					j.done <- commitResult{err: errAlone} // too big to join: on its own
					continue
				}
				group = append(group, j)
				size += len(j.msgs)
			default:
				if len(group) >= s.groupThreshold {
					break gather
				}
				select {
				case j := <-s.jobs:
					if size+len(j.msgs) > MaxBatch {
						j.done <- commitResult{err: errAlone}
						continue
					}
					group = append(group, j)
					size += len(j.msgs)
				case <-timer.C:
					break gather
				}
			}
		}
		timer.Stop()
		s.commitGroup(group, size)
	}
}

// commitGroup publishes a group as one atomic batch. If JetStream refuses
// it (one append's expectation failed, or its ids are stored already),
// each append is published on its own, so that only the offender fails.
// If JetStream does not answer, the outcome is unknown for all of them.
func (s *Store) commitGroup(group []*commitJob, size int) {
	if len(group) == 1 {
		group[0].done <- commitResult{err: errAlone}
		return
	}
	msgs := make([]*nats.Msg, 0, size)
	for _, j := range group {
		msgs = append(msgs, j.msgs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	ack, err := s.publishBatch(ctx, msgs)
	cancel()
	if err != nil {
		if !isUnavailable(err) {
			err = errAlone
		}
		for _, j := range group {
			j.done <- commitResult{err: err}
		}
		return
	}
	s.groupedBatches.Add(1)
	last := ack.Sequence - uint64(size)
	for _, j := range group {
		last += uint64(len(j.msgs))
		j.done <- commitResult{lastSeq: last}
	}
}
