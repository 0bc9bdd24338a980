package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/client"
	"planledger/domain"
)

// TestHistory is a Jepsen-style history checker: concurrent clients run
// a random mix of appends (with and without expectedversion, batches
// across aggregates, retries of unknown outcomes with the same ids) and
// reads while a nemesis injects one kind of fault again and again; then
// the recorded history is held against the log (history_check_test.go)
// and verify holds the views against a replay of it.
//
// The faults: kill (SIGKILL of the serve process, started again on its
// folder), pause (SIGSTOP, seconds later SIGCONT), leader (SIGKILL of
// the stream leader's nats-server in a three-node cluster of child
// processes, started again later), disk (a data folder on a small tmpfs
// filled by another file past the ledger's reserve, then emptied).
//
// By default each fault runs once, for a few seconds (the CI's run).
// PLANLEDGER_HISTORY=long runs each PLANLEDGER_HISTORY_RUNS times (3)
// for PLANLEDGER_HISTORY_SECONDS (60) and prints the results table of
// the README (PLANLEDGER_HISTORY_FAULTS=leader,disk runs only those).
// Every run prints its seed; PLANLEDGER_HISTORY_SEED=N runs the
// operations of that seed (the faults' timing still varies).
func TestHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("a history under faults takes a minute")
	}
	runs, seconds := 1, 6
	if os.Getenv("PLANLEDGER_HISTORY") == "long" {
		runs, seconds = envInt("PLANLEDGER_HISTORY_RUNS", 3), envInt("PLANLEDGER_HISTORY_SECONDS", 60)
	}
	faults := []string{"kill", "pause", "leader", "disk"}
	if f := os.Getenv("PLANLEDGER_HISTORY_FAULTS"); f != "" {
		faults = strings.Split(f, ",")
	}
	var table []string
	for _, fault := range faults {
		var total historyStats
		anomalies := 0
		for run := 0; run < runs; run++ {
			t.Run(fmt.Sprintf("%s-%d", fault, run), func(t *testing.T) {
				seed := uint64(time.Now().UnixNano())
				if s, err := strconv.ParseUint(os.Getenv("PLANLEDGER_HISTORY_SEED"), 10, 64); err == nil {
					seed = s
				}
				t.Logf("fault %s, seed %d (PLANLEDGER_HISTORY_SEED=%d replays its operations)", fault, seed, seed)
				st, as := historyRun(t, fault, seed, time.Duration(seconds)*time.Second)
				total.faults += st.faults
				total.ops += st.ops
				total.acked += st.acked
				total.retried += st.retried
				total.unknown += st.unknown
				anomalies += len(as)
				if len(as) > 0 {
					t.Errorf("%d anomalies (seed %d):\n%s", len(as), seed, describeAnomalies(as))
				}
			})
		}
		table = append(table, fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d |", fault, runs, total.faults, total.ops, total.acked, total.retried, total.unknown, anomalies))
	}
	t.Logf("\n| fault | runs | faults injected | operations | acknowledged events | operations retried | outcomes left unknown | anomalies |\n|---|---|---|---|---|---|---|---|\n%s", strings.Join(table, "\n"))
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// historyRun runs the clients and the nemesis for d, heals, and checks.
func historyRun(t *testing.T, fault string, seed uint64, d time.Duration) (historyStats, []anomaly) {
	sut := startSUT(t, fault)
	teams := []string{"t0", "t1", "t2", "t3"}
	setupTeams(t, sut, teams)
	h := &history{start: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		c := &histClient{id: i, rnd: rand.New(rand.NewPCG(seed, uint64(i))), ep: sut.ep, h: h, teams: teams, seen: map[string]uint64{},
			http: &http.Client{Timeout: 3 * time.Second}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(stop)
		}()
	}
	nemesisDone := make(chan struct{})
	go func() {
		defer close(nemesisDone)
		sut.nemesis(t, rand.New(rand.NewPCG(seed, 99)), stop)
	}()
	time.Sleep(d) // the run's length: clients and nemesis work meanwhile
	close(stop)
	wg.Wait()
	<-nemesisDone
	sut.heal(t)

	log := readWholeLog(t, sut.ep.get())
	as := checkHistory(h, log)
	as = append(as, verifyViews(t, sut.ep.get())...)
	st := statsOf(h)
	st.faults = sut.faults
	t.Logf("%d faults, %d operations (%d retried), %d events acknowledged, %d outcomes left unknown; the log holds %d records", st.faults, st.ops, st.retried, st.acked, st.unknown, len(log))
	return st, as
}

// setupTeams registers a society and forms the teams the clients deliver
// for, retrying through a fault that may already be on.
func setupTeams(t *testing.T, sut *systemUnderTest, teams []string) {
	evs := []string{register("r-hist", "hn-hist", "society")}
	for _, tm := range teams {
		evs = append(evs, ev("f-"+tm, "service_team.formed", "service_team/"+tm, `{"society_id":"hn-hist","industry":"i","title":"t"}`))
	}
	body := "[" + strings.Join(evs, ",") + "]"
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := doNoFatal("POST", sut.ep.get()+"/v1/events", adminToken, "application/cloudevents-batch+json", body)
		if r.status == 201 || r.status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the teams: %d %s", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond) // poll until the ledger takes writes
	}
}

// readWholeLog reads the log through the API, page by page.
func readWholeLog(t *testing.T, url string) []domain.Record {
	var out []domain.Record
	c := client.New(url, auditToken)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out = out[:0]
		err := c.EachRecord(context.Background(), 0, func(_ []byte, rec domain.Record, err error) error {
			if err != nil {
				return err
			}
			out = append(out, rec)
			return nil
		})
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("read the log: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // the cluster may still be electing
	}
}

// verifyViews runs verify through the API: the live views equal a replay
// of the log, and the log holds nothing verify finds wrong.
func verifyViews(t *testing.T, url string) []anomaly {
	c := client.New(url, auditToken)
	var rep *audit.Report
	deadline := time.Now().Add(60 * time.Second)
	for {
		in, err := audit.RemoteInput(context.Background(), c)
		if err == nil {
			rep, err = audit.Verify(context.Background(), in)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return []anomaly{{"verify", err.Error()}}
		}
		time.Sleep(200 * time.Millisecond) // poll: the views may be catching up
	}
	var out []anomaly
	for _, f := range rep.Findings {
		out = append(out, anomaly{"verify", f.String()})
	}
	if !strings.Contains(rep.ViewsCompared, "equals a replay") {
		out = append(out, anomaly{"views", "the views were not compared: " + rep.ViewsCompared})
	}
	return out
}
