package marketplace_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
)

// TestVulnDBIsShared: a vulnerability database imported into one process
// is the one every other process of the marketplace vets against (each
// has its own data folder), and the orphan sweep keeps its all.zip, which
// no version names.
func TestVulnDBIsShared(t *testing.T) {
	ctx := context.Background()
	db := pgtest.URL(t)
	blobs := "file://" + t.TempDir()
	api, worker := t.TempDir(), t.TempDir()
	a, err := marketplace.Open(ctx, marketplace.Config{Role: marketplace.RoleAPI, Data: api, DatabaseURL: db, BlobsURL: blobs})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	imported, _, err := a.ImportVulnDB(ctx, "../../testdata/osv/go-subset.zip", "steward")
	if err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(api, marketplace.KeysDir), filepath.Join(worker, marketplace.KeysDir))
	w, err := marketplace.Open(ctx, marketplace.Config{Role: marketplace.RoleWorker, Data: worker, DatabaseURL: db, BlobsURL: blobs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got := w.VulnDB.DB()
	if got == nil || got.Version() != imported.Version() {
		t.Fatalf("the worker vets against %v, want the database the API imported (%v)", got, imported.Version())
	}
	if n, err := w.Intake.Sweep(ctx, 0); err != nil || n != 0 {
		t.Fatalf("the sweep removed %d blobs (%v); the shared all.zip must stay", n, err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
