package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/planledger once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "planledger-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "planledger")
		out, err := exec.Command("go", "build", "-o", binPath, "planledger/cmd/planledger").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is a running `planledger serve`.
type process struct {
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingRE = regexp.MustCompile(`msg=serving url=(http://\S+)`)

// startServe runs the binary's serve command and waits until it serves.
func startServe(t testing.TB, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	p := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(pw, p.stderr)
	cmd.Stdout = p.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { err := cmd.Wait(); pw.Close(); p.done <- err }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		sent := false
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urls <- m[1]
				sent = true
			}
		}
		close(urls)
		// Keep draining whatever stops the scanner: an unread pipe would
		// block the child's logging, and cmd.Wait with it.
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatalf("serve exited before serving:\n%s", p.stderr.String())
		}
		p.url = u
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start within 30s:\n%s", p.stderr.String())
	}
	return p
}

// TestSIGTERMUnderLoad: serve gets SIGTERM while 8 submitters post; it
// exits cleanly, and every request that got 201 is in the log afterwards.
func TestSIGTERMUnderLoad(t *testing.T) {
	dir := t.TempDir()
	tokens := writeTokens(t)
	p := startServe(t, "--data", dir, "--tokens", tokens)

	var mu sync.Mutex
	acked := map[string]uint64{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subj := fmt.Sprintf("society/hn-s%d", w)
			body := register(fmt.Sprintf("reg-%d", w), fmt.Sprintf("hn-s%d", w), "society")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i > 0 {
					body = ev(fmt.Sprintf("act-%d-%d", w, i), "society.party_history_activity_held", subj, `{"title":"t","participants":3,"held_on":"2021-04-30"}`)
				}
				req, _ := http.NewRequest("POST", p.url+"/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				req.Header.Set("Content-Type", "application/cloudevents+json")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				if resp.StatusCode == 201 {
					var rec domain.Record
					if jsonDecode(resp.Body, &rec) == nil {
						mu.Lock()
						acked[rec.ID+"@"+rec.Subject] = rec.Sequence
						mu.Unlock()
					}
				}
				resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // poll the ack count
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if !strings.Contains(p.stderr.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", p.stderr.String())
	}

	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	found := map[string]uint64{}
	if err := s.Each(context.Background(), 1, func(r domain.Record) error { found[r.ID+"@"+r.Subject] = r.Sequence; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(acked) < 200 {
		t.Fatalf("only %d requests acknowledged before SIGTERM", len(acked))
	}
	for k, seq := range acked {
		if found[k] != seq {
			t.Fatalf("%s got 201 at sequence %d but the log has it at %d", k, seq, found[k])
		}
	}
	t.Logf("%d acknowledged events present after SIGTERM; log of %d", len(acked), len(found))
}
