package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/projections"
)

// phraseUse finds the phrase keys the templates and the Go code use:
// .T "key", $.Tf "key", b.T("key"), key: "error.x".
var phraseUse = regexp.MustCompile(`\bTf? \(?"([a-z][a-z._]*)"|\bTf?\("([a-z][a-z._]*)"|key: +"([a-z][a-z._]*)"|, "(error\.[a-z]+)"`)

func TestEveryPhraseUsedExistsInBothLanguages(t *testing.T) {
	used := map[string]string{}
	collect := func(name string, src []byte) {
		for _, m := range phraseUse.FindAllStringSubmatch(string(src), -1) {
			for _, k := range m[1:] {
				if k != "" {
					used[k] = name
				}
			}
		}
	}
	err := fs.WalkDir(templateFiles, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := templateFiles.ReadFile(path)
		collect(path, src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if !strings.HasSuffix(f, "_test.go") {
			src, _ := os.ReadFile(f)
			collect(f, src)
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d phrase keys in use: the pattern misses them", len(used))
	}
	for k, where := range used {
		p, ok := phrases[k]
		if !ok {
			t.Errorf("%s uses phrase %q, which the table lacks", where, k)
			continue
		}
		if p.zh == "" || p.en == "" || strings.Count(p.zh, "%") != strings.Count(p.en, "%") {
			t.Errorf("phrase %q: %q / %q: both languages, with the same values", k, p.zh, p.en)
		}
	}
	// layout.html names the role with printf "role.%s".
	for _, role := range []string{tokens.RoleSubmitter, tokens.RoleAuditor, tokens.RoleAdmin} {
		if _, ok := phrases["role."+role]; !ok {
			t.Errorf("no phrase for role %s", role)
		}
	}
}

func TestLabelsCoverTheCatalogue(t *testing.T) {
	want := map[string][]string{
		"sector":         {"university", "research_institute", "enterprise", "government", "other"},
		"kind":           {domain.SocietyKindSociety, domain.SocietyKindAssociation, domain.SocietyKindResearchSociety, domain.SocietyKindMunicipalAssociation},
		"ratio":          {domain.RatioCompliant, domain.RatioNonCompliant, domain.RatioUnknown},
		"term":           {projections.TermCurrent, projections.TermDueSoon, projections.TermOverdue, projections.TermUnknown},
		"stage":          {domain.StageProposed, domain.StageReturned, domain.StageEndorsed, domain.StagePassed, domain.StageFailed, domain.StagePublished},
		"project_status": {domain.StatusActive, domain.StatusCompleted, domain.StatusCancelled},
	}
	for _, p := range domain.Programs {
		want["program"] = append(want["program"], string(p))
	}
	for _, a := range domain.AggregateTypes {
		want["aggregate"] = append(want["aggregate"], string(a))
	}
	for _, e := range domain.EventTypes {
		if !e.IsRetraction() {
			want["event"] = append(want["event"], string(e))
		}
	}
	for kind, codes := range want {
		for _, c := range codes {
			l, ok := labels[kind][c]
			if !ok || l.zh == "" || l.en == "" {
				t.Errorf("%s %q has no label in both languages", kind, c)
			}
		}
	}
	if got := label(langZH, "program", "one_industry_one_report"); got != "一业一研报" {
		t.Errorf("one_industry_one_report is %q, want the plan's 一业一研报", got)
	}
	if got := label(langEN, "city", "somewhere-new"); got != "somewhere-new" {
		t.Errorf("an unknown code shows as %q, want it as it is", got)
	}
}

func TestSessions(t *testing.T) {
	t0 := time.Date(2021, 6, 1, 9, 0, 0, 0, domain.CST)
	ss := newSessions(time.Hour, 3)
	hash := [32]byte{1}
	id, sess := ss.open(hash, t0)
	if got, ok := ss.get(id, t0.Add(59*time.Minute)); !ok || got != sess || got.tokenHash != hash || got.csrf == "" {
		t.Fatalf("a live session is not found")
	}
	if _, ok := ss.get(id+"x", t0); ok {
		t.Fatal("another cookie value opened the session")
	}
	if _, ok := ss.get(id, t0.Add(time.Hour)); ok || ss.len() != 0 {
		t.Fatalf("an expired session is still open (%d held)", ss.len())
	}
	id, _ = ss.open(hash, t0)
	ss.end(id)
	if _, ok := ss.get(id, t0); ok {
		t.Fatal("an ended session is still open")
	}
	// At the limit the session ending soonest goes; expired ones go first.
	first, _ := ss.open(hash, t0)
	ss.open(hash, t0.Add(time.Minute))
	ss.open(hash, t0.Add(2*time.Minute))
	last, _ := ss.open(hash, t0.Add(3*time.Minute))
	if _, ok := ss.get(first, t0.Add(3*time.Minute)); ok || ss.len() != 3 {
		t.Fatalf("over the limit: the oldest session stays, %d held", ss.len())
	}
	ss.open(hash, t0.Add(2*time.Hour))
	if ss.len() != 1 {
		t.Fatalf("expired sessions were not dropped: %d held", ss.len())
	}
	if _, ok := ss.get(last, t0.Add(2*time.Hour)); ok {
		t.Fatal("an expired session opened")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/",
		"/societies?lang=en":       "/societies?lang=en",
		"/aggregates/project/x/2":  "/aggregates/project/x/2",
		"//evil.example/x":         "/",
		"/\\evil.example":          "/",
		"https://evil.example/":    "/",
		"javascript:alert(1)":      "/",
		"societies":                "/",
		"/signin?next=/signin":     "/",
		"/%2F%2Fevil.example/path": "/%2F%2Fevil.example/path",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAsOf(t *testing.T) {
	got, err := parseAsOf("2021-06-30")
	if want := time.Date(2021, 6, 30, 23, 59, 59, 999999999, domain.CST); err != nil || !got.Equal(want) {
		t.Errorf("a day: %v %v, want its end in CST, %v", got, err, want)
	}
	got, err = parseAsOf("2021-06-30T12:00:00Z")
	if err != nil || !got.Equal(time.Date(2021, 6, 30, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("a moment: %v %v", got, err)
	}
	for _, bad := range []string{"30/06/2021", "2021-13-01", "yesterday"} {
		if _, err := parseAsOf(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}

func TestNumbersForPeople(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-4500, "-4,500"}, {2.0, "2"}, {1234.56, "1,234.6"}, {uint64(10000), "10,000"}, {int64(1245), "1,245"}} {
		if got := num(c.in); got != c.want {
			t.Errorf("num(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	if pct(0.86666) != "87%" || pct(1.2) != "120%" || pct(0) != "0%" {
		t.Errorf("pct: %s %s %s", pct(0.86666), pct(1.2), pct(0))
	}
}

func TestStackFillsTheBar(t *testing.T) {
	segs := stack([]count{{Code: "a", N: 1}, {Code: "b", N: 0}, {Code: "c", N: 2}})
	if len(segs) != 2 || segs[0].X != "0" || segs[0].W != "33.33" || segs[1].X != "33.33" || segs[1].W != "66.67" {
		t.Fatalf("stack: %+v", segs)
	}
	if len(stack([]count{{Code: "a"}})) != 0 {
		t.Fatal("nothing to show drew a segment")
	}
	bar := newShareBar("university", "高校", 0.6, 0.3, 0.1)
	if !bar.Outside || bar.W != "60" || bar.BandX != "20" || bar.BandW != "20" || bar.TargetX != "30" {
		t.Fatalf("share bar: %+v", bar)
	}
	if newShareBar("government", "党政机关", 0.2, 0.1, 0.1).Outside {
		t.Fatal("a share exactly at the tolerance is outside")
	}
}
