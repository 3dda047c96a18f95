package review_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// TestCertifyStep: the pipeline's certify step certifies a version left
// auto-approved without its certificate, with the lifetime its verdict
// gave, and leaves a version in any other state, or certified already,
// alone (it is idempotent).
func TestCertifyStep(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := certifytest.New(t, st, nil)
	key := certifytest.PublisherKey(t, st, "acme", "alice")
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"H","description":"H.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	p, _ := pkgfile.Read(bytes.NewReader(buf.Bytes()), pkgfile.DefaultLimits())
	v := domain.Version{ID: "sub1", PluginID: "acme/hello", Version: "1.0.0", Digest: p.Digest, Size: p.Size, Manifest: []byte(m), Submitter: "alice", State: lifecycle.Received, Reason: "r", CreatedAt: time.Now()}
	if _, _, err := st.CreateVersion(ctx, v, []audit.Event{{Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:sub1"}}); err != nil {
		t.Fatal(err)
	}
	if err := rv.CertifyStep(ctx, "sub1"); err != nil {
		t.Fatalf("a received version is not the certify step's: %v", err)
	}
	env, _ := intake.Sign(ctx, key, buf.Bytes())
	raw, _ := trust.MarshalEnvelope(env)
	if err := st.PutSignature(ctx, domain.Signature{VersionID: "sub1", KeyID: key.KeyID(), Envelope: raw, CreatedAt: time.Now()}, audit.Event{Actor: "alice", Action: audit.SubmissionSignature, Subject: "submission:sub1"}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(triage.Verdict{Outcome: "auto_approved", Tier: "low", CertificateLifetimeDays: 90, PolicyDigest: "sha256:p"})
	if _, err := st.SaveVerdict(ctx, domain.Verdict{VersionID: "sub1", PolicyDigest: "sha256:p", Outcome: "auto_approved", Tier: "low", Body: body}, audit.Event{Actor: "system", Action: audit.TriageVerdict, Subject: "submission:sub1"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]lifecycle.State{{lifecycle.Received, lifecycle.Vetting}, {lifecycle.Vetting, lifecycle.Triage}, {lifecycle.Triage, lifecycle.AutoApproved}} {
		if err := st.Transition(ctx, "sub1", s[0], s[1], "test", audit.Event{Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:sub1"}); err != nil {
			t.Fatal(err)
		}
	}
	// Without a certifier nothing is certified: never a certified version
	// without a certificate.
	if err := rv.CertifyStep(ctx, "sub1"); err == nil {
		t.Error("certified without a certifier")
	}
	rv.Certifier = tr.Service
	for range 2 { // the second run finds it certified and does nothing
		if err := rv.CertifyStep(ctx, "sub1"); err != nil {
			t.Fatalf("CertifyStep: %v", err)
		}
	}
	got, _ := st.GetVersion(ctx, "sub1")
	cert, err := tr.Service.LatestCertificate(ctx, "sub1")
	if got.State != lifecycle.Certified || err != nil || cert.ExpiresAt.Sub(cert.IssuedAt) != 90*24*time.Hour || cert.RiskTier != "low" || len(cert.Permissions) != 1 {
		t.Errorf("after resuming: %s, certificate %+v, %v", got.State, cert, err)
	}
}
