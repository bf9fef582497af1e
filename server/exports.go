package server

import (
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/tillpos/till/exports"
)

// downloadExport serves an export file to whoever holds a valid signed
// link: 403 for a link we did not sign, 410 for one past its time or whose
// file expired, both with a JSON body.
func (s *Server) downloadExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d, err := s.Exports.Open(r.Context(), r.PathValue("id"), q.Get("exp"), q.Get("sig"))
	switch {
	case errors.Is(err, exports.ErrLinkInvalid):
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error(), "code": "FORBIDDEN"})
		return
	case errors.Is(err, exports.ErrLinkExpired), errors.Is(err, exports.ErrFileGone):
		writeJSON(w, http.StatusGone, map[string]string{"error": err.Error(), "code": "GONE"})
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "exports: opening download", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error", "code": "INTERNAL"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", d.ContentType())
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename()}))
	h.Set("Content-Length", strconv.FormatInt(d.Size(), 10))
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := d.Stream(r.Context(), w); err != nil {
		// The status is sent; a short body tells the client it failed.
		s.log.WarnContext(r.Context(), "exports: streaming download", "job", d.Job.ID, "err", err)
	}
}
