package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"planledger/cmd/planledger/client"
	"planledger/cmd/planledger/datadir"
	"planledger/eventstore"
)

// sourceFlags say where a command reads the log: a stopped data folder,
// a JetStream server, or a running ledger's HTTP API.
type sourceFlags struct {
	storeFlags
	server string
	token  string
	// audit opens a weakened or damaged stream to report on it; create
	// lets import start a new log in an empty folder.
	audit, create bool
}

func (f *sourceFlags) register(fs *flag.FlagSet) {
	f.storeFlags.register(fs)
	fs.StringVar(&f.server, "server", "", "read through a running ledger's HTTP API (e.g. http://127.0.0.1:8080) instead of the log itself")
	fs.StringVar(&f.token, "token", "", "bearer token for --server (or $PLANLEDGER_TOKEN)")
}

func (f *sourceFlags) remote() bool { return f.server != "" }

func (f *sourceFlags) bearer() string {
	if f.token != "" {
		return f.token
	}
	return os.Getenv("PLANLEDGER_TOKEN")
}

// openStore opens the log for reading: the embedded server on a stopped
// data folder (a running one holds the folder's lock), or --nats-url.
func (f *sourceFlags) openStore(ctx context.Context) (*eventstore.Store, error) {
	cfg := f.config()
	cfg.Audit = f.audit
	if cfg.URL == "" && !f.create {
		if _, err := os.Stat(datadir.Dir(cfg.DataDir).JetStream()); err != nil {
			return nil, fmt.Errorf("no ledger in %s (no jetstream folder); give --data, --nats-url or --server", cfg.DataDir)
		}
	}
	s, err := eventstore.Open(ctx, cfg)
	if errors.Is(err, eventstore.ErrDataDirInUse) {
		return nil, fmt.Errorf("%w\n(a running server holds the folder: read through it with --server URL --token T)", err)
	}
	return s, err
}

// client reaches the --server API. A read of a large log streams for
// long, so the bound on one request is generous.
func (f *sourceFlags) client() *client.Client {
	c := client.New(f.server, f.bearer())
	c.HTTP = readerHTTP
	return c
}

var readerHTTP = &http.Client{Timeout: 6 * time.Hour}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
