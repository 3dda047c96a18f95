package app

import (
	"context"

	"gatehouse.dev/gatehouse/api"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// The audit trail: stewards and auditors read, export and verify it. It
// is written by every other operation, never through here.

// auditRoles read the trail.
var auditRoles = []domain.Role{domain.RoleSteward, domain.RoleAuditor}

// VerifyAudit recomputes the whole hash chain and reports the first
// broken link.
func (a *App) VerifyAudit(ctx context.Context, caller domain.Principal) (audit.Report, error) {
	if err := allow(caller, "verify the audit trail", auditRoles...); err != nil {
		return audit.Report{}, err
	}
	return audit.VerifyAll(func(fn func(audit.Event) error) error {
		return a.cfg.Store.ScanAudit(ctx, domain.AuditQuery{}, fn)
	})
}

// ExportAudit calls fn for each event q selects, in sequence order, with
// its hashes, so the chain can be verified offline.
func (a *App) ExportAudit(ctx context.Context, caller domain.Principal, q domain.AuditQuery, fn func(audit.Event) error) error {
	if err := allow(caller, "export the audit trail", auditRoles...); err != nil {
		return err
	}
	return a.cfg.Store.ScanAudit(ctx, q, fn)
}

// SearchAudit returns one page of the events f selects, newest first
// (f.BeforeSeq pages on).
func (a *App) SearchAudit(ctx context.Context, caller domain.Principal, f domain.AuditFilter) ([]audit.Event, error) {
	if err := allow(caller, "read the audit trail", auditRoles...); err != nil {
		return nil, err
	}
	return a.cfg.Store.SearchAudit(ctx, f)
}

// ExportAuditSearch calls fn for every event f selects, newest first,
// page by page, until fn fails or the events run out.
func (a *App) ExportAuditSearch(ctx context.Context, caller domain.Principal, f domain.AuditFilter, fn func(audit.Event) error) error {
	if err := allow(caller, "export the audit trail", auditRoles...); err != nil {
		return err
	}
	f.Limit = store.MaxInsightRows
	for {
		evs, err := a.cfg.Store.SearchAudit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(evs) < f.Limit {
			return nil
		}
		f.BeforeSeq = evs[len(evs)-1].Seq
	}
}

// Verification is a verification report in its API form, as the API and
// the command line's offline check both answer it.
func Verification(rep audit.Report) api.AuditVerification {
	out := api.AuditVerification{OK: rep.Break == nil, Count: rep.Count, Head: rep.Head}
	if rep.Break != nil {
		out.Broken = &api.AuditBreak{Seq: rep.Break.Seq, Reason: rep.Break.Reason}
	}
	return out
}
