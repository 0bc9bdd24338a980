package main

import (
	"flag"
	"os"
	"path/filepath"

	"planledger/eventstore"
	"planledger/eventstore/logkey"
)

// storeFlags are the flags every command that opens the log shares.
type storeFlags struct {
	dataDir   string
	listen    string
	natsURL   string
	creds     string
	tlsCA     string
	tlsCert   string
	tlsKey    string
	natsUser  string
	natsPass  string
	replicas  int
	streamArg string
	logKey    string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data", "./data", "data folder of the embedded JetStream server")
	fs.StringVar(&f.listen, "nats-listen", "", "also open the embedded server on this TCP address (e.g. 127.0.0.1:4222) for the nats CLI")
	fs.StringVar(&f.natsURL, "nats-url", "", "use an existing JetStream server or cluster (comma-separated URLs) instead of the embedded one")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (with --nats-url)")
	fs.StringVar(&f.tlsCA, "nats-tls-ca", "", "CA certificate to verify the NATS server (with --nats-url)")
	fs.StringVar(&f.tlsCert, "nats-tls-cert", "", "client certificate for NATS mutual TLS (with --nats-url)")
	fs.StringVar(&f.tlsKey, "nats-tls-key", "", "client key for NATS mutual TLS (with --nats-url)")
	fs.StringVar(&f.natsUser, "nats-user", "", "NATS user name (with --nats-url)")
	fs.StringVar(&f.natsPass, "nats-password", "", "NATS password (with --nats-url; prefer $PLANLEDGER_NATS_PASSWORD)")
	fs.IntVar(&f.replicas, "replicas", 0, "replicas of the stream when it is created (default 1); an existing stream must match")
	fs.StringVar(&f.streamArg, "stream", eventstore.DefaultStream, "name of the JetStream stream holding the log")
	fs.StringVar(&f.logKey, "log-key", "", "the ledger's log key file (default DATA/"+logkey.FileName+"); every instance of one ledger uses the same file")
}

// keyFile is the log key's file.
func (f *storeFlags) keyFile() string {
	if f.logKey != "" {
		return f.logKey
	}
	return filepath.Join(f.dataDir, logkey.FileName)
}

func (f *storeFlags) config() eventstore.Config {
	cfg := eventstore.Config{
		Replicas: f.replicas,
		Stream:   f.streamArg,
		KeyFile:  f.keyFile(),
	}
	if f.natsURL == "" {
		cfg.DataDir = f.dataDir
		cfg.Listen = f.listen
		return cfg
	}
	cfg.URL = f.natsURL
	cfg.CredsFile = f.creds
	cfg.TLSCA = f.tlsCA
	cfg.TLSCert = f.tlsCert
	cfg.TLSKey = f.tlsKey
	cfg.User = f.natsUser
	cfg.Password = f.natsPass
	if cfg.Password == "" {
		cfg.Password = os.Getenv("PLANLEDGER_NATS_PASSWORD")
	}
	return cfg
}
