package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/eventstore"
	"planledger/eventstore/logtree"
)

// The whole-process read: what an auditor waits for from the command line
// to the answer, server start included. The raw side is a process that
// starts a JetStream server on the same folder, with the ledger's store
// settings, and reads the whole stream with an ordered consumer, decoding
// nothing; the ledger's side is `planledger replay`, which starts its
// embedded server, reads and checks every record and rebuilds every view.

// rawReadChild is the raw side's process (PLANLEDGER_TEST_CHILD=rawread).
func rawReadChild() int {
	n, err := rawReadFolder(os.Getenv("PLANLEDGER_TEST_DIR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "raw read:", err)
		return 1
	}
	fmt.Println(n)
	return 0
}

func rawReadFolder(dir string) (int, error) {
	srv, err := natsserver.NewServer(&natsserver.Options{
		JetStream: true, StoreDir: dir, SyncAlways: true, NoSigs: true, DontListen: true,
		JetStreamMaxMemory: 64 << 20,
	})
	if err != nil {
		return 0, err
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(time.Minute) {
		return 0, fmt.Errorf("server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	stream, err := js.Stream(ctx, eventstore.DefaultStream)
	if err != nil {
		return 0, err
	}
	last := stream.CachedInfo().State.LastSeq
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	n := 0
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		n++
		if md, err := m.Metadata(); err == nil && md.Sequence.Stream >= last {
			close(done)
		}
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		cc.Stop()
		return n, fmt.Errorf("read %d of %d in 10 minutes", n, last)
	}
	cc.Stop()
	return n, nil
}

// wholeProcessReads times both sides on the stopped ledger's folder dir and
// returns their rates in records per second.
func wholeProcessReads(b *testing.B, dir string, events int) (raw, replay float64) {
	bin := binary(b) // built once, before the clock starts
	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PLANLEDGER_TEST_CHILD=rawread", "PLANLEDGER_TEST_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("raw read process: %v", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if n < events {
		b.Fatalf("raw read process read %d records, want at least %d", n, events)
	}
	raw = float64(n) / time.Since(start).Seconds()

	start = time.Now()
	cmd = exec.Command(bin, "replay", "--data", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("planledger replay: %v\n%s", err, tail(out))
	}
	replay = float64(n) / time.Since(start).Seconds()
	return raw, replay
}

func tail(out []byte) []byte {
	if len(out) > 2000 {
		return out[len(out)-2000:]
	}
	return out
}

// following runs fn with an ordered consumer following the raw stream from
// its end, as the ledger's feed follows its own log, and returns how many
// messages it delivered.
func following(b *testing.B, js jetstream.JetStream, fn func()) int {
	ctx := context.Background()
	stream, err := js.Stream(ctx, "RAWBENCH")
	if err != nil {
		b.Fatal(err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	cc, err := cons.Consume(func(jetstream.Msg) { n.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	fn()
	cc.Drain()
	<-cc.Closed()
	return int(n.Load())
}

// treeOnAppends measures what following the log with its Merkle tree costs
// the appends: Store.Append from 16 writers on a store with nothing else
// following it, then with the tree following (storing its tiles and
// signing a checkpoint a second, as serve does), then without again.
func treeOnAppends(b *testing.B) (without, with float64) {
	ctx := context.Background()
	s, err := eventstore.Open(ctx, eventstore.Config{DataDir: b.TempDir(), CreateKey: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	first := appendLoad(b, s, 16, 3000, "t1")
	tree, err := logtree.Open(ctx, s, logtree.Config{})
	if err != nil {
		b.Fatal(err)
	}
	tctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); tree.Run(tctx) }()
	with = appendLoad(b, s, 16, 3000, "t2")
	stop()
	<-done
	second := appendLoad(b, s, 16, 3000, "t3")
	return (first + second) / 2, with
}
