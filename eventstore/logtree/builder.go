package logtree

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Builder computes the tree of a list of records from their lines alone,
// leaf by leaf: what an auditor runs over the records they read, to hold
// the roots against the log's signed checkpoints. It keeps only the
// hashes later leaves and the root need (the roots of the complete
// subtrees on the tree's right edge, and a few hundred more between two
// prunings), so its memory does not grow with the log; tlog computes
// every hash.
type Builder struct {
	n      int64
	stored map[int64]tlog.Hash
}

// NewBuilder returns the builder of an empty tree.
func NewBuilder() *Builder { return &Builder{stored: map[int64]tlog.Hash{}} }

// Size is the number of leaves added.
func (b *Builder) Size() int64 { return b.n }

func (b *Builder) read(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := b.stored[idx]
		if !ok {
			return nil, fmt.Errorf("tree builder: hash %d was not kept", idx)
		}
		out[i] = h
	}
	return out, nil
}

// Add adds the next leaf, the record line.
func (b *Builder) Add(line []byte) error {
	hs, err := tlog.StoredHashesForRecordHash(b.n, LeafHash(line), tlog.HashReaderFunc(b.read))
	if err != nil {
		return err
	}
	for level, h := range hs {
		b.stored[tlog.StoredHashIndex(level, b.n>>level)] = h
	}
	b.n++
	if len(b.stored) > 256 { // now and then: each leaf adds two hashes on average
		keep := edge(b.n)
		for idx := range b.stored {
			if !keep[idx] {
				delete(b.stored, idx)
			}
		}
	}
	return nil
}

// Root is the root of the tree of the leaves added so far.
func (b *Builder) Root() (tlog.Hash, error) {
	return tlog.TreeHash(b.n, tlog.HashReaderFunc(b.read))
}

// Subtree is one of the complete subtrees a tree is made of: its leaves
// [Start, Start+Size) and its hash.
type Subtree struct {
	Start, Size int64
	Hash        tlog.Hash
}

// Edge is the complete subtrees the tree of the leaves added so far is
// made of, left to right: kept by an auditor beside a checkpoint, it tells
// a later run which range of records changed, if any did.
func (b *Builder) Edge() []Subtree {
	var out []Subtree
	var start int64
	for level := 62; level >= 0; level-- {
		if b.n&(1<<level) != 0 {
			out = append(out, Subtree{Start: start, Size: 1 << level, Hash: b.stored[tlog.StoredHashIndex(level, start>>level)]})
			start += 1 << level
		}
	}
	return out
}

// edge is the set of stored hash indexes of the complete subtrees a tree
// of n leaves is made of: one per bit set in n.
func edge(n int64) map[int64]bool {
	keep := make(map[int64]bool, 64)
	var start int64
	for level := 62; level >= 0; level-- {
		if n&(1<<level) != 0 {
			keep[tlog.StoredHashIndex(level, start>>level)] = true
			start += 1 << level
		}
	}
	return keep
}
