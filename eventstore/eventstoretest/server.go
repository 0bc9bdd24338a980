// Package eventstoretest starts real NATS JetStream servers for tests: a
// single server on a random loopback port, or a cluster, each with the
// ledger's restricted user and an unrestricted admin user.
package eventstoretest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/eventstore"
	"planledger/eventstore/logkey"
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
	srv, err := tryStart(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// tryStart is Start reporting a server that does not start (a port
// taken, say) instead of failing the test.
func tryStart(t testing.TB, opts *server.Options) (*Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server %s not ready", opts.ServerName)
	}
	srv := &Server{Server: s, Dir: opts.StoreDir}
	t.Cleanup(srv.Stop)
	return srv, nil
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

// LedgerConfig is a store configuration connecting as the ledger's user,
// with the tests' log key: every instance of one ledger shares its key.
func LedgerConfig(url string) eventstore.Config {
	return eventstore.Config{URL: url, User: eventstore.LedgerUser, Password: LedgerPassword, Key: Key()}
}

var testKey = sync.OnceValue(func() *logkey.Key {
	k, err := logkey.Generate(0)
	if err != nil {
		panic(err)
	}
	return k
})

// Key is the log key of the tests' ledgers on external servers, the same
// for the whole test process.
func Key() *logkey.Key { return testKey() }

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

// Cluster is JetStream servers routed into one cluster, in this process.
type Cluster struct {
	Servers      []*Server
	opts         []*server.Options
	clientPorts  []int
	clusterPorts []int
}

// StartCluster starts n JetStream servers in a cluster on random loopback
// ports, each with its own folder, and waits until it can place a stream
// on all of them. The cluster ports are picked before the servers start,
// so another process may take one in between: then the cluster is started
// again on other ports (three tries).
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var c *Cluster
		if c, err = tryCluster(t, n); err == nil {
			c.WaitReady(t)
			return c
		}
	}
	t.Fatalf("cluster of %d: %v", n, err)
	return nil
}

func tryCluster(t testing.TB, n int) (*Cluster, error) {
	c := &Cluster{}
	for i := 0; i < n; i++ {
		c.clusterPorts = append(c.clusterPorts, freePort(t))
	}
	routes := ""
	for i, p := range c.clusterPorts {
		if i > 0 {
			routes += ","
		}
		routes += fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	for i := 0; i < n; i++ {
		opts := Options(t.TempDir())
		opts.ServerName = fmt.Sprintf("n%d", i+1)
		opts.Cluster = server.ClusterOpts{Name: "planledger-test", Host: "127.0.0.1", Port: c.clusterPorts[i]}
		opts.Routes = server.RoutesFromStr(routes)
		srv, err := tryStart(t, opts)
		if err != nil {
			for _, started := range c.Servers {
				started.Stop()
			}
			return nil, fmt.Errorf("%w (cluster port %d taken?)", err, c.clusterPorts[i])
		}
		c.Servers = append(c.Servers, srv)
		c.opts = append(c.opts, opts)
		c.clientPorts = append(c.clientPorts, srv.Addr().(*net.TCPAddr).Port)
	}
	return c, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL lists every server's client URL.
func (c *Cluster) URL() string {
	var live []*Server
	for _, s := range c.Servers {
		if s.Running() {
			live = append(live, s)
		}
	}
	return URLs(live...)
}

// AllURLs lists every server's client URL, running or not: what a client
// is configured with, so that it reconnects to a restarted server.
func (c *Cluster) AllURLs() string {
	u := ""
	for i, p := range c.clientPorts {
		if i > 0 {
			u += ","
		}
		u += fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	return u
}

// WaitReady waits until the cluster can place a stream on all its servers.
func (c *Cluster) WaitReady(t testing.TB) { waitJetStream(t, c.URL(), len(c.Servers)) }

// waitJetStream polls url until JetStream can create (and delete) a probe
// stream of the given replicas: in a cluster, once a meta leader is
// elected and every peer has reported in. A meta leader alone is not
// enough: creating an R3 stream then fails with "no suitable peers for
// placement" until the last peer is seen.
func waitJetStream(t testing.TB, url string, replicas int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := probeJetStream(url, replicas)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream at %s not ready for %d replicas: %v", url, replicas, err)
		}
		time.Sleep(50 * time.Millisecond) // poll until every peer is placeable
	}
}

func probeJetStream(url string, replicas int) error {
	nc, err := nats.Connect(url, nats.UserInfo(AdminUser, AdminPassword))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return err
	}
	if replicas <= 1 {
		return nil
	}
	const probe = "READY_PROBE"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: probe, Subjects: []string{"ready-probe.>"}, Storage: jetstream.MemoryStorage, Replicas: replicas}); err != nil {
		return err
	}
	return js.DeleteStream(ctx, probe)
}

// StreamLeader returns the index of the server leading stream.
func (c *Cluster) StreamLeader(t testing.TB, stream string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for i, s := range c.Servers {
			if s.Running() && s.JetStreamIsStreamLeader("$G", stream) {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader for stream %s", stream)
		}
		time.Sleep(50 * time.Millisecond) // poll until a leader is elected
	}
}

// Restart starts server i again on its folder and port.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	opts := *c.opts[i]
	opts.Port = c.clientPorts[i]
	opts.Cluster.Port = c.clusterPorts[i]
	c.Servers[i] = Start(t, &opts)
}
