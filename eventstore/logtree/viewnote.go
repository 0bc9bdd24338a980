package logtree

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ViewNote states that a view of the plan was computed from the first
// Size records of the log (whose tree has root Root), with the view's
// clock and as-of parameters, and that its canonical JSON has SHA-256
// Digest. The ledger signs it with the log key, so a published figure can
// be proved to follow from the log: replay the first Size records (which
// hash to Root), render the view the same way, compare the digest.
//
// Its text, one item a line (the second line, "view ...", can never be a
// checkpoint's tree size):
//
//	<origin>
//	view <name>
//	tree <size> <base64 root>
//	clock <RFC 3339>
//	as_of <RFC 3339> <recorded|occurred>   (or "as_of -" for the live view)
//	sha256 <hex digest of the view's canonical JSON>
type ViewNote struct {
	Origin string
	View   string
	Size   int64
	Root   tlog.Hash
	Clock  time.Time
	AsOf   time.Time // zero for the live view
	Axis   string
	Digest [32]byte
}

// Text is the note's text.
func (n ViewNote) Text() string {
	asOf := "-"
	if !n.AsOf.IsZero() {
		asOf = n.AsOf.Format(time.RFC3339Nano) + " " + n.Axis
	}
	return fmt.Sprintf("%s\nview %s\ntree %d %s\nclock %s\nas_of %s\nsha256 %s\n", n.Origin, n.View, n.Size,
		base64.StdEncoding.EncodeToString(n.Root[:]), n.Clock.Format(time.RFC3339Nano), asOf, hex.EncodeToString(n.Digest[:]))
}

// Sign signs the note with the log key.
func (n ViewNote) Sign(s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: n.Text()}, s)
}

// OpenViewNote checks a signed view note against the log's verifier key.
func OpenViewNote(signed []byte, v note.Verifier) (ViewNote, error) {
	nt, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return ViewNote{}, fmt.Errorf("the view note is not signed by the log key %s: %w", v.Name(), err)
	}
	lines := strings.Split(strings.TrimSuffix(nt.Text, "\n"), "\n")
	if len(lines) != 6 || lines[0] != v.Name() {
		return ViewNote{}, fmt.Errorf("not a view note of the log %s", v.Name())
	}
	var n ViewNote
	n.Origin = lines[0]
	fields := func(i int, key string, want int) ([]string, error) {
		f := strings.Fields(lines[i])
		if len(f) != want+1 || f[0] != key {
			return nil, fmt.Errorf("view note line %d is %q; want %q and %d value(s)", i+1, lines[i], key, want)
		}
		return f[1:], nil
	}
	f, err := fields(1, "view", 1)
	if err != nil {
		return n, err
	}
	n.View = f[0]
	if f, err = fields(2, "tree", 2); err != nil {
		return n, err
	}
	if n.Size, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return n, fmt.Errorf("view note tree size: %w", err)
	}
	if n.Root, err = tlog.ParseHash(f[1]); err != nil {
		return n, fmt.Errorf("view note root: %w", err)
	}
	if f, err = fields(3, "clock", 1); err != nil {
		return n, err
	}
	if n.Clock, err = time.Parse(time.RFC3339Nano, f[0]); err != nil {
		return n, fmt.Errorf("view note clock: %w", err)
	}
	if lines[4] != "as_of -" {
		if f, err = fields(4, "as_of", 2); err != nil {
			return n, err
		}
		if n.AsOf, err = time.Parse(time.RFC3339Nano, f[0]); err != nil {
			return n, fmt.Errorf("view note as_of: %w", err)
		}
		n.Axis = f[1]
	}
	if f, err = fields(5, "sha256", 1); err != nil {
		return n, err
	}
	d, err := hex.DecodeString(f[0])
	if err != nil || len(d) != 32 {
		return n, fmt.Errorf("view note digest %q", f[0])
	}
	copy(n.Digest[:], d)
	return n, nil
}
