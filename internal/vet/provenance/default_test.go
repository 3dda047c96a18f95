package provenance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	prov "gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/provenance"
	"gatehouse.dev/gatehouse/manifest"
)

// TestStandardSet: the provenance analyzer is part of the standard set,
// and a package carrying its source and a trusted builder's attestation
// passes every analyzer and earns both checks.
func TestStandardSet(t *testing.T) {
	files := provenance.CounterFiles(t)
	const builder = "https://builders.example.com/go@v1"
	sum := strings.TrimPrefix(prov.Digest(files["plugin.wasm"]), "sha256:")
	files[prov.Path] = fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"plugin.wasm","digest":{"sha256":%q}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://builders.example.com/go/v1","externalParameters":{"source":"git+https://example.com/acme/counter"}},"runDetails":{"builder":{"id":%q}}}}`, sum, builder)
	as := analyzers.Default(analyzers.DefaultOptions{Provenance: provenance.Options{Policy: prov.Policy{Builders: []prov.Builder{{ID: builder}}}}})
	in, err := analyzers.LoadInput(plugintest.Package(t, files), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	results := vet.Run(context.Background(), as, in, vet.Config{}, nil)
	if blocked, reasons := vet.Summary(results); blocked {
		t.Fatalf("blocked: %q", reasons)
	}
	var found bool
	for _, r := range results {
		if r.Analyzer != provenance.Name {
			continue
		}
		found = true
		d, err := prov.ParseDetail(r.Detail)
		if err != nil {
			t.Fatal(err)
		}
		if c := d.Checks(); len(c) != 2 {
			t.Errorf("checks %q; want provenance and reproducible (%+v)", c, d)
		}
	}
	if !found {
		t.Fatal("the standard set has no provenance analyzer")
	}
}
