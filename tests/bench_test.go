package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"planledger/cmd/planledger/archive"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

// fillLog appends n realistic events (service deliveries of 100 teams) in
// atomic batches of 1000.
func fillLog(tb testing.TB, s *eventstore.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	perTeam := n / 100
	for tm := 0; tm < 100; tm++ {
		subject := fmt.Sprintf("service_team/team-%03d", tm)
		var batch []eventstore.Pending
		for i := 0; i < perTeam; i++ {
			typ, data := "service_team.service_delivered", `{"service_kind":"experts","partner_kind":"village","partner_name":"滑县留固镇东孔庄村","volunteers":6,"hours":24.5,"beneficiaries":180,"delivered_on":"2021-05-25","problems_solved":3,"technologies_promoted":2,"talents_trained":15,"demonstrations":1}`
			if i == 0 {
				typ, data = "service_team.formed", `{"society_id":"hn-agri","industry":"小麦","title":"小麦产业科技服务团"}`
			}
			batch = append(batch, eventstore.Pending{Submitter: "bench", Event: domain.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e-%d", i), Source: "/bench",
				Type: typ, Subject: subject, Time: time.Date(2021, 5, 25, 10, 0, 0, 0, domain.CST), Data: json.RawMessage(data)}})
			if len(batch) == eventstore.MaxBatch || i == perTeam-1 {
				if _, err := s.Append(ctx, batch); err != nil {
					tb.Fatal(err)
				}
				batch = nil
			}
		}
	}
}

// peakHeap samples the heap in use while fn runs and returns its peak
// above the heap in use before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	if peak.Load() < base {
		return 0
	}
	return peak.Load() - base
}

// BenchmarkExportImport shows that export and import stream: the peak heap
// stays about the same for 10,000 and 100,000 events.
//
//	go test ./tests -run '^$' -bench ExportImport -benchtime 1x
func BenchmarkExportImport(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			ctx := context.Background()
			// nats-server runs as its own process, so the heap measured is
			// the ledger's alone.
			srcServer := eventstoretest.StartProcess(b, b.TempDir(), "")
			src, err := eventstore.Open(ctx, eventstoretest.LedgerConfig(srcServer.URL))
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			fillLog(b, src, n)
			file := filepath.Join(b.TempDir(), "export.ndjson")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var exported int
				exportPeak := peakHeap(func() {
					f, _ := os.Create(file)
					exported, err = archive.Export(ctx, src, f, archive.ExportOptions{})
					f.Close()
				})
				if err != nil || exported != n {
					b.Fatalf("export %d of %d: %v", exported, n, err)
				}
				dstServer := eventstoretest.StartProcess(b, b.TempDir(), "")
				dst, err := eventstore.Open(ctx, eventstoretest.LedgerConfig(dstServer.URL))
				if err != nil {
					b.Fatal(err)
				}
				var res archive.ImportResult
				start := time.Now()
				importPeak := peakHeap(func() {
					f, _ := os.Open(file)
					res, err = archive.Import(ctx, dst, f, nil)
					f.Close()
				})
				took := time.Since(start)
				dst.Close()
				if err != nil || res.Appended != uint64(n) {
					b.Fatalf("import: %+v %v", res, err)
				}
				b.ReportMetric(float64(exportPeak)/(1<<20), "export-peak-heap-MiB")
				b.ReportMetric(float64(importPeak)/(1<<20), "import-peak-heap-MiB")
				b.ReportMetric(float64(n)/took.Seconds(), "imported-events/s")
			}
		})
	}
}
