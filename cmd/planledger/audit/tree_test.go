package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"planledger/domain"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"
)

// lines is a log of n records, as lines.
func lines(n int, change map[int]string) [][]byte {
	var out [][]byte
	for i := 1; i <= n; i++ {
		rec := domain.Record{Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", i), Source: "/t", Type: "society.registered",
			Subject: fmt.Sprintf("society/s%d", i), Time: time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"name":"n","kind":"society"}`)},
			Sequence: uint64(i), Version: 1, RecordedTime: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Submitter: "t"}
		if c, ok := change[i]; ok {
			rec.Data = json.RawMessage(c)
		}
		out = append(out, domain.AppendLine(nil, &rec))
	}
	return out
}

func checkpointOf(t *testing.T, k *logkey.Key, ls [][]byte) []byte {
	t.Helper()
	b := logtree.NewBuilder()
	for _, l := range ls {
		b.Add(l)
	}
	root, _ := b.Root()
	signed, err := logtree.Checkpoint{Origin: k.Origin, Size: int64(len(ls)), Root: root}.Sign(k.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func input(ls [][]byte, tree *TreeInput) Input {
	return Input{
		Each: func(ctx context.Context, fn func(uint64, domain.Record, []byte, error) error) error {
			for i, l := range ls {
				var rec domain.Record
				err := json.Unmarshal(l, &rec)
				if err := fn(uint64(i+1), rec, l, err); err != nil {
					return err
				}
			}
			return nil
		},
		History: func(context.Context, domain.Ref, uint64) ([]domain.Record, error) { return nil, nil },
		Proofs:  "export",
		Tree:    tree,
	}
}

// TestTreeChecks: verify holds the records against the latest checkpoint
// and the checkpoints kept in the state; a rewritten log is found, with
// the last size it still agrees with and the range of the first change.
func TestTreeChecks(t *testing.T) {
	ctx := context.Background()
	k, _ := logkey.Generate(0)
	v, _ := note.NewVerifier(k.VerifierKey())
	state := &State{}
	log := lines(40, nil)
	for _, n := range []int{10, 25} {
		rep, err := Verify(ctx, input(log[:n], &TreeInput{Verifier: v, Latest: checkpointOf(t, k, log[:n]), State: state}))
		if err != nil || !rep.OK() || rep.Checkpoint == nil || rep.Checkpoint.Size != int64(n) {
			t.Fatalf("size %d: %v %+v", n, err, rep)
		}
		state.Add(*rep.Checkpoint, checkpointOf(t, k, log[:n]), rep.Edge, time.Now())
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := state.Save(path); err != nil {
		t.Fatal(err)
	}
	if state, _ = LoadState(path); len(state.Checkpoints) != 2 || state.Check(v) != nil {
		t.Fatalf("state read back: %+v", state)
	}

	// Today: record 18 rewritten, the log grown to 40, signed again.
	rewritten := lines(40, map[int]string{18: `{"name":"changed","kind":"society"}`})
	rep, err := Verify(ctx, input(rewritten, &TreeInput{Verifier: v, Latest: checkpointOf(t, k, rewritten), State: state}))
	if err != nil {
		t.Fatal(err)
	}
	var found string
	for _, f := range rep.Findings {
		found += f.String() + "\n"
	}
	if rep.OK() || rep.Checkpoint != nil || !strings.Contains(found, "consistency at sequence 25") ||
		!strings.Contains(found, "agrees with the checkpoint of size 10") || !strings.Contains(found, "the first change lies in sequences 17-24") {
		t.Fatalf("a rewritten log: %s", found)
	}

	// A checkpoint the records do not hash to; one of another key.
	other, _ := logkey.Generate(0)
	for name, latest := range map[string][]byte{"changed records": checkpointOf(t, k, log), "another key": checkpointOf(t, other, rewritten)} {
		rep, _ := Verify(ctx, input(rewritten, &TreeInput{Verifier: v, Latest: latest}))
		if rep.OK() || rep.countOf(CheckTree, CheckCheckpoint) != 1 {
			t.Errorf("%s: %v", name, rep.Findings)
		}
	}
	// A state file changed by hand is refused.
	state.Checkpoints[0].Root = state.Checkpoints[1].Root
	if _, err := Verify(ctx, input(log, &TreeInput{Verifier: v, State: state})); err == nil {
		t.Fatal("a changed state file was accepted")
	}
}
