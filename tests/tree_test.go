package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"
)

// run runs the binary with args and returns its output and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// stopServe stops a serve child with SIGTERM and waits for it.
func stopServe(t *testing.T, p *process) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
}

// postAll posts events to a serve child, each 201 or 200.
func postAll(t *testing.T, p *process, events ...string) {
	t.Helper()
	for _, e := range events {
		if r := doNoFatal("POST", p.url+"/v1/events", adminToken, "application/cloudevents+json", e); r.status != 201 && r.status != 200 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
	}
}

// signedThrough waits until the ledger signed a checkpoint covering its
// whole log, and returns its size.
func signedThrough(t *testing.T, p *process) int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Events []json.RawMessage `json:"events"`
		}
		r := doNoFatal("GET", p.url+"/v1/events?limit=1000", auditToken, "", "")
		_ = json.Unmarshal(r.body, &page)
		cp := doNoFatal("GET", p.url+"/v1/log/checkpoint", auditToken, "", "")
		if lines := strings.Split(string(cp.body), "\n"); cp.status == 200 && len(lines) > 2 {
			if n, _ := strconv.ParseInt(lines[1], 10, 64); n == int64(len(page.Events)) && n > 0 {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers the log after 20 s: %d %s", cp.status, cp.body)
		}
		time.Sleep(50 * time.Millisecond) // checkpoints are signed once a second
	}
}

// verifierOf is the log's verifier key, read from its key file: what the
// auditor was given out of band.
func verifierOf(t *testing.T, dir string) string {
	t.Helper()
	k, err := logkey.Load(filepath.Join(dir, logkey.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return k.VerifierKey()
}

func session(id, conf string, attendees int) string {
	return ev(id, "conference.session_held", "conference/"+conf, fmt.Sprintf(`{"session_title":"s","held_on":"2021-05-01","attendees":%d,"online":false}`, attendees))
}

func conference(conf string) string {
	return ev("reg-"+conf, "conference.registered", "conference/"+conf, `{"title":"t","level":"provincial","program":"academic_exchange","organizer_society":"hn-chem","city":"zhengzhou"}`)
}

// TestAuditorCatchesARewrite, with the binary: an auditor verifies a
// running ledger against its pinned key and keeps the checkpoint; the
// ledger's holder, who has its key, rewrites one record (an export
// changed, its proof made again, imported into a fresh folder with the
// same key) and starts the rewritten ledger; the auditor's next verify
// fails, naming the size where the logs part. A record proof checks
// offline, and a changed one does not.
func TestAuditorCatchesARewrite(t *testing.T) {
	dirA, state := t.TempDir(), filepath.Join(t.TempDir(), "auditor.json")
	tokens := writeTokens(t)
	a := startServe(t, "--data", dirA, "--tokens", tokens)
	postAll(t, a, register("r-chem", "hn-chem", "society"), conference("c1"), session("s1", "c1", 100), session("s2", "c1", 40))
	size := signedThrough(t, a)
	key := verifierOf(t, dirA)

	out, errs, code := run(t, "verify", "--server", a.url, "--token", auditToken, "--log-key", key, "--state", state)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("signed checkpoint of size %d", size)) {
		t.Fatalf("the first verify: %d\n%s%s", code, out, errs)
	}
	proofFile := filepath.Join(t.TempDir(), "s1.tlog-proof")
	proof, _, code := run(t, "prove", "--server", a.url, "--token", auditToken, "4") // session s1
	if code != 0 || !strings.HasPrefix(proof, logtree.ProofHeader) {
		t.Fatalf("prove: %d %s", code, proof)
	}
	os.WriteFile(proofFile, []byte(proof), 0o600)
	if out, _, code := run(t, "check-proof", "--log-key", key, proofFile); code != 0 || !strings.Contains(out, "check-proof: OK") {
		t.Fatalf("check-proof: %d %s", code, out)
	}
	p, _ := logtree.ParseRecordProof([]byte(proof))
	p.Line = bytes.Replace(p.Line, []byte(`"attendees":100`), []byte(`"attendees":1000`), 1)
	os.WriteFile(proofFile, p.Marshal(), 0o600)
	if out, _, code := run(t, "check-proof", "--log-key", key, proofFile); code != 1 || !strings.Contains(out, "FAILED") {
		t.Fatalf("check-proof of a changed record: %d %s", code, out)
	}

	// The holder rewrites the log: session s1 had 1000 attendees.
	stopServe(t, a)
	exported, _, code := run(t, "export", "--data", dirA)
	if code != 0 {
		t.Fatal("export failed")
	}
	rewritten := rewrite(t, dirA, exported, func(rec *domain.Record) bool {
		if rec.ID != "s1" {
			return false
		}
		rec.Data = json.RawMessage(strings.Replace(string(rec.Data), `"attendees":100`, `"attendees":1000`, 1))
		return true
	})
	b := startRewritten(t, dirA, rewritten, tokens)
	if n := signedThrough(t, b); n != size {
		t.Fatalf("the rewritten ledger signs size %d, want %d", n, size)
	}
	out, _, code = run(t, "verify", "--server", b.url, "--token", auditToken, "--log-key", key, "--state", state)
	want := fmt.Sprintf("consistency at sequence %d: the log is not the one you verified at size %d", size, size)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("verify of the rewritten ledger: exit %d, want 1 and %q:\n%s", code, want, out)
	}
	t.Logf("the auditor's verify of the rewritten ledger:\n%s", out)
}

// TestAuditorCatchesARemovedRecord: a record written behind the API's back
// is in the log the auditor verified (a foreign record, reported); the
// holder then "removes" it by a rewrite; the auditor's next verify names
// the sizes between which the log was rewritten.
func TestAuditorCatchesARemovedRecord(t *testing.T) {
	dirA, state := t.TempDir(), filepath.Join(t.TempDir(), "auditor.json")
	tokens := writeTokens(t)
	a := startServe(t, "--data", dirA, "--tokens", tokens)
	postAll(t, a, register("r-chem", "hn-chem", "society"), conference("c1"), session("s1", "c1", 100))
	key := verifierOf(t, dirA)
	first := signedThrough(t, a)
	if out, _, code := run(t, "verify", "--server", a.url, "--token", auditToken, "--log-key", key, "--state", state); code != 0 {
		t.Fatalf("the first verify:\n%s", out)
	}
	stopServe(t, a)
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dirA})
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, s.JetStream(), "planledger.events.society.hn-chem", `{"behind":"the API"}`, nil)
	s.Close()
	a = startServe(t, "--data", dirA, "--tokens", tokens)
	postAll(t, a, session("s2", "c1", 40))
	second := signedThrough(t, a)
	out, _, code := run(t, "verify", "--server", a.url, "--token", auditToken, "--log-key", key, "--state", state)
	if code != 1 || !strings.Contains(out, "foreign at sequence") || !strings.Contains(out, fmt.Sprintf("signed checkpoint of size %d", second)) {
		t.Fatalf("the second verify must report the foreign record and still hold the tree: %d\n%s", code, out)
	}
	stopServe(t, a)

	exported, _, _ := run(t, "export", "--data", dirA)
	var kept []string
	shift := uint64(0)
	for _, l := range strings.Split(strings.TrimSpace(exported), "\n") {
		var rec domain.Record
		json.Unmarshal([]byte(l), &rec)
		if rec.Foreign != nil {
			shift++
			continue
		}
		rec.Sequence -= shift
		kept = append(kept, string(domain.AppendLine(nil, &rec)))
	}
	b := startRewritten(t, dirA, strings.Join(kept, "\n")+"\n", tokens)
	signedThrough(t, b)
	out, _, code = run(t, "verify", "--server", b.url, "--token", auditToken, "--log-key", key, "--state", state)
	want := fmt.Sprintf("it agrees with the checkpoint of size %d you verified on", first)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("the log is not the one you verified at size %d", second)) || !strings.Contains(out, want) {
		t.Fatalf("verify after the record was removed: exit %d:\n%s", code, out)
	}
	t.Logf("the auditor's verify after the removal:\n%s", out)
}

// rewrite changes the records of an export that change says it changed,
// and gives each its proof again with the ledger's key, as the holder of
// the key can.
func rewrite(t *testing.T, dir, exported string, change func(*domain.Record) bool) string {
	t.Helper()
	k, err := logkey.Load(filepath.Join(dir, logkey.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	changed := 0
	for _, l := range strings.Split(strings.TrimSpace(exported), "\n") {
		var rec domain.Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Foreign == nil && change(&rec) {
			subject, _, body := eventstore.StoredForm(&rec)
			rec.MAC = k.Seal(subject, body)
			changed++
		}
		out.Write(domain.AppendLine(nil, &rec))
		out.WriteByte('\n')
	}
	if changed == 0 {
		t.Fatal("the rewrite changed nothing")
	}
	return out.String()
}

// startRewritten imports an export into a fresh folder given the same key
// file, and starts the ledger there.
func startRewritten(t *testing.T, dirA, export, tokens string) *process {
	t.Helper()
	dirB := t.TempDir()
	copyKey(t, dirA, dirB)
	file := filepath.Join(t.TempDir(), "rewritten.ndjson")
	os.WriteFile(file, []byte(export), 0o600)
	if out, errs, code := run(t, "import", "--data", dirB, file); code != 0 {
		t.Fatalf("import of the rewritten log: %s %s", out, errs)
	}
	return startServe(t, "--data", dirB, "--tokens", tokens)
}
