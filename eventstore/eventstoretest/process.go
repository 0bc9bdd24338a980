package eventstoretest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// ServerBinary builds the nats-server of this module's go.mod once per
// test binary and returns its path: a real nats-server as a child process,
// for tests that kill it or measure the ledger's memory without the
// server's in it.
func ServerBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "nats-server-bin-")
		if binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "nats-server"), "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return filepath.Join(binDir, "nats-server")
}

// RemoveServerBinary deletes what ServerBinary built; call it from TestMain.
func RemoveServerBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// Process is nats-server running as a child process.
type Process struct {
	Cmd  *exec.Cmd
	URL  string
	Port int
	Dir  string
	log  *bytes.Buffer
}

// StartProcess runs nats-server on a free loopback port with JetStream in
// dir, fsync always, and the ledger's and admin's users.
func StartProcess(tb testing.TB, dir string, extraConfig string) *Process {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`listen: "127.0.0.1:%d"
jetstream { store_dir: %q, sync_interval: always }
authorization {
  users: [
    { user: ledger, password: %q, permissions: { publish: { allow: [">"], deny: ["$JS.API.STREAM.DELETE.PLANLEDGER", "$JS.API.STREAM.PURGE.PLANLEDGER", "$JS.API.STREAM.MSG.DELETE.PLANLEDGER", "$JS.API.STREAM.UPDATE.PLANLEDGER"] }, subscribe: { allow: [">"] } } }
    { user: %s, password: %q }
  ]
}
%s
`, port, dir, LedgerPassword, AdminUser, AdminPassword, extraConfig)
	confPath := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	p := &Process{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Port: port, Dir: dir, log: &bytes.Buffer{}}
	p.Cmd = exec.Command(ServerBinary(tb), "-c", confPath)
	p.Cmd.Stdout, p.Cmd.Stderr = p.log, p.log
	if err := p.Cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(p.URL, nats.UserInfo(AdminUser, AdminPassword))
		if err == nil {
			nc.Close()
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nats-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll until it accepts connections
	}
}

// Kill stops the process with SIGKILL and waits for it.
func (p *Process) Kill() {
	if p.Cmd.ProcessState == nil {
		_ = p.Cmd.Process.Kill()
		_ = p.Cmd.Wait()
	}
}
