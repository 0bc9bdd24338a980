package logkey_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"planledger/eventstore/logkey"
)

func TestCreateLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), logkey.FileName)
	k, err := logkey.Create(path, 42)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.HasPrefix(k.Origin, "planledger/") || len(k.Origin) != len("planledger/")+36 {
		t.Errorf("origin %q: want planledger/<uuid>", k.Origin)
	}
	if _, err := logkey.Create(path, 0); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a second Create replaced the key: %v", err)
	}
	l, err := logkey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Origin != k.Origin || l.LegacyThrough != 42 || l.VerifierKey() != k.VerifierKey() {
		t.Fatalf("loaded %+v, created %+v", l, k)
	}
	body := []byte(`{"id":"e1"}`)
	if proof := k.Seal("planledger.events.society.a", body); !l.Check("planledger.events.society.a", body, proof) {
		t.Fatal("the loaded key does not check the created key's proof")
	}
	if _, err := logkey.Load(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key file: %v", err)
	}
}

// TestProofs: a proof holds for exactly the subject and body it was made
// for, under exactly the key that made it.
func TestProofs(t *testing.T) {
	k, _ := logkey.Generate(0)
	other, _ := logkey.Generate(0)
	subj, body := "planledger.events.society.a", []byte(`{"id":"e1","data":{"attendees":100}}`)
	proof := k.Seal(subj, body)
	if len(proof) != 22 {
		t.Errorf("proof %q: want 128 bits in 22 base64url characters", proof)
	}
	cases := []struct {
		name  string
		key   *logkey.Key
		subj  string
		body  []byte
		proof string
		want  bool
	}{
		{"ok", k, subj, body, proof, true},
		{"another key", other, subj, body, proof, false},
		{"another subject", k, "planledger.events.society.b", body, proof, false},
		{"a changed body", k, subj, []byte(`{"id":"e1","data":{"attendees":101}}`), proof, false},
		{"subject and body split elsewhere", k, subj + `{`, body[1:], proof, false},
		{"a made-up proof", k, subj, body, "AAAAAAAAAAAAAAAAAAAAAA", false},
		{"not base64", k, subj, body, "!!!", false},
		{"too long", k, subj, body, proof + "AA", false},
		{"empty", k, subj, body, "", false},
	}
	for _, c := range cases {
		if got := c.key.Check(c.subj, c.body, c.proof); got != c.want {
			t.Errorf("%s: Check = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSigner: the key signs notes that its published verifier key, and
// only it, verifies.
func TestSigner(t *testing.T) {
	k, _ := logkey.Generate(0)
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, k.Signer())
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(k.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("the verifier key does not verify the key's signature: %v", err)
	}
	other, _ := logkey.Generate(0)
	ov, _ := note.NewVerifier(other.VerifierKey())
	if _, err := note.Open(msg, note.VerifierList(ov)); err == nil {
		t.Fatal("another key's verifier accepted the signature")
	}
}

// TestLoadOrCreateRace: processes starting together on one folder end with
// one key.
func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), logkey.FileName)
	var wg sync.WaitGroup
	origins := make([]string, 8)
	for i := range origins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := logkey.LoadOrCreate(path, func() (uint64, error) { return 0, nil })
			if err != nil {
				t.Error(err)
				return
			}
			origins[i] = k.Origin
		}()
	}
	wg.Wait()
	for _, o := range origins {
		if o != origins[0] {
			t.Fatalf("racing starts made different keys: %v", origins)
		}
	}
}

// TestBadFiles: a damaged key file is refused with the reason.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	k, _ := logkey.Create(filepath.Join(dir, "good"), 0)
	good, _ := os.ReadFile(filepath.Join(dir, "good"))
	other, _ := logkey.Generate(0)
	cases := map[string]string{
		"not json":       "PRIVATE+KEY+x",
		"future format":  strings.Replace(string(good), `"format": 1`, `"format": 9`, 1),
		"foreign origin": strings.Replace(string(good), k.Origin+`"`, `planledger/other"`, 1),
		"mixed halves":   strings.Replace(string(good), k.VerifierKey(), other.VerifierKey(), 1),
	}
	for name, content := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := logkey.Load(path); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	k, _ := logkey.Generate(0)
	body := []byte(strings.Repeat("x", 450)) // a typical record body
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		k.Seal("planledger.events.conference.c1", body)
	}
}

func BenchmarkCheck(b *testing.B) {
	k, _ := logkey.Generate(0)
	body := []byte(strings.Repeat("x", 450))
	proof := k.Seal("planledger.events.conference.c1", body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		k.Check("planledger.events.conference.c1", body, proof)
	}
}
