package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/sigstore"
	"gatehouse.dev/gatehouse/internal/sigstoretest"
	"gatehouse.dev/gatehouse/trust"
)

// TestSigstoreBundleEndToEnd is issue 19 item 3's proof through the real
// CLI and server: a cosign-style keyed bundle (`cosign sign-blob --key
// cosign.key --bundle`) made in the test is accepted as the publisher
// signature, certified with the bundle in the certificate's evidence and
// installed by a host that checks it; a bundle for another digest is
// refused. Keyless bundles from a test Fulcio and TSA (the server reads
// their trusted_root.json) are accepted for a bound identity and refused
// for another.
func TestSigstoreBundleEndToEnd(t *testing.T) {
	work := t.TempDir()
	ca, err := sigstoretest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := ca.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(work, "trusted_root.json")
	if err := os.WriteFile(rootFile, rootJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), "--sigstore-trusted-root", rootFile)
	admin := []string{"GATEHOUSE_SERVER=" + srv.base, "GATEHOUSE_TOKEN=" + srv.token}
	mustRun := func(env []string, args ...string) string {
		t.Helper()
		out, code := run(t, env, args...)
		if code != 0 {
			t.Fatalf("gatehouse %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	refused := func(want string, args ...string) {
		t.Helper()
		out, code := run(t, admin, args...)
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("gatehouse %s: exit %d, want a refusal saying %q\n%s", strings.Join(args, " "), code, want, out)
		}
	}

	dir := filepath.Join(work, "hello")
	mustRun(admin, "plugin", "init", "acme/hello", dir)
	mustRun(admin, "plugin", "build", dir)
	pkgPath := filepath.Join(work, "hello.gpkg")
	mustRun(admin, "plugin", "pack", dir, "-o", pkgPath)
	pkg, err := os.ReadFile(pkgPath)
	if err != nil {
		t.Fatal(err)
	}

	// The publisher's cosign key pair; cosign.pub is a PKIX PEM public
	// key, registered on the namespace like any publisher key.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubFile := filepath.Join(work, "cosign.pub")
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	mustRun(admin, "namespace", "key", "add", "acme", pubFile)

	// A bundle for another digest is refused, naming both digests.
	otherSum := sha256.Sum256(append([]byte("not "), pkg...))
	other, err := sigstoretest.KeyedBundleForDigest(priv, otherSum[:])
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(work, "other.sigstore.json")
	os.WriteFile(otherFile, other, 0o644)
	refused("digest does not match", "plugin", "submit", pkgPath, "--signature", otherFile)

	// A bundle by a key the namespace does not have is refused.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerBundle, _ := sigstoretest.KeyedBundle(stranger, pkg)
	strangerFile := filepath.Join(work, "stranger.sigstore.json")
	os.WriteFile(strangerFile, strangerBundle, 0o644)
	refused("signed by a key that is not trusted", "plugin", "submit", pkgPath, "--signature", strangerFile)

	// The real bundle, written where cosign writes it, is found and sent.
	good, err := sigstoretest.KeyedBundle(priv, pkg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pkgPath+".sigstore.json", good, 0o644)
	id := strings.TrimSpace(mustRun(admin, "plugin", "submit", pkgPath))
	if !strings.HasPrefix(id, "sub_") {
		t.Fatalf("submit printed %q", id)
	}
	if out := mustRun(admin, "plugin", "status", id, "--wait"); !strings.Contains(out, "in_review") {
		t.Fatalf("status --wait:\n%s", out)
	}
	var reviewer string
	for _, l := range strings.Split(mustRun(admin, "token", "create", "--subject", "bob", "--role", "reviewer"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, " ") {
			reviewer = l
		}
	}
	mustRun([]string{"GATEHOUSE_SERVER=" + srv.base, "GATEHOUSE_TOKEN=" + reviewer}, "review", "approve", id)
	cl, err := client.New(srv.base, srv.token)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		sub, err := cl.Submission(t.Context(), id)
		if err == nil && sub.State == "certified" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("submission %s is %q (%v), want certified", id, sub.State, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The host installs it: verify checks the bundle the certificate
	// carries against the package's digest and the publisher key.
	host := filepath.Join(work, "host")
	if out := mustRun(admin, "install", "acme/hello@0.1.0", "--dir", host); !strings.Contains(out, "acme/hello") {
		t.Fatalf("install:\n%s", out)
	}
	// The certificate keeps the bundle as evidence, and names the key.
	var b struct {
		Certificate json.RawMessage `json:"certificate"`
	}
	bundles, _ := filepath.Glob(filepath.Join(host, "*.bundle.json"))
	if len(bundles) == 0 {
		entries, _ := os.ReadDir(host)
		t.Fatalf("no bundle file in the host folder: %v", entries)
	}
	raw, _ := os.ReadFile(bundles[0])
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	env, err := trust.ParseEnvelope(b.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := trust.ParseCertificate(env)
	if err != nil {
		t.Fatal(err)
	}
	keyID, _ := trust.KeyID(&priv.PublicKey)
	if cert.Publisher.Format != trust.FormatSigstoreBundle || cert.Publisher.KeyID != keyID || len(cert.Publisher.SigstoreBundle) == 0 {
		t.Fatalf("the certificate's publisher evidence: %+v", cert.Publisher)
	}
	if _, err := sigstore.Parse(cert.Publisher.SigstoreBundle); err != nil {
		t.Fatalf("the bundle in the certificate: %v", err)
	}

	// Keyless: an identity bound to the namespace signs through the test
	// Fulcio and TSA; another identity is refused.
	const issuer, subject = "https://accounts.example.com", "dev@acme.example"
	if out := mustRun(admin, "namespace", "identity", "add", "acme", "--issuer", issuer, "--subject", subject); !strings.Contains(out, "Bound keyless identity oidc-") {
		t.Fatalf("identity add: %s", out)
	}
	if out := mustRun(admin, "namespace", "key", "list", "acme"); !strings.Contains(out, trust.AlgorithmSigstoreOIDC+" "+subject) {
		t.Fatalf("key list does not show the identity:\n%s", out)
	}
	second := packageOf(t, "acme/second", "1.0.0", 64, []byte("\x00asm\x01\x00\x00\x00"))
	secondPath := filepath.Join(work, "second.gpkg")
	os.WriteFile(secondPath, second, 0o644)
	notBound, _ := ca.KeylessBundle("mallory@evil.example", issuer, second, time.Now().Add(-time.Minute))
	notBoundFile := filepath.Join(work, "mallory.sigstore.json")
	os.WriteFile(notBoundFile, notBound, 0o644)
	refused("mallory@evil.example (https://accounts.example.com), which is not a trusted identity", "plugin", "submit", secondPath, "--signature", notBoundFile)
	keyless, _ := ca.KeylessBundle(subject, issuer, second, time.Now().Add(-time.Minute))
	keylessFile := filepath.Join(work, "keyless.sigstore.json")
	os.WriteFile(keylessFile, keyless, 0o644)
	if out := mustRun(admin, "plugin", "submit", secondPath, "--signature", keylessFile); !strings.HasPrefix(strings.TrimSpace(out), "sub_") {
		t.Fatalf("keyless submit printed %q", out)
	}
	var keys api.NamespaceKeys
	if err := json.Unmarshal([]byte(mustRun(admin, "namespace", "key", "list", "acme", "-o", "json")), &keys); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys.Keys {
		found = found || (k.Issuer == issuer && k.Subject == subject && k.ID == (trust.SigstoreIdentity{Issuer: issuer, Subject: subject}).ID())
	}
	if !found {
		t.Fatalf("the identity is not listed with its id: %+v", keys.Keys)
	}
}
