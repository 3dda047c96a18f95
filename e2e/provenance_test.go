package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/trust"
)

// TestPolicyRequiresProvenance is issue 19 item 5's proof, through the
// real CLI and marketplace: a Rego policy that requires SLSA provenance of
// namespace payments is applied to a marketplace that trusts one builder
// (its key in the provenance policy). A version without provenance is
// not certified, with a reason naming provenance; the next, carrying the
// builder's signed attestation of its module, is.
func TestPolicyRequiresProvenance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly plugin and runs the whole marketplace")
	}
	ctx := context.Background()
	const builderID = "https://ci.payments.example.com/slsa-builder@v1"
	builder, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := trust.NewKeyring(trust.Key{PublicKey: builder.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	c := startCast(t, func(cfg *marketplace.Config) {
		cfg.Provenance = provenance.Policy{Builders: []provenance.Builder{{ID: builderID, Keyring: ring}}}
	})
	work := t.TempDir()

	// The policy: the default, with provenance required of payments.
	pol := filepath.Join(work, "policy")
	copyDir(t, filepath.Join("..", "internal", "policy", "default"), pol)
	cfgFile := filepath.Join(pol, "config.rego")
	src, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	required := regexp.MustCompile(`(?m)^provenance_required := .*$`)
	if !required.Match(src) {
		t.Fatal("the default policy has no provenance_required line to change")
	}
	src = required.ReplaceAll(src, []byte(`provenance_required := {"tiers": set(), "namespaces": {"payments"}, "reproducible": false, "source_repository_prefixes": set()}`))
	os.WriteFile(cfgFile, src, 0o644)
	if out := c.admin.must("policy", "apply", pol); !strings.Contains(out, "Applied sha256:") {
		t.Fatalf("policy apply:\n%s", out)
	}

	publisher := c.admin.with("GATEHOUSE_TOKEN", c.token("publisher", "dev@payments.example.com", "--namespace", "payments"))
	key := filepath.Join(work, "payments.key")
	publisher.must("keys", "generate", "-o", key)
	publisher.must("namespace", "key", "add", "payments", key+".pub")

	dir := filepath.Join(work, "counter")
	copyDir(t, filepath.Join("..", "examples", "plugins", "counter"), dir)
	setManifest(t, dir, "payments/counter", "1.0.0")
	if _, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
		t.Fatal(err)
	}
	submit := func(version string) (string, string) {
		setManifest(t, dir, "payments/counter", version)
		pkg := filepath.Join(work, "counter-"+version+".gpkg")
		publisher.must("plugin", "pack", dir, "-o", pkg)
		publisher.must("plugin", "sign", pkg, "--key", key)
		id := subID.FindString(publisher.must("plugin", "submit", pkg))
		if id == "" {
			t.Fatal("submit printed no submission id")
		}
		return id, publisher.must("plugin", "status", id, "--wait", "--timeout", "8m")
	}

	// Without provenance: not certified, and the reason names it.
	id, status := submit("1.0.0")
	if strings.Contains(status, "in_review") {
		c.reviewer.must("review", "approve", id, "-m", "e2e")
		status = publisher.must("plugin", "status", id)
	}
	if strings.Contains(status, "State:     certified") || !strings.Contains(status, "provenance") {
		t.Fatalf("a version without provenance in payments:\n%s", status)
	}
	if !strings.Contains(status, "requires SLSA provenance") {
		t.Fatalf("the reason does not say provenance is required:\n%s", status)
	}

	// With the builder's signed attestation of the module: certified.
	mod, err := os.ReadFile(filepath.Join(dir, "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mod)
	statement := fmt.Appendf(nil, `{
  "_type": "https://in-toto.io/Statement/v1",
  "subject": [{"name": "plugin.wasm", "digest": {"sha256": %q}}],
  "predicateType": "https://slsa.dev/provenance/v1",
  "predicate": {
    "buildDefinition": {
      "buildType": "https://ci.payments.example.com/buildtypes/go-wasip1/v1",
      "externalParameters": {"repository": "https://git.payments.example.com/counter", "ref": "refs/tags/v1.0.1"}
    },
    "runDetails": {"builder": {"id": %q}}
  }
}`, hex.EncodeToString(sum[:]), builderID)
	env, err := trust.SignEnvelope(ctx, builder, trust.PayloadTypeInToto, statement)
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.MarshalEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "attestations"), 0o755)
	os.WriteFile(filepath.Join(dir, filepath.FromSlash(provenance.Path)), b, 0o644)
	id, status = submit("1.0.1")
	if strings.Contains(status, "provenance-required") || strings.Contains(status, "requires SLSA provenance") {
		t.Fatalf("a version with verified provenance is still held to it:\n%s", status)
	}
	if strings.Contains(status, "in_review") {
		c.reviewer.must("review", "approve", id, "-m", "e2e")
		if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
			c.reviewer2.must("review", "approve", id)
		}
	}
	if s := publisher.must("plugin", "status", id); !strings.Contains(s, "State:     certified") {
		t.Fatalf("the version with provenance is not certified:\n%s", s)
	}
}

// setManifest sets the plugin id and version of the manifest in dir.
func setManifest(t *testing.T, dir, id, version string) {
	t.Helper()
	p := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`"id": "[^"]*"`).ReplaceAll(b, []byte(`"id": "`+id+`"`))
	b = regexp.MustCompile(`"version": "[^"]*"`).ReplaceAll(b, []byte(`"version": "`+version+`"`))
	os.WriteFile(p, b, 0o644)
}
