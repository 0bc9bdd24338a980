package tests

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"planledger/domain"
	"planledger/eventstore/logkey"
	"planledger/eventstore/logtree"
)

// The in-browser check of the verifiable log, with JavaScript on: the
// script (static/verify.js, WebCrypto only) computes what
// golang.org/x/mod/sumdb/tlog and note compute, on many proofs and notes;
// on records' pages at every kind of position in the tree it says the
// proof holds with the log's key, and that it does not with another
// ledger's key, a changed line or a changed checkpoint; and where the page
// is not a secure context it says the browser cannot check.

// checkKey pastes a verifier key into the record's or the log's page (its
// value set, and an input event, as a paste does), clicks the button and
// waits for the verdict: its kind (data-result) and its words.
func (b *browserTab) checkKey(key string) (string, string) {
	b.t.Helper()
	b.edit(fmt.Sprintf(`const k = document.getElementById("verifier-key"); k.value = %q; k.dispatchEvent(new Event("input"))`, key))
	b.do(chromedp.Click(chromedp.CSS("#check-form button")))
	for deadline := time.Now().Add(10 * time.Second); ; {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[2]string](`[document.getElementById("verdict").dataset.result || "", document.getElementById("verdict").textContent]`))
		if err != nil {
			b.t.Fatal(err)
		}
		if v[0] != "" && v[0] != "running" {
			return v[0], v[1]
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no verdict 10 s after pressing the button: %q", v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// edit changes what the page shows with a script, as a reader editing it
// would (an input event follows, which clears the verdict).
func (b *browserTab) edit(js string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => {`+js+`; return true })()`)); err != nil {
		b.t.Fatalf("edit the page: %v", err)
	}
}

func TestSiteProofInBrowser(t *testing.T) {
	chromium(t)
	ts := startServer(t)
	// The log: the shipped plan (1), a society (2), a conference (3) and
	// its sessions (4-300): a full tile of 256 leaves and a partial one.
	events := []string{register("r-chem", "hn-chem", "society"), conference("c1")}
	for i := 4; i <= 300; i++ {
		events = append(events, session(fmt.Sprintf("s%d", i), "c1", i))
	}
	ts.mustPost(adminToken, events...)
	if size := ts.waitSigned(); size != 300 {
		t.Fatalf("the checkpoint covers %d records, want 300", size)
	}
	key := ts.srv.Store().Key().VerifierKey()
	other, err := logkey.Generate(0)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserTab(t, ts.url, true)
	b.signIn(auditToken)

	t.Run("the script's proofs agree with tlog", func(t *testing.T) {
		b.t = t
		b.open("/log")
		scriptAgreesOnProofs(t, b)
	})

	t.Run("the script's notes agree with note", func(t *testing.T) {
		b.t = t
		b.open("/log")
		scriptAgreesOnNotes(t, b, ts, key, other)
	})

	t.Run("the log's page checks its checkpoint", func(t *testing.T) {
		b.t = t
		b.open("/log")
		if kind, says := b.checkKey(key); kind != "ok" || !strings.Contains(says, "成立") || !strings.Contains(says, "300") {
			t.Fatalf("the log's key: %s %q", kind, says)
		}
		if kind, says := b.checkKey(other.VerifierKey()); kind != "signature" || !strings.Contains(says, "不成立") {
			t.Fatalf("another ledger's key: %s %q", kind, says)
		}
		b.shotWidths("log-checked")
	})

	// Records at each kind of place in the tree: the first leaf, the last
	// of the full tile, the first of the partial tile (index 256, a power
	// of two), one inside the partial tile, and the last leaf.
	for _, leaf := range []int{0, 255, 256, 290, 299} {
		t.Run(fmt.Sprintf("leaf %d holds with the log's key", leaf), func(t *testing.T) {
			b.t = t
			b.open(recordPage(leaf + 1))
			if got := b.text("#proof-index"); got != fmt.Sprint(leaf) {
				t.Fatalf("the page of sequence %d shows leaf %q", leaf+1, got)
			}
			kind, says := b.checkKey(key)
			if want := fmt.Sprintf("是日志 %s 中大小为 300 的树的第 %d 号叶子", strings.Split(key, "+")[0], leaf); kind != "ok" || !strings.Contains(says, want) {
				t.Fatalf("verdict %s %q, want ok saying %q", kind, says, want)
			}
		})
	}

	t.Run("another key, a changed line, a changed checkpoint do not hold", func(t *testing.T) {
		b.t = t
		b.open(recordPage(291) + "?lang=en")
		for _, c := range []struct {
			name, key, edit, kind, says string
		}{
			{"the log's key", key, "", "ok", "It holds: this record (sequence 291) is leaf 290 of the tree of size 300"},
			{"another ledger's key", other.VerifierKey(), "", "signature", "It does not hold: the checkpoint carries no signature by this key"},
			{"not a key", strings.Replace(key, "+", "+0", 1), "", "key", "That is not a verifier key"},
			{"a line with another attendee count", key, `const t = document.getElementById("proof-line");
				t.value = t.value.replace('"attendees":291', '"attendees":292'); t.dispatchEvent(new Event("input"))`,
				"tree", "It does not hold: this line is not leaf 290"},
			{"the line put back", key, `const t = document.getElementById("proof-line"); t.value = t.defaultValue; t.dispatchEvent(new Event("input"))`,
				"ok", "It holds"},
			{"a checkpoint of another size", key, `const n = document.getElementById("checkpoint-note");
				n.textContent = n.textContent.replace("\n300\n", "\n301\n")`, "signature", "It does not hold: the checkpoint's signature by this key is not valid"},
		} {
			if c.edit != "" {
				b.edit(c.edit)
			}
			if kind, says := b.checkKey(c.key); kind != c.kind || !strings.Contains(says, c.says) {
				t.Errorf("%s: verdict %s %q, want %s saying %q", c.name, kind, says, c.kind, c.says)
			}
			if c.name == "a line with another attendee count" {
				b.shotWidths("event-checked-changed")
			}
		}
	})

	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("the pages asked other origins for %v", off)
	}

	// Over plain HTTP from a name other than localhost the page is not a
	// secure context: the browser has no WebCrypto, and the page says so.
	t.Run("not a secure context", func(t *testing.T) {
		host := strings.Replace(ts.url, "127.0.0.1", "ledger.test", 1)
		nb := newBrowserTab(t, host, true, chromedp.Flag("host-resolver-rules", "MAP ledger.test 127.0.0.1"))
		nb.signIn(auditToken)
		nb.open(recordPage(291))
		secure, err := chromedp.Run(nb.ctx, chromedp.Evaluate[bool](`window.isSecureContext`))
		if err != nil || secure {
			t.Fatalf("%s is a secure context (%v): the test cannot show the page without WebCrypto", host, err)
		}
		if nb.count("#check-insecure:not([hidden])") != 1 || nb.count("#check-form[hidden]") != 1 || nb.count("#check-nojs[hidden]") != 1 {
			t.Fatalf("without WebCrypto the page does not say so: %q", nb.text("#keycheck"))
		}
		if !strings.Contains(nb.text("#check-insecure"), "HTTPS") {
			t.Fatalf("the page says %q", nb.text("#check-insecure"))
		}
		nb.shot("event-insecure-1440")
	})
}

// recordPage is the page of the record of sequence seq in the log of
// TestSiteProofInBrowser.
func recordPage(seq int) string {
	switch seq {
	case 1:
		return "/aggregates/plan/" + domain.Plan2021ID + "/1"
	case 2:
		return "/aggregates/society/hn-chem/1"
	}
	return fmt.Sprintf("/aggregates/conference/c1/%d", seq-2)
}

// proofCase is one proof for the script: a line at leaf index of a tree
// of size, the proof's hashes, the tree's root, and whether tlog's
// CheckRecord accepts them.
type proofCase struct {
	Line  string   `json:"line"`
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Proof []string `json:"proof"`
	root  string
	good  bool
}

// scriptAgreesOnProofs runs the page script's proof walk on proofs of
// trees of many sizes and leaves (every leaf of small trees, the edges of
// tiles in bigger ones) and on broken ones (another leaf's proof, a hash
// short, a hash too many): it must run each good one to tlog's root, and
// no broken one to it.
func scriptAgreesOnProofs(t *testing.T, b *browserTab) {
	var hashes []tlog.Hash
	var lines [][]byte
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = hashes[x]
		}
		return out, nil
	})
	for i := range int64(1030) {
		line := []byte(fmt.Sprintf(`{"leaf":%d,"text":"第%d条"}`, i, i))
		stored, err := tlog.StoredHashes(i, line, reader)
		if err != nil {
			t.Fatal(err)
		}
		hashes, lines = append(hashes, stored...), append(lines, line)
	}
	var cases []proofCase
	add := func(size, index int64, p tlog.RecordProof, root tlog.Hash) {
		good := tlog.CheckRecord(p, size, root, index, tlog.RecordHash(lines[index])) == nil
		c := proofCase{Line: string(lines[index]), Index: index, Size: size, root: base64.StdEncoding.EncodeToString(root[:]), good: good}
		for _, h := range p {
			c.Proof = append(c.Proof, base64.StdEncoding.EncodeToString(h[:]))
		}
		cases = append(cases, c)
	}
	prove := func(size, index int64) {
		p, err := tlog.ProveRecord(size, index, reader)
		if err != nil {
			t.Fatal(err)
		}
		root, err := tlog.TreeHash(size, reader)
		if err != nil {
			t.Fatal(err)
		}
		add(size, index, p, root)
		add(size, (index+1)%size, p, root) // another leaf's proof (the same leaf in a tree of one)
		if len(p) > 0 {
			add(size, index, p[:len(p)-1], root)
		}
		add(size, index, append(p[:len(p):len(p)], root), root)
	}
	for size := int64(1); size <= 20; size++ {
		for index := range size {
			prove(size, index)
		}
	}
	for _, size := range []int64{255, 256, 257, 300, 511, 512, 513, 1030} {
		for _, index := range []int64{0, 1, 127, 128, 254, 255, 256, 257, 299, 510, 511, 512, 1023, 1024, 1029, size - 1, size / 2} {
			if index < size {
				prove(size, index)
			}
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Promise.all(`+string(in)+`.map(async (c) => {
		const v = planledgerVerify;
		const root = await v.recordRoot((c.proof || []).map(v.b64), c.size, c.index, new TextEncoder().encode(c.line));
		return root ? v.toB64(root) : "";
	}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cases) {
		t.Fatalf("the script answered %d cases of %d", len(got), len(cases))
	}
	good, wrong := 0, 0
	for i, c := range cases {
		if c.good {
			good++
		}
		if (got[i] == c.root) != c.good {
			if wrong++; wrong <= 5 {
				t.Errorf("leaf %d of a tree of %d, %d hashes: tlog accepts it: %v; the script runs it to %q, the root is %q", c.Index, c.Size, len(c.Proof), c.good, got[i], c.root)
			}
		}
	}
	if good < 300 || len(cases)-good < 300 {
		t.Fatalf("%d good proofs and %d broken ones: too few of either", good, len(cases)-good)
	}
	t.Logf("%d proofs (%d good, %d broken) run by the script in %v", len(cases), good, len(cases)-good, time.Since(start).Round(time.Millisecond))
}

// scriptAgreesOnNotes gives the script's checkpoint check the notes
// note.Open and logtree.OpenCheckpoint are given, and wants the same
// answer: the log's checkpoint; one signed by another key too; one of
// another origin signed with the log key; a changed one; one by another
// key only; and malformed ones.
func scriptAgreesOnNotes(t *testing.T, b *browserTab, ts *testServer, key string, other *logkey.Key) {
	_, signed, _, _ := ts.srv.Tree().Latest()
	c, err := logtree.OpenCheckpoint(signed, ts.srv.Tree().Verifier())
	if err != nil {
		t.Fatal(err)
	}
	mine := ts.srv.Store().Key().Signer()
	sign := func(text string, signers ...note.Signer) string {
		out, err := note.Sign(&note.Note{Text: text}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	otherOrigin := logtree.Checkpoint{Origin: "planledger/another", Size: c.Size, Root: c.Root}
	root := sha256.Sum256([]byte("not the root"))
	size := fmt.Sprintf("\n%d\n", c.Size)
	// Each note, and the verdict the script gives it: ok, or why not.
	cases := []struct{ name, note, kind string }{
		{"the log's checkpoint", string(signed), "ok"},
		{"signed by another key first, then the log's", sign(c.Text(), other.Signer(), mine), "ok"},
		{"another root, signed with the log's key", sign(logtree.Checkpoint{Origin: c.Origin, Size: c.Size, Root: root}.Text(), mine), "ok"},
		{"of another origin, with the log's key", sign(otherOrigin.Text(), mine), "origin"},
		{"changed after signing", strings.Replace(string(signed), size, fmt.Sprintf("\n%d\n", c.Size+1), 1), "signature"},
		{"by another key only", sign(c.Text(), other.Signer()), "signature"},
		{"no signature block", c.Text(), "checkpoint"},
		{"a size with a leading zero", sign(strings.Replace(c.Text(), size, "\n0"+size[1:], 1), mine), "checkpoint"},
		{"a control character", sign("\t"+c.Text(), mine), "checkpoint"},
		{"a signature line without the dash", strings.Replace(string(signed), "\u2014 ", "- ", 1), "checkpoint"},
	}
	notes := []string{}
	for _, c := range cases {
		notes = append(notes, c.note)
	}
	in, _ := json.Marshal(notes)
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Promise.all(`+string(in)+`.map((n) =>
		planledgerVerify.openCheckpoint(n, `+fmt.Sprintf("%q", key)+`).then((c) => "ok " + c.size + " " + planledgerVerify.toB64(c.root), (e) => e.kind || String(e))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		want := tc.kind
		c, err := logtree.OpenCheckpoint([]byte(tc.note), ts.srv.Tree().Verifier())
		if err == nil {
			want = fmt.Sprintf("ok %d %s", c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
		}
		if (err == nil) != (tc.kind == "ok") || got[i] != want {
			t.Errorf("%s: the script says %q, want %q (logtree.OpenCheckpoint: %v)", tc.name, got[i], want, err)
		}
	}
}
