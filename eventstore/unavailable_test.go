package eventstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
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
