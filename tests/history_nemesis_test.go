package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/cmd/planledger/server"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

// The history checker's systems under test, each with its nemesis: a
// loop that injects its fault and heals it until the run stops, and a
// last heal.

type systemUnderTest struct {
	ep      *endpoint
	nemesis func(t *testing.T, rnd *rand.Rand, stop <-chan struct{})
	heal    func(t *testing.T)
	// faults counts the faults the nemesis injected.
	faults int
}

func startSUT(t *testing.T, fault string) *systemUnderTest {
	switch fault {
	case "kill", "pause":
		return binarySUT(t, fault)
	case "leader":
		return clusterSUT(t)
	case "disk":
		return diskSUT(t)
	}
	t.Fatalf("no fault %q", fault)
	return nil
}

// pauseFor waits d, or until stop; it reports whether the run goes on.
func pauseFor(d time.Duration, stop <-chan struct{}) bool {
	select {
	case <-stop:
		return false
	case <-time.After(d):
		return true
	}
}

func between(rnd *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rnd.Int64N(int64(hi-lo)))
}

// binarySUT is `planledger serve` as a child process on its own folder:
// SIGKILL and a start again, or SIGSTOP and SIGCONT.
func binarySUT(t *testing.T, fault string) *systemUnderTest {
	dir, tokens := t.TempDir(), writeTokens(t)
	p := startServe(t, "--data", dir, "--tokens", tokens)
	sut := &systemUnderTest{ep: &endpoint{}}
	sut.ep.set(p.url)
	kill := func(t *testing.T) {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		err := <-p.done
		p.done <- err // for the cleanup, which waits for it too
		p = startServe(t, "--data", dir, "--tokens", tokens)
		sut.ep.set(p.url)
	}
	sut.nemesis = func(t *testing.T, rnd *rand.Rand, stop <-chan struct{}) {
		for pauseFor(between(rnd, time.Second, 2*time.Second), stop) {
			sut.faults++
			if fault == "kill" {
				kill(t)
				continue
			}
			_ = p.cmd.Process.Signal(syscall.SIGSTOP)
			pauseFor(between(rnd, time.Second, 3*time.Second), stop)
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	sut.heal = func(*testing.T) { _ = p.cmd.Process.Signal(syscall.SIGCONT) }
	return sut
}

// clusterSUT is a ledger (in process) on three nats-server child
// processes with a replicated stream: SIGKILL of the stream leader's
// process, started again seconds later.
func clusterSUT(t *testing.T) *systemUnderTest {
	c := eventstoretest.StartProcessCluster(t, 3)
	ts := startServer(t, func(cfg *server.Config) {
		cfg.Store = eventstoretest.LedgerConfig(c.URL())
		cfg.Store.Replicas = 3
		cfg.DataDir = t.TempDir()
	})
	sut := &systemUnderTest{ep: &endpoint{}}
	sut.ep.set(ts.url)
	down := -1
	sut.nemesis = func(t *testing.T, rnd *rand.Rand, stop <-chan struct{}) {
		for pauseFor(between(rnd, 2*time.Second, 3*time.Second), stop) {
			leader, err := streamLeader(c.URL())
			if err != nil {
				continue // an election is on: try later
			}
			c.Kill9(leader)
			sut.faults++
			down = leader
			pauseFor(between(rnd, 2*time.Second, 5*time.Second), stop)
			c.Start(t, leader)
			down = -1
		}
	}
	sut.heal = func(t *testing.T) {
		if down >= 0 {
			c.Start(t, down)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, err := streamLeader(c.URL()); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the cluster has no stream leader a minute after the last fault")
			}
			time.Sleep(200 * time.Millisecond) // poll for an elected leader
		}
	}
	return sut
}

// streamLeader is the index of the node leading the log's stream.
func streamLeader(url string) (int, error) {
	nc, err := nats.Connect(url, nats.UserInfo(eventstoretest.AdminUser, eventstoretest.AdminPassword))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, eventstore.DefaultStream)
	if err != nil {
		return 0, err
	}
	cl := s.CachedInfo().Cluster
	if cl == nil || cl.Leader == "" {
		return 0, fmt.Errorf("no leader")
	}
	var i int
	if _, err := fmt.Sscanf(cl.Leader, "n%d", &i); err != nil {
		return 0, err
	}
	return i - 1, nil
}

// diskSUT is a ledger (in process) whose data folder is a 64 MiB tmpfs
// with a 16 MiB reserve: another file fills it past the reserve, seconds
// later it is removed.
func diskSUT(t *testing.T) *systemUnderTest {
	dir := mountTmpfs(t, "64m")
	ts := startServer(t, func(c *server.Config) {
		c.Store.DataDir = dir
		c.Store.DiskReserve = 16 << 20
	})
	sut := &systemUnderTest{ep: &endpoint{}}
	sut.ep.set(ts.url)
	filler := filepath.Join(dir, "filler")
	fill := func() {
		var st syscall.Statfs_t
		if syscall.Statfs(dir, &st) != nil {
			return
		}
		free := int64(st.Bavail) * st.Bsize
		if n := free - 12<<20; n > 0 { // leave 12 MiB: under the reserve, not full
			_ = os.WriteFile(filler, make([]byte, n), 0o600)
		}
	}
	sut.nemesis = func(t *testing.T, rnd *rand.Rand, stop <-chan struct{}) {
		for pauseFor(between(rnd, time.Second, 2*time.Second), stop) {
			fill()
			sut.faults++
			pauseFor(between(rnd, time.Second, 3*time.Second), stop)
			_ = os.Remove(filler)
		}
	}
	sut.heal = func(*testing.T) { _ = os.Remove(filler) }
	return sut
}
