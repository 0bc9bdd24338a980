package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"planledger/domain"
)

// aggState is what the store keeps in memory of one aggregate: enough to
// set the next append's expectation and to recognise an event id it
// already holds, without reading the aggregate from the stream each time.
type aggState struct {
	// current says the state holds every event the stream has; it is not
	// when never read yet, or an append's outcome is unknown, or JetStream
	// said the aggregate moved on: the next use reads the tail first.
	current bool
	lastSeq uint64 // stream sequence of the aggregate's last event, 0 if none
	version uint64 // number of events
	ids     idIndex
	// openAt is the first record of the aggregate in a batch the log
	// still ends inside (0 if none): not counted yet, read again next
	// time; openEnd is where the log ended then, the condition of the
	// next append (see batches.go).
	openAt, openEnd uint64
	// restarts is the embedded JetStream's restart count when the state
	// was read: a restart may complete a batch that was open.
	restarts uint64
}

func (a *aggState) applyStored(id string, seq, version uint64) {
	a.ids.add(id, seq)
	a.lastSeq = seq
	a.version = version
}

// idIndex maps the event ids of one aggregate to their sequences in about
// 20 bytes an event rather than the id itself: a 64-bit hash of the id to
// the sequence of the first event with that hash. The rare later id with
// the same hash is kept by name. A hit names a candidate sequence; the
// caller reads that record and compares ids, so the index is exact. An
// aggregate of a few events keeps them in a short list (16 bytes each): a
// map costs some 200 bytes even for one, and most aggregates are short.
type idIndex struct {
	few       []hashSeq
	byHash    map[uint64]uint64
	collision map[string]uint64
}

type hashSeq struct{ hash, seq uint64 }

// fewIDs is how many ids the short list holds before a map takes over.
const fewIDs = 8

func (x *idIndex) add(id string, seq uint64) {
	h := domain.IDHash(id)
	if _, taken := x.byHash[h]; taken || x.inFew(h) {
		if x.collision == nil {
			x.collision = map[string]uint64{}
		}
		x.collision[id] = seq
		return
	}
	if x.byHash == nil && len(x.few) < fewIDs {
		x.few = append(x.few, hashSeq{h, seq})
		return
	}
	if x.byHash == nil {
		x.byHash = make(map[uint64]uint64, 2*fewIDs)
		for _, e := range x.few {
			x.byHash[e.hash] = e.seq
		}
		x.few = nil
	}
	x.byHash[h] = seq
}

func (x *idIndex) inFew(h uint64) bool {
	_, ok := x.fewSeq(h)
	return ok
}

func (x *idIndex) fewSeq(h uint64) (uint64, bool) {
	for _, e := range x.few {
		if e.hash == h {
			return e.seq, true
		}
	}
	return 0, false
}

// candidate returns the sequence where id may be stored.
func (x *idIndex) candidate(id string) (uint64, bool) {
	if seq, ok := x.collision[id]; ok {
		return seq, true
	}
	h := domain.IDHash(id)
	if seq, ok := x.fewSeq(h); ok {
		return seq, true
	}
	seq, ok := x.byHash[h]
	return seq, ok
}

// readBatch is how many messages one direct-get batch request returns.
const readBatch = 256

// catchUp reads the aggregate's events after a.lastSeq, unless a is
// current.
// The subject's last sequence counts every message on it, foreign ones
// too: it is what JetStream holds appends to; the version and the ids
// count only the aggregate's own records.
func (s *Store) catchUp(ctx context.Context, ref domain.Ref, a *aggState) error {
	if n := s.jsRestarts.Load(); a.restarts != n {
		a.current, a.restarts = false, n
	}
	if a.current {
		return nil
	}
	subj := Subject(ref)
	from := a.lastSeq + 1
	if a.openAt != 0 {
		from = a.openAt // what was open may be whole, or torn, by now
	}
	a.openAt, a.openEnd = 0, 0
	for {
		n := 0
		versions := Versions{ref.String(): a.version}
		err := s.scan(ctx, from, subj, readBatch, func(rec domain.Record) error {
			n++
			from = rec.Sequence + 1
			a.lastSeq = max(a.lastSeq, rec.Sequence)
			if err := s.settleBatch(ctx, &rec, a); err != nil {
				return err
			}
			if versions.Next(&rec) {
				a.applyStored(rec.ID, rec.Sequence, rec.Version)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", ref, err)
		}
		if n < readBatch {
			break
		}
	}
	a.current = true
	return nil
}

// settleBatch marks rec foreign if the log holds its batch only in part:
// torn for good, or open (then noted in a, if given: see aggState).
func (s *Store) settleBatch(ctx context.Context, rec *domain.Record, a *aggState) error {
	st, end, err := s.batchOf(ctx, rec)
	if err != nil || st == batchWhole {
		return err
	}
	if st == batchOpen && a != nil {
		if a.openAt == 0 {
			a.openAt = rec.Sequence
		}
		a.openEnd = max(a.openEnd, end)
	}
	MarkTorn(rec, rec.Batch.ID)
	return nil
}

// scan calls fn for up to batch records from sequence from on, filtered by
// subject (which may be a wildcard). The first few come by single direct
// gets, cheap for the usual "is there anything new?"; a longer read goes on
// with one batched direct get, which costs a subscription (and its buffer)
// per call but then streams.
func (s *Store) scan(ctx context.Context, from uint64, subject string, batch int, fn func(domain.Record) error) error {
	return s.scanRaw(ctx, from, subject, batch, func(m *jetstream.RawStreamMsg) error {
		return fn(s.codec.decode(m.Subject, m.Sequence, m.Time, m.Header, m.Data))
	})
}

// scanRaw is scan without decoding the messages.
func (s *Store) scanRaw(ctx context.Context, from uint64, subject string, batch int, emit func(*jetstream.RawStreamMsg) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	const singles = 8
	for n := 0; n < singles; n++ {
		if batch == 0 {
			return nil
		}
		m, err := s.getMsg(ctx, from, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return s.readErr(err)
		}
		if err := emit(m); err != nil {
			return err
		}
		from, batch = m.Sequence+1, batch-1
	}
	if batch == 0 {
		return nil
	}
	it, err := jetstreamext.GetBatch(ctx, s.js, s.name, batch, jetstreamext.GetBatchSeq(from), jetstreamext.GetBatchSubject(subject))
	if err != nil {
		return s.readErr(err)
	}
	for m, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			return nil
		}
		if err != nil {
			return s.readErr(err)
		}
		if err := emit(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) readErr(err error) error {
	if isUnavailable(err) {
		return domain.Errorf(domain.KindUnavailable, "read from JetStream: %w", err)
	}
	return err
}
