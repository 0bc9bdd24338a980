package eventstore

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"planledger/eventstore/retry"
)

// The tail. JetStream's publish acknowledgement carries a message's
// sequence but not the timestamp it stored, and that timestamp is the
// record's recorded time, which an append must answer with. Reading each
// appended message back costs a request that, on a single server, waits
// for the file store's lock behind the fsyncs of other appends. Instead the
// store follows its own log with one ordered consumer, which delivers each
// new message (and its timestamp) in bulk moments after it is stored, and
// appends take their recorded times from the most recent ones it saw.
// When the tail falls behind (or is not running) an append reads its
// messages as before.

const (
	tailSize = 1 << 14 // recent messages remembered
	// tailWait is how long an append waits for the tail to deliver its
	// messages before it reads them itself.
	tailWait = 50 * time.Millisecond
)

type tailEntry struct {
	seq  uint64
	id   string // the message id header
	time time.Time
}

type tail struct {
	mu      sync.Mutex
	seen    uint64 // the last sequence delivered
	ring    [tailSize]tailEntry
	changed chan struct{} // closed, and replaced, when seen moves
}

func newTail() *tail { return &tail{changed: make(chan struct{})} }

func (t *tail) add(seq uint64, id string, at time.Time) {
	t.mu.Lock()
	t.ring[seq%tailSize] = tailEntry{seq: seq, id: id, time: at}
	if seq > t.seen {
		t.seen = seq
		close(t.changed)
		t.changed = make(chan struct{})
	}
	t.mu.Unlock()
}

// times returns the recorded times of the n messages from sequence first,
// waiting up to tailWait for the tail to reach them; ok is false if it did
// not, or if it no longer remembers them.
func (t *tail) times(ctx context.Context, first uint64, ids []string) (out []time.Time, ok bool) {
	last := first + uint64(len(ids)) - 1
	timer := time.NewTimer(tailWait)
	defer timer.Stop()
	for {
		t.mu.Lock()
		if t.seen >= last {
			out = make([]time.Time, len(ids))
			for i := range ids {
				e := t.ring[(first+uint64(i))%tailSize]
				if e.seq != first+uint64(i) || e.id != ids[i] {
					t.mu.Unlock()
					return nil, false
				}
				out[i] = e.time
			}
			t.mu.Unlock()
			return out, true
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// runTail follows the log from the message after the last one at start
// until ctx ends, feeding the tail; if the consumer fails it starts again
// from where it was.
func (s *Store) runTail(ctx context.Context, from uint64) {
	failed := false
	pause := retry.Policy{Initial: time.Second}.Begin() // before following again
	for ctx.Err() == nil {
		err := s.consume(ctx, from, 0, func(r *Raw) error {
			if failed {
				s.log.Info("following the log for recorded times again", "from", r.Sequence)
				failed = false
			}
			// A copy of the id: the header it is read from would stay with it.
			s.tail.add(r.Sequence, strings.Clone(r.Header.Get(jetstream.MsgIDHeader)), r.Time.UTC())
			s.feed.deliver(r)
			s.batchWatch.observe(r.Sequence, r.Header, &s.batches)
			from = r.Sequence + 1
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if !failed { // once an outage, not once a second
			s.log.Warn("following the log for recorded times failed; appends read them back until it resumes", "err", err)
			failed = true
		}
		_ = pause.Pause(ctx, err) // only ctx ends the tries: the loop sees it
	}
}
