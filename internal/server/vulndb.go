package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
)

// MaxVulnDBUpload bounds an uploaded OSV all.zip (the whole Go database
// is about 3 MB; the largest ecosystems are a few hundred).
const MaxVulnDBUpload = 1 << 30

func (s *Server) importVulnDB(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.cfg.VulnDB == nil {
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
	old := s.cfg.VulnDB.DB()
	db, err := s.cfg.VulnDB.Import(tmp, n)
	if err != nil {
		// The store keeps the previous database; its message says so.
		writeError(w, http.StatusUnprocessableEntity, "invalid_database", err.Error())
		return
	}
	v := db.Version()
	data, _ := json.Marshal(map[string]any{"version": v.String(), "records": v.Records, "bytes": n})
	ev := audit.Event{Time: s.cfg.Now(), Actor: p.Subject, Action: audit.VulnDBImport, Subject: "vulndb", Reason: "imported " + v.String(), Data: data}
	if err := s.cfg.Store.AppendAudit(r.Context(), ev); err != nil {
		s.internal(w, r, err)
		return
	}
	// The certified versions that ship a component the new advisories
	// affect are found through the component index and revalidated.
	var affected any = []any{}
	if s.cfg.Revalidate != nil {
		a, err := s.cfg.Revalidate.VulnDBImported(r.Context(), p.Subject, db, old)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if a != nil {
			affected = a
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": v.String(), "records": v.Records, "revalidating": affected})
}

func (s *Server) vulnDBVersion(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	if s.cfg.VulnDB == nil || s.cfg.VulnDB.DB() == nil {
		writeError(w, http.StatusNotFound, "no_vulndb", "no vulnerability database has been imported; run gatehouse vulndb import FILE")
		return
	}
	v := s.cfg.VulnDB.DB().Version()
	writeJSON(w, http.StatusOK, map[string]any{"version": v.String(), "records": v.Records})
}
