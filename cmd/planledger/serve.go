package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"planledger/cmd/planledger/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	sf.register(fs)
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of the HTTP API")
	tokens := fs.String("tokens", "", "tokens file (JSON, hashed tokens); without it an admin token is created in the data folder on first start")
	maxBody := fs.Int64("max-body", 1<<20, "largest request body in bytes")
	noPlan := fs.Bool("no-shipped-plan", false, "do not publish the shipped 2021 plan on an empty log (to import another ledger's export through the API)")
	secureCookies := fs.Bool("secure-cookies", false, "mark the web site's session cookie Secure on plain HTTP too (behind a proxy that terminates TLS)")
	readBound := fs.Duration("read-bound", 4*time.Second, "answer a read of the log (a page of events, an aggregate, a proof) within this, or 503")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	var origins stringList
	fs.Var(&origins, "cors-origin", "let browser apps of this origin (https://app.example.org, or * for any) call the API; repeatable")
	reserve := fs.String("disk-reserve", "256MiB", "free space the embedded store keeps in its data folder: appends are refused (507) below it; off for none")
	maxReplays := fs.Int("max-replays", 2, "rebuilds of the views \"as of\" a moment running at once; a request waits up to 2 s for a turn, then gets 503")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	diskReserve, err := parseBytes(*reserve)
	if err != nil {
		return fmt.Errorf("--disk-reserve: %w", err)
	}
	if diskReserve == 0 {
		diskReserve = -1 // none, as asked (the store's zero is its default)
	}
	for _, o := range origins {
		if err := server.CheckCORSOrigin(o); err != nil {
			return fmt.Errorf("--cors-origin: %w", err)
		}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := sf.config()
	store.CreateKey = true
	store.DiskReserve = diskReserve
	return server.Run(ctx, server.Config{
		Registry:      reg,
		HTTPAddr:      *httpAddr,
		Store:         store,
		TokensFile:    *tokens,
		DataDir:       sf.dataDir,
		MaxBody:       *maxBody,
		NoShippedPlan: *noPlan,
		MaxReplays:    *maxReplays,
		SecureCookies: *secureCookies,
		ReadBound:     *readBound,
		Logger:        log,
		Out:           stdout,
		CORSOrigins:   origins,
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}
