package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"planledger/cmd/planledger/archive"
	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/datadir"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	var src sourceFlags
	src.register(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	statePath := fs.String("state", "", "the auditor's state file: the checkpoints verified before, which the log must extend; updated when all holds")
	exportPath := fs.String("export", "", "verify an export file instead of a running log")
	checkpointPath := fs.String("checkpoint", "", "with --export: the signed checkpoint (GET /v1/log/checkpoint) to hold the file against")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	verifier, err := src.pinnedVerifier()
	if err != nil {
		return err
	}
	in, latest, cleanup, err := src.verifyInput(ctx, *exportPath, *checkpointPath)
	if err != nil {
		return err
	}
	defer cleanup()
	var state *audit.State
	if *statePath != "" {
		if state, err = audit.LoadState(*statePath); err != nil {
			return err
		}
	}
	if verifier == nil && in.LocalKey != nil {
		verifier = in.LocalKey // --data: the folder's own key
	}
	if verifier != nil {
		in.Tree = &audit.TreeInput{Verifier: verifier, Latest: latest, State: state}
		if src.remote() {
			in.Tree.ProveTree = src.proveTreeTo(latest, verifier)
		}
	} else if state != nil {
		return fmt.Errorf("--state needs the log's verifier key: give --log-key (the key you were given, never one fetched from the server being checked)")
	}
	in.Progress = stderr
	report, err := audit.Verify(ctx, in)
	if err != nil {
		return err
	}
	if err := printReport(stdout, report, *asJSON); err != nil {
		return err
	}
	if state != nil && report.Checkpoint != nil {
		state.Add(*report.Checkpoint, latest, report.Edge, time.Now())
		if err := state.Save(*statePath); err != nil {
			return fmt.Errorf("save the state: %w", err)
		}
	}
	if !report.OK() {
		return errFindings
	}
	return nil
}

func printReport(w io.Writer, report *audit.Report, asJSON bool) error {
	if asJSON {
		return printJSON(w, report)
	}
	for _, f := range report.Findings {
		fmt.Fprintln(w, f)
	}
	fmt.Fprintln(w, report.Summary())
	return nil
}

// verifyInput opens what verify reads: an export file, a running ledger's
// API, or the log itself; latest is the log's latest signed checkpoint
// (nil where there is none to check).
func (f *sourceFlags) verifyInput(ctx context.Context, exportPath, checkpointPath string) (in audit.Input, latest []byte, cleanup func(), err error) {
	cleanup = func() {}
	switch {
	case exportPath != "":
		file, err := os.Open(exportPath)
		if err != nil {
			return in, nil, cleanup, err
		}
		if checkpointPath != "" {
			if latest, err = os.ReadFile(checkpointPath); err != nil {
				file.Close()
				return in, nil, cleanup, err
			}
		}
		return audit.ExportInput(file), latest, func() { file.Close() }, nil
	case f.remote():
		c := f.client()
		if in, err = audit.RemoteInput(ctx, c); err != nil {
			return in, nil, cleanup, err
		}
		latest, err = c.Checkpoint(ctx)
		if err != nil {
			latest = nil // a ledger older than checkpoints: the tree check says so
		}
		return in, latest, cleanup, nil
	}
	f.audit = true
	store, err := f.openStore(ctx)
	if err != nil {
		return in, nil, cleanup, err
	}
	// serve keeps its checkpoint in --data, embedded or not; verify holds
	// it against the replay when it is there.
	if in, err = audit.LocalInput(ctx, store, datadir.Dir(f.dataDir).ViewsCheckpoint(), time.Now()); err != nil {
		store.Close()
		return in, nil, cleanup, err
	}
	if latest, err = logtree.LatestSigned(ctx, store); err != nil {
		store.Close()
		return in, nil, cleanup, err
	}
	return in, latest, store.Close, nil
}

// pinnedVerifier is the verifier key given with --log-key (a key, a file
// holding one, or the log key file), or nil. A log key file is also the
// store's key, to check records' proofs with; anything else is not.
func (f *sourceFlags) pinnedVerifier() (note.Verifier, error) {
	if f.logKey == "" {
		return nil, nil
	}
	v, err := logtree.ParseVerifier(f.logKey)
	if err != nil {
		return nil, err
	}
	if _, err := logkey.Load(f.logKey); err != nil {
		f.logKey = "" // a public key: the store reads its own key file, if any
	}
	return v, nil
}

// proveTreeTo asks the server for its consistency proof up to latest.
func (f *sourceFlags) proveTreeTo(latest []byte, v note.Verifier) func(context.Context, int64) (tlog.TreeProof, error) {
	return func(ctx context.Context, m int64) (tlog.TreeProof, error) {
		c, err := logtree.OpenCheckpoint(latest, v)
		if err != nil {
			return nil, err
		}
		return audit.ProveTree(ctx, f.client(), m, c.Size)
	}
}

// errFindings makes verify exit 1 after printing its report.
var errFindings = fmt.Errorf("%w: the log has findings", errReported)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	var src sourceFlags
	src.register(fs)
	after := fs.Uint64("after", 0, "export the records after this sequence")
	until := fs.String("until-recorded", "", "stop before the first record recorded after this moment (RFC 3339)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt := archive.ExportOptions{After: *after}
	if *until != "" {
		t, err := time.Parse(time.RFC3339Nano, *until)
		if err != nil {
			return fmt.Errorf("--until-recorded %q is not an RFC 3339 timestamp", *until)
		}
		opt.UntilRecorded = t
	}
	var n int
	var err error
	if src.remote() {
		n, err = audit.RemoteExport(ctx, src.client(), stdout, opt)
	} else {
		store, oerr := src.openStore(ctx)
		if oerr != nil {
			return oerr
		}
		defer store.Close()
		n, err = archive.Export(ctx, store, stdout, opt)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "export: %d records\n", n)
	return nil
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	var src sourceFlags
	src.register(fs)
	if err := parseUsage(fs, args, "usage: planledger import [flags] FILE   (FILE - reads standard input)"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var res archive.ImportResult
	var err error
	if src.remote() {
		err = src.client().Import(ctx, in, &res)
	} else {
		src.create = true
		store, oerr := src.openStore(ctx)
		if oerr != nil {
			return oerr
		}
		defer store.Close()
		if store.Key() == nil {
			return fmt.Errorf("no log key at %s: an import keeps each record's proof that its ledger wrote it, so it needs that ledger's key: copy the exported ledger's %s there, or give --log-key FILE", src.keyFile(), logkey.FileName)
		}
		res, err = archive.Import(ctx, store, in, stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "import: %d records read: %d already present, %d appended; the log ends at sequence %d\n", res.Read, res.Present, res.Appended, res.LastSequence)
	return nil
}
