package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"planledger/projections"
)

// The site in a real browser: Debian's chromium, driven over the DevTools
// protocol, against the real server on a real embedded JetStream, with
// JavaScript switched off (the pages need none), and on for the in-browser
// check of a record's proof. Screenshots of each page go to
// $PLANLEDGER_SCREENSHOTS (a temporary folder, removed, if unset).

// chromium finds Debian's chromium, or skips the test saying how to get it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PLANLEDGER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed; the browser tests need it: apt-get install -y chromium (or set PLANLEDGER_CHROMIUM)")
	return ""
}

// browserTab is one tab of a fresh headless chromium, which records every
// request its pages make.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	dir  string // screenshots
	base string // the server's origin

	mu       sync.Mutex
	requests []string
}

func newBrowserTab(t *testing.T, origin string, script bool, flags ...chromedp.ExecAllocatorOption) *browserTab {
	t.Helper()
	path := chromium(t)
	// This machine's network is closed: without these flags chromium
	// hangs on its own connection attempts (updates, sync, QUIC probes).
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1440, 900)}, flags...)...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })

	dir := os.Getenv("PLANLEDGER_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
		t.Logf("screenshots in %s (removed after the test; set PLANLEDGER_SCREENSHOTS=DIR to keep them)", dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browserTab{t: t, ctx: ctx, dir: dir, base: origin}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	// Unless asked for, no script runs in any page: the site must work
	// without JavaScript.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !script})
		return err
	}))
	if err != nil {
		t.Fatalf("switch JavaScript %v: %v", map[bool]string{true: "on", false: "off"}[script], err)
	}
	return b
}

func (b *browserTab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open navigates to a path of the site (with its query) and waits for the
// page to load.
func (b *browserTab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// click follows a link or submits a form by clicking sel, and waits for the
// next page to load.
func (b *browserTab) click(sel string) {
	b.t.Helper()
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

func (b *browserTab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browserTab) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func (b *browserTab) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.base)
}

// shot saves a screenshot of the whole page, and checks that the page is
// no wider than the window (tables scroll inside their box) and has no
// script but files of the site's own /static/ (the CSP allows no other).
func (b *browserTab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	dims, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](fmt.Sprintf(`[document.documentElement.scrollWidth, window.innerWidth,
		[...document.scripts].filter(s => !s.src.startsWith(%q)).length]`, b.base+"/static/")))
	if err != nil {
		b.t.Fatal(err)
	}
	if dims[0] > dims[1] {
		// Name the elements that stick out, innermost first.
		wide, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")]
			.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") + " " + Math.round(e.getBoundingClientRect().right) + "px")`))
		b.t.Errorf("%s: the page is %d px wide in a %d px window: %v", name, dims[0], dims[1], wide)
	}
	if dims[2] != 0 {
		b.t.Errorf("%s: the page has %d scripts not from /static/", name, dims[2])
	}
}

// shotWidths checks and saves the page at a phone's width and a desktop's.
func (b *browserTab) shotWidths(name string) {
	b.t.Helper()
	for _, w := range []int64{375, 1440} {
		b.do(chromedp.EmulateViewport(w, 900))
		b.shot(fmt.Sprintf("%s-%d", name, w))
	}
}

// offOrigin lists the requests the pages made to any other origin.
func (b *browserTab) offOrigin() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.requests {
		if !strings.HasPrefix(u, b.base+"/") && u != b.base && !strings.HasPrefix(u, "data:") && u != "about:blank" {
			out = append(out, u)
		}
	}
	return out
}

func (b *browserTab) signIn(token string) {
	b.t.Helper()
	b.open("/")
	if loc := b.location(); !strings.HasPrefix(loc, "/signin") {
		b.t.Fatalf("signed out, / went to %s, want the sign-in form", loc)
	}
	b.do(chromedp.SendKeys(chromedp.ID("token"), token))
	b.click(`form[action="/signin"] button`)
	if loc := b.location(); loc != "/" {
		b.t.Fatalf("after sign-in the browser is at %s, want /", loc)
	}
}

func (b *browserTab) signOut() {
	b.t.Helper()
	b.click(`form.signout button`)
	if loc := b.location(); loc != "/signin" {
		b.t.Fatalf("after sign-out the browser is at %s", loc)
	}
	b.open("/societies")
	if loc := b.location(); !strings.HasPrefix(loc, "/signin") {
		b.t.Fatalf("after sign-out /societies opened at %s", loc)
	}
}

// programFigures reads the overview's programme table: delivered, target
// ("" if none) and progress ("" if none) per programme.
func (b *browserTab) programFigures() map[string][3]string {
	b.t.Helper()
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][4]string](`[...document.querySelectorAll("tr[data-program]")].map(r =>
		[r.dataset.program, r.querySelector(".delivered").textContent.trim(),
		 r.querySelector(".target .muted") ? "" : r.querySelector(".target").textContent.trim(),
		 r.querySelector(".progress") ? r.querySelector(".progress").textContent.trim() : ""])`))
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string][3]string{}
	for _, r := range rows {
		out[r[0]] = [3]string{r[1], r[2], r[3]}
	}
	return out
}

// wantPrograms is what the overview must show for the programs view.
func wantPrograms(t *testing.T, ts *testServer, query string) map[string][3]string {
	t.Helper()
	var v projections.ProgramsView
	r := ts.do("GET", "/v1/views/programs"+query, auditToken, "", nil)
	if err := json.Unmarshal(r.body, &v); err != nil || r.status != 200 {
		t.Fatalf("programs view: %d %s", r.status, r.body)
	}
	out := map[string][3]string{}
	for _, p := range v.Programs {
		f := [3]string{strconv.Itoa(p.Delivered), "", ""}
		if p.Target != nil {
			f[1] = strconv.Itoa(*p.Target)
		}
		if p.Progress != nil {
			f[2] = strconv.FormatFloat(math.Round(*p.Progress*100), 'f', 0, 64) + "%" // whole percents, halves up
		}
		out[p.Program] = f
	}
	return out
}

func TestSiteInBrowser(t *testing.T) {
	path := chromium(t)
	ts := startServer(t)
	fx := postSiteFixture(t, ts)
	signed := ts.waitSigned()
	b := newBrowserTab(t, ts.url, false)
	t.Logf("chromium: %s", path)

	t.Run("auditor signs in; overview equals the programs view", func(t *testing.T) {
		b.t = t
		b.signIn(auditToken)
		got, want := b.programFigures(), wantPrograms(t, ts, "")
		if len(want) != 11 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("overview programmes\n got %v\nwant %v", got, want)
		}
		if got["discipline_report"][0] != "1" || got["one_industry_one_report"][0] != "0" {
			t.Fatalf("the fixture's deliveries are not as posted: %v", got)
		}
		if txt := b.text("#plan"); !strings.Contains(txt, "豫科协办发〔2021〕9号") || !strings.Contains(txt, "河南省科协2021年学会学术工作要点") {
			t.Fatalf("plan in force: %q", txt)
		}
		if txt := b.text(`tr[data-program="one_industry_one_report"]`); !strings.Contains(txt, "一业一研报") {
			t.Fatalf("programme named %q, want 一业一研报", txt)
		}
		if txt := b.text("#coverage"); !strings.Contains(txt, "33%") || !strings.Contains(txt, "3 个学会中 1 个") {
			t.Fatalf("party coverage %q, want 1 of 3 societies, 33%%", txt)
		}
		if got := b.text("#log-size"); got != fmt.Sprint(signed) {
			t.Fatalf("the overview's log box shows tree size %q, want the latest checkpoint's %d", got, signed)
		}
		b.shotWidths("overview")
	})

	t.Run("society page shows its leadership shares", func(t *testing.T) {
		b.t = t
		b.click(`nav a[href="/societies"]`)
		if n := b.count("tr[data-society]"); n != 3 {
			t.Fatalf("the societies table has %d rows, want 3", n)
		}
		b.shotWidths("societies")
		b.click(`tr[data-society="hn-phys"] a`)
		if loc := b.location(); loc != "/societies/hn-phys" {
			t.Fatalf("at %s", loc)
		}
		for sector, want := range map[string]string{"university": "60%", "research_institute": "20%", "enterprise": "10%", "government": "10%"} {
			if got := b.text(fmt.Sprintf(`tr[data-sector=%q] td.share`, sector)); got != want {
				t.Errorf("hn-phys %s share %q, want %q", sector, got, want)
			}
		}
		if txt := b.text("#profile"); !strings.Contains(txt, "不符合") {
			t.Errorf("hn-phys profile %q does not say 不符合 (not compliant)", txt)
		}
		b.shotWidths("society")
	})

	t.Run("a retraction is struck through with its reason", func(t *testing.T) {
		b.t = t
		b.open("/societies/hn-chem")
		b.click(`#work a[href="/aggregates/project/chem-report"]`)
		if n := b.count(`tr.retracted del`); n == 0 {
			t.Fatal("no struck-through record in project/chem-report")
		}
		if txt := b.text(`tr.retracted`); !strings.Contains(txt, "项目完成") || !strings.Contains(txt, retractionReason) {
			t.Fatalf("retracted row %q lacks the event or the reason %q", txt, retractionReason)
		}
		b.shotWidths("aggregate")
		b.click(`tr.retracted a`)
		if txt := b.text("#event"); !strings.Contains(txt, "已撤回") || !strings.Contains(txt, retractionReason) {
			t.Fatalf("the record's page %q does not say it was retracted, and why", txt)
		}
		// Its proof is text, with the command that checks it offline; the
		// in-browser check, which needs JavaScript, stays hidden and the
		// page says why.
		if b.count("#proof-line") != 1 || b.count("#proof-hashes li") == 0 || b.text("#checkpoint-size") != fmt.Sprint(signed) ||
			!strings.Contains(b.text("#verification"), "planledger check-proof --log-key") {
			t.Fatalf("the record's page lacks its proof, checkpoint or command: %q", b.text("#verification"))
		}
		if b.count("#check-form[hidden]") != 1 || b.count("#check-nojs:not([hidden])") != 1 {
			t.Fatal("without JavaScript the in-browser check shows, or the page does not say it needs JavaScript")
		}
		b.shotWidths("event")
	})

	t.Run("the verifiable log's page", func(t *testing.T) {
		b.t = t
		b.click(`nav a[href="/log"]`)
		if txt := b.text("#log"); !strings.Contains(txt, "最新签名检查点") || b.text("#checkpoint-size") != fmt.Sprint(signed) {
			t.Fatalf("/log: %q", txt)
		}
		b.shotWidths("log")
	})

	t.Run("as of a date shows the earlier state", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.do(chromedp.SetValue(chromedp.CSS(`form.asof input[name="as_of"]`), "2021-06-30"),
			chromedp.SetValue(chromedp.CSS(`form.asof select[name="axis"]`), "occurred"))
		b.click(`form.asof button`)
		if loc := b.location(); loc != "/?as_of=2021-06-30&axis=occurred" {
			t.Fatalf("the as-of form went to %s", loc)
		}
		if txt := b.text("#asof-banner"); !strings.Contains(txt, "2021-06-30") || !strings.Contains(txt, "发生时间") {
			t.Fatalf("banner %q", txt)
		}
		got := b.programFigures()
		want := wantPrograms(t, ts, "?as_of="+url.QueryEscape("2021-06-30T23:59:59.999999999+08:00")+"&axis=occurred")
		if fmt.Sprint(got) != fmt.Sprint(want) || got["discipline_report"][0] != "0" {
			t.Fatalf("overview as of 2021-06-30 (occurred)\n got %v\nwant %v (the report completed in September not yet)", got, want)
		}
		b.shot("overview-asof-1440")

		// On the recorded axis, just before the retraction was recorded, the
		// completion still stands, and the links keep the moment.
		at := url.QueryEscape(fx.beforeRetraction.Format(time.RFC3339Nano))
		b.open("/aggregates/project/chem-report?as_of=" + at + "&axis=recorded")
		if n := b.count(`tr.retracted`); n != 0 {
			t.Fatalf("as of %s the completion is already struck through", fx.beforeRetraction)
		}
		if n := b.count(`.timeline tbody tr`); n != 2 {
			t.Fatalf("as of the completion's recording, %d records shown, want 2", n)
		}
		b.shot("aggregate-asof-1440")
		b.click(`nav a[href^="/societies?"]`)
		if loc := b.location(); !strings.Contains(loc, "as_of=") || b.count("#asof-banner") != 1 {
			t.Fatalf("following a link lost the as-of moment: %s", loc)
		}
	})

	t.Run("English", func(t *testing.T) {
		b.t = t
		b.open("/?lang=en")
		if txt := b.text(`tr[data-program="one_industry_one_report"]`); !strings.Contains(txt, "One industry, one report") {
			t.Fatalf("English programme name %q", txt)
		}
		b.shot("overview-en-1440")
	})

	t.Run("auditor signs out", func(t *testing.T) {
		b.t = t
		cookies, err := chromedp.Run(b.ctx, chromedp.Action[[]*network.Cookie](func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
			r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{})
			return r.Cookies, err
		}))
		if err != nil {
			t.Fatal(err)
		}
		b.open("/")
		b.signOut()
		b.shot("signin-1440")
		for _, c := range cookies {
			if c.Name != "planledger-session" {
				continue
			}
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict", c)
			}
			s := newBrowserSession(t, ts)
			s.jar.SetCookies(mustURL(t, ts.url), []*http.Cookie{{Name: c.Name, Value: c.Value}})
			if resp, _ := s.do("GET", "/", nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("the signed-out session's cookie still opens /: %d", resp.StatusCode)
			}
		}
	})

	t.Run("a submitter sees nothing it may not read", func(t *testing.T) {
		b.t = t
		b.signIn(chemToken)
		if txt := b.text("main"); strings.Contains(txt, "河南省物理学会") || strings.Contains(txt, "河南省生物学会") {
			t.Fatalf("the overview names another society for hn-chem's submitter")
		}
		b.click(`nav a[href="/societies"]`)
		if n := b.count("tr[data-society]"); n != 1 || b.count(`tr[data-society="hn-chem"]`) != 1 {
			t.Fatalf("hn-chem's submitter sees %d societies, want only hn-chem", n)
		}
		b.shot("societies-submitter-1440")
		for _, path := range []string{"/societies/hn-phys", "/aggregates/project/phys-discipline", "/aggregates/decision/phys-dec-1"} {
			b.open(path)
			if txt := b.text("main"); !strings.Contains(txt, "没有找到") || strings.Contains(txt, "物理") {
				t.Errorf("%s for hn-chem's submitter: %q", path, txt)
			}
		}
		b.shot("notfound-submitter-1440")
		b.signOut()
	})

	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("the pages asked other origins for %v", off)
	}
	if len(b.requests) < 20 {
		t.Errorf("only %d requests were seen: the network log is not recording", len(b.requests))
	}
}
