package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"planledger/domain"
	"planledger/eventstore/logtree"
)

// The verifiable log on the site: the latest signed checkpoint (a box on
// the overview, and /log), and on each record's page the record's
// inclusion proof against it — shown as text with the command that checks
// it offline, checked in the browser by static/verify.js against a
// verifier key the reader pastes, and downloadable as the C2SP tlog-proof
// that `planledger check-proof` reads. The verifier key itself is never
// shown: a key read from the server being checked proves nothing.

// checkpointView is a signed checkpoint as the pages show it.
type checkpointView struct {
	Origin string
	Size   int64
	Root   string    // base64, as the note writes it
	At     time.Time // when it was stored
	Signed string    // the signed note, as signed
}

// Short is the root's first characters, for the overview's box.
func (c *checkpointView) Short() string { return c.Root[:12] + "…" }

// latest is the latest signed checkpoint; nil before the first one (or
// without a tree).
func (s *Site) latest() *checkpointView {
	if s.cfg.Tree == nil {
		return nil
	}
	c, signed, at, ok := s.cfg.Tree.Latest()
	if !ok {
		return nil
	}
	return newCheckpointView(c, signed, at)
}

func newCheckpointView(c logtree.Checkpoint, signed []byte, at time.Time) *checkpointView {
	return &checkpointView{Origin: c.Origin, Size: c.Size, Root: base64.StdEncoding.EncodeToString(c.Root[:]), At: at, Signed: string(signed)}
}

// proofView is a record's inclusion proof as its page shows it.
type proofView struct {
	// Pending is set when no signed checkpoint covers the record yet.
	Pending bool
	Index   int64 // the leaf's index: the record's sequence - 1
	Line    string
	Hashes  []string // base64, from the leaf up
	// Exact says the line, as text, is the leaf's bytes (valid UTF-8, no
	// carriage return, which a text box would not keep), so the browser
	// can check it; otherwise only the downloaded proof can be checked.
	Exact    bool
	Download string // the tlog-proof against the page's checkpoint
	File     string // the name it downloads as
}

// treeWait bounds how long a page waits for this instance's tree to reach
// a checkpoint another instance signed.
const treeWait = 5 * time.Second

// proofFile is the name a record's tlog-proof downloads as.
func proofFile(seq uint64) string { return fmt.Sprintf("planledger-%d.tlog-proof", seq) }

// prove is the C2SP tlog-proof that rec is in the tree of the signed
// checkpoint c.
func (s *Site) prove(ctx context.Context, rec *domain.Record, c logtree.Checkpoint, signed []byte) (*logtree.RecordProof, error) {
	index := int64(rec.Sequence) - 1
	if index >= c.Size {
		return nil, &pageError{status: http.StatusNotFound, key: "proof.pending"}
	}
	// On a cluster the checkpoint may be another instance's, ahead of the
	// tree this one follows the log with.
	wctx, cancel := context.WithTimeout(ctx, treeWait)
	defer cancel()
	if err := s.cfg.Tree.WaitFor(wctx, c.Size); err != nil {
		return nil, err
	}
	p, err := s.cfg.Tree.ProveRecord(ctx, index, c.Size)
	if err != nil {
		return nil, fmt.Errorf("prove record %d in the tree of size %d: %w", rec.Sequence, c.Size, err)
	}
	return &logtree.RecordProof{Line: domain.AppendLine(nil, rec), Index: index, Proof: p, Checkpoint: signed}, nil
}

// proofView proves a record's page's record against the latest signed
// checkpoint, which it also returns; both nil without a tree.
func (s *Site) proofView(r *http.Request, rec *domain.Record) (*checkpointView, *proofView, error) {
	if s.cfg.Tree == nil {
		return nil, nil, nil
	}
	pv := &proofView{Index: int64(rec.Sequence) - 1, File: proofFile(rec.Sequence)}
	c, signed, at, ok := s.cfg.Tree.Latest()
	if !ok {
		pv.Pending = true
		return nil, pv, nil
	}
	cv := newCheckpointView(c, signed, at)
	if pv.Index >= c.Size {
		pv.Pending = true
		return cv, pv, nil
	}
	proof, err := s.prove(r.Context(), rec, c, signed)
	if err != nil {
		return nil, nil, err
	}
	pv.Line, pv.Exact = string(proof.Line), utf8.Valid(proof.Line) && !bytes.ContainsRune(proof.Line, '\r')
	for _, h := range proof.Proof {
		pv.Hashes = append(pv.Hashes, base64.StdEncoding.EncodeToString(h[:]))
	}
	pv.Download = r.URL.EscapedPath() + "/proof?size=" + strconv.FormatInt(cv.Size, 10)
	return cv, pv, nil
}

type logPage struct {
	*base
	Log    *checkpointView
	Server string // this site's address, for the commands
}

// handleLog is the verifiable log: the latest signed checkpoint, what it
// commits to, and how an auditor checks it.
func (s *Site) handleLog(r *http.Request, b *base) (string, any, error) {
	b.Title, b.Nav = b.T("log.title"), "log"
	scheme := "http"
	if r.TLS != nil || s.cfg.SecureCookies {
		scheme = "https"
	}
	return "log", &logPage{base: b, Log: s.latest(), Server: scheme + "://" + r.Host}, nil
}

// fileFunc builds a file for a signed-in reader: its name and contents.
type fileFunc func(r *http.Request, b *base) (string, []byte, error)

// download serves what h builds as a file to save (never shown as a page);
// an error is a page.
func (s *Site) download(h fileFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		name, body, err := h(r, b)
		if err != nil {
			s.renderError(w, b, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		_, _ = w.Write(body)
	}
}

// handleRecordProof is a record's C2SP tlog-proof, as `planledger prove`
// writes it and `planledger check-proof` reads it, against the checkpoint
// of ?size=N (the one its page showed) or the latest.
func (s *Site) handleRecordProof(r *http.Request, b *base) (string, []byte, error) {
	_, recs, version, err := s.record(r, b)
	if err != nil {
		return "", nil, err
	}
	var rec *domain.Record
	for i := range recs {
		if recs[i].Version == version {
			rec = &recs[i]
		}
	}
	if rec == nil || s.cfg.Tree == nil {
		return "", nil, notFound()
	}
	c, signed, err := s.checkpoint(r)
	if err != nil {
		return "", nil, err
	}
	proof, err := s.prove(r.Context(), rec, c, signed)
	if err != nil {
		return "", nil, err
	}
	return proofFile(rec.Sequence), proof.Marshal(), nil
}

// checkpoint is the signed checkpoint of the request's ?size=N, or the
// latest.
func (s *Site) checkpoint(r *http.Request) (logtree.Checkpoint, []byte, error) {
	q := r.URL.Query().Get("size")
	if q == "" {
		c, signed, _, ok := s.cfg.Tree.Latest()
		if !ok {
			return c, nil, &pageError{status: http.StatusNotFound, key: "log.none"}
		}
		return c, signed, nil
	}
	n, err := strconv.ParseInt(q, 10, 64)
	if err != nil || n < 1 {
		return logtree.Checkpoint{}, nil, &pageError{status: http.StatusBadRequest, key: "error.size", detail: fmt.Sprintf("size=%q", q)}
	}
	c, signed, err := s.cfg.Tree.CheckpointAt(r.Context(), n)
	if errors.Is(err, logtree.ErrNoCheckpoint) {
		return c, nil, &pageError{status: http.StatusNotFound, key: "error.size", detail: err.Error()}
	}
	return c, signed, err
}

// handleCheckpoint is the latest signed checkpoint as a file, for
// `planledger verify --export ledger.ndjson --checkpoint FILE`.
func (s *Site) handleCheckpoint(r *http.Request, b *base) (string, []byte, error) {
	if s.cfg.Tree == nil {
		return "", nil, notFound()
	}
	c, signed, err := s.checkpoint(r)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("planledger-checkpoint-%d.txt", c.Size), signed, nil
}
