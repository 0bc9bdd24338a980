package tests

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"planledger/cmd/planledger/server"
)

// metricsHistory posts a small known history and returns the sequence of
// its last event.
func metricsHistory(t *testing.T, ts *testServer) {
	t.Helper()
	ts.mustPost(adminToken, register("r1", "hn-chem", "society"), register("r2", "hn-phys", "association"), register("r3", "zz-kx", "municipal_association"))
	ts.mustPost(chemToken, ev("p1", "society.party_organization_established", "society/hn-chem", partyBranch))
	ts.mustPost(chemToken, ev("e1", "society.reelection_held", "society/hn-chem", `{"term_start":"2024-01-01","term_years":5,"leadership":`+leadershipJSON("u3 r3 e3 g1")+`}`))
	ts.mustPost(physToken, ev("e1", "society.reelection_held", "society/hn-phys", `{"term_start":"2018-01-01","term_years":3,"leadership":`+leadershipJSON("u4 o1")+`}`))
	ts.mustPost(chemToken,
		ev("c1", "conference.registered", "conference/c1", `{"title":"t","level":"provincial","program":"academic_exchange","organizer_society":"hn-chem"}`),
		ev("c2", "conference.session_held", "conference/c1", `{"session_title":"s","held_on":"2021-05-01","attendees":120,"online":false}`))
	ts.mustPost(chemToken,
		ev("t1", "service_team.formed", "service_team/t1", `{"society_id":"hn-chem","industry":"化工","title":"t"}`),
		ev("t2", "service_team.service_delivered", "service_team/t1", `{"service_kind":"experts","partner_kind":"enterprise","partner_name":"p","volunteers":4,"hours":12.5,"beneficiaries":60,"delivered_on":"2021-06-01","problems_solved":2,"technologies_promoted":1,"talents_trained":6,"demonstrations":1}`))
	ts.mustPost(chemToken,
		ev("d1", "decision.proposed", "decision/d1", `{"society_id":"hn-chem","category":"personnel","title":"t"}`),
		ev("d2", "decision.party_reviewed", "decision/d1", `{"outcome":"endorsed"}`))
	ts.mustPost(chemToken,
		ev("j1", "project.registered", "project/j1", `{"program":"one_industry_one_report","title":"t","lead_society":"hn-chem"}`),
		ev("j2", "project.completed", "project/j1", `{"completed_on":"2021-09-01","deliverable":"d"}`))
	if r := ts.post(chemToken, ev("bad", "society.party_organization_established", "society/hn-chem", `{"org_type":"branch","members":1,"established_on":"2021-01-01"}`)); r.status != 422 {
		t.Fatalf("want a 422 to count: %d", r.status)
	}
	last := ts.logLength()
	if err := ts.srv.Views().WaitFor(context.Background(), last); err != nil {
		t.Fatal(err)
	}
}

func leadershipJSON(spec string) string {
	sectors := map[byte]string{'u': "university", 'r': "research_institute", 'e': "enterprise", 'g': "government", 'o': "other"}
	var parts []string
	n := 0
	for _, f := range strings.Fields(spec) {
		k := int(f[1] - '0')
		for i := 0; i < k; i++ {
			n++
			parts = append(parts, `{"member_id":"m`+string(rune('a'+n))+`","role":"director","sector":"`+sectors[f[0]]+`"}`)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

const wantPlanGauges = `
# HELP planledger_program_delivered What a programme delivered in the year of the plan in force.
# TYPE planledger_program_delivered gauge
planledger_program_delivered{program="academic_exchange"} 1
planledger_program_delivered{program="award"} 0
planledger_program_delivered{program="discipline_report"} 0
planledger_program_delivered{program="kechuang_china_pilot"} 0
planledger_program_delivered{program="one_city_one_product"} 0
planledger_program_delivered{program="one_enterprise_one_innovation"} 0
planledger_program_delivered{program="one_industry_one_report"} 1
planledger_program_delivered{program="one_industry_one_society"} 0
planledger_program_delivered{program="one_industry_service_team"} 1
planledger_program_delivered{program="platform"} 0
planledger_program_delivered{program="youth_talent"} 0
# HELP planledger_party_coverage_ratio Share of societies with a party organisation.
# TYPE planledger_party_coverage_ratio gauge
planledger_party_coverage_ratio 0.5
# HELP planledger_party_coverage_societies Provincial societies, associations and research societies (municipal associations not counted).
# TYPE planledger_party_coverage_societies gauge
planledger_party_coverage_societies 2
# HELP planledger_leadership_societies Societies by leadership-ratio (三三三一) status.
# TYPE planledger_leadership_societies gauge
planledger_leadership_societies{status="compliant"} 1
planledger_leadership_societies{status="non_compliant"} 1
planledger_leadership_societies{status="unknown"} 1
# HELP planledger_leadership_members Members of all current leadership bodies, by sector.
# TYPE planledger_leadership_members gauge
planledger_leadership_members{sector="enterprise"} 3
planledger_leadership_members{sector="government"} 1
planledger_leadership_members{sector="other"} 1
planledger_leadership_members{sector="research_institute"} 3
planledger_leadership_members{sector="university"} 7
# HELP planledger_reelection_societies Societies by state of their term of office, against today.
# TYPE planledger_reelection_societies gauge
planledger_reelection_societies{state="current"} 1
planledger_reelection_societies{state="due_soon"} 0
planledger_reelection_societies{state="overdue"} 1
planledger_reelection_societies{state="unknown"} 1
# HELP planledger_decisions Major decisions by stage of 三议一公布.
# TYPE planledger_decisions gauge
planledger_decisions{stage="endorsed"} 1
planledger_decisions{stage="failed"} 0
planledger_decisions{stage="passed"} 0
planledger_decisions{stage="proposed"} 0
planledger_decisions{stage="published"} 0
planledger_decisions{stage="returned"} 0
# HELP planledger_volunteer_service_seconds Volunteer time of all deliveries, recorded in hours, exported in seconds.
# TYPE planledger_volunteer_service_seconds gauge
planledger_volunteer_service_seconds 45000
# HELP planledger_volunteer_beneficiaries Beneficiaries of all deliveries.
# TYPE planledger_volunteer_beneficiaries gauge
planledger_volunteer_beneficiaries 60
# HELP planledger_conference_attendees Attendees of all conference sessions.
# TYPE planledger_conference_attendees gauge
planledger_conference_attendees 120
`

var planGaugeNames = []string{"planledger_program_delivered", "planledger_party_coverage_ratio", "planledger_party_coverage_societies",
	"planledger_leadership_societies", "planledger_leadership_members", "planledger_reelection_societies", "planledger_decisions",
	"planledger_volunteer_service_seconds", "planledger_volunteer_beneficiaries", "planledger_conference_attendees"}

// TestMetrics: the registry lints clean, the plan's gauges match a known
// history, stay right across a restart, and every metric the alerts and
// the dashboard use exists.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := startServer(t, func(c *server.Config) { c.Registry = reg })
	metricsHistory(t, ts)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantPlanGauges), planGaugeNames...); err != nil {
		t.Fatal(err)
	}
	if got := counterSum(t, reg, "planledger_appends_rejected_total", "reason", "invalid"); got != 1 {
		t.Errorf("invalid rejections %v, want 1", got)
	}
	if got := counterSum(t, reg, "planledger_recorded_times_total", "", ""); got < 1 {
		t.Errorf("recorded times learned %v times, after appends", got)
	}
	appended := counterSum(t, reg, "planledger_events_appended_total", "", "")
	if appended != float64(ts.logLength()) {
		t.Errorf("events appended %v, log length %d", appended, ts.logLength())
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	// Restarted on the same folder with a fresh registry: the same gauges.
	ts.stop()
	reg2 := prometheus.NewRegistry()
	ts.cfg.Registry = reg2
	ts.start()
	if err := testutil.GatherAndCompare(reg2, strings.NewReader(wantPlanGauges), planGaugeNames...); err != nil {
		t.Fatalf("after a restart: %v", err)
	}

	used := regexp.MustCompile(`planledger_[a-z_]+`)
	for _, file := range []string{"../deploy/prometheus/alerts.yml", "../deploy/grafana/planledger.json", "../README.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range used.FindAllString(string(b), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if !have[base] && !strings.HasSuffix(name, "_") {
				t.Errorf("%s uses %s, which planledger does not export", file, name)
			}
		}
	}
}

// counterSum adds the values of counter name over the series whose label
// has value (every series when label is "").
func counterSum(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == label && l.GetValue() == value)
			}
			if match {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestGrafanaDashboardAsksForDataSource: the dashboard declares its
// Prometheus data source as an import input, so that Grafana's import
// dialog asks for it, and every panel queries the data source chosen.
func TestGrafanaDashboardAsksForDataSource(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/planledger.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Inputs []struct {
			Name, Type, PluginID string
		} `json:"__inputs"`
		Templating struct {
			List []struct {
				Name    string `json:"name"`
				Current struct {
					Value string `json:"value"`
				} `json:"current"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				Type, UID string
			} `json:"datasource"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Inputs) != 1 || dash.Inputs[0].Type != "datasource" || dash.Inputs[0].PluginID != "prometheus" {
		t.Fatalf("__inputs %+v: want one Prometheus data source", dash.Inputs)
	}
	input := "${" + dash.Inputs[0].Name + "}"
	if len(dash.Templating.List) == 0 || dash.Templating.List[0].Current.Value != input {
		t.Fatalf("the datasource variable does not default to the input %s: %+v", input, dash.Templating.List)
	}
	for _, p := range dash.Panels {
		if p.Datasource.Type != "prometheus" || (p.Datasource.UID != "${datasource}" && p.Datasource.UID != input) {
			t.Errorf("panel %q queries %+v", p.Title, p.Datasource)
		}
	}
	if len(dash.Panels) < 10 {
		t.Fatalf("%d panels", len(dash.Panels))
	}
}
