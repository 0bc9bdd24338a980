package server

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"planledger/cmd/planledger/archive"
	"planledger/cmd/planledger/tokens"
	"planledger/domain"
	"planledger/projections"
)

// maxImportBody bounds one POST /v1/import: about two million records.
const maxImportBody = 1 << 30

// handleLog describes the stream, for verify --server.
func (s *Server) handleLog(w http.ResponseWriter, r *http.Request, _ *tokens.Principal) {
	info, err := archive.StoreInfo(r.Context(), s.store, projections.CheckpointCarrier(s.data.ViewsCheckpoint(), s.store))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// handleImport restores an export (NDJSON records) through the running
// server: admins only, since it writes records with their original
// submitters and times.
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request, who *tokens.Principal) {
	if who.Role != tokens.RoleAdmin {
		s.fail(w, r, domain.Errorf(domain.KindForbidden, "%s is a %s: only admins import", who.Name, who.Role))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != mediaNDJSON {
		problem(w, http.StatusUnsupportedMediaType, "an import is the NDJSON of planledger export, sent as "+mediaNDJSON)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(time.Hour))
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))
	res, err := archive.Import(r.Context(), s.store, http.MaxBytesReader(w, r.Body, maxImportBody), nil)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("over %d bytes: import through --data or --nats-url, or in parts (export --after)", maxImportBody))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("import", "by", who.Name, "read", res.Read, "present", res.Present, "appended", res.Appended, "last_sequence", res.LastSequence)
	writeJSON(w, http.StatusOK, res)
}
