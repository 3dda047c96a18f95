package intake_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse.dev/gatehouse/internal/store"
)

// countingBlobs counts the packages read from the blob store.
type countingBlobs struct {
	store.Blobs
	opens atomic.Int64
}

func (c *countingBlobs) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	c.opens.Add(1)
	return c.Blobs.Open(ctx, digest)
}

// TestLoadPackageKeepsRecentPackages: the steps of one version (vetting,
// triage, the certificate's SBOMs) and its update's vetting read a package
// from the blob store once; the cache stays within its bound, dropping the
// least recently used; and what it keeps are the bytes checked when they
// were read, while a package read again after it was dropped is checked
// again, so a blob changed at rest is refused.
func TestLoadPackageKeepsRecentPackages(t *testing.T) {
	svc, st, blobs := newService(t)
	counted := &countingBlobs{Blobs: svc.Blobs}
	svc.Blobs = counted
	svc.PackageCacheBytes = 5 << 20 / 2 // two of the packages below, not three
	register(t, st, "cache", publisherKey)
	ctx := context.Background()
	var digests []string
	for _, v := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		ver, _, err := submit(t, svc, makePackage(t, "cache/p", v, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, ver.Digest)
	}
	load := func(i int) {
		t.Helper()
		pkg, err := svc.LoadPackage(ctx, digests[i])
		if err != nil {
			t.Fatalf("loading package %d: %v", i, err)
		}
		if pkg.Digest != digests[i] {
			t.Fatalf("loading package %d gave %s", i, pkg.Digest)
		}
	}
	steps := []struct {
		load      int
		wantOpens int64
	}{
		{0, 1}, // vetting reads it
		{0, 1}, // triage and certification do not
		{0, 1},
		{1, 2}, // the update
		{0, 2}, // its previous version, still kept
		{2, 3}, // a third: the least recently used (1) goes
		{0, 3},
		{1, 4}, // read again
	}
	for i, s := range steps {
		load(s.load)
		if got := counted.opens.Load(); got != s.wantOpens {
			t.Fatalf("step %d (package %d): %d reads from the blob store, want %d", i, s.load, got, s.wantOpens)
		}
	}

	// Package 0 is kept (read at step 6, before 1); change its blob at
	// rest. The kept, checked bytes are served; once dropped, the
	// changed blob is read again and refused.
	var path string
	filepath.WalkDir(blobs.String(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(digests[0], filepath.Base(filepath.Dir(p))+d.Name()) {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Fatal("the blob of package 0 is not on disk")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	opens := counted.opens.Load()
	load(0)
	if counted.opens.Load() != opens {
		t.Fatal("a kept package was read from the blob store again")
	}
	load(1)
	load(2) // drops 0
	if _, err := svc.LoadPackage(ctx, digests[0]); err == nil {
		t.Fatal("a package changed at rest was served after it left the cache")
	}
}
