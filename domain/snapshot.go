package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
)

// An aggregate's snapshot: its folded state, its version and the ids of
// its events, without the events. An aggregate restored from one decides
// the next event as the whole history would, so a long aggregate is not
// read again (nor folded again) from the log for an append. Only a
// retraction needs the events themselves (ErrNeedsHistory).

// ErrNeedsHistory is returned for a retraction on an aggregate restored
// from a snapshot: load its whole history first.
var ErrNeedsHistory = errors.New("a retraction is decided and folded on the aggregate's whole history, which this snapshot does not hold")

// IDSeq is an event id's hash (IDHash) and the sequence of its record.
type IDSeq struct {
	Hash uint64 `json:"h"`
	Seq  uint64 `json:"s"`
}

// IDHash is the 64-bit hash an event id is known by in snapshots and
// indexes (FNV-1a: stable across processes, unlike a map's).
func IDHash(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// Snapshot is an aggregate without its events.
type Snapshot struct {
	Summary      Summary           `json:"summary"`
	Version      uint64            `json:"version"`
	LastSequence uint64            `json:"last_sequence"`
	LastID       string            `json:"last_id"`
	Retracted    map[string]string `json:"retracted,omitempty"`
	// IDs are the events' ids by hash; Collisions the few whose hash an
	// earlier id took, by name.
	IDs        []IDSeq           `json:"ids"`
	Collisions map[string]uint64 `json:"collisions,omitempty"`
}

// Snapshot returns the aggregate without its events; lastID is the id of
// its last event (for a reader to check the snapshot against the log).
func (a *Aggregate) Snapshot() (Snapshot, error) {
	if a.shared {
		return Snapshot{}, errors.New("a clone has no snapshot")
	}
	s := Snapshot{Summary: a.Summary.copy(), Version: a.version, LastSequence: a.lastSeq, LastID: a.lastID, Retracted: maps.Clone(a.retracted),
		IDs: make([]IDSeq, 0, len(a.ids.byHash)), Collisions: maps.Clone(a.ids.collision)}
	for h, seq := range a.ids.byHash {
		s.IDs = append(s.IDs, IDSeq{Hash: h, Seq: seq})
	}
	return s, nil
}

// Restore returns the aggregate of ref a snapshot describes: Partial,
// ready for the records after s.LastSequence.
func Restore(ref Ref, s Snapshot) (*Aggregate, error) {
	if s.Summary.Ref != ref || (s.Version > 0) != (s.LastSequence > 0) {
		return nil, fmt.Errorf("the snapshot of %s describes %s at version %d, sequence %d", ref, s.Summary.Ref, s.Version, s.LastSequence)
	}
	a := &Aggregate{Summary: s.Summary.copy(), version: s.Version, lastSeq: s.LastSequence, lastID: s.LastID, retracted: s.Retracted,
		ids: &idSet{byHash: make(map[uint64]uint64, len(s.IDs)), collision: s.Collisions}, partial: s.Version > 0}
	for _, e := range s.IDs {
		a.ids.byHash[e.Hash] = e.Seq
	}
	return a, nil
}

// IDs returns the aggregate's ids by hash, and the colliding ones by
// name: what the store needs to tell a retried event.
func (a *Aggregate) IDs() ([]IDSeq, map[string]uint64) {
	out := make([]IDSeq, 0, len(a.ids.byHash))
	for h, seq := range a.ids.byHash {
		out = append(out, IDSeq{Hash: h, Seq: seq})
	}
	return out, a.ids.collision
}

// idSet maps the hash of each event id to its record's sequence; an id
// whose hash an earlier one took is kept by name.
type idSet struct {
	byHash    map[uint64]uint64
	collision map[string]uint64
}

func (x *idSet) add(id string, seq uint64) {
	h := IDHash(id)
	if x.byHash == nil {
		x.byHash = map[uint64]uint64{}
	}
	if _, taken := x.byHash[h]; !taken {
		x.byHash[h] = seq
		return
	}
	if x.collision == nil {
		x.collision = map[string]uint64{}
	}
	x.collision[id] = seq
}

func (x *idSet) candidate(id string) (uint64, bool) {
	if seq, ok := x.collision[id]; ok {
		return seq, true
	}
	seq, ok := x.byHash[IDHash(id)]
	return seq, ok
}

// copy returns an independent copy of the summary (a state holds maps and
// slices), through its JSON form, which checkpoints keep it in.
func (s Summary) copy() Summary {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("domain: summary of %s does not encode: %v", s.Ref, err))
	}
	var c Summary
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("domain: summary of %s does not decode: %v", s.Ref, err))
	}
	return c
}
