package cli

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vaulttest"
	"gatehouse.dev/gatehouse/sandbox"
)

// The Vault here is vaulttest.Server: NOT A REAL VAULT (none installs on
// this machine, docs/decisions.md), a test server implementing the
// documented HTTP API of the calls the provider makes.

const testVaultToken = "hvs.cli-test-root-token"

func vaultMap(t *testing.T, json string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vault.json")
	if err := os.WriteFile(p, []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVaultFlagsServeSecretsFromVault(t *testing.T) {
	fv := vaulttest.New(testVaultToken)
	fv.PutKV("secret", "acme/mailer", map[string]any{"api_key": "kv-value-0123456789"})
	fv.SetAppRole("role-1234", "secret-id-abcdef")
	srv := httptest.NewServer(fv)
	defer srv.Close()
	m := vaultMap(t, `{"API_KEY": {"engine": "kv", "path": "{plugin}", "field": "api_key"},
		"GONE": {"engine": "kv", "path": "nobody/here", "field": "api_key"},
		"DB": {"engine": "dynamic", "path": "database/creds/app", "field": "password"}}`)

	for _, tt := range []struct {
		name string
		env  map[string]string
	}{
		{"token", map[string]string{"VAULT_TOKEN": testVaultToken}},
		{"approle", map[string]string{"VAULT_ROLE_ID": "role-1234", "VAULT_SECRET_ID": "secret-id-abcdef"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &globals{env: Env{Getenv: func(k string) string { return tt.env[k] }}}
			v := vaultFlags{addr: srv.URL, secretsFile: m, approleMount: "approle"}
			p, err := v.provider(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			ref := sandbox.PluginRef{ID: "acme/mailer"}
			sec, err := p.Secret(context.Background(), ref, "API_KEY")
			if err != nil || string(sec.Value) != "kv-value-0123456789" {
				t.Fatalf("API_KEY = %q, %v", sec.Value, err)
			}
			// A missing entry is "not found", and the error names the
			// entry, not any value.
			_, err = p.Secret(context.Background(), ref, "GONE")
			if !errors.Is(err, sandbox.ErrNotFound) || !strings.Contains(err.Error(), "nobody/here") {
				t.Fatalf("GONE: %v", err)
			}
			// A dynamic secret carries a lease the host revokes.
			db, err := p.Secret(context.Background(), ref, "DB")
			if err != nil || db.Lease.ID == "" {
				t.Fatalf("DB: %+v, %v", db.Lease, err)
			}
			before := fv.Revoked()
			if err := p.Revoke(context.Background(), db.Lease); err != nil {
				t.Fatal(err)
			}
			if fv.Revoked() != before+1 || fv.CredentialLive(string(db.Value)) {
				t.Fatal("the lease is still live after Revoke")
			}
		})
	}
}

func TestVaultFlagsRefuseBadSettingsClearly(t *testing.T) {
	fv := vaulttest.New(testVaultToken)
	srv := httptest.NewServer(fv)
	defer srv.Close()
	dead := httptest.NewServer(fv)
	deadURL := dead.URL
	dead.Close() // nothing listens there any more
	good := vaultMap(t, `{"API_KEY": {"engine": "kv", "path": "x", "field": "k"}}`)
	for _, tt := range []struct {
		name, addr, file string
		env              map[string]string
		want             string
	}{
		{"no address", "", good, map[string]string{"VAULT_TOKEN": testVaultToken}, "--vault-addr or $VAULT_ADDR"},
		{"unreachable", deadURL, good, map[string]string{"VAULT_TOKEN": testVaultToken}, "unreachable or refused"},
		{"wrong token", srv.URL, good, map[string]string{"VAULT_TOKEN": "hvs.wrong-token-value"}, "unreachable or refused"},
		{"no credentials", srv.URL, good, nil, "set $VAULT_TOKEN"},
		{"half approle", srv.URL, good, map[string]string{"VAULT_ROLE_ID": "r"}, "both $VAULT_ROLE_ID and $VAULT_SECRET_ID"},
		{"two credentials", srv.URL, good, map[string]string{"VAULT_TOKEN": testVaultToken, "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"}, "set only one"},
		{"map not JSON", srv.URL, vaultMap(t, `API_KEY=x`), map[string]string{"VAULT_TOKEN": testVaultToken}, "not a JSON object"},
		{"empty map", srv.URL, vaultMap(t, `{}`), map[string]string{"VAULT_TOKEN": testVaultToken}, "maps no secret"},
		{"bad name", srv.URL, vaultMap(t, `{"api key": {"engine": "kv", "path": "x", "field": "k"}}`), map[string]string{"VAULT_TOKEN": testVaultToken}, "not valid"},
		{"missing file", srv.URL, filepath.Join(t.TempDir(), "nope.json"), map[string]string{"VAULT_TOKEN": testVaultToken}, "--vault-secrets"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &globals{env: Env{Getenv: func(k string) string { return tt.env[k] }}}
			v := vaultFlags{addr: tt.addr, secretsFile: tt.file, approleMount: "approle"}
			_, err := v.provider(context.Background(), g)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			for _, secret := range []string{testVaultToken, "hvs.wrong-token-value"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a token: %v", err)
				}
			}
		})
	}
}

func TestRunRefusesTwoSecretSources(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "run", "x.gpkg", "--call", "f", "--secrets", t.TempDir(), "--vault-secrets", "v.json")
	if code == 0 || !strings.Contains(stderr, "use one") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}
