package marketplace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/web"
)

// TestReadableSecretsRefuseToStart guards the data folder's secrets: a
// signing key, the webhook or session key, or the admin token that other
// users can read stops the server from starting, naming the file, its mode
// and the chmod that fixes it.
func TestReadableSecretsRefuseToStart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	data := t.TempDir()
	m := open(t, data, "")
	if _, err := m.EnsureAdminToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	for _, name := range []string{
		marketplace.AdminTokenFile, marketplace.WebhookKeyFile, web.KeyFile,
		filepath.Join(marketplace.KeysDir, marketplace.MarketplaceKeyFile),
		filepath.Join(marketplace.KeysDir, marketplace.LogKeyFile),
	} {
		for _, mode := range []os.FileMode{0o640, 0o604} {
			t.Run(fmt.Sprintf("%s %04o", name, mode), func(t *testing.T) {
				path := filepath.Join(data, name)
				if _, err := os.Stat(path); err != nil {
					t.Fatalf("%s was not created: %v", name, err)
				}
				if err := os.Chmod(path, mode); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(path, 0o600)
				m, err := marketplace.Open(context.Background(), marketplace.Config{Data: data})
				if err == nil {
					m.Close()
					t.Fatalf("started with %s at mode %04o", name, mode)
				}
				for _, want := range []string{path, fmt.Sprintf("mode %04o", mode), "chmod 600 " + path} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("err = %v, want it to say %q", err, want)
					}
				}
			})
		}
	}
	// Fixed, it starts.
	open(t, data, "").Close()
}
