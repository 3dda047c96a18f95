package install_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// folderFiles are the files of an install folder, for Refresh.
func folderFiles(dir string) install.Files {
	return install.Beside(filepath.Join(dir, "any.gpkg"))
}

func hostCheck() install.Check {
	return install.Check{Policy: verify.Policy{Allow: []string{"*"}}, Now: func() time.Time { return t0.Add(time.Hour) }}
}

// TestRefreshRecordsTheNewestList guards a host that refreshes: the
// marketplace's newer list is recorded and written, the revoked plugin is
// reported as revoked, and the older list, replayed, is refused.
func TestRefreshRecordsTheNewestList(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	a := m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	dir := t.TempDir()
	opts := options(t, m, dir)
	mustInstall(t, "acme/a", opts)
	files := install.Beside(filepath.Join(dir, install.PackageFileName("acme/a", "1.0.0")))
	older, err := os.ReadFile(files.Revocations)
	if err != nil {
		t.Fatal(err)
	}
	m.Revoke(a, "compromised")
	m.Publish(installtest.Plugin{ID: "acme/b", Version: "1.0.0"}) // the log moves on

	res, err := install.Refresh(context.Background(), opts.Source, folderFiles(dir), hostCheck())
	if err != nil {
		t.Fatal(err)
	}
	if res.RevocationList.Number != 2 || !res.Recorded || res.Checkpoint.Size != m.Log.Size() {
		t.Errorf("refreshed list %d, checkpoint %d, recorded %v; want list 2, checkpoint %d, recorded", res.RevocationList.Number, res.Checkpoint.Size, res.Recorded, m.Log.Size())
	}
	if len(res.Plugins) != 1 || !errors.Is(res.Plugins[0].Err, verify.ErrRevoked) {
		t.Fatalf("plugins = %+v, want acme/a revoked", res.Plugins)
	}
	written, err := os.ReadFile(files.Revocations)
	if err != nil || bytes.Equal(written, older) {
		t.Fatalf("the newer list was not written: %v", err)
	}
	// An attacker puts the older list back: it is refused as a replay.
	if err := os.WriteFile(files.Revocations, older, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = install.VerifyFile(context.Background(), files, hostCheck())
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckRevocationList || !errors.Is(err, verify.ErrRevocationRollback) {
		t.Fatalf("err = %v, want the replayed list refused", err)
	}
}

// tamperedList serves the marketplace's list with its number changed
// after signing.
type tamperedList struct{ install.Source }

func (s tamperedList) Revocations(ctx context.Context) ([]byte, error) {
	data, err := s.Source.Revocations(ctx)
	if err != nil {
		return nil, err
	}
	env, err := trust.ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	payload = bytes.Replace(payload, []byte(`"number":2`), []byte(`"number":99`), 1)
	env.Payload = base64.StdEncoding.EncodeToString(payload)
	return trust.MarshalEnvelope(env)
}

// TestRefreshRefusesATamperedList guards the state against a list whose
// signature does not verify: it is refused, neither written nor recorded.
func TestRefreshRefusesATamperedList(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	dir := t.TempDir()
	opts := options(t, m, dir)
	mustInstall(t, "acme/a", opts)
	files := install.Beside(filepath.Join(dir, install.PackageFileName("acme/a", "1.0.0")))
	before, err := os.ReadFile(files.Revocations)
	if err != nil {
		t.Fatal(err)
	}
	m.PublishRevocations()

	_, err = install.Refresh(context.Background(), tamperedList{opts.Source}, folderFiles(dir), hostCheck())
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckRevocationList || !errors.Is(err, trust.ErrBadSignature) {
		t.Fatalf("err = %v, want the tampered list refused for its signature", err)
	}
	if after, _ := os.ReadFile(files.Revocations); !bytes.Equal(after, before) {
		t.Error("the tampered list was written")
	}
	// Had list 99 been recorded, the genuine list 1 would now be refused.
	if _, _, err := install.VerifyFile(context.Background(), files, hostCheck()); err != nil {
		t.Fatalf("after the refused refresh: %v", err)
	}
}

// TestRefreshRefusesASuspendedVersion guards a host that refreshes from
// the marketplace without an environment's status feed: a suspended
// version keeps a certificate that verifies and is on no revocation list,
// so only the marketplace's word that it is suspended stops it.
func TestRefreshRefusesASuspendedVersion(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	a := m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/b", Version: "1.0.0"})
	dir := t.TempDir()
	opts := options(t, m, dir)
	mustInstall(t, "acme/a", opts)
	mustInstall(t, "acme/b", opts)
	m.Suspend(a, "publisher key k1 was reported compromised")

	res, err := install.Refresh(context.Background(), opts.Source, folderFiles(dir), hostCheck())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]error{}
	for _, p := range res.Plugins {
		got[p.ID] = p.Err
	}
	var ve *verify.Error
	if err := got["acme/a"]; !errors.Is(err, verify.ErrSuspended) || !errors.As(err, &ve) || ve.Check != verify.CheckStatus ||
		!strings.Contains(err.Error(), "reported compromised") {
		t.Errorf("acme/a: %v; want it refused as suspended, with the reason", err)
	}
	if err := got["acme/b"]; err != nil {
		t.Errorf("acme/b, still certified: %v", err)
	}
}
