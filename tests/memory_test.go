package tests

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"planledger/cmd/planledger/server"
	"planledger/eventstore/eventstoretest"
)

// Memory an attacker controls: one submitter may create as many
// aggregates as it likes, and each costs the ledger memory for as long as
// it runs (the views hold every aggregate's summary; the command path and
// the store cache the most recent ones). These measure what one costs.

// aggregateHeap posts n decisions (each a new aggregate) in batches of
// 1000 through the API of a ledger on a nats-server child process (so the
// heap measured is the ledger's alone) and returns the live heap they
// added, in bytes per aggregate.
func aggregateHeap(t testing.TB, n, cacheSize int) float64 {
	nats := eventstoretest.StartProcess(t, t.TempDir(), "")
	ts := startServer(t, func(c *server.Config) {
		c.Store = eventstoretest.LedgerConfig(nats.URL)
		c.DataDir = t.TempDir()
		c.MaxBody = 4 << 20
		c.CacheSize = cacheSize
	})
	ts.mustPost(adminToken, register("reg", "hn-chem", "society"))
	if err := ts.srv.Views().WaitFor(context.Background(), ts.logLength()); err != nil {
		t.Fatal(err)
	}
	before := liveHeap()
	for b := 0; b < n/1000; b++ {
		evs := make([]string, 1000)
		for i := range evs {
			id := fmt.Sprintf("d%07d", b*1000+i)
			evs[i] = ev(id, "decision.proposed", "decision/"+id, `{"society_id":"hn-chem","category":"personnel","title":"a decision of the council"}`)
		}
		ts.mustPost(chemToken, evs...)
	}
	if err := ts.srv.Views().WaitFor(context.Background(), ts.logLength()); err != nil {
		t.Fatal(err)
	}
	after := liveHeap()
	if path := os.Getenv("PLANLEDGER_HEAP_PROFILE"); path != "" {
		// Where the memory is, with the ledger still running.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
	}
	return float64(int64(after)-int64(before)) / float64(n)
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 2; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestAggregateMemory: 20,000 aggregates from one submitter, with caches
// of 1,000 aggregates, cost the ledger under 800 bytes each: what every
// aggregate costs for good (its summary in the views), and not what the
// caches hold (the store's cache of aggregates' heads once held 100,000
// whatever the command path's size, some 600 bytes each: 1,100 bytes an
// aggregate here).
func TestAggregateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 20,000 events")
	}
	per := aggregateHeap(t, 20_000, 1000)
	t.Logf("%.0f bytes of live heap per aggregate", per)
	if per > 800 {
		t.Fatalf("%.0f bytes per aggregate, want under 800", per)
	}
}

// BenchmarkAggregateMemory reports bytes per aggregate for
// PLANLEDGER_AGGREGATES aggregates (default 80,000): go test ./tests
// -run '^$' -bench AggregateMemory -benchtime 1x (with
// PLANLEDGER_HEAP_PROFILE=FILE, a heap profile of the running ledger).
func BenchmarkAggregateMemory(b *testing.B) {
	n := 80_000
	if v, err := strconv.Atoi(os.Getenv("PLANLEDGER_AGGREGATES")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		per := aggregateHeap(b, n, 0)
		b.ReportMetric(per, "bytes/aggregate")
		b.Logf("%d aggregates in %s: %.0f bytes of live heap each (%s in all)", n, time.Since(start).Round(time.Millisecond), per, strings.TrimSpace(bytesMiB(per*float64(n))))
	}
}

func bytesMiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
