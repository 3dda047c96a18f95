package blobfs

import (
	"os"
	"path/filepath"
	"testing"

	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
)

// TestConformance runs the blob-store conformance suite on a folder.
func TestConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		New: func(t *testing.T) store.BlobStore {
			f, err := New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return f
		},
		StageDir: func(s store.BlobStore) string { return filepath.Join(s.(*FS).dir, "tmp") },
		Corrupt: func(t *testing.T, s store.BlobStore, digest string, data []byte) {
			h, err := store.ParseDigest(digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.(*FS).path(h), data, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
}
