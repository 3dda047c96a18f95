package marketplace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/store"
)

// The vulnerability database is imported into one process (through the
// API, or `gatehouse vulndb import` on a stopped marketplace) but vetted
// against in every worker. So the imported all.zip is also kept in the
// blob store, and an object names it; every process loads it from there
// when it differs from its own, before each vetting run and at start-up.
const (
	// vulnDBObject holds the digest of the shared all.zip.
	vulnDBObject = "vulndb/current"
	// maxVulnDBZip bounds the all.zip kept for sharing (osv.dev's largest
	// ecosystems are a few hundred MB).
	maxVulnDBZip = 4 << 30
	// vulnDBSyncTimeout bounds one look at the shared database.
	vulnDBSyncTimeout = 2 * time.Minute
)

// shareVulnDB keeps the all.zip just imported in the blob store and points
// the other processes at it.
func (m *Marketplace) shareVulnDB(ctx context.Context, zip io.ReaderAt, size int64) error {
	st, err := m.Blobs.Stage(ctx, io.NewSectionReader(zip, 0, size), maxVulnDBZip)
	if err != nil {
		return fmt.Errorf("keeping the vulnerability database for the other processes: %w", err)
	}
	defer st.Abort()
	if err := st.Commit(ctx); err != nil {
		return fmt.Errorf("keeping the vulnerability database for the other processes: %w", err)
	}
	if err := m.Blobs.WriteObject(ctx, vulnDBObject, []byte(st.Digest()+"\n")); err != nil {
		return fmt.Errorf("pointing the other processes at the vulnerability database: %w", err)
	}
	return nil
}

// sharedVulnDB returns the digest of the shared all.zip, or "" when none
// was shared.
func (m *Marketplace) sharedVulnDB(ctx context.Context) (string, error) {
	b, err := m.Blobs.ReadObject(ctx, vulnDBObject)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	digest := strings.TrimSpace(string(b))
	if _, err := store.ParseDigest(digest); err != nil {
		return "", fmt.Errorf("%s: %w", vulnDBObject, err)
	}
	return digest, nil
}

// syncVulnDB loads the shared vulnerability database when it is not the
// one this process has, and reports whether it did.
func (m *Marketplace) syncVulnDB(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, vulnDBSyncTimeout)
	defer cancel()
	digest, err := m.sharedVulnDB(ctx)
	if err != nil || digest == "" {
		return false, err
	}
	if db := m.VulnDB.DB(); db != nil && "sha256:"+db.Version().SHA256 == digest {
		return false, nil
	}
	rc, _, err := m.Blobs.Open(ctx, digest)
	if err != nil {
		return false, fmt.Errorf("opening the shared vulnerability database %s: %w", digest, err)
	}
	vr := store.VerifyingReader(rc, digest)
	defer vr.Close()
	tmp, err := os.CreateTemp("", "gatehouse-vulndb-*.zip")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, vr)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("reading the shared vulnerability database %s: %w", digest, err)
	}
	db, err := m.VulnDB.ImportFile(tmp.Name())
	if err != nil {
		return false, err
	}
	m.cfg.Log.Info("loaded the vulnerability database another process imported", "version", db.Version().String())
	return true, nil
}

// keepVulnDB tells the orphan sweep to keep the shared all.zip, which no
// record names.
func (m *Marketplace) keepVulnDB(ctx context.Context, digest string) (bool, error) {
	shared, err := m.sharedVulnDB(ctx)
	return shared == digest, err
}
