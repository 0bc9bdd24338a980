// Command planledger is the event-sourced ledger of the provincial science
// association's work plan: one binary that serves the HTTP API and the
// views, and the auditors' tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `planledger — an event-sourced ledger of the annual work plan

Usage:
  planledger serve [flags]     run the HTTP API and the views
  planledger replay [flags]    rebuild the views as of a moment and print them as JSON
  planledger demo [flags]      post a realistic year of the 2021 plan to a running ledger
  planledger verify [flags]    check the log end to end; exit 1 on any finding
  planledger export [flags]    write the log as NDJSON records to standard output
  planledger import FILE|-     restore an export (into an empty log, or one holding a prefix of it)
  planledger prove SEQ         print a record with its inclusion proof and signed checkpoint (C2SP tlog-proof)
  planledger check-proof FILE  check such a proof offline against the log's verifier key
  planledger check-view FILE   prove that a signed view (GET /v1/views/V?signed=1) follows from the log
  planledger post [flags] FILE post an event (its data in FILE) or, with --batch, a file of events
  planledger token create|list|revoke   manage the tokens serve accepts
  planledger help              this text

Run "planledger <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 {
		tuneGC(os.Args[1])
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "replay":
		err = runReplay(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "verify":
		err = runVerify(ctx, args[1:], stdout, stderr)
	case "export":
		err = runExport(ctx, args[1:], stdout, stderr)
	case "import":
		err = runImport(ctx, args[1:], stdout, stderr)
	case "prove":
		err = runProve(ctx, args[1:], stdout, stderr)
	case "check-proof":
		err = runCheckProof(ctx, args[1:], stdout, stderr)
	case "check-view":
		err = runCheckView(ctx, args[1:], stdout, stderr)
	case "post":
		err = runPost(ctx, args[1:], stdout, stderr)
	case "token":
		err = runToken(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "planledger: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintf(stderr, "planledger %s: %v\n", args[0], err)
	return 1
}

// errUsage marks a bad command line; the flag package already said why.
var errUsage = errors.New("usage")

// errReported marks a failure the command has already explained on its
// output (verify's findings): exit 1 without another message.
var errReported = errors.New("reported")

// newFlagSet is a subcommand's flag set, reporting to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses a subcommand's flags: -h is flag.ErrHelp, any other bad
// command line errUsage (the flag package already said why).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseUsage parses a subcommand whose usage line is usage.
func parseUsage(fs *flag.FlagSet, args []string, usage string) error {
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return parse(fs, args)
}

// parseFlags parses a subcommand's flags; stray arguments are a usage
// error too.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
