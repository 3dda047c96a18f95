package marketplace_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

func open(t *testing.T, data, alg string) *marketplace.Marketplace {
	t.Helper()
	m, err := marketplace.Open(context.Background(), marketplace.Config{Data: data, KeyAlgorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestKeysOnFirstStartAndRotation(t *testing.T) {
	data := t.TempDir()
	m := open(t, data, string(trust.ECDSAP256))
	keys := filepath.Join(data, marketplace.KeysDir)
	if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("keys folder: %v %v, want mode 0700", fi, err)
	}
	for _, f := range []string{marketplace.MarketplaceKeyFile, marketplace.LogKeyFile} {
		if fi, err := os.Stat(filepath.Join(keys, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi, err)
		}
	}
	served, _ := json.Marshal(m.Trust.TrustRoot())
	root, err := verify.ParseTrustRoot(served)
	if err != nil {
		t.Fatal(err)
	}
	first := root.MarketplaceKeys.Keys()
	if len(first) != 1 || first[0].Algorithm != trust.ECDSAP256 {
		t.Fatalf("marketplace keys = %+v, want one ECDSA P-256 key (selected at first start)", first)
	}
	// The trust root read offline is the one the server serves.
	offline, err := marketplace.ReadTrustRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(offline); string(b) != string(served) {
		t.Errorf("offline trust root\n%s\ndiffers from the served one\n%s", b, served)
	}
	// Rotation needs the server stopped.
	if _, _, err := marketplace.RotateMarketplaceKey(data, "", time.Now()); err == nil {
		t.Error("the key was rotated while the server holds the log")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	oldID, newID, err := marketplace.RotateMarketplaceKey(data, trust.Ed25519, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if oldID != first[0].ID || newID == oldID {
		t.Errorf("rotated %s → %s; the old key was %s", oldID, newID, first[0].ID)
	}
	// Restarted, it signs with the new key; the old one stays in the
	// trust root, retired, so what it signed keeps verifying.
	m = open(t, data, "")
	defer m.Close()
	served, _ = json.Marshal(m.Trust.TrustRoot())
	if root, err = verify.ParseTrustRoot(served); err != nil {
		t.Fatal(err)
	}
	old, ok := root.MarketplaceKeys.Lookup(oldID)
	if !ok || old.NotAfter.IsZero() || old.ActiveAt(time.Now().Add(time.Second)) {
		t.Errorf("the old key after rotation = %+v, %v; want it kept and retired", old, ok)
	}
	if k, ok := root.MarketplaceKeys.Lookup(newID); !ok || !k.ActiveAt(time.Now().Add(time.Second)) || k.Algorithm != trust.Ed25519 {
		t.Errorf("the new key = %+v, %v; want it current", k, ok)
	}
}
