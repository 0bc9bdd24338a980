package eventstore

import (
	"hash/maphash"
	"testing"
)

// TestIDIndexCollision: an id whose hash is taken by another id is kept by
// name, and the taken slot still answers for the first id.
func TestIDIndexCollision(t *testing.T) {
	var x idIndex
	x.add("a", 1)
	// Pretend "b" hashes like an id already stored at 7.
	x.byHash[maphash.String(idSeed, "b")] = 7
	x.add("b", 9)
	if seq, ok := x.candidate("b"); !ok || seq != 9 {
		t.Fatalf("candidate(b) = %d, %v; want 9 from the collision map", seq, ok)
	}
	if seq, ok := x.candidate("a"); !ok || seq != 1 {
		t.Fatalf("candidate(a) = %d, %v; want 1", seq, ok)
	}
	if _, ok := x.candidate("c"); ok {
		t.Fatal("candidate(c) found an id never added")
	}
}
