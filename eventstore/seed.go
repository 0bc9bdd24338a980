package eventstore

import (
	"context"

	"planledger/domain"
)

// Seed gives the store what a snapshot of an aggregate (the command
// path's, see domain.Snapshot) says of it: its version, the sequence of
// its last record and its events' ids, so that the store reads only the
// records after that sequence, not the aggregate's whole history. A store
// that already knows as much of the aggregate keeps what it knows.
func (s *Store) Seed(ctx context.Context, ref domain.Ref, version, lastSeq uint64, ids []domain.IDSeq, collisions map[string]uint64) error {
	aggs, unlock, err := s.lockAggregates(ctx, []domain.Ref{ref})
	if err != nil {
		return err
	}
	defer unlock()
	a := aggs[0]
	if a.lastSeq >= lastSeq && a.version > 0 {
		return nil
	}
	x := idIndex{collision: collisions}
	if len(ids) > fewIDs {
		x.byHash = make(map[uint64]uint64, len(ids))
		for _, e := range ids {
			x.byHash[e.Hash] = e.Seq
		}
	} else {
		for _, e := range ids {
			x.few = append(x.few, hashSeq{e.Hash, e.Seq})
		}
	}
	a.version, a.lastSeq, a.ids = version, lastSeq, x
	a.current, a.openAt, a.openEnd = false, 0, 0 // read what follows it
	return nil
}
