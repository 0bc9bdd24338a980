package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"planledger/cmd/planledger/server"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

// The performance benchmark. Every figure is measured in the same run, on
// the same machine and store settings (embedded JetStream, fsync before
// every acknowledgement), and the ledger's figures are given as ratios of
// the raw JetStream ones. Nothing here is asserted: the machine is shared
// and noisy.
//
//	go test ./tests -run '^$' -bench Perf -benchtime 1x -timeout 60m
//	PLANLEDGER_PERF_EVENTS=1000000 (the large-log phase; default 1,000,000)
//	PLANLEDGER_PERF_GROUP_COMMIT=N (group commit's threshold: 0 adapts, the
//	default; a negative number turns it off)

const deliveryData = `{"service_kind":"experts","partner_kind":"village","partner_name":"滑县留固镇东孔庄村","volunteers":6,"hours":24.5,"beneficiaries":180,"delivered_on":"2021-05-25","problems_solved":3,"technologies_promoted":2,"talents_trained":15,"demonstrations":1}`

type perfRow struct {
	name  string
	value float64
	unit  string
	ratio string
}

type perfTable struct{ rows []perfRow }

func (p *perfTable) add(name string, value float64, unit, ratio string) {
	p.rows = append(p.rows, perfRow{name, value, unit, ratio})
	fmt.Printf("  %-58s %12.1f %-10s %s\n", name, value, unit, ratio)
}

func ratio(ledger, raw float64) string { return fmt.Sprintf("%.2f× raw", ledger/raw) }

// rawLoad publishes n ~400-byte messages with a message id and a
// per-subject expectation over 1000 subjects from writers goroutines, each
// owning its subjects, and returns messages per second.
func rawLoad(b *testing.B, js jetstream.JetStream, prefix string, writers, n int) float64 {
	body := make([]byte, 400)
	for i := range body {
		body[i] = 'x'
	}
	var wg sync.WaitGroup
	start := time.Now()
	per := n / writers
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[string]uint64{}
			var owned []int // this writer's subjects: no two writers share one
			for k := w; k < 1000; k += writers {
				owned = append(owned, k)
			}
			for i := 0; i < per; i++ {
				subj := fmt.Sprintf("%s.s%04d", prefix, owned[i%len(owned)])
				m := nats.NewMsg(subj)
				m.Data = body
				m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-%d-%d", prefix, w, i))
				m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last[subj], 10))
				ack, err := js.PublishMsg(context.Background(), m)
				if err != nil {
					b.Errorf("raw publish: %v", err)
					return
				}
				last[subj] = ack.Sequence
			}
		}()
	}
	wg.Wait()
	return float64(per*writers) / time.Since(start).Seconds()
}

// rawBatches publishes batches of 100 from 4 writers; events per second.
func rawBatches(b *testing.B, js jetstream.JetStream, prefix string, batches int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < batches; i += 4 {
				var msgs []*nats.Msg
				for k := 0; k < 100; k++ {
					m := nats.NewMsg(fmt.Sprintf("%s.b%05d", prefix, i))
					m.Data = make([]byte, 400)
					m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-%d-%d", prefix, i, k))
					msgs = append(msgs, m)
				}
				if _, err := rawBatch(js, msgs); err != nil {
					b.Errorf("raw batch: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(batches*100) / time.Since(start).Seconds()
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(p*float64(len(d)-1))]
}

// postLoad posts n events over HTTP from submitters goroutines, each event
// (or batch of size events) to an existing service team, and returns events
// per second and the latencies.
func postLoad(b *testing.B, url string, submitters, n, size int, tag string) (float64, []time.Duration) {
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: submitters}}
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	requests := n / size
	for w := 0; w < submitters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= requests {
					return
				}
				team := fmt.Sprintf("service_team/t%04d", i%1000)
				var parts []string
				for k := 0; k < size; k++ {
					parts = append(parts, fmt.Sprintf(`{"specversion":"1.0","id":"%s-%d-%d","source":"/bench","type":"service_team.service_delivered","subject":%q,"time":"2021-05-25T10:00:00+08:00","data":%s}`, tag, i, k, team, deliveryData))
				}
				body, ct := parts[0], "application/cloudevents+json"
				if size > 1 {
					body, ct = "["+strings.Join(parts, ",")+"]", "application/cloudevents-batch+json"
				}
				req, _ := http.NewRequest("POST", url+"/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				req.Header.Set("Content-Type", ct)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Errorf("post: %v", err)
					return
				}
				// Read the reply to its end, so that the connection is kept
				// for the next request, as a real client's would be.
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					b.Errorf("post: %d", resp.StatusCode)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(requests*size) / time.Since(start).Seconds(), lat
}

// appendLoad appends n single events to the service teams straight
// through the store from writers goroutines: the ledger without HTTP,
// decoding and rules. Events per second.
func appendLoad(b *testing.B, store *eventstore.Store, writers, n int, tag string) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ev := mustEvent(fmt.Sprintf(`{"specversion":"1.0","id":"%s-%d","source":"/bench","type":"service_team.service_delivered","subject":"service_team/t%04d","time":"2021-05-25T10:00:00+08:00","data":%s}`, tag, i, i%1000, deliveryData))
				if _, err := store.Append(context.Background(), []eventstore.Pending{{Event: ev, Submitter: "bench"}}); err != nil {
					b.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func BenchmarkPerf(b *testing.B) {
	ctx := context.Background()
	table := &perfTable{}
	fmt.Println("planledger performance (embedded JetStream, fsync always)")

	// One ledger, one store, one machine for the write figures.
	reg := newPerfServer(b)
	srv, store := reg.srv, reg.srv.Store()
	js := store.JetStream()
	rawStream(b, js)
	// 1000 service teams for the ledger's writes.
	var creations []eventstore.Pending
	for i := 0; i < 1000; i++ {
		creations = append(creations, eventstore.Pending{Submitter: "bench", Event: mustEvent(fmt.Sprintf(`{"specversion":"1.0","id":"formed","source":"/bench","type":"service_team.formed","subject":"service_team/t%04d","time":"2021-03-01T10:00:00+08:00","data":{"society_id":"hn-agri","industry":"小麦","title":"团"}}`, i))})
	}
	if _, err := store.Append(ctx, creations); err != nil {
		b.Fatal(err)
	}

	raw16 := rawLoad(b, js, "rawbench.a", 16, 3000)
	table.add("raw publish, id + subject expectation, 16 writers", raw16, "msgs/s", "")
	led16, lat16 := postLoad(b, srv.URL(), 16, 3000, 1, "h16")
	table.add("ledger POST one event, 16 submitters", led16, "events/s", ratio(led16, raw16))
	table.add("  p50 / p99 latency, 16 submitters (ms)", float64(percentile(lat16, 0.5).Microseconds())/1000, "ms", fmt.Sprintf("p99 %.1f ms", float64(percentile(lat16, 0.99).Microseconds())/1000))

	var raw16f float64
	following(b, js, func() { raw16f = rawLoad(b, js, "rawbench.d", 16, 3000) })
	table.add("  raw, 16 writers, an ordered consumer following (as the ledger has)", raw16f, "msgs/s", "ledger "+ratio(led16, raw16f))

	raw128 := rawLoad(b, js, "rawbench.b", 128, 6000)
	table.add("raw publish, id + subject expectation, 128 writers", raw128, "msgs/s", "")
	led128, lat128 := postLoad(b, srv.URL(), 128, 12000, 1, "h128")
	table.add("ledger POST one event, 128 submitters (group commit)", led128, "events/s", ratio(led128, raw128))
	table.add("  p50 / p99 latency, 128 submitters (ms)", float64(percentile(lat128, 0.5).Microseconds())/1000, "ms", fmt.Sprintf("p99 %.1f ms", float64(percentile(lat128, 0.99).Microseconds())/1000))
	var raw128f float64
	following(b, js, func() { raw128f = rawLoad(b, js, "rawbench.e", 128, 6000) })
	table.add("  raw, 128 writers, an ordered consumer following", raw128f, "msgs/s", "ledger "+ratio(led128, raw128f))

	rawB := rawBatches(b, js, "rawbench.c", 60)
	table.add("raw atomic batches of 100, 4 writers", rawB, "events/s", "")
	ledB, _ := postLoad(b, srv.URL(), 4, 6000, 100, "b100")
	table.add("ledger POST batches of 100, 4 submitters", ledB, "events/s", ratio(ledB, rawB))
	var rawBf float64
	following(b, js, func() { rawBf = rawBatches(b, js, "rawbench.f", 60) })
	table.add("  raw batches of 100, 4 writers, an ordered consumer following", rawBf, "events/s", "ledger "+ratio(ledB, rawBf))

	// The store alone, after every POST phase: its appends go past the
	// ledger's cache, which would then find each aggregate moved on (as
	// after another instance's appends) and read it again.
	app16 := appendLoad(b, store, 16, 3000, "a16")
	table.add("the appends of the 16-submitter phase without HTTP (Store.Append), 16 writers", app16, "events/s", ratio(app16, raw16))

	// Reads: the raw ordered consumer against a replay of every view.
	last, _ := store.LastSequence(ctx)
	start := time.Now()
	n := 0
	if err := store.EachRaw(ctx, 1, func(*eventstore.Raw) error { n++; return nil }); err != nil {
		b.Fatal(err)
	}
	rawRead := float64(n) / time.Since(start).Seconds()
	table.add(fmt.Sprintf("raw ordered consumer, whole stream (%d msgs)", last), rawRead, "msgs/s", "")
	start = time.Now()
	if _, err := projections.Replay(ctx, store, time.Now().Add(time.Hour), projections.AxisRecorded); err != nil {
		b.Fatal(err)
	}
	replay := float64(last) / time.Since(start).Seconds()
	table.add("replay: rebuild every view from the log", replay, "events/s", ratio(replay, rawRead))
	// The Merkle tree: what following the log costs, off the append path
	// (the appends above ran with the server's tree following them).
	start = time.Now()
	if err := treeOver(ctx, store); err != nil {
		b.Fatal(err)
	}
	treeRate := float64(last) / time.Since(start).Seconds()
	table.add("the log's Merkle tree built from the whole log", treeRate, "records/s", ratio(treeRate, rawRead))
	table.add("  CPU of the tree per record (line, hashes)", 1e6/treeRate, "µs", "")
	fmt.Printf("  (shared batches formed by group commit: %d)\n", store.GroupedBatches())
	reg.stop()

	bare, withTree := treeOnAppends(b)
	table.add("Store.Append, 16 writers, a store nothing else follows", bare, "events/s", "")
	table.add("  the same with the Merkle tree following", withTree, "events/s", fmt.Sprintf("%.2f× without", withTree/bare))

	largeLogPhase(b, table)
	b.ReportMetric(led16/raw16, "ledger16/raw16")
	b.ReportMetric(app16/raw16, "append16/raw16")
	b.ReportMetric(led128/raw128, "ledger128/raw128")
	b.ReportMetric(ledB/rawB, "batch100/raw")
	b.ReportMetric(replay/rawRead, "replay/raw-read")
	b.ReportMetric(raw16f/raw16, "raw16-following/raw16")
}

// rawBatch publishes msgs as one atomic batch.
func rawBatch(js jetstream.JetStream, msgs []*nats.Msg) (uint64, error) {
	ack, err := jetstreamext.PublishMsgBatch(context.Background(), js, msgs)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// rawStream is a stream beside the ledger's, on the same server with the
// same settings, for the raw figures.
func rawStream(b *testing.B, js jetstream.JetStream) {
	_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "RAWBENCH", Subjects: []string{"rawbench.>"}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute, AllowAtomicPublish: true, AllowDirect: true, DenyDelete: true, DenyPurge: true,
	})
	if err != nil {
		b.Fatal(err)
	}
}

type perfServer struct {
	srv  *server.Server
	stop func()
}

func newPerfServer(b *testing.B) *perfServer {
	dir := b.TempDir()
	tokens := writeTokens(b)
	gc, _ := strconv.Atoi(os.Getenv("PLANLEDGER_PERF_GROUP_COMMIT")) // 0: adaptive, <0: off, >0: fixed
	s, err := server.Open(context.Background(), server.Config{HTTPAddr: "127.0.0.1:0", Store: eventstore.Config{DataDir: dir, GroupCommit: gc}, TokensFile: tokens, DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	return &perfServer{srv: s, stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
	}}
}

func mustEvent(raw string) domain.Event {
	var e domain.Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		panic(err)
	}
	return e
}

// largeLogPhase runs `planledger serve` as a child process on a log of
// PLANLEDGER_PERF_EVENTS events, and measures its peak RSS, view query
// latency and an as_of query.
func largeLogPhase(b *testing.B, table *perfTable) {
	events := 1_000_000
	if v := os.Getenv("PLANLEDGER_PERF_EVENTS"); v != "" {
		events, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir, CreateKey: true})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fillLog(b, s, events)
	table.add(fmt.Sprintf("load %d events in atomic batches of 1000", events), float64(events)/time.Since(start).Seconds(), "events/s", "")
	midway, _ := s.Get(context.Background(), uint64(events/2))
	s.Close()

	rawProc, replayProc := wholeProcessReads(b, dir, events)
	table.add("whole process, raw: start a server on the folder, read every message", rawProc, "msgs/s", "")
	table.add("whole process, `planledger replay` (start, read, check, every view)", replayProc, "events/s", ratio(replayProc, rawProc))

	start = time.Now()
	p := startServe(b, "--data", dir, "--tokens", writeTokens(b))
	b.Logf("serve ready in %s", time.Since(start))
	ready := time.Since(start)
	table.add("serve start on the large log, views caught up", ready.Seconds(), "s", "")
	client := &http.Client{Timeout: time.Minute}
	lat := viewLatencies(b, client, p.url)
	table.add("view query p50, while the tree catches up", float64(percentile(lat, 0.5).Microseconds())/1000, "ms", fmt.Sprintf("p99 %.2f ms", float64(percentile(lat, 0.99).Microseconds())/1000))
	// The log was loaded without a server, so serve builds its Merkle tree
	// in the background after it is ready; the steady state is after that.
	caught := treeCaughtUp(b, client, p.url, events)
	table.add("  the log's tree caught up, after serve was ready", caught.Seconds(), "s", "")
	lat = viewLatencies(b, client, p.url)
	table.add("view query p50, tree caught up", float64(percentile(lat, 0.5).Microseconds())/1000, "ms", fmt.Sprintf("p99 %.2f ms", float64(percentile(lat, 0.99).Microseconds())/1000))
	q := p.url + "/v1/views/volunteer-services?as_of=" + midway.RecordedTime.Format(time.RFC3339Nano)
	req, _ := http.NewRequest("GET", strings.ReplaceAll(q, "+", "%2B"), nil)
	req.Header.Set("Authorization", "Bearer "+auditToken)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	table.add("as_of query, recorded axis, midway through the log", time.Since(t0).Seconds(), "s", fmt.Sprintf("status %d", resp.StatusCode))
	table.add("serve peak RSS (VmHWM)", float64(vmHWM(p.cmd.Process.Pid))/1024, "MiB", "")
}

// viewLatencies queries every view in turn, 500 queries, and returns
// their latencies.
func viewLatencies(b *testing.B, client *http.Client, url string) []time.Duration {
	var lat []time.Duration
	for i := 0; i < 500; i++ {
		name := projections.ViewNames[i%len(projections.ViewNames)]
		req, _ := http.NewRequest("GET", url+"/v1/views/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+auditToken)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
	}
	return lat
}

// treeCaughtUp polls the latest checkpoint until it covers n records and
// returns how long that took.
func treeCaughtUp(b *testing.B, client *http.Client, url string, n int) time.Duration {
	start := time.Now()
	for deadline := start.Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", url+"/v1/log/checkpoint", nil)
		req.Header.Set("Authorization", "Bearer "+auditToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		note, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if lines := strings.SplitN(string(note), "\n", 3); resp.StatusCode == http.StatusOK && len(lines) == 3 {
			if size, _ := strconv.Atoi(lines[1]); size >= n {
				return time.Since(start)
			}
		}
	}
	b.Fatalf("the tree did not reach %d records in 10 minutes", n)
	return 0
}

// treeOver computes the log's Merkle tree from the log (each record's
// line, its leaf hash and the tree's new hashes), as an auditor does and
// as an instance does on a log without checkpoints.
func treeOver(ctx context.Context, store *eventstore.Store) error {
	b := logtree.NewBuilder()
	var line []byte
	return store.Each(ctx, 1, func(rec domain.Record) error {
		line = domain.AppendLine(line[:0], &rec)
		return b.Add(line)
	})
}

func vmHWM(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return kb
		}
	}
	return 0
}
