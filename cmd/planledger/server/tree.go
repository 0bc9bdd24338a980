package server

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/logtree"
)

// The verifiable log, for auditors: the verifier key, the latest signed
// checkpoint, the tree's tiles (C2SP tlog-tiles, under /v1/log/), and
// proofs. Every authenticated token may read them, as it may read the log.

const (
	mediaText  = "text/plain; charset=utf-8"
	mediaProof = "text/x-tlog-proof; charset=utf-8"
	// immutable is for what a path always answers the same: tiles and
	// entry bundles.
	immutable = "private, max-age=31536000, immutable"
)

func writeText(w http.ResponseWriter, contentType, cache string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	_, _ = w.Write(body)
}

// handleLogKey serves the log's verifier key, for convenience: an auditor
// pins the key they were given out of band, never one fetched from the
// server being checked.
func (s *Server) handleLogKey(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	writeText(w, mediaText, "no-cache", []byte(s.store.Key().VerifierKey()+"\n"))
}

func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	_, signed, at, ok := s.tree.Latest()
	if !ok {
		problem(w, http.StatusNotFound, "no checkpoint has been signed yet; one is within a second of the first record")
		return
	}
	w.Header().Set("Last-Modified", at.UTC().Format(http.TimeFormat))
	writeText(w, mediaText, "no-store", signed)
}

// handleTile serves tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>].
func (s *Server) handleTile(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	path := "tile/" + r.PathValue("path")
	var t tlog.Tile
	var err error
	if rest, ok := strings.CutPrefix(path, "tile/entries/"); ok {
		t, err = tlog.ParseTilePath("tile/8/data/" + rest)
	} else {
		t, err = tlog.ParseTilePath("tile/8/" + strings.TrimPrefix(path, "tile/"))
	}
	if err != nil || t.H != logtree.TileHeight {
		problem(w, http.StatusNotFound, fmt.Sprintf("%q is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], C2SP tlog-tiles)", path))
		return
	}
	var data []byte
	if t.L == -1 {
		data, err = s.entryBundle(r, t)
	} else {
		data, err = s.tree.Tile(r.Context(), t.L, t.N, t.W)
	}
	if errors.Is(err, logtree.ErrNoTile) {
		problem(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeText(w, "application/octet-stream", immutable, data)
}

// entryBundle is the entries of tile t: the lines of its records, each
// after its length as a big-endian uint16.
func (s *Server) entryBundle(r *http.Request, t tlog.Tile) ([]byte, error) {
	first := uint64(t.N) * (1 << logtree.TileHeight)
	if int64(first)+int64(t.W) > s.tree.Size() {
		return nil, fmt.Errorf("%w: entries %d-%d are past the tree of size %d", logtree.ErrNoTile, first, first+uint64(t.W)-1, s.tree.Size())
	}
	recs, err := s.store.Read(r.Context(), first, t.W, eventstore.Filter{})
	if err != nil {
		return nil, err
	}
	if len(recs) != t.W {
		return nil, fmt.Errorf("read %d records of the %d of entry bundle %d", len(recs), t.W, t.N)
	}
	var out, line []byte
	for i := range recs {
		line = domain.AppendLine(line[:0], &recs[i])
		if len(line) > 0xFFFF {
			return nil, domain.Errorf(domain.KindNotFound, "record %d's line is %d bytes, more than an entry bundle holds (65,535; C2SP tlog-tiles): fetch it from GET /v1/events/%d", recs[i].Sequence, len(line), recs[i].Sequence)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(line)))
		out = append(out, line...)
	}
	return out, nil
}

// pathSeq is the {seq} of the path, a record's sequence; ok is false when
// it answered 400.
func pathSeq(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 63)
	if err != nil || seq == 0 {
		problem(w, http.StatusBadRequest, "the sequence is a whole number from 1")
		return 0, false
	}
	return seq, true
}

// checkpointParam answers with the signed checkpoint whose size the
// query parameter name gives (absent: the latest); ok is false when it
// answered with a problem.
func (s *Server) checkpointParam(w http.ResponseWriter, r *http.Request, name string) (c logtree.Checkpoint, signed []byte, ok bool) {
	n, err := uintParam(r.URL.Query().Get(name), 0)
	if err != nil {
		problem(w, http.StatusBadRequest, name+": "+err.Error())
		return c, nil, false
	}
	if c, signed, err = s.checkpointFor(r, int64(n)); err != nil {
		s.fail(w, r, err)
		return c, nil, false
	}
	return c, signed, true
}

// checkpointFor is the signed checkpoint of size n if given (0: the
// latest one).
func (s *Server) checkpointFor(r *http.Request, n int64) (logtree.Checkpoint, []byte, error) {
	if n == 0 {
		c, signed, _, ok := s.tree.Latest()
		if !ok {
			return c, nil, domain.Errorf(domain.KindNotFound, "no checkpoint has been signed yet")
		}
		return c, signed, nil
	}
	c, signed, err := s.tree.CheckpointAt(r.Context(), n)
	if errors.Is(err, logtree.ErrNoCheckpoint) {
		return c, nil, domain.Errorf(domain.KindNotFound, "%v; GET /v1/log/checkpoint is the latest", err)
	}
	return c, signed, err
}

// handleRecordProof serves a record with its inclusion proof, a C2SP
// tlog-proof against the latest checkpoint (or ?size=N's).
func (s *Server) handleRecordProof(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	seq, ok := pathSeq(w, r)
	if !ok {
		return
	}
	c, signed, ok := s.checkpointParam(w, r, "size")
	if !ok {
		return
	}
	if int64(seq) > c.Size {
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, domain.Errorf(domain.KindNotFound, "sequence %d is not covered by the checkpoint of size %d yet; checkpoints follow the log within a second", seq, c.Size))
		return
	}
	rec, err := s.store.Get(r.Context(), seq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.tree.ProveRecord(r.Context(), int64(seq)-1, c.Size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proof := logtree.RecordProof{Line: domain.AppendLine(nil, &rec), Index: int64(seq) - 1, Proof: p, Checkpoint: signed}
	writeText(w, mediaProof, "no-store", proof.Marshal())
}

// treeProof is the reply of GET /v1/log/proof/tree.
type treeProof struct {
	From     int64    `json:"from"`
	To       int64    `json:"to"`
	FromRoot string   `json:"from_root"`
	Proof    []string `json:"proof"`
	// Checkpoint is the signed checkpoint of size To.
	Checkpoint string `json:"checkpoint"`
}

// handleTreeProof proves that the tree of size from is a prefix of the
// one of the latest checkpoint (or ?to=N's).
func (s *Server) handleTreeProof(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	q := r.URL.Query()
	from, err := uintParam(q.Get("from"), 0)
	if err != nil || from == 0 {
		problem(w, http.StatusBadRequest, "from: the earlier tree size, a whole number from 1")
		return
	}
	c, signed, ok := s.checkpointParam(w, r, "to")
	if !ok {
		return
	}
	if int64(from) > c.Size {
		s.fail(w, r, domain.Errorf(domain.KindInvalid, "from %d is past the checkpoint's size %d", from, c.Size))
		return
	}
	p, err := s.tree.ProveTree(r.Context(), int64(from), c.Size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	root, err := s.tree.Root(r.Context(), int64(from))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := treeProof{From: int64(from), To: c.Size, FromRoot: base64.StdEncoding.EncodeToString(root[:]), Proof: []string{}, Checkpoint: string(signed)}
	for _, h := range p {
		out.Proof = append(out.Proof, base64.StdEncoding.EncodeToString(h[:]))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetRecord serves one record by its sequence: its line, the leaf
// of the tree.
func (s *Server) handleGetRecord(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	seq, ok := pathSeq(w, r)
	if !ok {
		return
	}
	rec, err := s.store.Get(r.Context(), seq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", mediaEvent) // a CloudEvent, as a single record reply is
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(domain.AppendLine(nil, &rec), '\n'))
}
