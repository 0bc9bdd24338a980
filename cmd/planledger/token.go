package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"planledger/cmd/planledger/client"
	"planledger/cmd/planledger/datadir"
	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore/retry"
)

// token manages the tokens file serve reads: the data folder's
// tokens.json by default (the one serve creates on first start), or the
// file given with --tokens. A running server rereads it within a second or
// two, so a new token works and a revoked one is refused without a restart.

const tokenUsage = `Usage:
  planledger token create --name NAME --role submitter|auditor|admin [--society ID]... [--server URL]
  planledger token list
  planledger token revoke NAME

Each takes --data DIR (the tokens file is DIR/tokens.json; default ./data)
or --tokens FILE (the file serve was given with --tokens).
`

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return runTokenCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return runTokenList(args[1:], stdout, stderr)
	case "revoke":
		return runTokenRevoke(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tokenUsage)
		return nil
	}
	fmt.Fprintf(stderr, "planledger token: unknown command %q\n\n%s", args[0], tokenUsage)
	return errUsage
}

// tokensFileFlags say which tokens file to edit.
type tokensFileFlags struct{ data, tokens string }

func (f *tokensFileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./data", "data folder whose tokens.json serve reads when run without --tokens")
	fs.StringVar(&f.tokens, "tokens", "", "the tokens file serve was given with --tokens (instead of --data)")
}

func (f *tokensFileFlags) path() string {
	if f.tokens != "" {
		return f.tokens
	}
	return datadir.Dir(f.data).Tokens()
}

// societiesFlag is the repeatable --society.
type societiesFlag []string

func (s *societiesFlag) String() string { return strings.Join(*s, ",") }
func (s *societiesFlag) Set(v string) error {
	if err := domain.CheckSlug(v); err != nil {
		return err
	}
	*s = append(*s, v)
	return nil
}

func runTokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", stderr)
	var file tokensFileFlags
	file.register(fs)
	name := fs.String("name", "", "the token's name: the submitter recorded with every event it posts")
	role := fs.String("role", "", "submitter (writes for its societies), auditor (reads everything) or admin")
	var societies societiesFlag
	fs.Var(&societies, "society", "a society a submitter may write for (repeatable)")
	srv := fs.String("server", "", "wait until the ledger at this URL accepts the new token")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := domain.CheckSlug(*name); err != nil {
		return fmt.Errorf("--name: %v", err)
	}
	token := tokens.New()
	entry := tokens.Entry{Name: *name, SHA256: tokens.Hash(token), Role: *role, Societies: societies, Created: time.Now().UTC().Truncate(time.Second)}
	err := tokens.EditFile(file.path(), func(f *tokens.File) error {
		if slices.ContainsFunc(f.Tokens, func(e tokens.Entry) bool { return e.Name == *name }) {
			return fmt.Errorf("a token named %q exists already; revoke it first, or choose another name", *name)
		}
		f.Tokens = append(f.Tokens, entry)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created token %q (%s); it is shown only now, store it:\n\n  %s\n\nOnly its hash is kept, in %s.\n", *name, describeRole(entry), token, file.path())
	if *srv == "" {
		fmt.Fprintln(stdout, "A running server accepts it within a few seconds.")
		return nil
	}
	return waitAccepted(ctx, client.New(*srv, token), stdout)
}

// waitAccepted polls the ledger until it accepts the client's token: a
// refusal is tried again for 15 s, a failure to reach it is not.
func waitAccepted(ctx context.Context, c *client.Client, stdout io.Writer) error {
	c.Retries = -1
	var p client.Principal
	refused := func(err error) bool {
		var prob *client.Problem
		return errors.As(err, &prob)
	}
	err := retry.Do(ctx, retry.Policy{Initial: 200 * time.Millisecond, Budget: 15 * time.Second, Retryable: refused}, func(ctx context.Context) error {
		var err error
		p, err = c.Whoami(ctx, "")
		return err
	})
	if err != nil {
		var gaveUp *retry.Error
		if errors.As(err, &gaveUp) && gaveUp.Stopped != nil {
			return gaveUp.Stopped
		}
		return fmt.Errorf("the ledger at %s does not accept the new token yet: %w", c.BaseURL, unwrapRetry(err))
	}
	fmt.Fprintf(stdout, "The ledger at %s accepts it (as %s, %s).\n", c.BaseURL, p.Name, p.Role)
	return nil
}

// unwrapRetry is the last try's error of a retry that gave up.
func unwrapRetry(err error) error {
	var gaveUp *retry.Error
	if errors.As(err, &gaveUp) {
		return gaveUp.Err
	}
	return err
}

func describeRole(e tokens.Entry) string {
	if e.Role == tokens.RoleSubmitter {
		return "submitter for " + strings.Join(e.Societies, ", ")
	}
	return e.Role
}

func runTokenList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token list", stderr)
	var file tokensFileFlags
	file.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := tokens.ReadFile(file.path())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSOCIETIES\tCREATED")
	for _, e := range f.Tokens {
		created := "-"
		if !e.Created.IsZero() {
			created = e.Created.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Role, strings.Join(e.Societies, ","), created)
	}
	return tw.Flush()
}

func runTokenRevoke(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token revoke", stderr)
	var file tokensFileFlags
	file.register(fs)
	name, err := parseWithArg(fs, args, "NAME")
	if err != nil {
		return err
	}
	err = tokens.EditFile(file.path(), func(f *tokens.File) error {
		i := slices.IndexFunc(f.Tokens, func(e tokens.Entry) bool { return e.Name == name })
		switch {
		case i < 0:
			return fmt.Errorf("no token named %q in %s (planledger token list shows them)", name, file.path())
		case len(f.Tokens) == 1:
			return fmt.Errorf("%q is the only token in %s: create another admin token first, or nobody could use the ledger", name, file.path())
		}
		f.Tokens = slices.Delete(f.Tokens, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Revoked token %q; a running server refuses it within a few seconds.\n", name)
	return nil
}
