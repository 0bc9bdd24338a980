package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool finds a program the test needs. CI installs it (.ci/run), so
// there a missing tool is a failure; on a developer's machine the test
// says how to get it and skips.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run installs Debian's prometheus package", name)
	}
	t.Skipf("%s is not installed: apt-get install -y prometheus (CI does)", name)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPrometheusScrapesProgress: a real Prometheus scrapes a real
// `planledger serve` every second and reads the plan's progress back
// through its query API; promtool checks the exposition and the alerting
// rules, and runs their unit tests.
func TestPrometheusScrapesProgress(t *testing.T) {
	prom := needTool(t, "prometheus")
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	p := startServe(t, "--data", filepath.Join(dir, "data"), "--tokens", writeTokens(t))
	target := strings.TrimPrefix(p.url, "http://")

	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: planledger
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	promURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	promLog := &syncBuffer{}
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = promLog, promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	poll(t, 60*time.Second, "prometheus ready", func() bool {
		resp, err := testClient.Get(promURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, promLog)

	post := func(events ...string) {
		body := "[" + strings.Join(events, ",") + "]"
		req, _ := http.NewRequest("POST", p.url+"/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/cloudevents-batch+json")
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
	}
	post(register("r1", "hn-chem", "society"),
		ev("j1", "project.registered", "project/j1", `{"program":"one_industry_one_report","title":"t","lead_society":"hn-chem"}`),
		ev("j2", "project.completed", "project/j1", `{"completed_on":"2021-09-01","deliverable":"d"}`))

	query := func(q string) (string, bool) {
		resp, err := testClient.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return "", false
		}
		v, _ := r.Data.Result[0].Value[1].(string)
		return v, true
	}
	poll(t, 60*time.Second, "delivered report scraped", func() bool {
		v, ok := query(`planledger_program_delivered{program="one_industry_one_report"}`)
		return ok && v == "1"
	}, promLog)
	if v, _ := query(`planledger_program_progress_ratio{program="one_industry_one_report"}`); !strings.HasPrefix(v, "0.142857") {
		t.Errorf("progress through Prometheus %q, want 1/7", v)
	}
	if v, _ := query(`planledger_program_target{program="academic_exchange"}`); v != "26" {
		t.Errorf("academic exchange target %q, want 26", v)
	}
	if v, _ := query(`up{job="planledger"}`); v != "1" {
		t.Errorf("up = %q", v)
	}
	// Prometheus loaded the alerting rules.
	resp, err := testClient.Get(promURL + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	rulesReply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, alert := range []string{"PlanledgerReelectionsOverdue", "PlanledgerPartyCoverageLow", "PlanledgerStoreUnavailable", "PlanledgerViewsLagging", "PlanledgerAppendErrors"} {
		if !strings.Contains(string(rulesReply), alert) {
			t.Errorf("Prometheus did not load alert %s", alert)
		}
	}

	// promtool on the exposition, the rules and their tests.
	resp, err = testClient.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(exposition)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if out, err := exec.Command(promtool, "check", "rules", "../deploy/prometheus/alerts.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := exec.Command(promtool, "test", "rules", "../deploy/prometheus/alerts_test.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
	if out, err := exec.Command(promtool, "check", "config", "../deploy/prometheus/prometheus.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// poll waits for cond, checking every 100 ms until the deadline.
func poll(t *testing.T, within time.Duration, what string, cond func() bool, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\n%s", what, within, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
