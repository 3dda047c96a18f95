package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/sandbox/vaultsecrets"
)

// vaultFlags configure secrets from HashiCorp Vault for a host command.
// The credentials come only from the environment (VAULT_TOKEN, or
// VAULT_ROLE_ID and VAULT_SECRET_ID), never from flags: a flag's value
// shows in ps, shell history and CI logs.
type vaultFlags struct {
	addr, secretsFile, approleMount string
}

// maxVaultMapBytes bounds the secrets map file: 1024 sources of a few
// hundred bytes each.
const maxVaultMapBytes = 1 << 20

func (v *vaultFlags) register(g *globals, c *cobra.Command) {
	f := c.Flags()
	g.envString(f, &v.addr, "vault-addr", "VAULT_ADDR", "", "Vault's address, e.g. https://vault.internal:8200; with --vault-secrets, plugins' secrets come from Vault")
	f.StringVar(&v.secretsFile, "vault-secrets", "", `FILE: JSON mapping each secret name to its Vault source, e.g. {"API_KEY": {"engine": "kv", "mount": "secret", "path": "{plugin}", "field": "api_key"}}; the token comes from $VAULT_TOKEN, or AppRole from $VAULT_ROLE_ID and $VAULT_SECRET_ID`)
	f.StringVar(&v.approleMount, "vault-approle-mount", "approle", "the AppRole auth mount, for $VAULT_ROLE_ID and $VAULT_SECRET_ID")
}

// enabled reports whether the command was asked to use Vault.
func (v *vaultFlags) enabled() bool { return v.secretsFile != "" }

// provider builds the Vault provider and checks that Vault answers and
// accepts the credentials, so that a host fails at start, not at a
// plugin's first secret_get. Errors name the setting to fix and never
// carry a token, a secret id or a secret's value.
func (v *vaultFlags) provider(ctx context.Context, g *globals) (*vaultsecrets.Provider, error) {
	if v.addr == "" {
		return nil, errors.New("--vault-secrets needs Vault's address: set --vault-addr or $VAULT_ADDR")
	}
	srcs, err := readVaultSecrets(v.secretsFile)
	if err != nil {
		return nil, err
	}
	cfg := vaultsecrets.Config{Address: v.addr, Secrets: srcs, Token: g.env.Getenv("VAULT_TOKEN")}
	role, sid := g.env.Getenv("VAULT_ROLE_ID"), g.env.Getenv("VAULT_SECRET_ID")
	switch {
	case cfg.Token != "" && (role != "" || sid != ""):
		return nil, errors.New("vault: both $VAULT_TOKEN and $VAULT_ROLE_ID/$VAULT_SECRET_ID are set: set only one way to sign in")
	case cfg.Token == "" && (role == "" || sid == ""):
		return nil, errors.New("vault: no credentials: set $VAULT_TOKEN, or both $VAULT_ROLE_ID and $VAULT_SECRET_ID for AppRole")
	case cfg.Token == "":
		cfg.AppRole = &vaultsecrets.AppRole{Mount: v.approleMount, RoleID: role, SecretID: sid}
	}
	p, err := vaultsecrets.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Check(ctx); err != nil {
		return nil, fmt.Errorf("Vault at %s is unreachable or refused the credentials (check --vault-addr and $VAULT_TOKEN or the AppRole ids): %w", v.addr, err)
	}
	return p, nil
}

func readVaultSecrets(path string) (map[string]vaultsecrets.Source, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--vault-secrets: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxVaultMapBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--vault-secrets: reading %s: %w", path, err)
	}
	if len(b) > maxVaultMapBytes {
		return nil, fmt.Errorf("--vault-secrets: %s is larger than %d bytes", path, maxVaultMapBytes)
	}
	var srcs map[string]vaultsecrets.Source
	if err := json.Unmarshal(b, &srcs); err != nil {
		return nil, fmt.Errorf("--vault-secrets: %s is not a JSON object of secret name to source (engine, mount, path, field): %w", path, err)
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("--vault-secrets: %s maps no secret", path)
	}
	return srcs, nil
}
