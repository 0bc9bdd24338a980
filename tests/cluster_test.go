package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/server"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
	"planledger/projections"
)

// clusterLedgers starts a three-server JetStream cluster and two ledger
// instances on it, each with its own folder for tokens and checkpoints.
func clusterLedgers(t *testing.T) (*eventstoretest.Cluster, *testServer, *testServer) {
	t.Helper()
	c := eventstoretest.StartCluster(t, 3)
	mk := func() *testServer {
		return startServer(t, func(cfg *server.Config) {
			cfg.Store = eventstoretest.LedgerConfig(c.AllURLs())
			cfg.Store.Replicas = 3
			cfg.Store.Timeout = 2 * time.Second
			cfg.DataDir = t.TempDir()
		})
	}
	a := mk()
	b := mk()
	return c, a, b
}

// TestTwoInstancesOneCluster: a write through one instance is visible
// through the other with min_sequence, and concurrent writers on one
// aggregate through both end with gap-free versions.
func TestTwoInstancesOneCluster(t *testing.T) {
	_, a, b := clusterLedgers(t)
	rec := a.mustPost(adminToken, register("r1", "hn-chem", "society")).record(t)
	r := b.do("GET", fmt.Sprintf("/v1/views/party-coverage?min_sequence=%d", rec.Sequence), auditToken, "", nil)
	var cov projections.PartyCoverageView
	if err := json.Unmarshal(r.body, &cov); err != nil || r.status != 200 || cov.Societies != 1 || cov.Sequence < rec.Sequence {
		t.Fatalf("instance B after a write through A: %d %s", r.status, r.body)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := a
			if w%2 == 1 {
				ts = b
			}
			for i := 0; i < 6; i++ {
				body := ev(fmt.Sprintf("act-%d-%d", w, i), "society.party_history_activity_held", "society/hn-chem", `{"title":"t","participants":3,"held_on":"2021-04-30"}`)
				if r := ts.postNoFatal(chemToken, body); r.status != 201 {
					errs <- fmt.Sprintf("writer %d: %d %s", w, r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	checkCheckpoints(t, a, b)
	recs, err := a.srv.Store().ReadAggregate(context.Background(), domain.Ref{Type: domain.AggregateSociety, ID: "hn-chem"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+8*6 {
		t.Fatalf("%d events on hn-chem, want %d", len(recs), 1+8*6)
	}
	for i, r := range recs {
		if r.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d", i, r.Version)
		}
	}
}

// TestFailover: 16 submitters write through both instances while the
// stream leader's server is shut down and later restarted. Every request
// that got 201 is in the log exactly once; every 503 was either not
// appended or is found by its retry (200); every request is answered
// within the bound; the log verifies.
func TestFailover(t *testing.T) {
	c, a, b := clusterLedgers(t)
	failoverLoad(t, a, b, 1, false, failover{
		leader:  func() int { return c.StreamLeader(t, eventstore.DefaultStream) },
		stop:    func(i int) { c.Servers[i].Stop() },
		restart: func(i int) { c.Restart(t, i) },
	})
}

// TestFailoverSIGKILL: the same with the stream leader's nats-server
// process killed with SIGKILL, twice; each election takes the cluster's
// election timeout (seconds), through which requests get 503 within the
// bound and their retries succeed.
func TestFailoverSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a nats-server process and waits for an election")
	}
	c := eventstoretest.StartProcessCluster(t, 3)
	mk := func() *testServer {
		return startServer(t, func(cfg *server.Config) {
			cfg.Store = eventstoretest.LedgerConfig(c.URL())
			cfg.Store.Replicas = 3 // and the default 5 s per request to JetStream, as serve has it
			cfg.DataDir = t.TempDir()
		})
	}
	a, b := mk(), mk()
	failoverLoad(t, a, b, 2, true, failover{
		leader:  func() int { return c.StreamLeader(t, eventstore.DefaultStream) },
		stop:    func(i int) { c.Kill9(i) },
		restart: func(i int) { c.Start(t, i) },
	})
}

// failover stops and restarts the stream leader of a cluster.
type failover struct {
	leader  func() int // the stream's leader, once there is one
	stop    func(int)
	restart func(int)
}

// appendBound is the contract bound on one append's answer (the README's
// 3 s retry budget, a second for the last try, and room for a loaded
// machine).
const appendBound = 5 * time.Second

// failoverLoad runs 16 submitters through both instances and, rounds
// times, stops the stream leader after 100 more finished requests and
// restarts it after 150 more; then it checks every request was answered
// within the bound, that the leader changed each time (within 60 s, or
// the test fails) and requests went on finishing (within 90 s each step,
// or it fails), and, if killed, that retries were needed and succeeded;
// and the log against what the submitters were told.
func failoverLoad(t *testing.T, a, b *testServer, rounds int, killed bool, f failover) {
	ctx := context.Background()
	const submitters = 16
	var regs []string
	for w := 0; w < submitters; w++ {
		regs = append(regs, register(fmt.Sprintf("reg-%d", w), fmt.Sprintf("hn-s%d", w), "society"))
	}
	a.mustPost(adminToken, regs...)

	type outcome struct {
		seq     uint64
		status  int
		retried int
		subject string
	}
	var mu sync.Mutex
	results := map[string]outcome{}
	var slowest time.Duration
	unavailable := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 2 * appendBound}
	for w := 0; w < submitters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ts := a
				if (w+i)%2 == 1 {
					ts = b
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				subject := fmt.Sprintf("society/hn-s%d", w)
				body := ev(id, "society.party_history_activity_held", subject, `{"title":"t","participants":3,"held_on":"2021-04-30"}`)
				out := outcome{subject: subject}
				deadline := time.Now().Add(60 * time.Second)
				for {
					req, _ := http.NewRequest("POST", ts.url+"/v1/events", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+adminToken)
					req.Header.Set("Content-Type", "application/cloudevents+json")
					start := time.Now()
					resp, err := client.Do(req)
					took := time.Since(start)
					status := -1
					var rec domain.Record
					if err == nil {
						status = resp.StatusCode
						_ = json.NewDecoder(resp.Body).Decode(&rec)
						resp.Body.Close()
					}
					mu.Lock()
					slowest = max(slowest, took)
					if status == 503 {
						unavailable++
					}
					mu.Unlock()
					if status == 201 || status == 200 {
						out.status, out.seq = status, rec.Sequence
						break
					}
					if status != 503 || time.Now().After(deadline) {
						out.status = status // -1: no answer within twice the bound
						break
					}
					out.retried++
					time.Sleep(100 * time.Millisecond) // Retry-After, shortened for the test
				}
				mu.Lock()
				results[id] = out
				mu.Unlock()
			}
		}()
	}
	// However the test ends, the submitters stop first.
	finish := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer finish()
	finished := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(results)
	}
	waitFor := func(n int, what string) {
		for deadline := time.Now().Add(90 * time.Second); finished() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d requests finished in 90 s, not %d", what, finished(), n)
			}
			time.Sleep(20 * time.Millisecond) // poll the count of finished requests
		}
	}
	var elections []time.Duration
	done := 0
	for round := range rounds {
		waitFor(done+100, "before the failover")
		old := f.leader()
		f.stop(old)
		stopped := time.Now()
		for f.leader() == old {
			if time.Since(stopped) > 60*time.Second {
				t.Fatalf("round %d: server %d still leads the stream 60 s after it was stopped: no failover", round+1, old)
			}
			time.Sleep(50 * time.Millisecond) // poll until another server leads the stream
		}
		elections = append(elections, time.Since(stopped))
		waitFor(done+250, "through the failover")
		f.restart(old)
		done += 250
	}
	waitFor(done+150, "after the restarts")
	finish()

	retried, got200 := 0, 0
	for id, o := range results {
		if o.status != 201 && o.status != 200 {
			t.Fatalf("%s ended with %d after %d retries", id, o.status, o.retried)
		}
		if o.retried > 0 {
			retried++
		}
		if o.status == 200 {
			got200++
		}
	}
	if slowest > appendBound {
		t.Errorf("a request took %s to be answered; the bound is %s", slowest.Round(time.Millisecond), appendBound)
	}
	if killed && retried == 0 {
		t.Errorf("no request needed a retry through %d killed leaders: the failover was not exercised", rounds)
	}
	var found map[string]uint64
	s := a.srv.Store()
	readLog := func() error {
		found = map[string]uint64{}
		return s.Each(ctx, 1, func(r domain.Record) error {
			if _, dup := found[r.ID+"@"+r.Subject]; dup {
				return fmt.Errorf("%s stored twice", r.ID)
			}
			found[r.ID+"@"+r.Subject] = r.Sequence
			return nil
		})
	}
	// The restored node may still be catching up and the cluster electing:
	// a read may be refused as unavailable for a while, never answered wrong.
	for deadline := time.Now().Add(60 * time.Second); ; {
		err := readLog()
		if err == nil {
			break
		}
		if !domain.IsKind(err, domain.KindUnavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // poll until the cluster serves reads again
	}
	for id, o := range results {
		if seq := found[id+"@"+o.subject]; seq != o.seq {
			t.Fatalf("%s acknowledged at %d, in the log at %d", id, o.seq, seq)
		}
	}
	if len(found) != len(results)+1+submitters { // the plan and the registrations
		t.Fatalf("log holds %d records, the submitters got %d acknowledged", len(found), len(results))
	}
	in, err := audit.LocalInput(ctx, s, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, in)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after failover: %v %v", err, rep.Findings)
	}
	checkCheckpoints(t, a, b)
	t.Logf("%d requests, slowest answered in %s, %d answers 503, %d requests retried through the elections (%v), %d of those found stored by their retry (200)",
		len(results), slowest.Round(time.Millisecond), unavailable, retried, elections, got200)
}

// TestDeployClusterConfigs: the three-node configuration in deploy/ is one
// nats-server accepts, and its ledger and read-only operator users have
// the embedded server's permissions.
func TestDeployClusterConfigs(t *testing.T) {
	bin := eventstoretest.ServerBinary(t)
	perms := eventstore.OperatorPermissions(eventstore.DefaultStream)
	for i := 1; i <= 3; i++ {
		file := fmt.Sprintf("../deploy/cluster/nats-%d.conf", i)
		cmd := exec.Command(bin, "-t", "-c", file)
		cmd.Env = append(os.Environ(), "LEDGER_PASSWORD=secret", "OPERATOR_PASSWORD=secret", "ADMIN_PASSWORD=secret")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "is valid") {
			t.Errorf("nats-%d.conf: %v\n%s", i, err, out)
		}
		conf, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ledger := eventstore.LedgerPermissions(eventstore.DefaultStream).Publish.Deny
		for _, subj := range append(append(perms.Publish.Allow, perms.Subscribe.Allow...), ledger...) {
			if !strings.Contains(string(conf), `"`+subj+`"`) {
				t.Errorf("nats-%d.conf: the operator user's allow list or the ledger user's deny list lacks %s", i, subj)
			}
		}
	}
}
