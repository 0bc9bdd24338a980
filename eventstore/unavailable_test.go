package eventstore_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
	"planledger/eventstore/retry"
)

// TestUnavailableThenRetry: the server goes away; appends fail fast as
// "unavailable" and store nothing; once it is back, a retry with the same
// ids stores each event exactly once.
func TestUnavailableThenRetry(t *testing.T) {
	opts := eventstoretest.Options(t.TempDir())
	srv := eventstoretest.Start(t, opts)
	port := srv.Addr().(*net.TCPAddr).Port
	cfg := eventstoretest.LedgerConfig(srv.ClientURL())
	cfg.Timeout = 500 * time.Millisecond
	s := openStore(t, cfg)
	mustAppend(t, s, pending("society/u", "u1", 0))

	srv.Stop()
	batch := []eventstore.Pending{pending("society/u", "u2", 1), pending("society/u", "u3")}
	start := time.Now()
	_, err := s.Append(context.Background(), batch)
	if !domain.IsKind(err, domain.KindUnavailable) {
		t.Fatalf("append with the server down: %v, want unavailable", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("append with the server down took %v; it must fail fast", took)
	}

	// The same server, folder and port again.
	opts2 := eventstoretest.Options(opts.StoreDir)
	opts2.Port = port
	eventstoretest.Start(t, opts2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := s.LastSequence(context.Background())
		if err == nil {
			if n != 1 {
				t.Fatalf("the log has %d records after an append answered unavailable; want 1: nothing appended", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // poll until the client has reconnected
	}
	var res eventstore.Result
	for {
		res, err = s.Append(context.Background(), batch)
		if err == nil || time.Now().After(deadline) {
			break
		}
		if !domain.IsKind(err, domain.KindUnavailable) {
			t.Fatalf("retry: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // poll until the client has reconnected
	}
	if err != nil {
		t.Fatalf("retry after the server came back: %v", err)
	}
	if res.Records[0].Sequence != 2 || res.Records[1].Sequence != 3 {
		t.Fatalf("retry stored at %d, %d; want 2, 3", res.Records[0].Sequence, res.Records[1].Sequence)
	}
	again := mustAppend(t, s, batch...)
	if !again.Duplicate {
		t.Fatal("a second retry appended again")
	}
	if n := lastSeq(t, s); n != 3 {
		t.Fatalf("log has %d records, want 3", n)
	}
}

// TestFollowThroughRestart: a Follow keeps going while its server restarts
// (its consumer, kept in the server's memory, is lost and made again),
// delivering every record once and in order; a Follow started while the
// server is away ends when its context does, and the store closes while
// the server is still away.
func TestFollowThroughRestart(t *testing.T) {
	opts := eventstoretest.Options(t.TempDir())
	srv := eventstoretest.Start(t, opts)
	port := srv.Addr().(*net.TCPAddr).Port
	cfg := eventstoretest.LedgerConfig(srv.ClientURL())
	cfg.Timeout = 500 * time.Millisecond
	s, err := eventstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, pending("society/f", "f1", 0))

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan domain.Record, 10)
	done := make(chan error, 1)
	go func() { done <- s.Follow(ctx, 1, func(r domain.Record) error { got <- r; return nil }) }()
	expect := func(id string, seq uint64) {
		t.Helper()
		select {
		case r := <-got:
			if r.ID != id || r.Sequence != seq {
				t.Fatalf("followed %s at %d, want %s at %d", r.ID, r.Sequence, id, seq)
			}
		case err := <-done:
			t.Fatalf("Follow ended before %s: %v", id, err)
		case <-time.After(60 * time.Second):
			t.Fatalf("no record %s within 60s", id)
		}
	}
	expect("f1", 1)

	srv.Stop()
	opts2 := eventstoretest.Options(opts.StoreDir)
	opts2.Port = port
	srv2 := eventstoretest.Start(t, opts2)
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := s.Append(context.Background(), []eventstore.Pending{pending("society/f", "f2", 1)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("append after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // poll until the client has reconnected
	}
	mustAppend(t, s, pending("society/f", "f3", 2))
	expect("f2", 2)
	expect("f3", 3)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v after cancel, want context.Canceled", err)
	}
	select {
	case r := <-got:
		t.Fatalf("followed %s at %d twice or out of order", r.ID, r.Sequence)
	default:
	}

	// The server goes away for good: a Follow started now, and Close, end.
	srv2.Stop()
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- s.Follow(ctx2, 4, func(domain.Record) error { return nil }) }()
	// Give up on it once it is trying to make its consumer (a second, as
	// an impatient caller would; any moment shows the same).
	stop := time.AfterFunc(time.Second, cancel2)
	defer stop.Stop()
	closed := make(chan struct{})
	go func() {
		<-done2
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(60 * time.Second):
		t.Fatal("Follow and Close still running a minute after the server went away")
	}
}

// TestOpenPausesWhileJetStreamDoesNotAnswer: a server without JetStream
// answers every request at once with "no responders", as a cluster does
// while it elects its meta leader. Open tries again within its budget of
// four timeouts, pausing between tries instead of spinning, then says
// JetStream did not answer.
func TestOpenPausesWhileJetStreamDoesNotAnswer(t *testing.T) {
	opts := eventstoretest.Options(t.TempDir())
	opts.JetStream = false
	srv := eventstoretest.Start(t, opts)
	cfg := eventstoretest.LedgerConfig(srv.ClientURL())
	cfg.Timeout = 250 * time.Millisecond
	start := time.Now()
	s, err := eventstore.Open(context.Background(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded without JetStream")
	}
	elapsed := time.Since(start)
	var re *retry.Error
	if !domain.IsKind(err, domain.KindUnavailable) || !errors.As(err, &re) {
		t.Fatalf("Open = %v; want unavailable, after retries", err)
	}
	// Tries at 0, 100, 300 and 700 ms; the next pause (800 ms) would end
	// past the budget of 1 s. Without pauses it would be hundreds.
	if re.Attempts < 2 || re.Attempts > 5 {
		t.Errorf("%d tries in %s; want a few, with pauses between them", re.Attempts, elapsed)
	}
	if elapsed < 300*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("Open gave up after %s; want the pauses' time, within the budget", elapsed)
	}
}
