package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The watch. While the store runs it checks, every WatchInterval, that the
// stream's state still describes a whole log — no deleted sequence (the
// stream refuses deletes, so any is a loss), every sequence from the first
// to the last held, the first being 1, and the last not below what was
// acknowledged — and, every markInterval, stores the acknowledged mark. A finding stops the
// writes (see Damage). Some damage (a record that no longer reads, in a
// block the server has not looked at again) leaves the state untouched:
// the scrub reads the whole log for that.

// DefaultWatchInterval is how often the watch looks at the stream.
const DefaultWatchInterval = time.Second

// DefaultScrubInterval is how often the whole log is read back to find
// records that no longer read; the first scrub starts ScrubDelay after
// the store opens (not at once: on a single server every reader of the
// stream slows its appends, and a start is busy enough).
const (
	DefaultScrubInterval = 24 * time.Hour
	DefaultScrubDelay    = 5 * time.Minute
)

// startWatch starts the watch and the scrub; Close stops them.
func (s *Store) startWatch() {
	ctx, stop := context.WithCancel(context.Background())
	s.stopWatch = stop
	s.watchDone.Add(1)
	go func() {
		defer s.watchDone.Done()
		s.runWatch(ctx)
	}()
	if s.cfg.ScrubInterval > 0 {
		s.watchDone.Add(1)
		go func() {
			defer s.watchDone.Done()
			s.runScrub(ctx)
		}()
	}
}

// markInterval is how often the acknowledged mark is stored when appends
// moved it: a mark lags the acknowledgements by about this much.
const markInterval = 100 * time.Millisecond

func (s *Store) runWatch(ctx context.Context) {
	tick := time.NewTicker(min(markInterval, s.cfg.WatchInterval))
	defer tick.Stop()
	lastLook := time.Now()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
			if err := s.flushMark(fctx); err != nil {
				s.log.Warn("acknowledged mark not stored at close", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
		s.restartJetStream()
		if err := s.flushMark(ctx); err != nil && ctx.Err() == nil {
			s.warnOnce(&s.markFailing, "the acknowledged mark could not be stored; retrying", err)
		} else if err == nil {
			s.markFailing.Store(false)
		}
		if time.Since(lastLook) < s.cfg.WatchInterval {
			continue
		}
		lastLook = time.Now()
		// What was acknowledged before the look, or a batch acknowledged
		// while the server answers would seem to be missing.
		acked := s.acked.Load()
		ictx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		info, err := s.stream.Info(ictx, jetstream.WithDeletedDetails(true))
		cancel()
		if err != nil {
			continue // the store is unavailable: appends say so
		}
		if d, bad := stateDamage(info.State, acked); bad {
			s.ReportDamage(d)
		}
	}
}

// stateDamage reads a hole or a shortfall in a stream's state.
func stateDamage(st jetstream.StreamState, acked uint64) (Damage, bool) {
	switch {
	case st.LastSeq < acked:
		return Damage{From: st.LastSeq + 1, To: acked, Found: "stream state",
			Detail: fmt.Sprintf("the stream now ends at %d, but %d was acknowledged", st.LastSeq, acked)}, true
	case st.Msgs == 0 && st.LastSeq == 0:
		return Damage{}, false
	case st.FirstSeq > 1:
		return Damage{From: 1, To: st.FirstSeq - 1, Found: "stream state", Detail: fmt.Sprintf("the stream starts at %d", st.FirstSeq)}, true
	case st.NumDeleted > 0 || st.Msgs != st.LastSeq-st.FirstSeq+1:
		from, to := st.FirstSeq, st.LastSeq
		if len(st.Deleted) > 0 {
			from, to = st.Deleted[0], st.Deleted[len(st.Deleted)-1]
		}
		return Damage{From: from, To: to, Found: "stream state",
			Detail: fmt.Sprintf("the stream ends at %d but holds %d records (%d deleted): a stream that refuses deletes lost records", st.LastSeq, st.Msgs, st.NumDeleted)}, true
	}
	return Damage{}, false
}

// warnOnce logs a failure once until it clears.
func (s *Store) warnOnce(flag interface{ Swap(bool) bool }, msg string, err error) {
	if !flag.Swap(true) {
		s.log.Warn(msg, "err", err)
	}
}

// runScrub reads the whole log back after ScrubDelay, then every
// ScrubInterval: a sequence it does not meet is a record the storage no
// longer reads (the server passes over it without a word).
func (s *Store) runScrub(ctx context.Context) {
	wait := s.cfg.ScrubDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = s.cfg.ScrubInterval
		start := time.Now()
		n, err := s.Scrub(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Warn("scrub: reading the log back failed; trying again later", "err", err)
			wait = min(wait, time.Minute)
			continue
		}
		s.log.Info("scrub: read the whole log back", "records", n, "took", time.Since(start).Round(time.Millisecond), "damaged", len(s.Damage()) > 0)
	}
}

// Scrub reads every record from 1 to the log's last, reporting each hole
// it meets as Damage; it returns how many records it read.
func (s *Store) Scrub(ctx context.Context) (uint64, error) {
	var n, prev uint64
	err := s.EachRaw(ctx, 1, func(r *Raw) error {
		if r.Sequence != prev+1 {
			s.ReportDamage(Damage{From: prev + 1, To: r.Sequence - 1, Found: "read", Detail: "the scrub read past them: they no longer read" + s.blockNote(prev+1)})
		}
		prev = r.Sequence
		n++
		return nil
	})
	var missing *MissingError
	if errors.As(err, &missing) {
		s.ReportDamage(Damage{From: missing.From, To: missing.To, Found: "read", Detail: "the stream counts them but holds no records there" + s.blockNote(missing.From)})
		err = nil
	}
	return n, err
}

// blockNote names the block file that held seq, in embedded mode.
func (s *Store) blockNote(seq uint64) string {
	if s.cfg.URL != "" {
		return ""
	}
	return "; " + s.blockReport([]uint64{seq})
}
