package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/domain"
)

// Torn batches. Several events are appended as one JetStream atomic
// batch: invisible until its last message commits it, then all there. But
// a server whose disk fills (or that crashes) while it stores a committed
// batch on a single-replica file stream keeps the part it wrote, visible
// at once; it writes the rest only if it restarts with the batch's staged
// copy still there. Every message of a batch carries the batch's headers
// (Nats-Batch-Id, Nats-Batch-Sequence, and Nats-Batch-Commit on the last),
// and the ledger adds the batch's length (HeaderBatchSize). So a reader
// tells a whole batch from a torn one:
//
//   - along the log (the views, verify, export), Batches holds a batch's
//     records back until its last one; a batch that something else
//     follows before its end is torn: its records come back foreign
//     (ForeignTornBatch), never folded;
//   - per aggregate (the command path), a record of a batch is looked up
//     at the batch's last position (one read per batch, remembered).
//
// A batch the log still ends inside is open: the views wait for it, and
// an append to an aggregate with records in it is made on the condition
// that the log still ends where it did (the server may yet complete the
// batch when it restarts; once anything follows the batch, it is torn for
// good).

// HeaderBatchSize carries, on every message of a batch the ledger
// publishes, the batch's length.
const HeaderBatchSize = "Planledger-Batch-Size"

// JetStream's batch headers.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// batchMember reads a message's place in its batch; nil if it was not
// stored by one.
func batchMember(hdr nats.Header) *domain.BatchMember {
	id := hdr.Get(hdrBatchID)
	if id == "" {
		return nil
	}
	idx, err := strconv.ParseUint(hdr.Get(hdrBatchSeq), 10, 64)
	if err != nil || idx == 0 {
		return nil
	}
	size, _ := strconv.ParseUint(hdr.Get(HeaderBatchSize), 10, 64)
	return &domain.BatchMember{ID: id, Index: idx, Size: size, Last: hdr.Get(hdrBatchCommit) != ""}
}

// MarkTorn turns rec, a record of a batch the log holds only part of,
// into the foreign record it is (for whoever interprets the log: the
// views, verify, the command path; a read of the log shows it as stored).
func MarkTorn(rec *domain.Record, batchID string) {
	subject, hdr, body := StoredForm(rec)
	rec.Foreign = &domain.Foreign{Reason: domain.ForeignTornBatch, Subject: subject, Header: hdr, Body: body,
		Detail: fmt.Sprintf("sequence %d: %s %q is part of atomic batch %s, which the log holds only part of (its server's disk filled, or it crashed, while it stored the batch): the batch was never acknowledged, and none of it counts", rec.Sequence, rec.Subject, rec.ID, batchID)}
}

// Batches holds back the records of a batch, along a log read in order,
// until the one that completes it. The zero value is ready to use.
type Batches struct {
	held []domain.Record
	// last is the sequence added last; broken the batch a hole cut.
	last   uint64
	broken string
	// one returns a record that is no batch's, without a slice of its own.
	one [1]domain.Record
}

// Held is how many records wait for the end of their batch.
func (b *Batches) Held() int { return len(b.held) }

// Drop forgets the records held (a read that starts again from the first
// of them).
func (b *Batches) Drop() { b.held, b.last = nil, 0 }

// Add takes the next record of the log and returns the records now ready,
// in log order: none while a batch is open, the whole batch at its last
// record; a batch that something else follows before its end comes back
// torn, ahead of what follows it. The slice is valid until the next call.
func (b *Batches) Add(rec domain.Record) []domain.Record {
	var out []domain.Record
	m := rec.Batch
	if b.last != 0 && rec.Sequence != b.last+1 {
		// A hole: records the storage lost after it stored them. A batch
		// it cuts was stored whole, and acknowledged: its records are the
		// ledger's (the hole is the damage), not a torn batch's.
		out, b.held = b.held, nil
		switch {
		case len(out) > 0:
			b.broken = out[0].Batch.ID
		case m != nil && m.Index > 1:
			b.broken = m.ID
		}
	}
	b.last = rec.Sequence
	if m != nil && m.ID == b.broken {
		return append(out, rec)
	}
	if len(b.held) > 0 {
		open := b.held[0].Batch.ID
		if m != nil && m.ID == open && m.Index == uint64(len(b.held))+1 {
			b.held = append(b.held, rec)
			if !m.Last {
				return nil
			}
			out, b.held = b.held, nil
			return out
		}
		out = b.Flush()
	}
	switch {
	case (m == nil || (m.Index == 1 && m.Last)) && out == nil:
		b.one[0] = rec
		return b.one[:]
	case m == nil || (m.Index == 1 && m.Last):
		return append(out, rec)
	case m.Index == 1:
		// The batch's length, when its header gives one a batch can have,
		// sizes the hold: a long batch is not copied again as it grows.
		b.held = make([]domain.Record, 1, max(1, min(m.Size, MaxBatch)))
		b.held[0] = rec
		return out
	}
	markTorn(&rec) // the batch's beginning is not right before it
	return append(out, rec)
}

// Flush returns the records held, marked torn: what a read that ends (an
// export) holds of a batch the log does not complete.
func (b *Batches) Flush() []domain.Record {
	out := b.held
	b.held = nil
	for i := range out {
		markTorn(&out[i])
	}
	return out
}

// markTorn marks a record of a torn batch; one that is foreign already
// (a batch may restore foreign records) stays what it is.
func markTorn(rec *domain.Record) {
	if rec.Foreign == nil {
		MarkTorn(rec, rec.Batch.ID)
	}
}

// batchState is what the log holds of a batch.
type batchState int

const (
	batchWhole batchState = iota
	batchTorn
	batchOpen // the log ends inside it
)

// batchCache remembers the final states (whole, torn) of batches looked
// up; an open one is looked up again.
type batchCache struct {
	mu sync.Mutex
	m  map[string]batchState
}

const maxBatchCache = 8192

func (c *batchCache) get(id string) (batchState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[id]
	return st, ok
}

func (c *batchCache) put(id string, st batchState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxBatchCache {
		c.m = map[string]batchState{}
	}
	c.m[id] = st
}

// batchWatch follows batches along the log, as the tail reads it, and
// tells the cache which ones the log holds whole or torn: a batch is seen
// whole when its last message follows its others without a gap; torn when
// something else does. (Only the tail's goroutine uses it.)
type batchWatch struct {
	id   string
	next uint64 // the batch's next index
	seq  uint64 // the sequence it is due at
}

func (w *batchWatch) observe(seq uint64, hdr nats.Header, cache *batchCache) {
	m := batchMember(hdr)
	if w.id != "" && (m == nil || m.ID != w.id || m.Index != w.next || seq != w.seq) {
		cache.put(w.id, batchTorn)
		w.id = ""
	}
	switch {
	case m == nil:
	case m.Last && (m.Index == 1 || m.ID == w.id):
		cache.put(m.ID, batchWhole)
		w.id = ""
	case m.Index == 1:
		w.id, w.next, w.seq = m.ID, 2, seq+1
	case m.ID == w.id:
		w.next, w.seq = w.next+1, seq+1
	}
}

// batchOf says what the log holds of the batch of rec (whole if rec was
// not stored by one), and for an open batch the sequence the log ends at.
// It reads the batch's last position, through the stream's leader. A
// batch without the ledger's length header (stored by a version before
// it) is taken whole here; the readers along the log still tell.
func (s *Store) batchOf(ctx context.Context, rec *domain.Record) (batchState, uint64, error) {
	m := rec.Batch
	if m == nil || m.Last || m.Size == 0 || rec.Foreign != nil {
		return batchWhole, 0, nil
	}
	if st, ok := s.batches.get(m.ID); ok {
		return st, 0, nil
	}
	lastPos := rec.Sequence - (m.Index - 1) + m.Size - 1
	gctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	raw, err := s.getMsg(gctx, lastPos, "")
	cancel()
	switch {
	case err == nil:
		st := batchTorn
		if end := batchMember(raw.Header); end != nil && end.ID == m.ID && end.Last {
			st = batchWhole
		}
		s.batches.put(m.ID, st)
		return st, 0, nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, 0, s.readErr(fmt.Errorf("read the end of batch %s at %d: %w", m.ID, lastPos, err))
	}
	last, err := s.LastSequence(ctx)
	if err != nil {
		return 0, 0, err
	}
	if last >= lastPos || s.replicated {
		// The log counts the batch's end but does not hold it yet: a new
		// leader still applying; or, replicated, a batch a replica shows
		// while it applies it (a replicated stream stores a batch whole).
		return 0, 0, domain.Errorf(domain.KindUnavailable, "batch %s ends at sequence %d, which the log does not hold yet: retry shortly", m.ID, lastPos)
	}
	// The log ends inside the batch. (If something already follows its
	// part, it is torn for good; an append on the condition that the log
	// still ends at last is right either way.)
	return batchOpen, last, nil
}
