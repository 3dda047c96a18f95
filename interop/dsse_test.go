package interop

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// documentedKeyID is the key id scheme the trust root and the docs
// describe: the lowercase hex of the first 16 bytes of the SHA-256 of the
// key's PKIX (DER) encoding, computed here from the PEM alone.
func documentedKeyID(t *testing.T, pemText string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		t.Fatalf("not a PEM key: %q", pemText)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Fatalf("not a PKIX public key: %v", err)
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:16])
}

// TestGoSecuresystemslibVerifiesCertificate checks a served certificate
// with go-securesystemslib's DSSE verifier and its default key loading
// (signerverifier.LoadKey on the trust root's PEM): with the key id
// securesystemslib derives itself it finds no signature it may check;
// with the trust root's id, which is the documented scheme recomputed
// here from the key, it accepts exactly the marketplace's signature.
func TestGoSecuresystemslibVerifiesCertificate(t *testing.T) {
	w := getWorld(t)
	ctx := context.Background()
	tr := w.trustRoot(t)
	if len(tr.MarketplaceKeys.Keys) == 0 {
		t.Fatal("the trust root lists no marketplace keys")
	}
	if tr.KeyIDScheme == "" {
		t.Error("the trust root does not say how its key ids are made (keyIdScheme)")
	}
	var env dsse.Envelope
	if err := json.Unmarshal(w.bundle(t).Certificate, &env); err != nil {
		t.Fatal(err)
	}
	verifiers := func(useTrustRootIDs bool) []dsse.Verifier {
		var vs []dsse.Verifier
		for _, k := range tr.MarketplaceKeys.Keys {
			key, err := signerverifier.LoadKey([]byte(k.PublicKey))
			if err != nil {
				t.Fatalf("go-securesystemslib cannot load the marketplace key %s: %v", k.ID, err)
			}
			if useTrustRootIDs {
				if want := documentedKeyID(t, k.PublicKey); k.ID != want {
					t.Fatalf("the trust root lists key %s; the documented scheme gives %s", k.ID, want)
				}
				key.KeyID = k.ID
			}
			var v dsse.Verifier
			switch key.KeyType {
			case signerverifier.ED25519KeyType:
				v, err = signerverifier.NewED25519SignerVerifierFromSSLibKey(key)
			case signerverifier.ECDSAKeyType:
				v, err = signerverifier.NewECDSASignerVerifierFromSSLibKey(key)
			default:
				t.Fatalf("unexpected key type %q", key.KeyType)
			}
			if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		return vs
	}

	ev, err := dsse.NewEnvelopeVerifier(verifiers(false)...)
	if err != nil {
		t.Fatal(err)
	}
	if accepted, err := ev.Verify(ctx, &env); err == nil {
		t.Fatalf("with securesystemslib's own key ids, %d signatures verified; the docs say none do", len(accepted))
	}
	ev, err = dsse.NewEnvelopeVerifier(verifiers(true)...)
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ev.Verify(ctx, &env)
	if err != nil {
		t.Fatalf("with the trust root's key ids: %v", err)
	}
	if len(accepted) != 1 || accepted[0].KeyID != env.Signatures[0].KeyID {
		t.Fatalf("accepted %+v; want the envelope's one signature (%s)", accepted, env.Signatures[0].KeyID)
	}

	// A changed payload is refused.
	bad := env
	bad.Payload = strings.Replace(env.Payload, env.Payload[:4], "AAAA", 1)
	if bad.Payload != env.Payload {
		if _, err := ev.Verify(ctx, &bad); err == nil {
			t.Error("go-securesystemslib verified a changed payload")
		}
	}
}

// TestPythonSecuresystemslibVerifiesCertificate runs the Python example of
// the docs (python/verify_certificate.py, Python's securesystemslib) on
// the served trust root and a served certificate, and on one with a byte
// of its payload changed, which it must refuse.
func TestPythonSecuresystemslibVerifiesCertificate(t *testing.T) {
	python := tool(t, "GATEHOUSE_INTEROP_PYTHON", "a certificate with Python's securesystemslib")
	w := getWorld(t)
	dir := t.TempDir()
	root, err := gatehouse{env: map[string]string{"GATEHOUSE_SERVER": w.base}}.get("/.well-known/gatehouse/trust-root.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "trust-root.json"), root, 0o644)
	cert := w.bundle(t).Certificate
	os.WriteFile(filepath.Join(dir, "certificate.json"), cert, 0o644)

	out, err := exec.Command(python, "python/verify_certificate.py", filepath.Join(dir, "trust-root.json"), filepath.Join(dir, "certificate.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("the Python example failed (%v):\n%s", err, out)
	}
	for _, want := range []string{"with securesystemslib's own key ids: 0", "with the trust root's key ids: 1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the Python example does not say %q:\n%s", want, out)
		}
	}

	var env map[string]any
	json.Unmarshal(cert, &env)
	p := env["payload"].(string)
	if p[0] == 'e' {
		env["payload"] = "f" + p[1:]
	} else {
		env["payload"] = "e" + p[1:]
	}
	bad, _ := json.Marshal(env)
	os.WriteFile(filepath.Join(dir, "changed.json"), bad, 0o644)
	out, err = exec.Command(python, "python/verify_certificate.py", filepath.Join(dir, "trust-root.json"), filepath.Join(dir, "changed.json")).CombinedOutput()
	if err == nil {
		t.Errorf("the Python example verified a changed certificate:\n%s", out)
	}
}
