// Package eventstoretest starts real NATS JetStream servers for tests: a
// single server on a random loopback port, or a cluster, each with the
// ledger's restricted user and an unrestricted admin user.
package eventstoretest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/eventstore"
)

// Credentials of the users every test server has.
const (
	LedgerPassword = "ledger-secret"
	AdminUser      = "admin"
	AdminPassword  = "admin-secret"
)

// Server is a running nats-server.
type Server struct {
	*server.Server
	Dir string
}

// Options returns the options of a JetStream server on a random loopback
// port storing its files in dir, fsyncing every write.
func Options(dir string) *server.Options {
	return &server.Options{
		ServerName: "test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
		Users: []*server.User{
			{Username: eventstore.LedgerUser, Password: LedgerPassword, Permissions: eventstore.LedgerPermissions(eventstore.DefaultStream)},
			{Username: AdminUser, Password: AdminPassword},
		},
	}
}

// Start starts a server with opts and stops it when the test ends.
func Start(t testing.TB, opts *server.Options) *Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats server not ready")
	}
	srv := &Server{Server: s, Dir: opts.StoreDir}
	t.Cleanup(srv.Stop)
	return srv
}

// StartSingle starts one JetStream server storing in a new temporary folder.
func StartSingle(t testing.TB) *Server {
	t.Helper()
	return Start(t, Options(t.TempDir()))
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// LedgerConfig is a store configuration connecting as the ledger's user.
func LedgerConfig(url string) eventstore.Config {
	return eventstore.Config{URL: url, User: eventstore.LedgerUser, Password: LedgerPassword}
}

// Admin connects as the unrestricted admin user.
func Admin(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(AdminUser, AdminPassword))
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("admin jetstream: %v", err)
	}
	return js
}

// URLs joins the client URLs of servers for Config.URL.
func URLs(servers ...*Server) string {
	u := ""
	for i, s := range servers {
		if i > 0 {
			u += ","
		}
		u += s.ClientURL()
	}
	return u
}
