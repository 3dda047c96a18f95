package certify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/sbom/sbomtest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// packages is a package store in memory: what intake keeps in the blob
// store, read back and checked the same way (pkgfile.Read).
type packages map[string][]byte

func (p packages) LoadPackage(_ context.Context, digest string) (*pkgfile.Package, error) {
	b, ok := p[digest]
	if !ok {
		return nil, fmt.Errorf("opening package %s: %w", digest, domain.ErrNotFound)
	}
	return pkgfile.Read(bytes.NewReader(b), pkgfile.DefaultLimits())
}

func (p packages) add(b []byte) {
	pk, err := pkgfile.Read(bytes.NewReader(b), pkgfile.DefaultLimits())
	if err != nil {
		panic(err)
	}
	p[pk.Digest] = b
}

func (h *harness) serviceWith(t testing.TB, pk certify.PackageLoader) *certify.Service {
	svc, err := certify.New(context.Background(), certify.Config{Store: h.st, Signer: h.signer, LogSigner: h.logSigner, LogOrigin: origin, LogStorage: h.lg, Now: h.clock, Packages: pk})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// checkSBOMs checks that cert lists exactly the stored documents of
// versionID, each valid under its official schema and dated at.
func (h *harness) checkSBOMs(t *testing.T, svc *certify.Service, cert *trust.Certificate, versionID string, at time.Time) []domain.SBOM {
	t.Helper()
	var kept []domain.SBOM
	for _, f := range sbom.Formats {
		b, err := svc.SBOM(context.Background(), versionID, f)
		if err != nil {
			t.Fatalf("the %s SBOM of %s: %v", f, versionID, err)
		}
		ref, ok := cert.SBOM(f)
		if !ok || ref.Digest != sbom.Digest(b.Document) || ref.MediaType != sbom.MediaType(f) {
			t.Errorf("the certificate lists %+v for %s; the stored document is %s", ref, f, sbom.Digest(b.Document))
		}
		sbomtest.Check(t, f, b.Document)
		if !strings.Contains(string(b.Document), at.UTC().Format(time.RFC3339)) {
			t.Errorf("the %s SBOM is not dated %s:\n%s", f, at.UTC().Format(time.RFC3339), b.Document)
		}
		kept = append(kept, b)
	}
	return kept
}

// TestCertificatesListSBOMs: a certification emits both SBOMs, stores
// them in the transaction that stores the certificate, and the
// certificate lists their digests; a renewal lists the same documents,
// unchanged.
func TestCertificatesListSBOMs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pk := packages{}
	svc := h.serviceWith(t, pk)
	pk.add(h.inReview(t, "sub1", "hello", "1.0.0", true))
	cert, err := svc.Certify(ctx, "sub1", "bob", decision())
	if err != nil {
		t.Fatal(err)
	}
	first := h.checkSBOMs(t, svc, cert, "sub1", cert.IssuedAt)
	// The audit event of the certificate names them.
	found := false
	if err := h.st.ScanAudit(ctx, domain.AuditQuery{Subject: "submission:sub1"}, func(e audit.Event) error {
		if e.Action == audit.CertificateIssued {
			var d struct{ SBOMs map[string]any }
			json.Unmarshal(e.Data, &d)
			found = d.SBOMs[sbom.FormatSPDX] == first[1].Digest && d.SBOMs["made"] != nil
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("no certificate.issued audit event names the SBOMs")
	}
	h.advance(24 * time.Hour)
	renewed, err := svc.Renew(ctx, "sub1", "system", "revalidation passed")
	if err != nil {
		t.Fatal(err)
	}
	again := h.checkSBOMs(t, svc, renewed, "sub1", cert.IssuedAt)
	for i := range again {
		if !bytes.Equal(again[i].Document, first[i].Document) {
			t.Errorf("the renewal changed the %s SBOM", again[i].Format)
		}
	}
}

// TestRenewalBackfillsSBOMs: a version certified before the marketplace
// emitted SBOMs gets them at its next renewal, dated then, and listed by
// the renewed certificate.
func TestRenewalBackfillsSBOMs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pk := packages{}
	pk.add(h.inReview(t, "sub1", "hello", "1.0.0", true))
	old, err := h.svc.Certify(ctx, "sub1", "bob", decision()) // no package loader: the marketplace before SBOMs
	if err != nil {
		t.Fatal(err)
	}
	if len(old.SBOMs) != 0 {
		t.Fatalf("a certificate without a package loader lists %+v", old.SBOMs)
	}
	svc := h.serviceWith(t, pk)
	if _, err := svc.SBOM(ctx, "sub1", sbom.FormatCycloneDX); !errorsIsNotFound(err) {
		t.Errorf("an SBOM before the renewal: %v, want not found", err)
	}
	h.advance(time.Hour)
	renewed, err := svc.Renew(ctx, "sub1", "system", "revalidation passed")
	if err != nil {
		t.Fatal(err)
	}
	h.checkSBOMs(t, svc, renewed, "sub1", renewed.IssuedAt)
}

// TestCertificationNeedsItsSBOMs: a package that cannot be read stops the
// certification (the pipeline retries it) rather than certifying a
// version without SBOMs; nothing is written.
func TestCertificationNeedsItsSBOMs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	svc := h.serviceWith(t, packages{}) // the package is not there
	h.inReview(t, "sub1", "hello", "1.0.0", true)
	if _, err := svc.Certify(ctx, "sub1", "bob", decision()); err == nil || !strings.Contains(err.Error(), "SBOMs of acme/hello@1.0.0") {
		t.Fatalf("certifying without the package: %v", err)
	}
	if v, _ := h.st.GetVersion(ctx, "sub1"); v.State != lifecycle.InReview {
		t.Errorf("the version is %s, want still in review", v.State)
	}
	if _, err := h.st.LatestCertificate(ctx, "sub1"); !errorsIsNotFound(err) {
		t.Errorf("a certificate was stored: %v", err)
	}
}

func errorsIsNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }
