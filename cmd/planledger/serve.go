package main

import (
	"context"
	"flag"
	"io"

	"planledger/eventstore"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := sf.config()
	cfg.Logger = log
	store, err := eventstore.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	last, err := store.LastSequence(ctx)
	if err != nil {
		return err
	}
	log.Info("ledger open", "stream", store.StreamName(), "last_sequence", last, "data", cfg.DataDir, "nats", cfg.URL)
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
