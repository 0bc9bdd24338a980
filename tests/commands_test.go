package tests

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"planledger/domain"
)

var tokenRE = regexp.MustCompile(`plk_[A-Za-z0-9_-]+`)

// runCLI runs the binary to its end and returns its output and exit code.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// whoami asks the ledger who a token is: its status code.
func whoami(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestTokenAndPostCommands: with the binary against a running serve,
// token create makes a token the server accepts without a restart; post
// stores an event (with a UUIDv7 id), a batch, and explains a refusal;
// token list shows the tokens; token revoke makes the server refuse the
// token within seconds.
func TestTokenAndPostCommands(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, "--data", dir)
	admin := tokenRE.FindString(p.stdout.String())
	if admin == "" {
		t.Fatalf("serve printed no admin token:\n%s", p.stdout.String())
	}

	out, errs, code := runCLI(t, "", "token", "create", "--data", dir, "--name", "chem-secretariat", "--role", "submitter", "--society", "hn-chem", "--server", p.url)
	chem := tokenRE.FindString(out)
	if code != 0 || chem == "" || !strings.Contains(out, "accepts it") {
		t.Fatalf("token create: %d\n%s\n%s", code, out, errs)
	}
	if _, errs, code := runCLI(t, "", "token", "create", "--data", dir, "--name", "chem-secretariat", "--role", "auditor"); code == 0 || !strings.Contains(errs, "exists already") {
		t.Fatalf("a second token of the same name: %d %s", code, errs)
	}

	data := filepath.Join(t.TempDir(), "society.json")
	if err := os.WriteFile(data, []byte(`{"name":"河南省化学会","kind":"society"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = runCLI(t, "", "post", "--server", p.url, "--token", admin, "--type", "society.registered", "--subject", "society/hn-chem", data)
	var rec domain.Record
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.Sequence == 0 || !strings.Contains(errs, "stored") {
		t.Fatalf("post: %d\n%s\n%s", code, out, errs)
	}
	if id, err := uuid.Parse(rec.ID); err != nil || id.Version() != 7 {
		t.Fatalf("post's event id %q is not a UUIDv7", rec.ID)
	}

	out, errs, code = runCLI(t, `{"org_type":"branch","members":5,"established_on":"2021-04-20"}`,
		"post", "--server", p.url, "--token", chem, "--type", "society.party_organization_established", "--subject", "society/hn-chem", "--id", "party-1", "-")
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.ID != "party-1" || rec.Submitter != "chem-secretariat" || rec.Version != 2 {
		t.Fatalf("post from stdin with the new token: %d\n%s\n%s", code, out, errs)
	}
	_, errs, code = runCLI(t, `{"org_type":"cell","members":2,"established_on":"2021-04-20"}`,
		"post", "--server", p.url, "--token", chem, "--type", "society.party_organization_established", "--subject", "society/hn-chem", "-")
	if code != 1 || !strings.Contains(errs, "422") || !strings.Contains(errs, "/data/members") || !strings.Contains(errs, "/data/org_type") {
		t.Fatalf("a refused post: %d\n%s", code, errs)
	}

	batch := `{"type":"society.party_history_activity_held","subject":"society/hn-chem","data":{"title":"党史学习","participants":20,"held_on":"2021-04-30"}}
{"type":"society.annual_inspection_recorded","subject":"society/hn-chem","data":{"year":2020,"result":"pass"},"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
`
	out, errs, code = runCLI(t, batch, "post", "--server", p.url, "--token", chem, "--batch", "-")
	var recs []domain.Record
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 2 || recs[1].Version != 4 || recs[0].ID == recs[1].ID {
		t.Fatalf("post --batch: %d\n%s\n%s", code, out, errs)
	}
	if tp, _ := recs[1].Extensions.String("traceparent"); tp == "" {
		t.Fatalf("the batch's extension was not kept: %+v", recs[1])
	}

	out, _, code = runCLI(t, "", "token", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "admin") || !strings.Contains(out, "chem-secretariat  submitter  hn-chem") {
		t.Fatalf("token list: %d\n%s", code, out)
	}
	if strings.Contains(out, chem) || strings.Contains(out, admin) {
		t.Fatal("token list shows a token")
	}

	out, errs, code = runCLI(t, "", "token", "revoke", "chem-secretariat", "--data", dir)
	if code != 0 || !strings.Contains(out, "Revoked") {
		t.Fatalf("token revoke: %d %s %s", code, out, errs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for whoami(t, p.url, chem) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatalf("the revoked token is still accepted after 15 s:\n%s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond) // poll until the server rereads the file
	}
	_, errs, code = runCLI(t, `{"title":"t","participants":3,"held_on":"2021-04-30"}`,
		"post", "--server", p.url, "--token", chem, "--type", "society.party_history_activity_held", "--subject", "society/hn-chem", "-")
	if code != 1 || !strings.Contains(errs, "401") {
		t.Fatalf("post with a revoked token: %d %s", code, errs)
	}
	if got := whoami(t, p.url, admin); got != http.StatusOK {
		t.Fatalf("the admin token after the revocation: %d", got)
	}
	if _, errs, code := runCLI(t, "", "token", "revoke", "admin", "--data", dir); code == 0 || !strings.Contains(errs, "only token") {
		t.Fatalf("revoking the last token: %d %s", code, errs)
	}
}

// TestSafeStart: serve on a busy HTTP port, or with a busy NATS port, on a
// fresh folder fails and leaves the folder untouched; a start on a free
// port then prints the admin token.
func TestSafeStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"serve", "--data", dir, "--http", busy.Addr().String()},
		{"serve", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", busy.Addr().String()},
	} {
		out, errs, code := runCLI(t, "", args...)
		if code == 0 || !strings.Contains(errs, "address already in use") {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
		if tokenRE.MatchString(out) {
			t.Fatalf("%v printed a token although it did not start:\n%s", args, out)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("%v left the data folder behind (%v): %v", args, err, entries)
		}
	}
	p := startServe(t, "--data", dir)
	if !tokenRE.MatchString(p.stdout.String()) {
		t.Fatalf("the first real start printed no admin token:\n%s", p.stdout.String())
	}
}
