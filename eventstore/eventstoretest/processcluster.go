package eventstoretest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ProcessCluster is three nats-server child processes in one cluster, so
// that a test can kill one with SIGKILL.
type ProcessCluster struct {
	Nodes []*Process
	confs []string
	ports []int
}

// StartProcessCluster starts n nats-server processes clustered on
// loopback, each with its own folder.
func StartProcessCluster(t testing.TB, n int) *ProcessCluster {
	t.Helper()
	c := &ProcessCluster{}
	var routes []string
	clusterPorts := make([]int, n)
	for i := 0; i < n; i++ {
		c.ports = append(c.ports, freePort(t))
		clusterPorts[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", clusterPorts[i]))
	}
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		conf := fmt.Sprintf(`server_name: n%d
listen: "127.0.0.1:%d"
jetstream { store_dir: %q, sync_interval: always }
cluster { name: planledger-proc, listen: "127.0.0.1:%d", routes: [%s] }
authorization {
  users: [
    { user: ledger, password: %q, permissions: { publish: { allow: [">"], deny: ["$JS.API.STREAM.DELETE.PLANLEDGER", "$JS.API.STREAM.PURGE.PLANLEDGER", "$JS.API.STREAM.MSG.DELETE.PLANLEDGER", "$JS.API.STREAM.UPDATE.PLANLEDGER"] }, subscribe: { allow: [">"] } } }
    { user: %s, password: %q }
  ]
}
`, i+1, c.ports[i], dir, clusterPorts[i], strings.Join(quoteAll(routes), ", "), LedgerPassword, AdminUser, AdminPassword)
		path := filepath.Join(dir, "nats-server.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c.confs = append(c.confs, path)
		c.Nodes = append(c.Nodes, nil)
		c.start(t, i)
	}
	c.waitReady(t)
	return c
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

func (c *ProcessCluster) start(t testing.TB, i int) {
	p := &Process{URL: fmt.Sprintf("nats://127.0.0.1:%d", c.ports[i]), Port: c.ports[i], log: &bytes.Buffer{}}
	p.Cmd = exec.Command(ServerBinary(t), "-c", c.confs[i])
	p.Cmd.Stdout, p.Cmd.Stderr = p.log, p.log
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	c.Nodes[i] = p
}

// URL lists every node's client URL.
func (c *ProcessCluster) URL() string {
	var u []string
	for _, p := range c.ports {
		u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return strings.Join(u, ",")
}

func (c *ProcessCluster) waitReady(t testing.TB) { waitJetStream(t, c.URL(), len(c.Nodes)) }

// StreamLeader returns the index of the node leading stream.
func (c *ProcessCluster) StreamLeader(t testing.TB, stream string) int {
	t.Helper()
	nc, err := nats.Connect(c.URL(), nats.UserInfo(AdminUser, AdminPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := js.Stream(ctx, stream)
		cancel()
		if err == nil && s.CachedInfo().Cluster != nil && s.CachedInfo().Cluster.Leader != "" {
			var i int
			fmt.Sscanf(s.CachedInfo().Cluster.Leader, "n%d", &i)
			return i - 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader for %s: %v", stream, err)
		}
		time.Sleep(100 * time.Millisecond) // poll until a leader is elected
	}
}

// Kill9 kills node i with SIGKILL; Start brings it back on its folder.
func (c *ProcessCluster) Kill9(i int) { c.Nodes[i].Kill() }

// Start starts node i again.
func (c *ProcessCluster) Start(t testing.TB, i int) { c.start(t, i) }
