package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

// crashChild appends under concurrent load to the embedded store in
// PLANLEDGER_TEST_DIR, printing "ACK <seq> <subject> <id>" for every record
// JetStream acknowledged, until it is killed.
func crashChild() int {
	dir := os.Getenv("PLANLEDGER_TEST_DIR")
	round := os.Getenv("PLANLEDGER_TEST_ROUND")
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir, CreateKey: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	fmt.Println("READY")
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				// Writers share aggregates: two per aggregate, and every
				// fourth append is a batch over two aggregates.
				subj := fmt.Sprintf("society/s%d", w/2)
				batch := []eventstore.Pending{childEvent(subj, fmt.Sprintf("r%s-w%d-%d", round, w, i))}
				if i%4 == 3 {
					batch = append(batch, childEvent(fmt.Sprintf("project/p%d", w%3), fmt.Sprintf("r%s-w%d-%d-b", round, w, i)))
				}
				res, err := s.Append(context.Background(), batch)
				if err != nil {
					continue // a lost race: the next append reads the new head
				}
				var b strings.Builder
				for _, r := range res.Records {
					fmt.Fprintf(&b, "ACK %d %s %s\n", r.Sequence, r.Subject, r.ID)
				}
				os.Stdout.WriteString(b.String())
			}
		}()
	}
	wg.Wait()
	return 0
}

func childEvent(subject, id string) eventstore.Pending {
	typ, _, _ := strings.Cut(subject, "/")
	return eventstore.Pending{Submitter: "crash-test", Event: domain.Event{
		SpecVersion: "1.0", ID: id, Source: "/crash", Type: typ + ".registered", Subject: subject,
		Time: time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"name":"` + id + `"}`)}}
}

type ack struct {
	seq     uint64
	subject string
}

// TestKill9KeepsAcknowledgedEvents: a child process appends under load and
// is killed with SIGKILL, three times on the same folder. After each kill
// every acknowledged event is in the log exactly once, at the sequence it
// was acknowledged with, and the log is gap-free.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	dir := t.TempDir()
	acked := map[string]ack{} // id -> where it was acknowledged
	for round := 0; round < 3; round++ {
		if n := killAppender(t, dir, round, 400, 0, acked); n < 400 {
			t.Fatalf("round %d: child stopped after %d acks", round, n)
		}
		verifyAfterCrash(t, dir, acked)
	}
}

// killAppender runs the appender child on dir until it has printed at
// least n acks and run for at least d, then kills it with SIGKILL. It
// adds every acknowledged event to acked and returns how many acks it
// read before the kill.
func killAppender(t *testing.T, dir string, round, n int, d time.Duration, acked map[string]ack) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PLANLEDGER_TEST_CHILD=appender", "PLANLEDGER_TEST_DIR="+dir, "PLANLEDGER_TEST_ROUND="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that stops acknowledging must not hang the test: kill it
	// after a minute, and the count says what happened.
	watchdog := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	record := func(line string) bool {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "ACK" {
			return false
		}
		seq, _ := strconv.ParseUint(f[1], 10, 64)
		acked[f[3]] = ack{seq, f[2]}
		return true
	}
	sc := bufio.NewScanner(out)
	start, got := time.Now(), 0
	for (got < n || time.Since(start) < d) && sc.Scan() {
		if record(sc.Text()) {
			got++
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acks printed before the kill landed may still be in the pipe.
	for sc.Scan() {
		record(sc.Text())
	}
	_ = cmd.Wait()
	return got
}

func verifyAfterCrash(t *testing.T, dir string, acked map[string]ack) {
	t.Helper()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	seen := map[string]uint64{}
	versions := map[string]uint64{}
	var prev uint64
	err = s.Each(context.Background(), 1, func(r domain.Record) error {
		if r.Sequence != prev+1 {
			return fmt.Errorf("gap: sequence %d after %d", r.Sequence, prev)
		}
		if r.Foreign != nil {
			return fmt.Errorf("sequence %d reads as foreign after SIGKILL: %s", r.Sequence, r.Foreign.Detail)
		}
		prev = r.Sequence
		if _, dup := seen[r.ID]; dup {
			return fmt.Errorf("event %s stored twice (sequences %d and %d)", r.ID, seen[r.ID], r.Sequence)
		}
		seen[r.ID] = r.Sequence
		if r.Version != versions[r.Subject]+1 {
			return fmt.Errorf("%s: version %d after %d at sequence %d", r.Subject, r.Version, versions[r.Subject], r.Sequence)
		}
		versions[r.Subject] = r.Version
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range acked {
		seq, ok := seen[id]
		if !ok {
			t.Fatalf("acknowledged event %s (%s, sequence %d) is missing after SIGKILL", id, a.subject, a.seq)
		}
		if seq != a.seq {
			t.Fatalf("event %s acknowledged at sequence %d, found at %d", id, a.seq, seq)
		}
	}
	t.Logf("%d acknowledged events all present, log of %d gap-free", len(acked), prev)
}
