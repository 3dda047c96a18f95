package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/badge"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/verify"
)

// Trust: certificates, what hosts verify them with (bundles, provenance,
// the revocation list, the trust root), and the stewards' suspensions and
// revocations. What a certificate made public stays public after a
// revocation (domain.Published); before it is released, only the version's
// namespace and the overseers read it.

// trustOn refuses the operations of a marketplace running without
// certificates and a transparency log.
func (a *App) trustOn() error {
	if a.cfg.Trust == nil {
		return Refuse(KindUnavailable, "trust_disabled", "this server runs without certificates and a transparency log")
	}
	return nil
}

// publish appends what an operation queued to the log at once; the
// background publisher retries a failure.
func (a *App) publish(ctx context.Context) {
	if _, err := a.cfg.Trust.Publish(ctx); err != nil {
		a.cfg.Log.Warn("publishing trust events; they stay queued", "err", err)
	}
}

// TrustRoot is the marketplace's keys, the log's origin and key and the
// revocation list's maximum age: public.
func (a *App) TrustRoot() (certify.TrustRoot, error) {
	if err := a.trustOn(); err != nil {
		return certify.TrustRoot{}, err
	}
	return a.cfg.Trust.TrustRoot(), nil
}

// Revocations is the current signed revocation list (a DSSE envelope):
// public.
func (a *App) Revocations(ctx context.Context) ([]byte, error) {
	if err := a.trustOn(); err != nil {
		return nil, err
	}
	return a.cfg.Trust.Revocations(ctx)
}

// published refuses a caller who may not read what v's certificate made
// public: anyone may once it was released, its namespace and the
// overseers before. The refusal is the not-found of a version that does
// not exist, so it discloses nothing.
func (a *App) published(ctx context.Context, caller domain.Principal, v domain.Version) error {
	if domain.Published(v.State) {
		return nil
	}
	ok, err := caller.CanSee(ctx, a.cfg.Store, v.PluginID)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(KindNotFound, "no version %s@%s", v.PluginID, v.Version)
	}
	return nil
}

// Bundle is what a host needs to verify v offline. A certificate not in
// the log yet is KindUnavailable with code "not_logged_yet": ask again
// shortly.
func (a *App) Bundle(ctx context.Context, caller domain.Principal, v domain.Version) (*verify.Bundle, error) {
	if err := a.trustOn(); err != nil {
		return nil, err
	}
	if err := a.published(ctx, caller, v); err != nil {
		return nil, err
	}
	b, err := a.cfg.Trust.Bundle(ctx, v.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return nil, &Error{Kind: KindNotFound, Code: "no_certificate", Msg: fmt.Sprintf("%s@%s has no certificate", v.PluginID, v.Version), Err: err}
	case errors.Is(err, certify.ErrNotLogged):
		return nil, &Error{Kind: KindUnavailable, Code: "not_logged_yet", Msg: err.Error(), Err: err}
	}
	return b, err
}

// Provenance is the marketplace's signed SLSA provenance statement for a
// version it rebuilt byte for byte (a DSSE envelope).
func (a *App) Provenance(ctx context.Context, caller domain.Principal, v domain.Version) ([]byte, error) {
	if err := a.trustOn(); err != nil {
		return nil, err
	}
	if err := a.published(ctx, caller, v); err != nil {
		return nil, err
	}
	b, err := a.cfg.Trust.ProvenanceStatement(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &Error{Kind: KindNotFound, Code: "no_provenance", Err: err,
			Msg: fmt.Sprintf("%s@%s has no marketplace provenance statement: the marketplace states provenance only for a module it rebuilt byte for byte", v.PluginID, v.Version)}
	}
	return b, err
}

// SBOM is the marketplace's SBOM of v in format (sbom.FormatCycloneDX or
// sbom.FormatSPDX), whose digest v's certificates list: readable by
// whoever may read v's certificate bundle.
func (a *App) SBOM(ctx context.Context, caller domain.Principal, v domain.Version, format string) (domain.SBOM, error) {
	if err := a.trustOn(); err != nil {
		return domain.SBOM{}, err
	}
	if err := a.published(ctx, caller, v); err != nil {
		return domain.SBOM{}, err
	}
	if sbom.MediaType(format) == "" {
		return domain.SBOM{}, Refuse(KindNotFound, "no_such_format", fmt.Sprintf("there is no SBOM format %q; ask for %s", format, strings.Join(sbom.Formats, " or ")))
	}
	b, err := a.cfg.Trust.SBOM(ctx, v.ID, format)
	if errors.Is(err, domain.ErrNotFound) {
		msg := fmt.Sprintf("%s@%s has no SBOM yet: the marketplace makes them when it certifies a version, and for a version certified before it made them, at its next renewal (revalidation)", v.PluginID, v.Version)
		if !domain.Published(v.State) && v.State != lifecycle.Certified {
			msg = fmt.Sprintf("%s@%s has no SBOM: it is %s, and the marketplace makes SBOMs when it certifies a version", v.PluginID, v.Version, v.State)
		}
		return domain.SBOM{}, &Error{Kind: KindNotFound, Code: "no_sbom", Msg: msg, Err: err}
	}
	return b, err
}

// Certificate is v's newest certificate (a DSSE envelope).
func (a *App) Certificate(ctx context.Context, caller domain.Principal, v domain.Version) ([]byte, error) {
	if err := signedIn(caller, "read certificates"); err != nil {
		return nil, err
	}
	if err := a.published(ctx, caller, v); err != nil {
		return nil, err
	}
	rec, err := a.cfg.Store.LatestCertificate(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &Error{Kind: KindNotFound, Code: "no_certificate", Msg: fmt.Sprintf("%s@%s has no certificate: it is %s", v.PluginID, v.Version, v.State), Err: err}
	}
	if err != nil {
		return nil, err
	}
	return rec.Envelope, nil
}

// Suspend suspends a certified version (stewards), with a reason the
// publisher and hosts read and an optional deadline for the fix.
func (a *App) Suspend(ctx context.Context, caller domain.Principal, versionID, reason string, deadline time.Time) (domain.Version, error) {
	return a.trustAction(ctx, caller, "suspend versions", versionID, func() error {
		return a.cfg.Trust.Suspend(ctx, versionID, caller.Subject, reason, deadline)
	})
}

// Revoke revokes a certified or suspended version (stewards): its digest
// goes on a new signed revocation list.
func (a *App) Revoke(ctx context.Context, caller domain.Principal, versionID, reason string) (domain.Version, error) {
	return a.trustAction(ctx, caller, "revoke versions", versionID, func() error {
		return a.cfg.Trust.Revoke(ctx, versionID, caller.Subject, reason)
	})
}

func (a *App) trustAction(ctx context.Context, caller domain.Principal, what, versionID string, do func() error) (domain.Version, error) {
	if err := a.trustOn(); err != nil {
		return domain.Version{}, err
	}
	if err := allow(caller, what, domain.RoleSteward); err != nil {
		return domain.Version{}, err
	}
	err := do()
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.Version{}, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no submission " + versionID, Err: err}
	case errors.Is(err, domain.ErrInvalid):
		return domain.Version{}, &Error{Kind: KindInvalid, Code: "invalid_request", Msg: err.Error(), Err: err}
	case errors.Is(err, certify.ErrState), errors.Is(err, domain.ErrStateChanged):
		return domain.Version{}, &Error{Kind: KindConflict, Code: "wrong_state", Msg: err.Error(), Err: err}
	case err != nil:
		return domain.Version{}, err
	}
	return a.cfg.Store.GetVersion(ctx, versionID)
}

// Badge is what a plugin's certification badge shows: the state of its
// highest version that ever held a certificate, with that certificate's
// expiry and checks. A plugin with none shows "not certified", so the
// badge reveals no more than the revocation list and the log publish.
func (a *App) Badge(ctx context.Context, pluginID string) (badge.Status, error) {
	st := badge.Status{State: "none", Now: a.cfg.Now()}
	vs, err := a.cfg.Store.ListVersions(ctx, pluginID)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return st, err
	}
	var (
		shown  *domain.Version
		higher *semver.Version
	)
	for i, v := range vs {
		if !domain.Published(v.State) {
			continue
		}
		// A version that does not parse sorts below every one that does.
		sv, err := semver.NewVersion(v.Version)
		if shown == nil || (err == nil && (higher == nil || higher.LessThan(sv))) {
			shown, higher = &vs[i], sv
		}
	}
	if shown == nil || a.cfg.Trust == nil {
		return st, nil
	}
	cert, err := a.cfg.Trust.LatestCertificate(ctx, shown.ID)
	switch {
	case err == nil:
		st.State, st.ExpiresAt, st.Checks = string(shown.State), cert.ExpiresAt, cert.Checks
	case !errors.Is(err, domain.ErrNotFound):
		return st, err
	}
	return st, nil
}
