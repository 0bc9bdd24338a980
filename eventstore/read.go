package eventstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats.go/jetstream"

	"planledger/domain"
	"planledger/eventstore/retry"
)

// ErrStop, returned by a callback of Each or Follow, ends the read without
// an error.
var ErrStop = errors.New("stop reading")

// Get returns the record at sequence seq; a foreign one has Foreign set
// (a copy of a stored record is not recognised here: see Versions).
func (s *Store) Get(ctx context.Context, seq uint64) (domain.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	m, err := s.getMsg(ctx, seq, "")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return domain.Record{}, domain.Errorf(domain.KindNotFound, "no record at sequence %d", seq)
	}
	if err != nil {
		return domain.Record{}, s.readErr(fmt.Errorf("get sequence %d: %w", seq, err))
	}
	return s.codec.decode(m.Subject, m.Sequence, m.Time, m.Header, m.Data), nil
}

// LastSequence returns the sequence of the last record in the log, 0 if
// the log is empty.
func (s *Store) LastSequence(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, s.readErr(fmt.Errorf("stream info: %w", err))
	}
	return info.State.LastSeq, nil
}

// StreamInfo returns the stream's current configuration and state.
func (s *Store) StreamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, s.readErr(fmt.Errorf("stream info: %w", err))
	}
	return info, nil
}

// Version returns the version an aggregate is at (0 if it has no events)
// as far as the log shows now.
func (s *Store) Version(ctx context.Context, ref domain.Ref) (uint64, error) {
	aggs, unlock, err := s.lockAggregates(ctx, []domain.Ref{ref})
	if err != nil {
		return 0, err
	}
	defer unlock()
	aggs[0].current = false // another instance may have written since
	if err := s.catchUp(ctx, ref, aggs[0]); err != nil {
		return 0, err
	}
	return aggs[0].version, nil
}

// ReadAggregate returns every record of one aggregate, in order. Foreign
// records on its subject are not part of its history and are left out.
func (s *Store) ReadAggregate(ctx context.Context, ref domain.Ref) ([]domain.Record, error) {
	return s.ReadAggregateAfter(ctx, ref, 0, 0)
}

// ReadAggregateAfter returns the records of one aggregate stored after
// sequence after, in order: the tail a cached copy at version is missing.
// Foreign records, and copies of records the aggregate has, are left out.
func (s *Store) ReadAggregateAfter(ctx context.Context, ref domain.Ref, after, version uint64) ([]domain.Record, error) {
	return s.readAggregate(ctx, ref, after, version, 0)
}

// ReadAggregatePage returns up to limit records of one aggregate stored
// after sequence after, in order, as ReadAggregateAfter does: a page of
// its history. after is 0, or the sequence of one of the aggregate's
// records (the last of the page before).
func (s *Store) ReadAggregatePage(ctx context.Context, ref domain.Ref, after uint64, limit int) ([]domain.Record, error) {
	var version uint64
	if after > 0 {
		rec, err := s.Get(ctx, after)
		if domain.IsKind(err, domain.KindNotFound) || err == nil && (rec.Foreign != nil || rec.Subject != ref.String()) {
			return nil, domain.Errorf(domain.KindInvalid, "after %d is not a record of %s: page its history from 0, then from each page's next_after", after, ref)
		}
		if err != nil {
			return nil, err
		}
		version = rec.Version
	}
	return s.readAggregate(ctx, ref, after, version, limit)
}

// readAggregate reads the aggregate's records after sequence after (its
// version there given), at most limit of them if limit is not 0.
func (s *Store) readAggregate(ctx context.Context, ref domain.Ref, after, version uint64, limit int) ([]domain.Record, error) {
	var out []domain.Record
	from := after + 1
	versions := Versions{ref.String(): version}
	for {
		n := 0
		err := s.scan(ctx, from, Subject(ref), readBatch, func(rec domain.Record) error {
			from = rec.Sequence + 1
			n++
			if err := s.settleBatch(ctx, &rec, nil); err != nil {
				return err
			}
			if versions.Next(&rec) {
				out = append(out, rec)
				if len(out) == limit {
					return ErrStop
				}
			}
			return nil
		})
		if errors.Is(err, ErrStop) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ref, err)
		}
		if n < readBatch {
			return out, nil
		}
	}
}

// Filter narrows a read of the log to one aggregate, or to one aggregate
// type; the zero Filter reads everything.
type Filter struct {
	Ref  *domain.Ref
	Type domain.AggregateType
}

func (f Filter) subject() string {
	switch {
	case f.Ref != nil:
		return Subject(*f.Ref)
	case f.Type != "":
		return SubjectPrefix + "." + string(f.Type) + ".>"
	}
	return SubjectPrefix + ".>"
}

// Read returns up to limit records after sequence after that match the
// filter, in order, for paging through the log. Foreign records come
// marked (a copy of a stored record is not recognised here: see Versions).
func (s *Store) Read(ctx context.Context, after uint64, limit int, f Filter) ([]domain.Record, error) {
	var out []domain.Record
	if after == math.MaxUint64 {
		return nil, nil // nothing follows; after+1 would wrap to the start
	}
	err := s.scan(ctx, after+1, f.subject(), limit, func(rec domain.Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// Each calls fn for every record from sequence from to the last one in the
// log when Each was called, in order, through an ordered consumer; foreign
// records come marked. It returns fn's error, except ErrStop, which ends
// the read early.
func (s *Store) Each(ctx context.Context, from uint64, fn func(domain.Record) error) error {
	return s.EachRaw(ctx, from, decoding(fn))
}

// Raw is a stored message before decoding: what an auditor reads, so that
// a message that does not decode is a finding rather than the end of the
// read.
type Raw struct {
	Sequence uint64
	Subject  string
	Time     time.Time
	Header   nats.Header
	Data     []byte
	codec    codec
}

// Decode turns the message into a record, Foreign set if it is not this
// ledger's.
func (r *Raw) Decode() domain.Record {
	return r.codec.decode(r.Subject, r.Sequence, r.Time, r.Header, r.Data)
}

// EachRaw calls fn for every message from sequence from to the last one in
// the log when it was called, undecoded.
func (s *Store) EachRaw(ctx context.Context, from uint64, fn func(*Raw) error) error {
	last, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	if from == 0 {
		from = 1
	}
	if from > last {
		return nil
	}
	return s.consume(ctx, from, last, fn)
}

func decoding(fn func(domain.Record) error) func(*Raw) error {
	return func(r *Raw) error { return fn(r.Decode()) }
}

// Follow calls fn for every record from sequence from on (foreign ones
// marked), as records are appended, until ctx is done (it then returns ctx.Err()) or fn fails.
func (s *Store) Follow(ctx context.Context, from uint64, fn func(domain.Record) error) error {
	if from == 0 {
		from = 1
	}
	if s.feed != nil {
		return s.followFeed(ctx, from, fn)
	}
	return s.consume(ctx, from, 0, decoding(fn))
}

// consumerAttempts is how many times a read tries to create its consumer
// while JetStream does not answer: on a cluster a consumer is placed by the
// meta leader, which may be in an election for a few seconds after a node
// comes back.
const consumerAttempts = 3

// resetAttempts bounds how often a read remakes a lost consumer in a row
// (with the library's back-off of 1, 2, 4, 8 s between tries).
const resetAttempts = 5

func (s *Store) orderedConsumer(ctx context.Context, from uint64) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	// Back off while a leader is elected.
	p := retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, Attempts: consumerAttempts, Retryable: isUnavailable}
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		var err error
		cons, err = s.stream.OrderedConsumer(cctx, jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:   from,
			// When the consumer is lost (its server gone, heartbeats
			// missed) the library makes it again, by default without end
			// and deaf to any context: a read would then hang for as long
			// as the cluster cannot place it. Bounded, the read ends with
			// an error after about a minute, and its caller decides.
			MaxResetAttempts: resetAttempts,
			// A consumer the server still keeps costs it on every append;
			// consume deletes its own, this is for a process that died.
			InactiveThreshold: time.Minute,
		})
		return err
	})
	return cons, err
}

// dropConsumer deletes a read's consumer on the server once the read is
// done, rather than leaving it there for its inactive threshold: every
// consumer a stream has costs the server on each append.
func (s *Store) dropConsumer(cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.js.DeleteConsumer(ctx, s.name, cons.CachedInfo().Name)
}

// MissingError is a read that the stream's own state says should reach
// sequence To, whose records end, or skip, before it: acknowledged
// records the storage lost. A read never waits for them.
type MissingError struct {
	// From and To are the missing sequences, inclusive.
	From, To uint64
	// AtEnd says they are the log's tail (nothing follows them).
	AtEnd bool
}

func (e *MissingError) Error() string {
	where := "a hole in the log"
	if e.AtEnd {
		where = "the end of the log"
	}
	return fmt.Sprintf("sequences %s are missing (%s): the stream counts them, but holds no records there", seqRange(e.From, e.To), where)
}

func seqRange(from, to uint64) string {
	if from == to {
		return strconv.FormatUint(from, 10)
	}
	return fmt.Sprintf("%d-%d", from, to)
}

// confirmMissing is asked when a read's consumer has nothing more to
// deliver before until: if the log does not hold until (asked of the
// stream's leader), the records from from on are missing, and the read
// ends with a *MissingError instead of waiting for them; if it does, the
// consumer lags (a replica catching up) and the read goes on.
func (s *Store) confirmMissing(ctx context.Context, from, until uint64) error {
	gctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.getMsg(gctx, until, "")
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return &MissingError{From: from, To: until, AtEnd: true}
	case err != nil:
		return s.readErr(fmt.Errorf("read sequence %d: %w", until, err))
	}
	return nil
}

// consume runs an ordered consumer from sequence from; until 0 means
// forever. A read up to until ends with a *MissingError as soon as the
// consumer has nothing more to deliver before it.
func (s *Store) consume(ctx context.Context, from, until uint64, fn func(*Raw) error) error {
	cons, err := s.orderedConsumer(ctx, from)
	if err != nil {
		return s.readErr(fmt.Errorf("create consumer: %w", err))
	}
	if until != 0 && cons.CachedInfo().NumPending == 0 {
		if err := s.confirmMissing(ctx, from, until); err != nil {
			s.dropConsumer(cons)
			return err
		}
	}
	// A pull request can go unanswered when the consumer has only just
	// been created on another server of a cluster (the pull subject's
	// interest has not reached us yet). The ordered consumer recreates
	// itself after two missed heartbeats, so a short heartbeat bounds that
	// stall to seconds instead of the library's default ten.
	it, err := cons.Messages(jetstream.PullMaxMessages(2000),
		jetstream.PullExpiry(10*time.Second), jetstream.PullHeartbeat(2*time.Second))
	if err != nil {
		return s.readErr(fmt.Errorf("consume: %w", err))
	}
	defer func() {
		it.Stop()
		s.dropConsumer(cons)
	}()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			it.Stop()
		case <-stopped:
		}
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.readErr(fmt.Errorf("consume: %w", err))
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		raw := Raw{Sequence: meta.Sequence.Stream, Subject: msg.Subject(), Time: meta.Timestamp, Header: msg.Headers(), Data: msg.Data(), codec: s.codec}
		if err := fn(&raw); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		if until != 0 && raw.Sequence >= until {
			return nil
		}
		if until != 0 && meta.NumPending == 0 {
			if err := s.confirmMissing(ctx, raw.Sequence+1, until); err != nil {
				return err
			}
		}
	}
}
