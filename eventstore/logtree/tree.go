package logtree

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/retry"
)

// Config configures a Tree.
type Config struct {
	// Replicas of the tree's streams when they are made; the log's.
	Replicas int
	// Timeout bounds each request to JetStream; 5 s if zero.
	Timeout time.Duration
	// Every is how often, while the log grows, the tree stores its new
	// tiles and signs a checkpoint; 1 s if zero.
	Every  time.Duration
	Logger *slog.Logger
}

// Tree is the log's Merkle tree, following the log. Every instance of a
// ledger computes the same tree from the same log; whichever signs a
// checkpoint for a tree size first signs the only one there is for it.
type Tree struct {
	*hashes
	store    *eventstore.Store
	s        *streams
	signer   note.Signer
	verifier note.Verifier
	origin   string
	log      *slog.Logger
	every    time.Duration

	mu       sync.Mutex // held while signing
	latest   Checkpoint // the latest checkpoint signed, by whoever
	latestAt storedCheckpoint

	growMu sync.Mutex
	grown  chan struct{} // closed, and replaced, when the tree grows

	// Conflicts counts checkpoints or tiles another writer stored with
	// other hashes than this tree has: never expected.
	Conflicts atomic.Uint64
}

// Open opens the tree of store's log: its streams (made if missing), and
// its state as of the latest signed checkpoint, checked against it. It
// refuses a log shorter than a checkpoint the ledger signed (acknowledged
// records lost) and one whose records no longer hash to it.
func Open(ctx context.Context, store *eventstore.Store, cfg Config) (*Tree, error) {
	key := store.Key()
	if key == nil {
		return nil, errors.New("tree: the store has no log key to sign checkpoints with")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Every == 0 {
		cfg.Every = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := openStreams(ctx, store.JetStream(), store.StreamName(), cfg.Replicas, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(key.VerifierKey())
	if err != nil {
		return nil, err
	}
	t := &Tree{hashes: newHashes(s), store: store, s: s, signer: key.Signer(), verifier: v, origin: key.Origin,
		log: cfg.Logger, every: cfg.Every, grown: make(chan struct{})}
	latest, err := s.latestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if latest.Seq == 0 {
		return t, nil
	}
	c, err := OpenCheckpoint(latest.Signed, v)
	if err != nil {
		return nil, fmt.Errorf("tree: the latest stored checkpoint is not this ledger's (%w); this log key is not the one the ledger signs with", err)
	}
	if err := t.restore(ctx, c); errors.Is(err, ErrNoTile) {
		// Tiles lost (their stream deleted, say): rebuild the tree from
		// the log; it must still hash to the signed checkpoint.
		t.log.Warn("tree: tiles missing; rebuilding the tree from the log", "size", c.Size, "err", err)
		err = t.rebuild(ctx, c)
	} else if err != nil {
		return nil, err
	}
	t.latest, t.latestAt = c, latest
	return t, nil
}

// rebuild computes the tree from the log up to checkpoint c and checks it
// against c; its tiles are stored again by the next Sync.
func (t *Tree) rebuild(ctx context.Context, c Checkpoint) error {
	t.hashes = newHashes(t.s)
	var line []byte
	err := t.store.Each(ctx, 1, func(rec domain.Record) error {
		if int64(rec.Sequence) > c.Size {
			return eventstore.ErrStop
		}
		var err error
		line, err = t.Append(ctx, &rec, line)
		return err
	})
	if err != nil {
		return fmt.Errorf("tree: rebuild from the log: %w", err)
	}
	root, err := t.Root(ctx, c.Size)
	if err != nil {
		return err
	}
	if root != c.Root {
		return fmt.Errorf("the log's first %d records no longer hash to the root the ledger signed for them (%s, now %s): the log was changed; run planledger verify", c.Size, c.Root, root)
	}
	return nil
}

// restore sets the tree to checkpoint c: the partial tile of each level,
// from the log (level 0) and the full tiles below (the others); the root
// must then be c's.
func (t *Tree) restore(ctx context.Context, c Checkpoint) error {
	last, err := t.store.LastSequence(ctx)
	if err != nil {
		return err
	}
	if int64(last) < c.Size {
		return fmt.Errorf("the log ends at sequence %d, but the ledger signed a checkpoint of its first %d records: sequences %d-%d, acknowledged and committed to, are lost; restore the data from a backup", last, c.Size, last+1, c.Size)
	}
	h := t.hashes
	h.size = c.Size
	for l := 0; c.Size>>(TileHeight*l) > 0; l++ {
		n := c.Size >> (TileHeight * l) // hashes on this tile level's tree level
		w := n % tileWidth
		var data []byte
		if l == 0 {
			data, err = t.leafHashes(ctx, n-w, w)
		} else {
			data, err = t.tileRoots(ctx, l-1, n-w, w)
		}
		if err != nil {
			return fmt.Errorf("tree: restore level %d at size %d: %w", l, c.Size, err)
		}
		h.partial = append(h.partial, data)
	}
	root, err := h.Root(ctx, c.Size)
	if err != nil {
		return fmt.Errorf("tree: restore at size %d: %w", c.Size, err)
	}
	if root != c.Root {
		return fmt.Errorf("the log's first %d records no longer hash to the root the ledger signed for them (%s, now %s): the log or the tree's tiles were changed; run planledger verify", c.Size, c.Root, root)
	}
	return nil
}

// leafHashes returns the leaf hashes of leaves from to from+n-1.
func (t *Tree) leafHashes(ctx context.Context, from, n int64) ([]byte, error) {
	out := make([]byte, 0, n*tlog.HashSize)
	var line []byte
	for uint64(len(out)) < uint64(n*tlog.HashSize) {
		recs, err := t.store.Read(ctx, uint64(from)+uint64(len(out)/tlog.HashSize), int(n)-len(out)/tlog.HashSize, eventstore.Filter{})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, fmt.Errorf("the log has no record %d", from+int64(len(out)/tlog.HashSize)+1)
		}
		for i := range recs {
			line = domain.AppendLine(line[:0], &recs[i])
			h := LeafHash(line)
			out = append(out, h[:]...)
		}
	}
	return out, nil
}

// tileRoots returns the roots of full tiles from to from+n-1 of level l:
// the hashes of the next tile level. A tile's root is the parent of the
// two hashes of its top row.
func (t *Tree) tileRoots(ctx context.Context, l int, from, n int64) ([]byte, error) {
	out := make([]byte, 0, n*tlog.HashSize)
	top := TileHeight*(l+1) - 1
	for k := from; k < from+n; k++ {
		full := tlog.Tile{H: TileHeight, L: l, N: k, W: tileWidth}
		d, err := t.s.GetTile(ctx, full)
		if err != nil {
			return nil, err
		}
		left, err := tlog.HashFromTile(full, d, tlog.StoredHashIndex(top, 2*k))
		if err != nil {
			return nil, err
		}
		right, err := tlog.HashFromTile(full, d, tlog.StoredHashIndex(top, 2*k+1))
		if err != nil {
			return nil, err
		}
		root := tlog.NodeHash(left, right)
		out = append(out, root[:]...)
	}
	return out, nil
}

// Append adds the next record of the log as the tree's next leaf.
func (t *Tree) Append(ctx context.Context, rec *domain.Record, line []byte) ([]byte, error) {
	line = domain.AppendLine(line[:0], rec)
	t.hashes.mu.Lock()
	if rec.Sequence != uint64(t.hashes.size)+1 {
		n := t.hashes.size
		t.hashes.mu.Unlock()
		return line, fmt.Errorf("tree of size %d cannot take sequence %d: records come in order, without gaps", n, rec.Sequence)
	}
	err := t.hashes.append(ctx, LeafHash(line))
	t.hashes.mu.Unlock()
	if err == nil {
		t.growMu.Lock()
		close(t.grown)
		t.grown = make(chan struct{})
		t.growMu.Unlock()
	}
	return line, err
}

// CatchUp adds every record up to the log's last one now.
func (t *Tree) CatchUp(ctx context.Context) error {
	var line []byte
	return t.store.Each(ctx, uint64(t.Size())+1, func(rec domain.Record) error {
		var err error
		line, err = t.Append(ctx, &rec, line)
		return err
	})
}

// Run follows the log until ctx is done, storing tiles and signing a
// checkpoint every cfg.Every while it grows, and once more at the end.
func (t *Tree) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.follow(ctx)
	}()
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := t.Sync(fctx); err != nil {
				t.log.Error("tree: the last checkpoint was not signed", "err", err)
			}
			cancel()
			return
		case <-tick.C:
			if err := t.Sync(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("tree: checkpoint not signed; trying again", "size", t.Size(), "err", err)
			}
		}
	}
}

func (t *Tree) follow(ctx context.Context) {
	pause := retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second}.Begin()
	var line []byte
	for ctx.Err() == nil {
		err := t.store.Follow(ctx, uint64(t.Size())+1, func(rec domain.Record) error {
			var err error
			line, err = t.Append(ctx, &rec, line)
			return err
		})
		if ctx.Err() != nil {
			return
		}
		t.log.Warn("tree: following the log failed; resuming", "size", t.Size(), "err", err)
		_ = pause.Pause(ctx, err) // only ctx ends the tries: the loop sees it
	}
}

// Sync stores the tiles the tree filled since the last call, then signs a
// checkpoint of the tree's size if it is past the latest one: the tiles a
// checkpoint covers are stored before it.
func (t *Tree) Sync(ctx context.Context) error {
	n := t.Size() // every tile the tree filled up to n is pending now
	if err := t.storeTiles(ctx); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for attempt := 0; attempt < 3; attempt++ {
		if n <= t.latest.Size && t.latestAt.Seq != 0 {
			return nil
		}
		root, err := t.Root(ctx, n)
		if err != nil {
			return err
		}
		c := Checkpoint{Origin: t.origin, Size: n, Root: root}
		signed, err := c.Sign(t.signer)
		if err != nil {
			return err
		}
		err = t.s.putCheckpoint(ctx, n, signed, t.latestAt.Seq)
		if err == nil {
			t.latest, t.latestAt = c, storedCheckpoint{Signed: signed, Seq: t.latestAt.Seq + 1, Time: time.Now()}
			return nil
		}
		if !errors.Is(err, errCheckpointRace) {
			return fmt.Errorf("store checkpoint of size %d: %w", n, err)
		}
		// Another instance signed meanwhile: take its checkpoint as the
		// latest, after checking it is the same tree as this one.
		if err := t.adoptLatest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// adoptLatest reads the latest checkpoint another instance signed and
// checks it against this tree, where this tree is that far.
func (t *Tree) adoptLatest(ctx context.Context) error {
	sc, err := t.s.latestCheckpoint(ctx)
	if err != nil {
		return err
	}
	c, err := OpenCheckpoint(sc.Signed, t.verifier)
	if err != nil {
		t.Conflicts.Add(1)
		return fmt.Errorf("the latest stored checkpoint is not this ledger's: %w", err)
	}
	if c.Size <= t.Size() {
		root, err := t.Root(ctx, c.Size)
		if err != nil {
			return err
		}
		if root != c.Root {
			t.Conflicts.Add(1)
			return fmt.Errorf("the checkpoint of size %d stored by another instance has root %s, this tree %s: the instances disagree about the log", c.Size, c.Root, root)
		}
	}
	t.latest, t.latestAt = c, sc
	return nil
}

func (t *Tree) storeTiles(ctx context.Context) error {
	pending := t.pendingTiles()
	tiles := make([]tlog.Tile, 0, len(pending))
	for tl := range pending {
		tiles = append(tiles, tl)
	}
	sort.Slice(tiles, func(i, j int) bool {
		if tiles[i].L != tiles[j].L {
			return tiles[i].L < tiles[j].L
		}
		return tiles[i].N < tiles[j].N
	})
	for _, tl := range tiles {
		err := t.s.putTile(ctx, tl, pending[tl])
		if errors.Is(err, errTileConflict) {
			t.Conflicts.Add(1)
		}
		if err != nil {
			return err
		}
		t.markStored(tl)
	}
	return nil
}

// Latest returns the latest signed checkpoint, its signed note and when it
// was stored; ok is false if none was signed yet.
func (t *Tree) Latest() (c Checkpoint, signed []byte, at time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest, t.latestAt.Signed, t.latestAt.Time, t.latestAt.Seq != 0
}

// CheckpointAt returns the signed checkpoint of tree size n, if one was
// signed for exactly that size.
func (t *Tree) CheckpointAt(ctx context.Context, n int64) (Checkpoint, []byte, error) {
	sc, err := t.s.checkpointAt(ctx, n)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, err := OpenCheckpoint(sc.Signed, t.verifier)
	return c, sc.Signed, err
}

// WaitFor waits until the tree has at least n leaves, or ctx ends.
func (t *Tree) WaitFor(ctx context.Context, n int64) error {
	for {
		t.growMu.Lock()
		ch := t.grown
		t.growMu.Unlock()
		if t.Size() >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return domain.Errorf(domain.KindUnavailable, "the log's tree has %d leaves, not yet %d", t.Size(), n)
		}
	}
}

// Verifier is the log's verifier key.
func (t *Tree) Verifier() note.Verifier { return t.verifier }
