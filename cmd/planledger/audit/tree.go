package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"planledger/eventstore/logtree"
)

// TreeInput is what verify holds the log's tree against: its latest
// signed checkpoint, checked with a verifier key the auditor pinned, and
// the checkpoints the auditor verified before.
type TreeInput struct {
	Verifier note.Verifier
	// Latest is the log's latest signed checkpoint; nil if there is none
	// to check (an export read alone, say).
	Latest []byte
	// State holds the checkpoints verified before; nil for none.
	State *State
	// ProveTree, if set, asks the log for its proof that its tree of size
	// m is a prefix of the latest checkpoint's.
	ProveTree func(ctx context.Context, m int64) (tlog.TreeProof, error)
}

// treeCheck recomputes the tree from the records' lines and compares its
// root, at each size a checkpoint was signed for, with that checkpoint.
type treeCheck struct {
	in      *TreeInput
	b       *logtree.Builder
	latest  *logtree.Checkpoint
	wants   map[int64][]want // by tree size
	outcome map[int64]bool   // state sizes: whether today's log agrees
	edges   map[int64][]logtree.Subtree
}

type want struct {
	root  tlog.Hash
	what  string
	state bool
}

func (v *verifier) openTree() error {
	in := v.in.Tree
	if in == nil {
		return nil
	}
	t := &treeCheck{in: in, b: logtree.NewBuilder(), wants: map[int64][]want{}, outcome: map[int64]bool{}, edges: map[int64][]logtree.Subtree{}}
	v.tree = t
	if in.State != nil {
		if err := in.State.Check(in.Verifier); err != nil {
			return fmt.Errorf("the state file is refused: %w", err)
		}
		for _, e := range in.State.Checkpoints {
			c, _ := logtree.OpenCheckpoint([]byte(e.Checkpoint), in.Verifier)
			t.wants[c.Size] = append(t.wants[c.Size], want{root: c.Root, state: true,
				what: fmt.Sprintf("the checkpoint of size %d you verified on %s", c.Size, e.VerifiedAt.Format(time.RFC3339))})
		}
	}
	if in.Latest != nil {
		c, err := logtree.OpenCheckpoint(in.Latest, in.Verifier)
		if err != nil {
			v.find(Finding{Check: CheckCheckpoint, Detail: err.Error()})
			return nil
		}
		t.latest = &c
		t.wants[c.Size] = append(t.wants[c.Size], want{root: c.Root, what: fmt.Sprintf("the log's latest signed checkpoint (size %d)", c.Size)})
	}
	v.checkSize(0)
	return nil
}

// leaf adds a record's line to the recomputed tree.
func (v *verifier) leaf(line []byte) {
	t := v.tree
	if t == nil {
		return
	}
	if err := t.b.Add(line); err != nil {
		v.find(Finding{Check: CheckTree, Detail: err.Error()})
		return
	}
	v.checkSize(t.b.Size())
}

// checkSize compares the recomputed root with the checkpoints of size n.
func (v *verifier) checkSize(n int64) {
	t := v.tree
	ws, ok := t.wants[n]
	if !ok {
		return
	}
	root, err := t.b.Root()
	if err != nil {
		v.find(Finding{Check: CheckTree, Detail: err.Error()})
		return
	}
	t.edges[n] = t.b.Edge()
	for _, w := range ws {
		if w.state {
			t.outcome[n] = root == w.root
			continue
		}
		if root != w.root {
			v.find(Finding{Check: CheckTree, Sequence: uint64(n), Detail: fmt.Sprintf("the log's first %d records hash to %s, but %s says %s: the records were changed after it was signed", n, root, w.what, w.root)})
		}
	}
}

// closeTree reports what the records could not be held against, and
// where the log parts from the checkpoints verified before.
func (v *verifier) closeTree(ctx context.Context) {
	t := v.tree
	if t == nil {
		return
	}
	n := t.b.Size()
	for size, ws := range t.wants {
		for _, w := range ws {
			if size > n && !w.state {
				v.find(Finding{Check: CheckTree, Sequence: uint64(size), Detail: fmt.Sprintf("the log holds %d records, but %s commits to %d", n, w.what, size)})
			}
			if size > n && w.state {
				t.outcome[size] = false
			}
		}
	}
	v.consistency(ctx)
	if t.latest != nil && v.report.countOf(CheckTree, CheckCheckpoint, CheckConsistency) == 0 {
		v.report.Checkpoint, v.report.Edge = t.latest, t.edges[t.latest.Size]
		v.report.TreeNote = fmt.Sprintf("the records hash to the signed checkpoint of size %d (root %s)", t.latest.Size, t.latest.Root)
		if s := t.in.State; s != nil && len(s.Checkpoints) > 0 {
			v.report.TreeNote += fmt.Sprintf(", which extends the %d checkpoint(s) verified before", len(s.Checkpoints))
		}
	}
}

// consistency reports a log that is not an extension of the checkpoints
// verified before, naming the sizes between which it was rewritten, and
// checks the log's own consistency proof from the last one verified.
func (v *verifier) consistency(ctx context.Context) {
	t := v.tree
	if t.in.State == nil || len(t.in.State.Checkpoints) == 0 {
		return
	}
	entries := append([]StateEntry(nil), t.in.State.Checkpoints...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Size < entries[j].Size })
	var agreed *StateEntry
	for i := range entries {
		e := &entries[i]
		if t.outcome[e.Size] {
			agreed = e
			continue
		}
		where := "no checkpoint you verified before agrees with it"
		if agreed != nil {
			where = fmt.Sprintf("it agrees with the checkpoint of size %d you verified on %s: the log was rewritten after sequence %d",
				agreed.Size, agreed.VerifiedAt.Format(time.RFC3339), agreed.Size)
		}
		if lo, hi, ok := changedRange(e, t.edges[e.Size]); ok {
			where += fmt.Sprintf("; the first change lies in sequences %d-%d", lo, hi)
		}
		v.find(Finding{Check: CheckConsistency, Sequence: uint64(e.Size), Detail: fmt.Sprintf("the log is not the one you verified at size %d on %s (root %s): %s",
			e.Size, e.VerifiedAt.Format(time.RFC3339), e.Root, where)})
		return
	}
	last := entries[len(entries)-1]
	if t.in.ProveTree == nil || t.latest == nil || last.Size > t.latest.Size {
		return
	}
	c, _ := logtree.OpenCheckpoint([]byte(last.Checkpoint), t.in.Verifier)
	p, err := t.in.ProveTree(ctx, c.Size)
	if err == nil {
		err = tlog.CheckTree(p, t.latest.Size, t.latest.Root, c.Size, c.Root)
	}
	if err != nil {
		v.find(Finding{Check: CheckConsistency, Sequence: uint64(c.Size), Detail: fmt.Sprintf("the log's proof that its tree of size %d extends the one of size %d you verified does not hold: %v", t.latest.Size, c.Size, err)})
	}
}

// changedRange compares the edge kept with a checkpoint with today's edge
// at its size: the first complete subtree that differs holds the first
// changed record.
func changedRange(e *StateEntry, today []logtree.Subtree) (lo, hi int64, ok bool) {
	if len(today) != len(e.Edge) {
		return 0, 0, false // the log is shorter than the checkpoint
	}
	for i, st := range today {
		if base64.StdEncoding.EncodeToString(st.Hash[:]) != e.Edge[i] {
			return st.Start + 1, st.Start + st.Size, true
		}
	}
	return 0, 0, false
}

// countOf counts the findings of the given checks.
func (r *Report) countOf(checks ...string) int {
	n := 0
	for _, f := range r.Findings {
		for _, c := range checks {
			if f.Check == c {
				n++
			}
		}
	}
	return n
}
