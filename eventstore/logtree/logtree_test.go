package logtree_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"
)

// fill appends n events in atomic batches, and a few foreign messages
// among them: the tree covers every message of the log.
func fill(t *testing.T, s *eventstore.Store, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; {
		var batch []eventstore.Pending
		for ; i < from+n && len(batch) < 1000; i++ {
			batch = append(batch, eventstore.Pending{Submitter: "t", Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", i), Source: "/t",
				Type: "society.registered", Subject: fmt.Sprintf("society/s%d", i%97), Time: time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC),
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}})
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg("planledger.events.society.x")
		m.Data = []byte(fmt.Sprintf("junk %d", i))
		if _, err := s.JetStream().PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func openStore(t *testing.T, dir string, key *logkey.Key) *eventstore.Store {
	t.Helper()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// lines returns the line of every record of the log, in order.
func lines(t *testing.T, s *eventstore.Store) [][]byte {
	t.Helper()
	var out [][]byte
	if err := s.Each(context.Background(), 1, func(rec domain.Record) error {
		out = append(out, domain.AppendLine(nil, &rec))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTreeAgainstAnotherImplementation: the live tree, a tree built from
// the records' lines alone, and transparency-dev/merkle agree on the root;
// every record's inclusion proof and consistency proofs between random
// sizes verify with transparency-dev/merkle; the stored tiles prove the
// same root to a client that verifies them (tlog.TileHashReader).
func TestTreeAgainstAnotherImplementation(t *testing.T) {
	ctx := context.Background()
	key, _ := logkey.Generate(0)
	s := openStore(t, t.TempDir(), key)
	fill(t, s, 0, 10_000)
	tr, err := logtree.Open(ctx, s, logtree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	c, signed, _, ok := tr.Latest()
	ls := lines(t, s)
	if !ok || c.Size != int64(len(ls)) || len(ls) < 10_000 {
		t.Fatalf("checkpoint %+v ok=%v; the log has %d records", c, ok, len(ls))
	}
	v, _ := note.NewVerifier(key.VerifierKey())
	if got, err := logtree.OpenCheckpoint(signed, v); err != nil || got != c {
		t.Fatalf("the signed checkpoint: %+v %v", got, err)
	}

	b := logtree.NewBuilder()
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, l := range ls {
		if err := b.Add(l); err != nil {
			t.Fatal(err)
		}
		if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(l), nil); err != nil {
			t.Fatal(err)
		}
	}
	built, _ := b.Root()
	other, _ := rng.GetRootHash(nil)
	if built != c.Root || !bytes.Equal(other, c.Root[:]) {
		t.Fatalf("roots differ: live %s, built %s, transparency-dev %x", c.Root, built, other)
	}

	for i, l := range ls {
		p, err := tr.ProveRecord(ctx, int64(i), c.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(c.Size), rfc6962.DefaultHasher.HashLeaf(l), hashes(p), c.Root[:]); err != nil {
			t.Fatalf("inclusion of leaf %d: %v", i, err)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		n := 1 + r.Int64N(c.Size)
		m := 1 + r.Int64N(n)
		p, err := tr.ProveTree(ctx, m, n)
		if err != nil {
			t.Fatal(err)
		}
		rm, _ := tr.Root(ctx, m)
		rn, _ := tr.Root(ctx, n)
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(m), uint64(n), hashes(p), rm[:], rn[:]); err != nil {
			t.Fatalf("consistency %d -> %d: %v", m, n, err)
		}
	}

	// A client that trusts only the checkpoint reads hashes from the
	// tiles, checking each against the root.
	tiles := tileReader{t: tr}
	th := tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, &tiles)
	if root, err := tlog.TreeHash(c.Size, th); err != nil || root != c.Root {
		t.Fatalf("root from the tiles: %s %v", root, err)
	}
	if _, err := tlog.ProveRecord(c.Size, 1234, th); err != nil {
		t.Fatalf("a proof from the tiles: %v", err)
	}
	tiles.tamper = true
	if _, err := tlog.ProveRecord(c.Size, 77, tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, &tiles)); err == nil {
		t.Fatal("a tampered tile was accepted")
	}
}

func hashes(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

// tileReader serves the tree's tiles to tlog.TileHashReader, as a client
// reading them over HTTP would get them; tamper flips a bit in each.
type tileReader struct {
	t      *logtree.Tree
	tamper bool
}

func (r *tileReader) Height() int { return logtree.TileHeight }
func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		d, err := r.t.Tile(context.Background(), t.L, t.N, t.W)
		if err != nil {
			return nil, err
		}
		d = bytes.Clone(d)
		if r.tamper {
			d[len(d)-1] ^= 1
		}
		out[i] = d
	}
	return out, nil
}
func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// TestTreeRestarts: a tree opened again starts from its latest checkpoint
// (the tiles and the log's tail), goes on, and signs checkpoints that
// extend the earlier ones; two trees on one log (two instances) sign one
// checkpoint per size between them.
func TestTreeRestarts(t *testing.T) {
	ctx := context.Background()
	key, _ := logkey.Generate(0)
	s := openStore(t, t.TempDir(), key)
	fill(t, s, 0, 1_000)
	a, err := logtree.Open(ctx, s, logtree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first, _, _, _ := a.Latest()
	fill(t, s, 1_000, 70_000)

	b, err := logtree.Open(ctx, s, logtree.Config{}) // from the checkpoint
	if err != nil {
		t.Fatal(err)
	}
	if b.Size() != first.Size {
		t.Fatalf("reopened at size %d, want %d", b.Size(), first.Size)
	}
	if err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*logtree.Tree{a, b, a, b} {
		if err := tr.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ca, _, _, _ := a.Latest()
	cb, _, _, _ := b.Latest()
	if ca != cb || ca.Size != b.Size() {
		t.Fatalf("the two trees end at %+v and %+v", ca, cb)
	}
	p, err := b.ProveTree(ctx, first.Size, ca.Size)
	if err != nil || tlog.CheckTree(p, ca.Size, ca.Root, first.Size, first.Root) != nil {
		t.Fatalf("the later checkpoint does not extend the first: %v", err)
	}
	c, err := logtree.Open(ctx, s, logtree.Config{}) // from a checkpoint with full tiles of two levels
	if err != nil {
		t.Fatal(err)
	}
	if root, err := c.Root(ctx, ca.Size); err != nil || root != ca.Root {
		t.Fatalf("reopened tree's root %s %v, want %s", root, err, ca.Root)
	}
	if a.Conflicts.Load()+b.Conflicts.Load() != 0 {
		t.Fatal("conflicts between two trees of one log")
	}
}

// TestCheckpointsRefused: a checkpoint of another key, or of another log,
// or changed, is refused.
func TestCheckpointsRefused(t *testing.T) {
	key, _ := logkey.Generate(0)
	other, _ := logkey.Generate(0)
	v, _ := note.NewVerifier(key.VerifierKey())
	c := logtree.Checkpoint{Origin: key.Origin, Size: 5, Root: tlog.RecordHash([]byte("x"))}
	good, _ := c.Sign(key.Signer())
	if _, err := logtree.OpenCheckpoint(good, v); err != nil {
		t.Fatal(err)
	}
	byOther, _ := c.Sign(other.Signer())
	elsewhere := c
	elsewhere.Origin = other.Origin
	misnamed, _ := elsewhere.Sign(key.Signer())
	changed := bytes.Replace(good, []byte("\n5\n"), []byte("\n6\n"), 1)
	for name, signed := range map[string][]byte{"another key": byOther, "another origin": misnamed, "changed": changed} {
		if _, err := logtree.OpenCheckpoint(signed, v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := logtree.ParseVerifier("not a key"); err == nil || !strings.Contains(err.Error(), "verifier key") {
		t.Errorf("a bad verifier key: %v", err)
	}
}

// TestTreeRebuiltWhenTilesAreLost: with the tiles' stream gone (deleted
// by an administrator), an instance rebuilds the tree from the log, checks
// it against the signed checkpoint, and stores the tiles again.
func TestTreeRebuiltWhenTilesAreLost(t *testing.T) {
	ctx := context.Background()
	srv := eventstoretest.StartSingle(t)
	s, err := eventstore.Open(ctx, eventstoretest.LedgerConfig(srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill(t, s, 0, 600)
	a, err := logtree.Open(ctx, s, logtree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	signed, _, _, _ := a.Latest()
	tiles, _ := logtree.StreamNames(s.StreamName())
	if err := eventstoretest.Admin(t, srv.ClientURL()).DeleteStream(ctx, tiles); err != nil {
		t.Fatal(err)
	}
	b, err := logtree.Open(ctx, s, logtree.Config{})
	if err != nil {
		t.Fatalf("open without tiles: %v", err)
	}
	if root, err := b.Root(ctx, signed.Size); err != nil || root != signed.Root {
		t.Fatalf("rebuilt root %s %v, want %s", root, err, signed.Root)
	}
	fill(t, s, 600, 10)
	if err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := logtree.Open(ctx, s, logtree.Config{}) // from the stored tiles again
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != b.Size() {
		t.Fatalf("reopened at %d, want %d", c.Size(), b.Size())
	}
}
