package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/viewdoc"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

// runProve prints one record with its inclusion proof and the signed
// checkpoint it is proved against: a C2SP tlog-proof, self-contained, to
// show a third party offline that the record is in the log.
func runProve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prove", stderr)
	var src sourceFlags
	src.register(fs)
	if err := parseUsage(fs, args, "usage: planledger prove [flags] SEQUENCE   (writes a .tlog-proof to standard output)"); err != nil {
		return err
	}
	seq, err := strconv.ParseUint(fs.Arg(0), 10, 63)
	if fs.NArg() != 1 || err != nil || seq == 0 {
		fs.Usage()
		return errUsage
	}
	var proof []byte
	if src.remote() {
		proof, err = src.client().RecordProof(ctx, seq)
	} else {
		proof, err = src.proveLocal(ctx, seq)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(proof)
	return err
}

// proveLocal proves a record from the log itself, against the latest
// checkpoint the ledger signed.
func (f *sourceFlags) proveLocal(ctx context.Context, seq uint64) ([]byte, error) {
	store, err := f.openStore(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	tree, err := logtree.Open(ctx, store, logtree.Config{})
	if err != nil {
		return nil, err
	}
	c, signed, _, ok := tree.Latest()
	if !ok || int64(seq) > c.Size {
		return nil, fmt.Errorf("no signed checkpoint covers sequence %d yet (the latest is of size %d); serve signs one within a second of an append", seq, c.Size)
	}
	rec, err := store.Get(ctx, seq)
	if err != nil {
		return nil, err
	}
	p, err := tree.ProveRecord(ctx, int64(seq)-1, c.Size)
	if err != nil {
		return nil, err
	}
	rp := logtree.RecordProof{Line: domain.AppendLine(nil, &rec), Index: int64(seq) - 1, Proof: p, Checkpoint: signed}
	return rp.Marshal(), nil
}

// runCheckProof checks a tlog-proof offline against the pinned verifier
// key: exit 0 only if the record is in the log the key signs for.
func runCheckProof(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-proof", stderr)
	keyArg := fs.String("log-key", "", "the log's verifier key (or a file holding it), as you were given it: never fetched from the log being checked")
	if err := parseUsage(fs, args, "usage: planledger check-proof --log-key VERIFIER FILE   (FILE - reads standard input)"); err != nil {
		return err
	}
	if fs.NArg() != 1 || *keyArg == "" {
		fs.Usage()
		return errUsage
	}
	v, err := logtree.ParseVerifier(*keyArg)
	if err != nil {
		return err
	}
	data, err := readFileArg(fs.Arg(0))
	if err != nil {
		return err
	}
	p, err := logtree.ParseRecordProof(data)
	if err != nil {
		return err
	}
	c, err := p.Verify(v)
	if err != nil {
		fmt.Fprintf(stdout, "check-proof: FAILED: %v\n", err)
		return errReported
	}
	fmt.Fprintf(stdout, "%s\ncheck-proof: OK: this record is sequence %d of the log %s, in its tree of size %d (root %s) signed by its key\n",
		p.Line, p.Index+1, c.Origin, c.Size, c.Root)
	return nil
}

// readFileArg reads a file, or standard input for "-".
func readFileArg(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// runCheckView proves that a view the ledger signed (GET
// /v1/views/{view}?signed=1, saved to FILE) follows from the log: the
// note is the log key's, the first N records read from the source hash to
// the root it names, and replaying them renders the very view it hashes.
func runCheckView(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-view", stderr)
	var src sourceFlags
	src.register(fs)
	exportPath := fs.String("export", "", "read the records from an export file")
	if err := parseUsage(fs, args, "usage: planledger check-view --log-key VERIFIER [--server URL --token T | --data DIR | --nats-url URL | --export FILE] FILE"); err != nil {
		return err
	}
	if fs.NArg() != 1 || src.logKey == "" {
		fs.Usage()
		return errUsage
	}
	v, err := src.pinnedVerifier()
	if err != nil {
		return err
	}
	data, err := readFileArg(fs.Arg(0))
	if err != nil {
		return err
	}
	var sv viewdoc.Signed
	if err := json.Unmarshal(data, &sv); err != nil || sv.Note == "" {
		return fmt.Errorf("%s is not a signed view (the reply of GET /v1/views/{view}?signed=1): %v", fs.Arg(0), err)
	}
	n, err := logtree.OpenViewNote([]byte(sv.Note), v)
	if err != nil {
		return failView(stdout, err)
	}
	if d, err := viewDigest(sv.View); err != nil || d != n.Digest {
		return failView(stdout, fmt.Errorf("the view in the file is not the one the note signs (its SHA-256 differs)"))
	}
	in, _, cleanup, err := src.verifyInput(ctx, *exportPath, "")
	if err != nil {
		return err
	}
	defer cleanup()
	mine, err := replayView(ctx, in, n)
	if err != nil {
		return failView(stdout, err)
	}
	if d, err := viewDigest(mine); err != nil || d != n.Digest {
		return failView(stdout, fmt.Errorf("replaying the first %d records renders another %s view than the signed one", n.Size, n.View))
	}
	fmt.Fprintf(stdout, "check-view: OK: the %s view follows from the first %d records of the log %s (root %s), replayed here\n", n.View, n.Size, n.Origin, n.Root)
	return nil
}

func failView(w io.Writer, err error) error {
	fmt.Fprintf(w, "check-view: FAILED: %v\n", err)
	return errReported
}

func viewDigest(view []byte) ([32]byte, error) {
	c, err := domain.CanonicalJSON(view)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(c), nil
}

// replayView replays the first n.Size records of in, checking that their
// lines hash to n.Root, and renders the view n names.
func replayView(ctx context.Context, in audit.Input, n logtree.ViewNote) ([]byte, error) {
	b := logtree.NewBuilder()
	each := func(fn func(domain.Record) error) error {
		return in.Each(ctx, func(seq uint64, rec domain.Record, line []byte, derr error) error {
			if int64(seq) > n.Size {
				return eventstore.ErrStop
			}
			if derr != nil {
				return fmt.Errorf("record %d: %w", seq, derr)
			}
			if err := b.Add(line); err != nil {
				return err
			}
			return fn(rec)
		})
	}
	views, err := projections.ReplayRecords(ctx, each, in.History, n.AsOf, projections.Axis(n.Axis))
	if err != nil {
		return nil, err
	}
	if b.Size() != n.Size {
		return nil, fmt.Errorf("the source holds %d records, not the %d the view was computed from", b.Size(), n.Size)
	}
	if root, err := b.Root(); err != nil || root != n.Root {
		return nil, fmt.Errorf("the source's first %d records hash to %s, not to the root %s the view was computed from: it is not the signed log", n.Size, root, n.Root)
	}
	out, err := views.Render(n.View, n.Clock)
	if err != nil {
		return nil, err
	}
	if !n.AsOf.IsZero() {
		if out, err = viewdoc.WithAsOf(out, n.AsOf, projections.Axis(n.Axis)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(out)
}
