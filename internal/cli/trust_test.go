package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// TestTrustCommands drives the trust commands against a real marketplace:
// a publisher key made, registered, used to sign and submit; the trust root
// shown from the server and offline; a certified version suspended and
// revoked by a steward.
func TestTrustCommands(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m, data, as := w.m, w.data, w.as

	code, out := gh(t, "--server", w.url, "keys", "show")
	wantExit(t, code, out, 0, "Marketplace keys:", "current", "Log origin:  "+marketplace.DefaultLogOrigin)
	code, offline := gh(t, "keys", "show", "--data", data)
	wantExit(t, code, offline, 0)
	if offline != out {
		t.Errorf("keys show --data:\n%s\ndiffers from the server's:\n%s", offline, out)
	}

	work := t.TempDir()
	key := filepath.Join(work, "publisher.key")
	code, out = gh(t, "keys", "generate", "-o", key, "--algorithm", "ecdsa-p256-sha256")
	wantExit(t, code, out, 0, "Key id: ")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	signer, err := trust.LoadSigner(key)
	if err != nil || signer.Algorithm() != trust.ECDSAP256 {
		t.Fatalf("the generated key: %v %v", signer, err)
	}

	var buf bytes.Buffer
	manifest := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"Hello","description":"Says hello.","owners":[{"name":"Acme","email":"dev@acme.example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(manifest)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(work, "hello.gpkg")
	os.WriteFile(pkg, buf.Bytes(), 0o644)

	code, out = as("plugin", "submit", pkg)
	wantExit(t, code, out, 1, "requires a publisher signature")
	code, out = as("namespace", "key", "add", "acme", key+".pub")
	wantExit(t, code, out, 0, "Registered key "+signer.KeyID())
	code, out = gh(t, "plugin", "sign", pkg, "--key", key)
	wantExit(t, code, out, 0, "Wrote "+pkg+".sig")
	code, out = as("plugin", "submit", pkg)
	wantExit(t, code, out, 0, "sub_")
	id := strings.TrimSpace(out)
	code, out = gh(t, "--server", w.url, "namespace", "key", "list", "acme")
	wantExit(t, code, out, 0, "signatures required", signer.KeyID(), "current")

	// Certify it directly (the review workflow has its own tests), then
	// suspend and revoke it as a steward would.
	for _, s := range [][2]lifecycle.State{{lifecycle.Received, lifecycle.Vetting}, {lifecycle.Vetting, lifecycle.Triage}, {lifecycle.Triage, lifecycle.InReview}} {
		if err := m.Store.Transition(ctx, id, s[0], s[1], "test", audit.Event{Actor: "test", Action: audit.SubmissionTransition, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Trust.Certify(ctx, id, "rita", certify.Decision{Granted: []string{"kv:read"}, Tier: "low", Reviewers: []string{"rita"}, Lifetime: 24 * time.Hour, From: lifecycle.InReview}); err != nil {
		t.Fatal(err)
	}
	code, out = as("certificate", "suspend", id, "--reason", "a vulnerable dependency")
	wantExit(t, code, out, 0, "acme/hello@1.0.0 is suspended")
	code, out = as("certificate", "revoke", id)
	wantExit(t, code, out, 1, "needs a reason")
	code, out = as("certificate", "revoke", id, "--reason", "exfiltrates data")
	wantExit(t, code, out, 0, "acme/hello@1.0.0 is revoked")
	if l, err := m.Store.LatestRevocationList(ctx); err != nil || l.Number < 2 {
		t.Errorf("revocation list after the revocation: %+v, %v", l, err)
	}

	code, out = as("namespace", "key", "remove", "acme", signer.KeyID())
	wantExit(t, code, out, 0, "Retired key")
	code, out = as("namespace", "require-signatures", "acme", "off", "--reason", "an internal namespace")
	wantExit(t, code, out, 0, "signatures required off")
	if req, _ := m.Store.SignaturesRequired(ctx, "acme"); req {
		t.Error("the requirement is still on")
	}
	if keys, _ := m.Store.ListPublisherKeys(ctx, "acme"); len(keys) != 1 || keys[0].RetiredAt.IsZero() {
		t.Errorf("keys after removal: %+v", keys)
	}
}
