package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"planledger/domain"
	"planledger/eventstore/logtree"
)

// runProve prints one record with its inclusion proof and the signed
// checkpoint it is proved against: a C2SP tlog-proof, self-contained, to
// show a third party offline that the record is in the log.
func runProve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("prove", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src sourceFlags
	src.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: planledger prove [flags] SEQUENCE   (writes a .tlog-proof to standard output)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
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
	fs := flag.NewFlagSet("check-proof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyArg := fs.String("log-key", "", "the log's verifier key (or a file holding it), as you were given it: never fetched from the log being checked")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: planledger check-proof --log-key VERIFIER FILE   (FILE - reads standard input)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
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
