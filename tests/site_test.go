package tests

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"planledger/cmd/planledger/server"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"
	"planledger/projections"
)

// The web site over plain HTTP: sessions, CSRF, what each token may read.
// site_browser_test.go drives the same pages in a real browser.

// siteFixture is a small 2021 posted through the API: three societies
// (hn-chem compliant with a party branch, hn-phys not compliant, hn-bio
// with no leadership recorded), a project whose completion was retracted,
// another completed later, a conference, a team and a decision.
type siteFixture struct {
	// beforeRetraction is the recorded time of the retracted completion:
	// "as of" it on the recorded axis, the retraction had not happened.
	beforeRetraction time.Time
}

const retractionReason = "误报：项目尚未验收"

func evAt(id, typ, subject, when, data string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/tests","type":%q,"subject":%q,"time":%q,"data":%s}`, id, typ, subject, when, data)
}

func postSiteFixture(t *testing.T, ts *testServer) siteFixture {
	t.Helper()
	const jan, may = "2021-01-10T09:00:00+08:00", "2021-05-01T10:00:00+08:00"
	ts.mustPost(adminToken,
		evAt("chem-reg", "society.registered", "society/hn-chem", jan, `{"name":"河南省化学会","kind":"society","city":"zhengzhou"}`),
		evAt("phys-reg", "society.registered", "society/hn-phys", jan, `{"name":"河南省物理学会","kind":"society","city":"luoyang"}`),
		evAt("bio-reg", "society.registered", "society/hn-bio", jan, `{"name":"河南省生物学会","kind":"association","city":"kaifeng"}`),
		evAt("chem-party", "society.party_organization_established", "society/hn-chem", "2021-04-20T10:00:00+08:00", partyBranch),
		evAt("chem-reelect", "society.reelection_held", "society/hn-chem", "2021-04-25T10:00:00+08:00", reelection),
		evAt("phys-reelect", "society.reelection_held", "society/hn-phys", "2021-03-15T10:00:00+08:00", `{"term_start":"2021-03-15","term_years":5,"leadership":[
			{"member_id":"p1","role":"president","sector":"university"},{"member_id":"p2","role":"director","sector":"university"},
			{"member_id":"p3","role":"director","sector":"university"},{"member_id":"p4","role":"director","sector":"university"},
			{"member_id":"p5","role":"director","sector":"university"},{"member_id":"p6","role":"director","sector":"university"},
			{"member_id":"p7","role":"director","sector":"research_institute"},{"member_id":"p8","role":"director","sector":"research_institute"},
			{"member_id":"p9","role":"director","sector":"enterprise"},{"member_id":"p10","role":"secretary_general","sector":"government"}]}`),
		evAt("conf-reg", "conference.registered", "conference/chem-forum", may, `{"title":"河南省化学化工学术年会","level":"provincial","program":"academic_exchange","organizer_society":"hn-chem","city":"zhengzhou"}`),
		evAt("conf-s1", "conference.session_held", "conference/chem-forum", "2021-07-08T09:00:00+08:00", `{"session_title":"主论坛","held_on":"2021-07-08","attendees":320,"online":false}`),
		evAt("team-form", "service_team.formed", "service_team/chem-team", may, `{"society_id":"hn-chem","industry":"化学电源","title":"服务化学电源产业科技服务团","program":"one_industry_service_team"}`),
		evAt("team-d1", "service_team.service_delivered", "service_team/chem-team", "2021-06-12T09:00:00+08:00", `{"service_kind":"experts","partner_kind":"enterprise","partner_name":"新乡某电池企业","volunteers":6,"hours":24,"beneficiaries":150,"delivered_on":"2021-06-12","problems_solved":2,"technologies_promoted":1,"talents_trained":12,"demonstrations":1}`),
		evAt("dec-prop", "decision.proposed", "decision/phys-dec-1", may, `{"society_id":"hn-phys","category":"major_work","title":"年度学术年会方案"}`),
		evAt("rep-reg", "project.registered", "project/chem-report", may, `{"program":"one_industry_one_report","title":"河南省化学电源产业发展研究报告","lead_society":"hn-chem","city":"xinxiang"}`),
		evAt("disc-reg", "project.registered", "project/phys-discipline", may, `{"program":"discipline_report","title":"河南省光学学科与产业发展研究报告","lead_society":"hn-phys","city":"luoyang"}`),
	)
	done := ts.mustPost(adminToken, evAt("rep-done", "project.completed", "project/chem-report", "2021-08-20T10:00:00+08:00", `{"completed_on":"2021-08-20","deliverable":"研究报告"}`)).record(t)
	// Recorded times are the store's; wait until the clock has moved past
	// the completion's so that the retraction is recorded strictly later.
	for !time.Now().After(done.RecordedTime.Add(time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	ts.mustPost(adminToken, evAt("rep-retract", "project.event_retracted", "project/chem-report", "2021-08-25T10:00:00+08:00", `{"event_id":"rep-done","reason":"`+retractionReason+`"}`))
	ts.mustPost(adminToken, evAt("disc-done", "project.completed", "project/phys-discipline", "2021-09-10T10:00:00+08:00", `{"completed_on":"2021-09-10","deliverable":"研究报告"}`))
	return siteFixture{beforeRetraction: done.RecordedTime}
}

// browserSession is a cookie jar that does not follow redirects, so a test
// sees each answer.
type browserSession struct {
	t   *testing.T
	ts  *testServer
	jar *cookiejar.Jar
	c   *http.Client
}

func newBrowserSession(t *testing.T, ts *testServer) *browserSession {
	jar, _ := cookiejar.New(nil)
	return &browserSession{t: t, ts: ts, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserSession) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.ts.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp, string(page)
}

var hiddenInput = regexp.MustCompile(`name="(form|csrf)" value="([^"]+)"`)

// hidden returns the value of a hidden form field of a page.
func hidden(t *testing.T, page, name string) string {
	t.Helper()
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	t.Fatalf("no hidden %q field in the page:\n%s", name, page)
	return ""
}

// signIn fills the sign-in form as a browser would (same origin).
func (b *browserSession) signIn(token string) *http.Response {
	b.t.Helper()
	_, page := b.do("GET", "/signin", nil)
	resp, _ := b.do("POST", "/signin", url.Values{"form": {hidden(b.t, page, "form")}, "next": {"/"}, "token": {token}}, "Origin", b.ts.url)
	return resp
}

func (b *browserSession) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.ts.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSiteSessions(t *testing.T) {
	ts := startServer(t)
	b := newBrowserSession(t, ts)

	resp, _ := b.do("GET", "/societies?lang=en", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?lang=en&next=%2Fsocieties%3Flang%3Den" {
		t.Fatalf("signed out: %d to %q, want 303 to the sign-in form", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A token in the address never signs anyone in.
	if resp, _ := b.do("GET", "/signin?token="+auditToken, nil); b.cookie("planledger-session") != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /signin?token=...: %d and a session cookie", resp.StatusCode)
	}
	_, page := b.do("GET", "/signin", nil)
	form := hidden(t, page, "form")
	if resp, _ := b.do("POST", "/signin?token="+auditToken, url.Values{"form": {form}, "next": {"/"}}, "Origin", ts.url); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /signin with the token in the address: %d, want 401", resp.StatusCode)
	}
	if resp := b.signIn("not-a-token"); resp.StatusCode != http.StatusUnauthorized || b.cookie("planledger-session") != nil {
		t.Fatalf("unknown token: %d", resp.StatusCode)
	}
	// Another origin, or a form not from this browser, is refused.
	_, page = b.do("GET", "/signin", nil)
	form = hidden(t, page, "form")
	if resp, _ := b.do("POST", "/signin", url.Values{"form": {form}, "token": {auditToken}}, "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin sign-in: %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/signin", url.Values{"form": {"forged"}, "token": {auditToken}}, "Origin", ts.url); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in with a forged form token: %d, want 403", resp.StatusCode)
	}

	resp = b.signIn(auditToken)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "planledger-session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.MaxAge <= 0 || sc.MaxAge > 24*3600 || sc.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, expiring", sc)
	}
	resp, page = b.do("GET", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "豫科协办发〔2021〕9号") || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("overview: %d %v", resp.StatusCode, resp.Header)
	}

	// Sign-out needs the session's CSRF token and ends the session on the
	// server: the old cookie opens nothing afterwards.
	if resp, _ := b.do("POST", "/signout", url.Values{"csrf": {"forged"}}, "Origin", ts.url); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without the CSRF token: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/signout", url.Values{"csrf": {hidden(t, page, "csrf")}}, "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin sign-out: %d", resp.StatusCode)
	}
	resp, _ = b.do("POST", "/signout", url.Values{"csrf": {hidden(t, page, "csrf")}}, "Origin", ts.url)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("sign out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	old := newBrowserSession(t, ts)
	old.jar.SetCookies(mustURL(t, ts.url), []*http.Cookie{{Name: "planledger-session", Value: sc.Value}})
	if resp, _ := old.do("GET", "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the signed-out session still opens the overview: %d", resp.StatusCode)
	}

	// The site registers only its own routes: the API's 404s stay problems.
	r := ts.do("GET", "/no/such/route", "", "", nil)
	if r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

func TestSiteSecureCookieBehindTLSProxy(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.SecureCookies = true })
	resp := newBrowserSession(t, ts).signIn(auditToken)
	for _, c := range resp.Cookies() {
		if c.Name == "planledger-session" && c.Secure {
			return
		}
	}
	t.Fatalf("with SecureCookies the session cookie is not Secure: %v", resp.Header["Set-Cookie"])
}

// TestSiteReadScope: a submitter reads the plan and the province-wide
// figures, and its own societies' details; every other society's page and
// aggregate is "not found", and no list names another society.
func TestSiteReadScope(t *testing.T) {
	ts := startServer(t)
	postSiteFixture(t, ts)
	audit, chem := newBrowserSession(t, ts), newBrowserSession(t, ts)
	audit.signIn(auditToken)
	chem.signIn(chemToken)

	for _, path := range []string{"/", "/societies", "/societies/hn-chem", "/aggregates/project/chem-report", "/aggregates/plan/henan-2021", "/aggregates/project/chem-report/2"} {
		if resp, _ := chem.do("GET", path, nil); resp.StatusCode != 200 {
			t.Errorf("submitter for hn-chem, %s: %d, want 200", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/societies/hn-phys", "/aggregates/society/hn-phys", "/aggregates/project/phys-discipline", "/aggregates/decision/phys-dec-1/1", "/societies/no-such"} {
		resp, page := chem.do("GET", path, nil)
		if resp.StatusCode != 404 || strings.Contains(page, "河南省物理学会") {
			t.Errorf("submitter for hn-chem, %s: %d, want 404 naming nothing", path, resp.StatusCode)
		}
		if resp, _ := audit.do("GET", path, nil); resp.StatusCode != 200 && path != "/societies/no-such" {
			t.Errorf("auditor, %s: %d, want 200", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/", "/societies", "/societies?sort=name&desc=1"} {
		_, page := chem.do("GET", path, nil)
		for _, other := range []string{"河南省物理学会", "河南省生物学会", "hn-phys", "hn-bio"} {
			if strings.Contains(page, other) {
				t.Errorf("submitter for hn-chem sees %q on %s", other, path)
			}
		}
		_, page = audit.do("GET", path, nil)
		if !strings.Contains(page, "河南省物理学会") {
			t.Errorf("auditor does not see 河南省物理学会 on %s", path)
		}
	}
}

// TestViewsNameSocieties: the views' JSON names the societies it lists by
// id (added fields; the contract's keys stay).
func TestViewsNameSocieties(t *testing.T) {
	ts := startServer(t)
	postSiteFixture(t, ts)
	var cov projections.PartyCoverageView
	var dec projections.DecisionsView
	var conf projections.ConferencesView
	var vol projections.VolunteerServicesView
	var prog projections.ProgramsView
	for view, into := range map[string]any{"party-coverage": &cov, "decisions": &dec, "conferences": &conf, "volunteer-services": &vol, "programs": &prog} {
		r := ts.do("GET", "/v1/views/"+view, auditToken, "", nil)
		if err := json.Unmarshal(r.body, into); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", view, r.status, r.body)
		}
	}
	want := []projections.SocietyName{{SocietyID: "hn-bio", Name: "河南省生物学会"}, {SocietyID: "hn-phys", Name: "河南省物理学会"}}
	if fmt.Sprint(cov.WithoutSocieties) != fmt.Sprint(want) || fmt.Sprint(cov.Without) != "[hn-bio hn-phys]" {
		t.Errorf("party-coverage names %v (without %v), want %v", cov.WithoutSocieties, cov.Without, want)
	}
	if len(dec.Decisions) != 1 || dec.Decisions[0].SocietyName != "河南省物理学会" {
		t.Errorf("decisions: %+v", dec.Decisions)
	}
	if len(conf.Conferences) != 1 || conf.Conferences[0].OrganizerName != "河南省化学会" {
		t.Errorf("conferences: %+v", conf.Conferences)
	}
	if len(vol.Teams) != 1 || vol.Teams[0].SocietyName != "河南省化学会" {
		t.Errorf("volunteer-services: %+v", vol.Teams)
	}
	if prog.DocumentNo != "豫科协办发〔2021〕9号" || prog.Title == "" {
		t.Errorf("programs: document_no %q title %q", prog.DocumentNo, prog.Title)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSiteAsOfInput: a moment the site cannot read is a 400 page that says
// what it takes; a good one shows its banner.
func TestSiteAsOfInput(t *testing.T) {
	ts := startServer(t)
	b := newBrowserSession(t, ts)
	b.signIn(auditToken)
	for q, says := range map[string]string{"as_of=30/06/2021": "2021-06-30", "as_of=2021-06-30&axis=sideways": "want recorded or occurred"} {
		resp, page := b.do("GET", "/societies?"+q, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, says) {
			t.Errorf("%s: %d, want 400 saying %q", q, resp.StatusCode, says)
		}
	}
	resp, page := b.do("GET", "/societies?lang=en&as_of=2021-06-30&axis=occurred", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `id="asof-banner"`) || !strings.Contains(page, "occurred axis") ||
		!strings.Contains(page, `href="/?as_of=2021-06-30&amp;axis=occurred&amp;lang=en"`) {
		t.Fatalf("as of 2021-06-30 in English: %d, no banner or links that keep the moment:\n%s", resp.StatusCode, page)
	}
}

// waitSigned waits until a signed checkpoint covers the whole log, and
// returns its size.
func (ts *testServer) waitSigned() int64 {
	ts.t.Helper()
	last := int64(ts.logLength())
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, _, _, ok := ts.srv.Tree().Latest(); ok && c.Size >= last {
			return c.Size
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("no checkpoint covers the log's %d records after 20 s", last)
		}
		time.Sleep(20 * time.Millisecond) // checkpoints are signed once a second
	}
}

// TestSiteRecordProof, over HTTP: a record's page shows its inclusion
// proof and the signed checkpoint as text; its download is the C2SP
// tlog-proof the API serves for the same checkpoint, which `planledger
// check-proof` accepts with the log's key and refuses with another's; the
// checkpoint downloads too. Downloads need a session and follow the
// reader's scope.
func TestSiteRecordProof(t *testing.T) {
	ts := startServer(t)
	postSiteFixture(t, ts)
	size := ts.waitSigned()
	audit, chem := newBrowserSession(t, ts), newBrowserSession(t, ts)
	audit.signIn(auditToken)
	chem.signIn(chemToken)

	resp, page := audit.do("GET", "/aggregates/project/chem-report/2", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `id="proof-line"`) || !strings.Contains(page, "check-proof --log-key") ||
		!strings.Contains(page, `<script src="/static/verify.js" defer></script>`) {
		t.Fatalf("record page: %d, no proof, command or script:\n%s", resp.StatusCode, page)
	}
	m := regexp.MustCompile(`href="([^"]+)" download="([^"]+)" id="proof-download"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no download link on the record page:\n%s", page)
	}
	href := strings.ReplaceAll(m[1], "&amp;", "&")
	if want := fmt.Sprintf("/aggregates/project/chem-report/2/proof?size=%d", size); href != want {
		t.Fatalf("download link %q, want %q", href, want)
	}
	resp, file := audit.do("GET", href, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %v\n%s", resp.StatusCode, resp.Header, file)
	}
	p, err := logtree.ParseRecordProof([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	api := ts.do("GET", fmt.Sprintf("/v1/events/%d/proof?size=%d", p.Index+1, size), auditToken, "", nil)
	if api.status != 200 || string(api.body) != file {
		t.Fatalf("the site's proof is not the API's for the same record and checkpoint:\nsite %s\napi  %d %s", file, api.status, api.body)
	}
	if c, err := p.Verify(ts.srv.Tree().Verifier()); err != nil || c.Size != size || !strings.Contains(string(p.Line), `"id":"rep-done"`) {
		t.Fatalf("the downloaded proof: %v (size %d), line %s", err, c.Size, p.Line)
	}
	// What the page shows as text is what the file holds.
	text := html.UnescapeString(page)
	for _, part := range []string{string(p.Line), base64.StdEncoding.EncodeToString(p.Proof[0][:]), fmt.Sprintf(`id="proof-index">%d<`, p.Index), string(p.Checkpoint)} {
		if !strings.Contains(text, part) {
			t.Errorf("the record page lacks %q", part)
		}
	}
	// The CLI an auditor runs accepts it with the log's key, not another.
	saved := filepath.Join(t.TempDir(), "record.tlog-proof")
	if err := os.WriteFile(saved, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := run(t, "check-proof", "--log-key", ts.srv.Store().Key().VerifierKey(), saved); code != 0 {
		t.Fatalf("check-proof of the downloaded proof: %d\n%s%s", code, out, errs)
	}
	other, err := logkey.Generate(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, code := run(t, "check-proof", "--log-key", other.VerifierKey(), saved); code != 1 {
		t.Fatalf("check-proof with another ledger's key: exit %d, want 1", code)
	}

	resp, cp := audit.do("GET", "/log/checkpoint", nil)
	if want := ts.do("GET", "/v1/log/checkpoint", auditToken, "", nil); resp.StatusCode != 200 || cp != string(want.body) ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), fmt.Sprintf("planledger-checkpoint-%d.txt", size)) {
		t.Fatalf("checkpoint download: %d %v\n%s\nwant %s", resp.StatusCode, resp.Header, cp, want.body)
	}
	for _, lang := range []string{"", "?lang=en"} {
		resp, page := audit.do("GET", "/log"+lang, nil)
		if resp.StatusCode != 200 || !strings.Contains(page, fmt.Sprintf(`id="checkpoint-size">%d<`, size)) || !strings.Contains(html.UnescapeString(page), cp) ||
			!strings.Contains(page, map[string]string{"": "可验证日志", "?lang=en": "Verifiable log"}[lang]) {
			t.Errorf("/log%s: %d\n%s", lang, resp.StatusCode, page)
		}
	}
	if _, page := audit.do("GET", "/", nil); !strings.Contains(page, fmt.Sprintf(`id="log-size">%d<`, size)) {
		t.Errorf("the overview does not show the checkpoint's size %d", size)
	}

	for who, c := range map[string]struct {
		s      *browserSession
		path   string
		status int
	}{
		"another society's record, for hn-chem's submitter": {chem, "/aggregates/decision/phys-dec-1/1/proof", 404},
		"its own record, for hn-chem's submitter":           {chem, "/aggregates/project/chem-report/2/proof", 200},
		"a size no checkpoint was signed for":               {audit, "/aggregates/project/chem-report/2/proof?size=100000", 404},
		"a size that is not a number":                       {audit, "/aggregates/project/chem-report/2/proof?size=x", 400},
		"no such version":                                   {audit, "/aggregates/project/chem-report/9/proof", 404},
		"signed out":                                        {newBrowserSession(t, ts), href, 303},
		"signed out, the checkpoint":                        {newBrowserSession(t, ts), "/log/checkpoint", 303},
	} {
		if resp, body := c.s.do("GET", c.path, nil); resp.StatusCode != c.status || (c.status == 404 && strings.Contains(body, "物理")) {
			t.Errorf("%s: %s answered %d, want %d", who, c.path, resp.StatusCode, c.status)
		}
	}
}
