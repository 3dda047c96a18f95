package marketplace

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	vethunt "gatehouse.dev/gatehouse/internal/vet/hunt"
)

// TestNotifyWiring: the hunt analyzer is part of the marketplace's
// vetting, and the webhook sealing key is made once, private, and kept
// across restarts (a new key would orphan every subscription's secret).
func TestNotifyWiring(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m, err := Open(ctx, Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range m.Intake.Analyzers() {
		names = append(names, a.Name())
	}
	found := false
	for _, n := range names {
		found = found || n == vethunt.Name
	}
	if !found {
		t.Fatalf("the marketplace's analyzers %v do not include %s", names, vethunt.Name)
	}
	if m.Webhooks == nil || m.Incidents == nil {
		t.Fatal("webhooks or incidents are not set up")
	}
	keyPath := filepath.Join(data, WebhookKeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", keyPath, fi.Mode().Perm())
	}
	key, _ := os.ReadFile(keyPath)
	m.Close()

	m, err = Open(ctx, Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	again, _ := os.ReadFile(keyPath)
	if !bytes.Equal(key, again) {
		t.Fatal("the webhook sealing key changed across a restart")
	}
}
