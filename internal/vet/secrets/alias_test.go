package secrets

import (
	"context"
	"testing"
	"unsafe"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
)

// TestKeptSecretsDoNotHoldThePackage: gitleaks is given each file's bytes
// as a string without a copy, so the secrets it returns point into the
// package. A scan is kept in the cache across runs: if a kept secret
// still pointed there, it would keep the package's memory (a block of
// megabytes) alive after the package was vetted.
func TestKeptSecretsDoNotHoldThePackage(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"manifest.json":  []byte(man),
		"config/app.env": []byte("GITHUB_TOKEN=" + fakeToken + "\n"),
		"data/blob.dat":  []byte("\x00\x01aws_access_key_id=" + fakeKey + "\x00\x02"),
	}
	in := &vet.Input{Package: plugintest.Package(t, files)}
	for path := range files {
		data, _ := in.Package.File(path)
		sc, ok := a.scan(context.Background(), in, path, "")
		if !ok {
			t.Fatalf("scanning %s was cut short", path)
		}
		if path != "manifest.json" && len(sc.hits) == 0 {
			t.Errorf("%s: no secret found", path)
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		for _, h := range sc.hits {
			p := uintptr(unsafe.Pointer(unsafe.StringData(h.secret)))
			if p >= start && p < start+uintptr(len(data)) {
				t.Errorf("%s: the secret kept for %s points into the package's bytes", path, h.rule)
			}
		}
	}
}
