package certify

import (
	"context"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// PackageLoader reads a stored package by its digest, checking it;
// intake.Service is one.
type PackageLoader interface {
	LoadPackage(ctx context.Context, digest string) (*pkgfile.Package, error)
}

// sboms returns the SBOM references a certificate of v issued at
// issuedAt lists, and the documents to store with it: those of the
// formats v has none of yet, emitted now with issuedAt as their time. A
// version keeps the documents of its first certification (the same bytes
// for every certificate after it); one certified before the marketplace
// emitted SBOMs gets them at its next renewal (issue 22 item 3).
func (s *Service) sboms(ctx context.Context, v domain.Version, issuedAt time.Time) ([]trust.SBOMRef, []domain.SBOM, error) {
	if s.packages == nil {
		return nil, nil, nil
	}
	kept, err := s.st.SBOMs(ctx, v.ID)
	if err != nil {
		return nil, nil, err
	}
	have := map[string]domain.SBOM{}
	for _, b := range kept {
		have[b.Format] = b
	}
	var (
		refs  []trust.SBOMRef
		fresh []domain.SBOM
		subj  *sbom.Subject
	)
	for _, f := range sbom.Formats {
		b, ok := have[f]
		if !ok {
			if subj == nil {
				p, err := s.packages.LoadPackage(ctx, v.Digest)
				if err != nil {
					return nil, nil, fmt.Errorf("the SBOMs of %s@%s: %w", v.PluginID, v.Version, err)
				}
				sj, err := sbom.FromPackage(p, issuedAt)
				if err != nil {
					return nil, nil, fmt.Errorf("the SBOMs of %s@%s: %w", v.PluginID, v.Version, err)
				}
				subj = &sj
			}
			doc, err := sbom.Emit(f, *subj)
			if err != nil {
				return nil, nil, err
			}
			b = domain.SBOM{VersionID: v.ID, Format: f, Digest: sbom.Digest(doc), Document: doc}
			fresh = append(fresh, b)
		}
		refs = append(refs, trust.SBOMRef{Format: f, MediaType: sbom.MediaType(f), Digest: b.Digest})
	}
	return refs, fresh, nil
}

// sbomDigests is what the certificate's audit event says of its SBOMs:
// each format's digest, and which were made by this certification.
func sbomDigests(refs []trust.SBOMRef, fresh []domain.SBOM) map[string]any {
	if len(refs) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, r := range refs {
		out[r.Format] = r.Digest
	}
	var made []string
	for _, b := range fresh {
		made = append(made, b.Format)
	}
	if made != nil {
		out["made"] = made
	}
	return out
}

// SBOM returns a version's SBOM of format (sbom.FormatCycloneDX or
// sbom.FormatSPDX): domain.ErrNotFound when it has none yet.
func (s *Service) SBOM(ctx context.Context, versionID, format string) (domain.SBOM, error) {
	kept, err := s.st.SBOMs(ctx, versionID)
	if err != nil {
		return domain.SBOM{}, err
	}
	for _, b := range kept {
		if b.Format == format {
			return b, nil
		}
	}
	return domain.SBOM{}, fmt.Errorf("submission %s has no %s SBOM: %w", versionID, format, domain.ErrNotFound)
}
