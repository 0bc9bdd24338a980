// Package logtree keeps the log's Merkle tree: RFC 6962 hashing over every
// record in sequence order (leaf index = sequence - 1, leaf = the record's
// line, domain.AppendLine), computed with golang.org/x/mod/sumdb/tlog,
// stored as C2SP tlog-tiles in a JetStream stream of their own, and
// committed to by C2SP tlog-checkpoint signed notes in another, one per
// tree size, signed with the log key. It also holds what an auditor needs
// to check all of that without trusting the ledger: the checkpoint and
// proof formats and a tree built from records alone.
package logtree

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of every tile, as C2SP tlog-tiles fixes it: a
// tile holds 256 hashes of one level of the tree.
const TileHeight = 8

const tileWidth = 1 << TileHeight

// TileStore keeps full tiles: immutable, each written once.
type TileStore interface {
	// GetTile returns a full tile's data, or an error wrapping
	// ErrNoTile.
	GetTile(ctx context.Context, t tlog.Tile) ([]byte, error)
}

// ErrNoTile says a tile is not stored.
var ErrNoTile = errors.New("no such tile")

// hashes is the tree's hashes: the full tiles in a TileStore (recent ones
// in memory until stored, and a cache of read ones), and of each tile
// level the one partial tile, in memory. That is all tlog needs to add a
// record, to compute a root and to prove anything, and it costs a few
// kilobytes of memory whatever the size of the log.
type hashes struct {
	mu      sync.RWMutex
	size    int64
	partial [][]byte // per tile level, the data of the tile being filled
	// pending are full tiles not yet in the store; cache are some that
	// are, read back for proofs.
	pending map[tlog.Tile][]byte
	store   TileStore

	// cache has its own lock: readers holding only the read lock fill it.
	// A plain map that forgets an arbitrary entry when full will do:
	// tiles never change.
	cacheMu sync.Mutex
	cache   map[tlog.Tile][]byte
}

// maxCachedTiles bounds the cache of full tiles read back (8 KiB each).
const maxCachedTiles = 512

func newHashes(store TileStore) *hashes {
	return &hashes{pending: map[tlog.Tile][]byte{}, cache: map[tlog.Tile][]byte{}, store: store}
}

// Size is the number of leaves.
func (h *hashes) Size() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.size
}

// append adds the leaf with hash leaf at index h.size. The caller holds
// the write lock.
func (h *hashes) append(ctx context.Context, leaf tlog.Hash) error {
	n := h.size
	stored, err := tlog.StoredHashesForRecordHash(n, leaf, h.reader(ctx, n))
	if err != nil {
		return fmt.Errorf("tree: add leaf %d: %w", n, err)
	}
	// stored[i] is the hash at level i ending at leaf n; tiles hold the
	// levels that are multiples of the tile height, the rest they derive.
	for i := 0; i < len(stored); i += TileHeight {
		l := i / TileHeight
		for len(h.partial) <= l {
			h.partial = append(h.partial, nil)
		}
		h.partial[l] = append(h.partial[l], stored[i][:]...)
		if len(h.partial[l]) == tileWidth*tlog.HashSize {
			k := n >> i // this hash's index on its level
			t := tlog.Tile{H: TileHeight, L: l, N: k / tileWidth, W: tileWidth}
			h.pending[t] = h.partial[l]
			h.partial[l] = nil
		}
	}
	h.size++
	return nil
}

// reader reads stored hashes of the tree as it is at size n (n <= size):
// from the partial tiles, the pending ones, the cache, or the store. The
// caller holds a lock.
func (h *hashes) reader(ctx context.Context, n int64) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, idx := range indexes {
			t := tlog.TileForIndex(TileHeight, idx)
			data, err := h.tileData(ctx, t)
			if err != nil {
				return nil, err
			}
			if out[i], err = tlog.HashFromTile(t, data, idx); err != nil {
				return nil, fmt.Errorf("tree: hash %d from tile %v: %w", idx, t, err)
			}
		}
		return out, nil
	})
}

// tileData returns at least t.W hashes of tile (t.L, t.N).
func (h *hashes) tileData(ctx context.Context, t tlog.Tile) ([]byte, error) {
	full := tlog.Tile{H: TileHeight, L: t.L, N: t.N, W: tileWidth}
	if t.L < len(h.partial) && t.N == h.fullTiles(t.L) {
		if p := h.partial[t.L]; len(p) >= t.W*tlog.HashSize {
			return p, nil
		}
		return nil, fmt.Errorf("tree: tile %d/%d has %d hashes, not %d", t.L, t.N, len(h.partial[t.L])/tlog.HashSize, t.W)
	}
	if d, ok := h.pending[full]; ok {
		return d, nil
	}
	h.cacheMu.Lock()
	d, ok := h.cache[full]
	h.cacheMu.Unlock()
	if ok {
		return d, nil
	}
	d, err := h.store.GetTile(ctx, full)
	if err != nil {
		return nil, err
	}
	if len(d) != tileWidth*tlog.HashSize {
		return nil, fmt.Errorf("tree: stored tile %d/%d holds %d bytes", t.L, t.N, len(d))
	}
	h.remember(full, d)
	return d, nil
}

// fullTiles is how many tiles of level l are full.
func (h *hashes) fullTiles(l int) int64 {
	return (h.size >> (TileHeight * l)) / tileWidth
}

// remember caches a full tile.
func (h *hashes) remember(t tlog.Tile, d []byte) {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if len(h.cache) >= maxCachedTiles {
		for k := range h.cache {
			delete(h.cache, k)
			break
		}
	}
	h.cache[t] = d
}

// Root is the root hash of the tree at size n.
func (h *hashes) Root(ctx context.Context, n int64) (tlog.Hash, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if n > h.size {
		return tlog.Hash{}, fmt.Errorf("tree: size %d is past the tree's %d", n, h.size)
	}
	return tlog.TreeHash(n, h.reader(ctx, n))
}

// ProveRecord proves that leaf index is in the tree of size n.
func (h *hashes) ProveRecord(ctx context.Context, index, n int64) (tlog.RecordProof, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if n > h.size || index >= n || index < 0 {
		return nil, fmt.Errorf("tree: no leaf %d in a tree of size %d (the tree has %d)", index, n, h.size)
	}
	return tlog.ProveRecord(n, index, h.reader(ctx, n))
}

// ProveTree proves that the tree of size m is a prefix of that of size n.
func (h *hashes) ProveTree(ctx context.Context, m, n int64) (tlog.TreeProof, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if n > h.size || m > n || m < 1 {
		return nil, fmt.Errorf("tree: cannot prove size %d against %d (the tree has %d)", m, n, h.size)
	}
	return tlog.ProveTree(n, m, h.reader(ctx, n))
}

// Tile returns the first w hashes of tile (l, k), as the tree holds them
// now: a full tile, or the partial one if it has at least w.
func (h *hashes) Tile(ctx context.Context, l int, k int64, w int) ([]byte, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if k > h.fullTiles(l) || (k == h.fullTiles(l) && (l >= len(h.partial) || len(h.partial[l]) < w*tlog.HashSize)) {
		return nil, fmt.Errorf("%w: %d/%d of width %d is past the tree of size %d", ErrNoTile, l, k, w, h.size)
	}
	d, err := h.tileData(ctx, tlog.Tile{H: TileHeight, L: l, N: k, W: w})
	if err != nil {
		return nil, err
	}
	return d[:w*tlog.HashSize], nil
}

// pendingTiles returns the full tiles not yet stored.
func (h *hashes) pendingTiles() map[tlog.Tile][]byte {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[tlog.Tile][]byte, len(h.pending))
	for t, d := range h.pending {
		out[t] = d
	}
	return out
}

// markStored moves tiles from pending to the cache once stored.
func (h *hashes) markStored(t tlog.Tile) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d, ok := h.pending[t]; ok {
		delete(h.pending, t)
		h.remember(t, d)
	}
}
