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

	"planledger/cmd/planledger/audit"
	"planledger/cmd/planledger/client"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
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

// TestSignedViews: a view read with signed=1 carries a note signed with
// the log key; check-view proves it follows from the log (read through
// the API or from an export), live and as of a moment on either axis, and
// refuses a changed figure.
func TestSignedViews(t *testing.T) {
	dir := t.TempDir()
	a := startServe(t, "--data", dir, "--tokens", writeTokens(t))
	postAll(t, a, register("r-chem", "hn-chem", "society"), conference("c1"), session("s1", "c1", 100), session("s2", "c1", 40))
	signedThrough(t, a)
	key := verifierOf(t, dir)
	exported, _, _ := run(t, "export", "--server", a.url, "--token", auditToken)
	exportFile := filepath.Join(t.TempDir(), "log.ndjson")
	os.WriteFile(exportFile, []byte(exported), 0o600)

	for _, q := range []string{"", "&as_of=2021-05-01T00:00:00Z&axis=occurred", "&as_of=" + time.Now().UTC().Format(time.RFC3339)} {
		r := doNoFatal("GET", a.url+"/v1/views/conferences?signed=1"+q, auditToken, "", "")
		if r.status != 200 || !strings.Contains(string(r.body), `"note":`) {
			t.Fatalf("signed view %q: %d %s", q, r.status, r.body)
		}
		file := filepath.Join(t.TempDir(), "view.json")
		os.WriteFile(file, r.body, 0o600)
		for _, source := range [][]string{{"--server", a.url, "--token", auditToken}, {"--export", exportFile}} {
			args := append(append([]string{"check-view", "--log-key", key}, source...), file)
			if out, errs, code := run(t, args...); code != 0 || !strings.Contains(out, "check-view: OK") {
				t.Fatalf("check-view %q from %s: %d\n%s%s", q, source[0], code, out, errs)
			}
		}
		changed := bytes.Replace(r.body, []byte(`"attendees":140`), []byte(`"attendees":1400`), 1)
		if q == "" && bytes.Equal(changed, r.body) {
			t.Fatalf("the live view has no 140 attendees to change: %s", r.body)
		}
		os.WriteFile(file, changed, 0o600)
		if out, _, code := run(t, "check-view", "--log-key", key, "--export", exportFile, file); !bytes.Equal(changed, r.body) && (code != 1 || !strings.Contains(out, "FAILED")) {
			t.Fatalf("check-view of a changed figure: %d %s", code, out)
		}
	}
}

// checkCheckpoints: once both instances' trees reach the end of the log,
// the checkpoints they signed between them are one per size, in growing
// sizes, each the log key's, and each the root of the log's records up to
// its size; the instances never disagreed. Right after a failover the
// cluster may refuse reads for a while: they are tried again.
func checkCheckpoints(t *testing.T, instances ...*testServer) {
	t.Helper()
	var n int
	var err error
	for deadline := time.Now().Add(60 * time.Second); ; {
		n, err = checkpointsAgree(instances)
		if err == nil || !transient(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // poll until the cluster serves reads again
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range instances {
		if c := ts.srv.Tree().Conflicts.Load(); c != 0 {
			t.Fatalf("an instance met %d conflicting checkpoints or tiles", c)
		}
	}
	t.Logf("%d checkpoints signed by %d instances, one per size, each the root of the log up to it", n, len(instances))
}

// transient says err is the cluster not answering (yet), not a wrong answer.
func transient(err error) bool {
	return domain.IsKind(err, domain.KindUnavailable) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		strings.Contains(err.Error(), "no responders") || strings.Contains(err.Error(), "no response from stream")
}

func checkpointsAgree(instances []*testServer) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := instances[0].srv.Store()
	last, err := s.LastSequence(ctx)
	if err != nil {
		return 0, err
	}
	for _, ts := range instances {
		if err := ts.srv.Tree().WaitFor(ctx, int64(last)); err != nil {
			return 0, err
		}
		if err := ts.srv.Tree().Sync(ctx); err != nil {
			return 0, err
		}
	}
	cps, err := storedCheckpoints(ctx, s, instances[0].srv.Tree().Verifier())
	if err != nil {
		return 0, err
	}
	b := logtree.NewBuilder()
	i := 0
	for i < len(cps) && cps[i].Size == 0 {
		i++
	}
	err = s.Each(ctx, 1, func(rec domain.Record) error {
		if err := b.Add(domain.AppendLine(nil, &rec)); err != nil {
			return err
		}
		for i < len(cps) && cps[i].Size == b.Size() {
			if root, _ := b.Root(); root != cps[i].Root {
				return fmt.Errorf("the checkpoint of size %d says root %s; the log's records hash to %s", cps[i].Size, cps[i].Root, root)
			}
			i++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if i != len(cps) {
		return 0, fmt.Errorf("%d of %d checkpoints checked against the log", i, len(cps))
	}
	return len(cps), nil
}

// storedCheckpoints reads every checkpoint of the log's checkpoints
// stream, checking each is the log key's and sizes only grow.
func storedCheckpoints(ctx context.Context, s *eventstore.Store, v note.Verifier) ([]logtree.Checkpoint, error) {
	_, cpName := logtree.StreamNames(s.StreamName())
	str, err := s.JetStream().Stream(ctx, cpName)
	if err != nil {
		return nil, err
	}
	info, err := str.Info(ctx)
	if err != nil {
		return nil, err
	}
	var cps []logtree.Checkpoint
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			return nil, err
		}
		c, err := logtree.OpenCheckpoint(m.Data, v)
		if err != nil {
			return nil, err
		}
		if n := len(cps); n > 0 && c.Size <= cps[n-1].Size {
			return nil, fmt.Errorf("checkpoint of size %d after one of size %d", c.Size, cps[n-1].Size)
		}
		cps = append(cps, c)
	}
	return cps, nil
}

// TestTilesOverHTTP: a client that trusts only the verifier key reads the
// checkpoint and the C2SP tiles over HTTP and gets the root (a tampered
// tile is refused); the entry bundles hold the records' lines, which hash
// to the tree's leaves; the proofs the API serves verify.
func TestTilesOverHTTP(t *testing.T) {
	ts := startServer(t)
	for b := 0; b < 6; b++ {
		var evs []string
		for i := 0; i < 100; i++ {
			evs = append(evs, register(fmt.Sprintf("r%d-%d", b, i), fmt.Sprintf("hn-s%d-%d", b, i), "society"))
		}
		ts.mustPost(adminToken, evs...)
	}
	last := ts.logLength()
	if err := ts.srv.Tree().WaitFor(context.Background(), int64(last)); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Tree().Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := logtree.ParseVerifier(strings.TrimSpace(string(ts.do("GET", "/v1/log/key", auditToken, "", nil).body)))
	if err != nil {
		t.Fatal(err)
	}
	cpr := ts.do("GET", "/v1/log/checkpoint", auditToken, "", nil)
	c, err := logtree.OpenCheckpoint(cpr.body, v)
	if err != nil || c.Size != int64(last) {
		t.Fatalf("checkpoint %+v %v; the log has %d", c, err, last)
	}
	get := func(path string) ([]byte, error) {
		r := ts.do("GET", "/v1/log/"+path, auditToken, "", nil)
		if r.status != 200 {
			return nil, fmt.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "private, max-age=31536000, immutable" {
			return nil, fmt.Errorf("GET %s: Cache-Control %q", path, r.header.Get("Cache-Control"))
		}
		return r.body, nil
	}
	reader := &httpTiles{get: get}
	th := tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, reader)
	if root, err := tlog.TreeHash(c.Size, th); err != nil || root != c.Root {
		t.Fatalf("root from the tiles over HTTP: %s %v", root, err)
	}
	reader.tamper = true
	if _, err := tlog.ProveRecord(c.Size, 10, tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, reader)); err == nil {
		t.Fatal("a tampered tile was accepted")
	}

	// Entry bundles: the records' lines, whose hashes are the leaves.
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	json.Unmarshal(ts.do("GET", "/v1/events?limit=1000", auditToken, "", nil).body, &page)
	for n, w := range map[int64]int{0: 256, 2: int(c.Size) % 256} {
		path := fmt.Sprintf("tile/entries/%03d", n)
		if w != 256 {
			path += fmt.Sprintf(".p/%d", w)
		}
		bundle, err := get(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < w; i++ {
			entry, rest, err := readEntry(bundle)
			if err != nil {
				t.Fatal(err)
			}
			if want := bytes.TrimSpace(page.Events[int(n)*256+i]); !bytes.Equal(entry, want) {
				t.Fatalf("entry %d of bundle %d:\n%s\nwant %s", i, n, entry, want)
			}
			bundle = rest
		}
		if len(bundle) != 0 {
			t.Fatalf("bundle %d has %d bytes more than its %d entries", n, len(bundle), w)
		}
	}
	if r := ts.do("GET", "/v1/log/tile/entries/009", auditToken, "", nil); r.status != 404 {
		t.Fatalf("a bundle past the tree: %d", r.status)
	}

	// The proofs the API serves.
	pr := ts.do("GET", "/v1/events/300/proof", auditToken, "", nil)
	p, err := logtree.ParseRecordProof(pr.body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Verify(v); err != nil || got.Size != c.Size || !bytes.Equal(p.Line, bytes.TrimSpace(page.Events[299])) {
		t.Fatalf("the proof of record 300: %v", err)
	}
	tp, err := audit.ProveTree(context.Background(), client.New(ts.url, auditToken), 5, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	r5, _ := ts.srv.Tree().Root(context.Background(), 5)
	if err := tlog.CheckTree(tp, c.Size, c.Root, 5, r5); err != nil {
		t.Fatalf("consistency proof 5 -> %d: %v", c.Size, err)
	}
}

// httpTiles reads C2SP tiles with get, for tlog.TileHashReader.
type httpTiles struct {
	get    func(path string) ([]byte, error)
	tamper bool
}

func (h *httpTiles) Height() int { return logtree.TileHeight }
func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tl := range tiles {
		d, err := h.get("tile/" + strings.TrimPrefix(tl.Path(), "tile/8/"))
		if err != nil {
			return nil, err
		}
		if h.tamper {
			d[0] ^= 1
		}
		out[i] = d
	}
	return out, nil
}
func (h *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// readEntry reads one entry of a C2SP entry bundle: a big-endian uint16
// length, then the entry.
func readEntry(b []byte) (entry, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, errors.New("bundle too short")
	}
	n := int(b[0])<<8 | int(b[1])
	if len(b) < 2+n {
		return nil, nil, errors.New("bundle too short for its entry")
	}
	return b[2 : 2+n], b[2+n:], nil
}

// TestVerifyAnExport: an auditor given an export file and the checkpoint
// alone recomputes the root from the file's lines; a file with one line
// changed fails, naming the size.
func TestVerifyAnExport(t *testing.T) {
	dir := t.TempDir()
	a := startServe(t, "--data", dir, "--tokens", writeTokens(t))
	postAll(t, a, register("r-chem", "hn-chem", "society"), conference("c1"), session("s1", "c1", 100))
	size := signedThrough(t, a)
	key := verifierOf(t, dir)
	work := t.TempDir()
	exported, _, _ := run(t, "export", "--server", a.url, "--token", auditToken)
	cp := doNoFatal("GET", a.url+"/v1/log/checkpoint", auditToken, "", "")
	file, cpFile, state := filepath.Join(work, "log.ndjson"), filepath.Join(work, "checkpoint"), filepath.Join(work, "state.json")
	os.WriteFile(file, []byte(exported), 0o600)
	os.WriteFile(cpFile, cp.body, 0o600)
	out, _, code := run(t, "verify", "--export", file, "--checkpoint", cpFile, "--log-key", key, "--state", state)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("signed checkpoint of size %d", size)) {
		t.Fatalf("verify of the export: %d\n%s", code, out)
	}
	os.WriteFile(file, []byte(strings.Replace(exported, `"attendees":100`, `"attendees":1000`, 1)), 0o600)
	out, _, code = run(t, "verify", "--export", file, "--checkpoint", cpFile, "--log-key", key)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("tree at sequence %d: the log's first %d records hash to", size, size)) {
		t.Fatalf("verify of a changed export: %d\n%s", code, out)
	}
}
