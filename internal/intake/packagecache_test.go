package intake_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
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
	intakeSvc, st, blobs := newService(t)
	register(t, st, "cache", publisherKey)
	ctx := context.Background()
	var digests []string
	for _, v := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		ver, _, err := submit(t, intakeSvc, makePackage(t, "cache/p", v, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, ver.Digest)
	}
	// The packages are loaded by a worker process that did not take the
	// submissions (the one that did keeps what it recorded:
	// TestSubmissionKeepsItsPackage).
	svc := intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil)
	counted := &countingBlobs{Blobs: blobs}
	svc.Blobs = counted
	svc.PackageCacheBytes = 5 << 20 / 2 // two of the packages below, not three
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

// TestSubmissionKeepsItsPackage: the package a submission read and checked
// is kept once its blob and record are stored, so vetting it in the same
// process reads nothing from the blob store; what vetting gets is what
// reading the stored blob gives (digest, files, bytes). A refused
// submission keeps nothing: its digest is not served.
func TestSubmissionKeepsItsPackage(t *testing.T) {
	svc, st, blobs := newService(t)
	counted := &countingBlobs{Blobs: blobs}
	svc.Blobs = counted
	register(t, st, "kept", publisherKey)
	ctx := context.Background()

	v, created, err := submit(t, svc, makePackage(t, "kept/p", "1.0.0", 1<<20))
	if err != nil || !created {
		t.Fatalf("submitting: created=%v, %v", created, err)
	}
	if err := newPipeline(svc, st).RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetVersion(ctx, v.ID); got.State != lifecycle.InReview {
		t.Fatalf("the version is %s after vetting, want in_review", got.State)
	}
	if n := counted.opens.Load(); n != 0 {
		t.Errorf("vetting the version just submitted read its package from the blob store %d time(s), want 0", n)
	}

	kept, err := svc.LoadPackage(ctx, v.Digest)
	if err != nil {
		t.Fatal(err)
	}
	fresh := intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil)
	stored, err := fresh.LoadPackage(ctx, v.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Digest != stored.Digest || kept.Size != stored.Size || !slices.Equal(kept.Files, stored.Files) {
		t.Fatalf("the kept package (%s, %d bytes, %d files) differs from the stored one (%s, %d bytes, %d files)",
			kept.Digest, kept.Size, len(kept.Files), stored.Digest, stored.Size, len(stored.Files))
	}
	for _, f := range stored.Files {
		a, _ := kept.File(f.Path)
		b, _ := stored.File(f.Path)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the kept bytes differ from the stored ones", f.Path)
		}
	}
	if !bytes.Equal(kept.Manifest(), stored.Manifest()) {
		t.Error("the kept manifest differs from the stored one")
	}

	// Refused: unsigned, in a namespace that requires signatures.
	refused := makePackage(t, "kept/p", "1.0.1", 1<<20)
	if _, _, err := svc.Submit(ctx, publisher, bytes.NewReader(refused)); err == nil {
		t.Fatal("an unsigned package was accepted")
	}
	p, err := pkgfile.Read(bytes.NewReader(refused), pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.LoadPackage(ctx, p.Digest); err == nil {
		t.Error("the package of a refused submission was served")
	}
}
