package eventstore

import (
	"fmt"
	"testing"

	"planledger/domain"
)

// TestIDIndexCollision: an id whose hash is taken by another id is kept by
// name, and the taken slot still answers for the first id; in the short
// list of a few ids and in the map of many alike.
func TestIDIndexCollision(t *testing.T) {
	for _, n := range []int{1, fewIDs + 1} {
		var x idIndex
		for i := 0; i < n; i++ {
			x.add(fmt.Sprint("e", i), uint64(i+1))
		}
		if (x.byHash != nil) != (n > fewIDs) {
			t.Fatalf("%d ids: map %v", n, x.byHash != nil)
		}
		// Pretend "b" hashes like an id already stored at 70.
		h := domain.IDHash("b")
		if x.byHash != nil {
			x.byHash[h] = 70
		} else {
			x.few = append(x.few, hashSeq{h, 70})
		}
		x.add("b", 90)
		if seq, ok := x.candidate("b"); !ok || seq != 90 {
			t.Fatalf("%d ids: candidate(b) = %d, %v; want 90 from the collision map", n, seq, ok)
		}
		for i := 0; i < n; i++ {
			if seq, ok := x.candidate(fmt.Sprint("e", i)); !ok || seq != uint64(i+1) {
				t.Fatalf("%d ids: candidate(e%d) = %d, %v", n, i, seq, ok)
			}
		}
		if _, ok := x.candidate("c"); ok {
			t.Fatalf("%d ids: candidate(c) found an id never added", n)
		}
	}
}
