package server

import (
	"fmt"
	"net/http"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
)

// pathVersion returns the version the guard loaded and checked for the
// route (its Access.Reads), answering the request itself when there is
// none, which is a route table without a read rule.
func (s *Server) pathVersion(w http.ResponseWriter, r *http.Request) (domain.Version, bool) {
	v, ok := guarded(r)
	if !ok {
		s.internal(w, r, fmt.Errorf("%s %s: no version checked by the guard", r.Method, r.URL.Path))
	}
	return v, ok
}

func (s *Server) getSARIF(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	vt, err := s.app.Findings(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/sarif+json")
	if err := sarif.Write(w, vt.Results, s.app.Rules(), sarif.ToolInfo{Name: "gatehouse"}); err != nil {
		s.cfg.Log.Error("writing SARIF", "err", err)
	}
}

func (s *Server) revet(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	id := r.PathValue("id")
	queued, err := s.app.Revet(r.Context(), p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "a new vetting run is queued"
	if !queued {
		msg = "a vetting run of this version is already queued or running"
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": msg, "statusUrl": api.BasePath + "/submissions/" + id})
}

// truePositive records a reviewer's confirmation that a finding is real,
// in the audit trail and the plugin's review thread.
func (s *Server) truePositive(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.FalsePositive
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := s.app.ConfirmFinding(r.Context(), p, r.PathValue("id"), r.PathValue("fingerprint"), req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "confirmed"})
}

func (s *Server) falsePositive(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.FalsePositive
	if !decodeJSON(w, r, &req) {
		return
	}
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	if err := s.app.SuppressFinding(r.Context(), p, v.ID, r.PathValue("fingerprint"), req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "marked a false positive for " + v.PluginID + "; later versions with this finding show it suppressed"})
}

// vettingJSON is a version's newest run as the API shows it; nil when it
// has not been vetted.
func vettingJSON(vt *app.Vetting) *api.Vetting {
	if vt == nil {
		return nil
	}
	return &api.Vetting{Run: vt.Run.Run, Blocked: vt.Run.Blocked, Summary: vt.Run.Summary, At: vt.Run.CreatedAt, Results: vet.Wire(vt.Results)}
}
