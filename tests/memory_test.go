package tests

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"planledger/cmd/planledger/server"
	"planledger/eventstore/eventstoretest"
)

// Memory an attacker controls: one submitter may create as many
// aggregates as it likes, and each costs the ledger memory for as long as
// it runs (the views hold every aggregate's summary; the command path and
// the store cache the most recent ones). These measure what one costs.

// attackerLedger is a ledger on a nats-server child process (so the heap
// measured is the ledger's alone) with caches of cacheSize aggregates.
func attackerLedger(t testing.TB, cacheSize int, mod ...func(*server.Config)) *testServer {
	nats := eventstoretest.StartProcess(t, t.TempDir(), "")
	ts := startServer(t, append([]func(*server.Config){func(c *server.Config) {
		c.Store = eventstoretest.LedgerConfig(nats.URL)
		c.DataDir = t.TempDir()
		c.MaxBody = 4 << 20
		c.CacheSize = cacheSize
	}}, mod...)...)
	ts.mustPost(adminToken, register("reg", "hn-chem", "society"))
	if err := ts.srv.Views().WaitFor(context.Background(), ts.logLength()); err != nil {
		t.Fatal(err)
	}
	return ts
}

// postDecisions posts n decisions (each a new aggregate) in batches of
// 1000 as one submitter.
func postDecisions(t testing.TB, ts *testServer, n int) {
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
}

// aggregateHeap posts n decisions and returns the live heap they added, in
// bytes per aggregate.
func aggregateHeap(t testing.TB, n, cacheSize int) float64 {
	ts := attackerLedger(t, cacheSize)
	before := liveHeap()
	postDecisions(t, ts, n)
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

// TestAttackerMemory: one submitter creates 15,000 aggregates, with the
// ledger's caches at 1,000.
//
// They cost the ledger under 800 bytes each: what every aggregate costs
// for good (its summary in the views), not what the caches hold (the
// store's cache of aggregates' heads once held 100,000 whatever the
// command path's size, some 600 bytes each: 1,100 bytes an aggregate
// here).
//
// Then eight readers ask at once for a view as of a moment on the
// occurred axis, each a replay of the whole log and a whole copy of the
// views. Two run at a time (the others wait their turn, or get 503 with
// Retry-After if none comes within the wait): the heap grows by about two
// copies, not eight.
func TestAttackerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 15,000 events")
	}
	const n = 15_000
	ts := attackerLedger(t, 1000, func(c *server.Config) { c.MaxReplays = 2; c.ReplayWait = time.Minute })
	before := liveHeap()
	postDecisions(t, ts, n)
	per := float64(int64(liveHeap())-int64(before)) / n
	t.Logf("%.0f bytes of live heap per aggregate", per)
	if per > 800 {
		t.Errorf("%.0f bytes per aggregate, want under 800", per)
	}

	asOf := "/v1/views/decisions?as_of=2030-01-01T00:00:00Z&axis=occurred"
	one := peakHeap(func() {
		if r := ts.do("GET", asOf, chemToken, "", nil); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	var statuses [8]int
	eight := peakHeap(func() {
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = ts.getNoFatal(asOf, chemToken).status
			}()
		}
		wg.Wait()
	})
	t.Logf("one replay: %s of heap at its peak; eight at once: %s; statuses %v", bytesMiB(float64(one)), bytesMiB(float64(eight)), statuses)
	for _, st := range statuses {
		if st != 200 {
			t.Fatalf("statuses %v: with a minute's wait, every reader gets its turn", statuses)
		}
	}
	if eight > 4*one {
		t.Fatalf("eight replays at once took %s of heap, one %s: more than two ran at once", bytesMiB(float64(eight)), bytesMiB(float64(one)))
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
