package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"planledger/cmd/planledger/server"
	"planledger/projections"
)

// TestReadYourWrites: under concurrent writers, a view read with
// min_sequence set to a write's sequence always reflects that write.
func TestReadYourWrites(t *testing.T) {
	ts := startServer(t)
	const writers, each = 8, 6
	var wg sync.WaitGroup
	errs := make(chan string, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("hn-w%d-%d", w, i)
				r := ts.postNoFatal(adminToken, register("reg-"+id, id, "society"))
				if r.status != 201 {
					errs <- fmt.Sprintf("POST %s: %d %s", id, r.status, r.body)
					continue
				}
				var rec struct {
					Sequence uint64 `json:"sequence"`
				}
				_ = json.Unmarshal(r.body, &rec)
				v := ts.getNoFatal(fmt.Sprintf("/v1/views/party-coverage?min_sequence=%d", rec.Sequence), auditToken)
				var cov projections.PartyCoverageView
				if err := json.Unmarshal(v.body, &cov); err != nil || v.status != 200 {
					errs <- fmt.Sprintf("GET view: %d %s", v.status, v.body)
					continue
				}
				if cov.Sequence < rec.Sequence || !slices.Contains(cov.Without, id) {
					errs <- fmt.Sprintf("view at %d does not reflect %s written at %d", cov.Sequence, id, rec.Sequence)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestViewsOverHTTP(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.ViewWait = 200 * time.Millisecond })
	ts.mustPost(chemToken, register("r1", "hn-chem", "society"))
	ts.mustPost(chemToken, ev("e1", "society.reelection_held", "society/hn-chem", reelection))
	ts.mustPost(chemToken, ev("p1", "society.party_organization_established", "society/hn-chem", partyBranch))
	before := time.Now()
	ts.mustPost(chemToken, ev("x1", "society.event_retracted", "society/hn-chem", `{"event_id":"p1","reason":"entered for the wrong society"}`))

	for _, name := range projections.ViewNames {
		r := ts.do("GET", "/v1/views/"+name+"?min_sequence=5", auditToken, "", nil)
		var m map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &m) != nil || m["sequence"] != float64(5) {
			t.Errorf("view %s: %d %s", name, r.status, r.body)
		}
	}
	var ratio projections.LeadershipRatioView
	json.Unmarshal(ts.do("GET", "/v1/views/leadership-ratio", auditToken, "", nil).body, &ratio)
	if len(ratio.Societies) != 1 || ratio.Societies[0].Status != "compliant" || ratio.Societies[0].Size != 10 {
		t.Fatalf("leadership-ratio %+v", ratio)
	}
	var now, then projections.PartyCoverageView
	json.Unmarshal(ts.do("GET", "/v1/views/party-coverage", auditToken, "", nil).body, &now)
	r := ts.do("GET", "/v1/views/party-coverage?as_of="+url.QueryEscape(before.Format(time.RFC3339Nano))+"&axis=recorded", auditToken, "", nil)
	if r.status != 200 {
		t.Fatalf("as_of: %d %s", r.status, r.body)
	}
	json.Unmarshal(r.body, &then)
	if now.WithPartyOrganization != 0 || then.WithPartyOrganization != 1 || then.Sequence != 4 {
		t.Fatalf("coverage now %+v, before the retraction %+v", now, then)
	}
	// On the occurred axis the retraction applies even to a past moment.
	r = ts.do("GET", "/v1/views/party-coverage?as_of=2021-12-31T23:59:59%2B08:00&axis=occurred", auditToken, "", nil)
	var occurred projections.PartyCoverageView
	json.Unmarshal(r.body, &occurred)
	if r.status != 200 || occurred.WithPartyOrganization != 0 || occurred.Societies != 1 {
		t.Fatalf("occurred axis: %d %s", r.status, r.body)
	}

	for q, want := range map[string]int{
		"/v1/views/nope":                                              404,
		"/v1/views/programs?min_sequence=x":                           400,
		"/v1/views/programs?as_of=yesterday":                          400,
		"/v1/views/programs?axis=occurred":                            400,
		"/v1/views/programs?as_of=2021-01-01T00:00:00Z&axis=sideways": 400,
		"/v1/views/programs?min_sequence=999":                         503,
	} {
		r := ts.do("GET", q, auditToken, "", nil)
		if r.status != want {
			t.Errorf("GET %s: %d, want %d: %s", q, r.status, want, r.body)
			continue
		}
		r.problem(t)
		if want == 503 && r.header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	if r := ts.do("GET", "/v1/views/programs", "", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("view without token: %d", r.status)
	}
}
