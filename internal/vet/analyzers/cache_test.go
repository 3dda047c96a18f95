package analyzers

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// secretsResult is the secrets analyzer's result on pkg through the
// runner, as stored: findings, status and detail (not its timing).
func secretsResult(t *testing.T, c *Caches, pkg *pkgfile.Package) string {
	t.Helper()
	in, err := LoadInput(pkg, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sec vet.Analyzer
	for _, a := range Default(DefaultOptions{Caches: c, Behaviour: broken{name: "behaviour"}}) {
		if a.Name() == secrets.Name {
			sec = a
		}
	}
	res := vet.Run(context.Background(), []vet.Analyzer{sec}, in, vet.Config{}, nil)
	if len(res) != 1 || res[0].Status == vet.Errored {
		t.Fatalf("secrets result: %+v", res)
	}
	js, err := json.Marshal(struct {
		Status   vet.Status
		Findings []vet.Finding
		Detail   json.RawMessage
	}{res[0].Status, res[0].Findings, res[0].Detail})
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// TestSecretsCacheKeepsFindings: on the marketplace's example plugins and
// the test plugin that ships a secret, the secrets result is the same
// without a cache, with a cold one and with a warm one, and the warm run
// scans no file.
func TestSecretsCacheKeepsFindings(t *testing.T) {
	pkgs := map[string]*pkgfile.Package{}
	for name, p := range examplePackages(t) {
		pkgs[name] = p
	}
	pkgs["secret"], _ = pluginPackage(t, "secret", "secret")
	c := NewCaches(resultcache.Limits{})
	for name, pkg := range pkgs {
		want := secretsResult(t, nil, pkg)
		cold := secretsResult(t, c, pkg)
		before := c.Secrets.Stats()
		warm := secretsResult(t, c, pkg)
		hits := c.Secrets.Stats().Hits - before.Hits
		if cold != want || warm != want {
			t.Errorf("%s: the cache changed the result:\nwithout %s\n   cold %s\n   warm %s", name, want, cold, warm)
		}
		if hits != int64(len(pkg.Files)) {
			t.Errorf("%s: the warm run hit %d of %d files", name, hits, len(pkg.Files))
		}
	}
}

// TestSlowAnalyzersGiveEstimates: the runner starts the longest path
// first only if the slow analyzers say they are slow.
func TestSlowAnalyzersGiveEstimates(t *testing.T) {
	for _, a := range Default(DefaultOptions{Behaviour: NewBehaviour()}) {
		switch a.Name() {
		case "source", "provenance", "behaviour", secrets.Name:
			e, ok := a.(vet.Estimator)
			if !ok || e.ExpectedDuration() < 100*time.Millisecond {
				t.Errorf("%s gives no estimate of its duration, so it may start behind quick analyzers", a.Name())
			}
		}
	}
}
