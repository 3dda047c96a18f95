package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"gatehouse.dev/gatehouse/internal/domain"
)

// MaxVulnDBUpload bounds an uploaded OSV all.zip (the whole Go database
// is about 3 MB; the largest ecosystems are a few hundred).
const MaxVulnDBUpload = 1 << 30

func (s *Server) importVulnDB(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	if !s.app.HasVulnDB() {
		// Before reading a gigabyte: 501, as this route always answered.
		writeError(w, http.StatusNotImplemented, "no_vulndb", "this server has no vulnerability database store")
		return
	}
	tmp, err := os.CreateTemp("", "gatehouse-osv-*.zip")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, http.MaxBytesReader(w, r.Body, MaxVulnDBUpload))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the database is over %d bytes", MaxVulnDBUpload))
			return
		}
		writeError(w, http.StatusBadRequest, "upload_failed", "reading the upload: "+err.Error())
		return
	}
	imp, err := s.app.ImportVulnDB(r.Context(), p, tmp, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var affected any = []any{}
	if imp.Revalidating != nil {
		affected = imp.Revalidating
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": imp.Version.String(), "records": imp.Version.Records, "revalidating": affected})
}

func (s *Server) vulnDBVersion(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	v, err := s.app.VulnDBVersion(p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": v.String(), "records": v.Records})
}
