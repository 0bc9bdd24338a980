package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/server"
	"planledger/eventstore/logkey"
)

func (f *sourceFlags) client() *audit.Client {
	return &audit.Client{Server: f.server, Token: f.bearer()}
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src sourceFlags
	src.register(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var in audit.Input
	if src.remote() {
		var err error
		if in, err = src.client().Input(ctx); err != nil {
			return err
		}
	} else {
		src.audit = true
		store, err := src.openStore(ctx)
		if err != nil {
			return err
		}
		defer store.Close()
		// serve keeps its checkpoint in --data, embedded or not; verify
		// holds it against the replay when it is there.
		checkpoint := filepath.Join(src.dataDir, server.CheckpointFile)
		if in, err = audit.LocalInput(ctx, store, checkpoint, time.Now()); err != nil {
			return err
		}
	}
	in.Progress = stderr
	report, err := audit.Verify(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(stdout, report); err != nil {
			return err
		}
	} else {
		for _, f := range report.Findings {
			fmt.Fprintln(stdout, f)
		}
		fmt.Fprintln(stdout, report.Summary())
	}
	if !report.OK() {
		return errFindings
	}
	return nil
}

// errFindings makes verify exit 1 after printing its report.
var errFindings = fmt.Errorf("%w: the log has findings", errReported)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src sourceFlags
	src.register(fs)
	after := fs.Uint64("after", 0, "export the records after this sequence")
	until := fs.String("until-recorded", "", "stop before the first record recorded after this moment (RFC 3339)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt := audit.ExportOptions{After: *after}
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
		n, err = src.client().Export(ctx, stdout, opt)
	} else {
		store, oerr := src.openStore(ctx)
		if oerr != nil {
			return oerr
		}
		defer store.Close()
		n, err = audit.Export(ctx, store, stdout, opt)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "export: %d records\n", n)
	return nil
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src sourceFlags
	src.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: planledger import [flags] FILE   (FILE - reads standard input)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
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
	var res audit.ImportResult
	var err error
	if src.remote() {
		res, err = src.client().Import(ctx, in)
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
		res, err = audit.Import(ctx, store, in, stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "import: %d records read: %d already present, %d appended; the log ends at sequence %d\n", res.Read, res.Present, res.Appended, res.LastSequence)
	return nil
}
