// Package vaultsecrets is a sandbox.Secrets provider backed by HashiCorp
// Vault (or a server with Vault's HTTP API), through Vault's official Go
// client. A plugin's secret name maps to a KV version 2 entry (a static
// secret, read afresh for every lease) or to a dynamic secrets engine's
// path (database/creds/app, aws/creds/deploy, ...) whose every read issues
// new credentials under a lease. The provider also implements
// sandbox.Leases, so the sandbox renews the leases it still needs and
// revokes the rest when the call or plugin they were granted for ends.
//
// It authenticates with a token or by AppRole login, logging in again
// when the login's own lease runs out or Vault refuses the token.
//
// No secret value is ever logged or put in an error: errors name the
// secret, the path and Vault's status, nothing read from a secret's data.
package vaultsecrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"

	"gatehouse.dev/gatehouse/sandbox"
)

// Engines a Source reads from.
const (
	// EngineKV is a KV version 2 mount: a static secret, no lease.
	EngineKV = "kv"
	// EngineDynamic is any path whose read issues a lease.
	EngineDynamic = "dynamic"
)

// Source says where one secret name comes from.
type Source struct {
	// Engine is EngineKV or EngineDynamic.
	Engine string `json:"engine"`
	// Mount is the KV v2 mount (default "secret"); unused for dynamic.
	Mount string `json:"mount,omitempty"`
	// Path is the entry under the KV mount, or the full path of the
	// dynamic engine's read (database/creds/app). "{plugin}" in it is
	// replaced by the calling plugin's id (namespace/name), so Vault's
	// policies can give each plugin its own entries.
	Path string `json:"path"`
	// Field is the field of the data the plugin receives. Required for
	// KV; for a dynamic secret, empty gives the whole data as JSON (a
	// username and password together).
	Field string `json:"field,omitempty"`
}

// AppRole is AppRole login's credentials.
type AppRole struct {
	// Mount is the AppRole auth mount (default "approle").
	Mount    string `json:"mount,omitempty"`
	RoleID   string `json:"roleId"`
	SecretID string `json:"-"` // never written back out
}

// Config configures a Provider.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.internal:8200.
	Address string
	// Token authenticates with a token; exactly one of Token and AppRole.
	Token string
	// AppRole authenticates by AppRole login.
	AppRole *AppRole
	// Secrets maps each secret name a plugin may be granted to its source.
	Secrets map[string]Source
	// HTTPClient carries the TLS settings (a private CA, a client
	// certificate); default Vault's client's own.
	HTTPClient *http.Client
	// Timeout bounds each request to Vault (default 10s).
	Timeout time.Duration
	// Now is the clock leases are dated by (default time.Now).
	Now func() time.Time
}

// Provider serves secrets from Vault. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	client *vault.Client

	mu           sync.Mutex
	tokenExpires time.Time // of an AppRole login's token; zero: not logged in
}

// Limits on what the provider accepts from Vault and its configuration.
const (
	maxSecretBytes = 64 << 10
	maxSources     = 1024
	// MaxTTL bounds the lease the provider reports, whatever Vault says,
	// so that a misconfigured engine cannot hand a plugin a secret for a
	// year.
	MaxTTL = 24 * time.Hour
)

var (
	nameRE  = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
	pathRE  = regexp.MustCompile(`^[A-Za-z0-9_.{}/-]{1,512}$`)
	mountRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
)

// New checks cfg and returns a Provider. It does not contact Vault; call
// Check for that.
func New(cfg Config) (*Provider, error) {
	if cfg.Address == "" {
		return nil, errors.New("vault: no address: set the address of the Vault server, e.g. https://vault.internal:8200")
	}
	if (cfg.Token == "") == (cfg.AppRole == nil) {
		return nil, errors.New("vault: set exactly one of a token and AppRole credentials")
	}
	if a := cfg.AppRole; a != nil {
		if a.RoleID == "" || a.SecretID == "" {
			return nil, errors.New("vault: AppRole login needs both a role id and a secret id")
		}
		if a.Mount == "" {
			a2 := *a
			a2.Mount = "approle"
			cfg.AppRole = &a2
		}
		if !mountRE.MatchString(cfg.AppRole.Mount) {
			return nil, fmt.Errorf("vault: AppRole mount %q is not a valid mount name", cfg.AppRole.Mount)
		}
	}
	if len(cfg.Secrets) > maxSources {
		return nil, fmt.Errorf("vault: %d secrets configured, more than the limit of %d", len(cfg.Secrets), maxSources)
	}
	srcs := make(map[string]Source, len(cfg.Secrets))
	for name, s := range cfg.Secrets {
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("vault: secret name %q is not valid: use the manifest's form, A-Z, 0-9 and _, starting with a letter", name)
		}
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("vault: secret %s: %w", name, err)
		}
		if s.Engine == EngineKV && s.Mount == "" {
			s.Mount = "secret"
		}
		srcs[name] = s
	}
	cfg.Secrets = srcs
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	vc := vault.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault: client configuration: %w", vc.Error)
	}
	vc.Address = cfg.Address
	vc.Timeout = cfg.Timeout
	vc.MaxRetries = 2
	if cfg.HTTPClient != nil {
		vc.HttpClient = cfg.HTTPClient
	}
	client, err := vault.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault: making the client: %w", err)
	}
	// NewClient picks VAULT_TOKEN up from the environment; only the
	// configured credentials count.
	client.ClearToken()
	if cfg.Token != "" {
		client.SetToken(cfg.Token)
	}
	return &Provider{cfg: cfg, client: client}, nil
}

func (s Source) check() error {
	switch s.Engine {
	case EngineKV:
		if s.Field == "" {
			return errors.New("a KV secret needs the field to hand over")
		}
		if s.Mount != "" && !mountRE.MatchString(s.Mount) {
			return fmt.Errorf("mount %q is not a valid mount name", s.Mount)
		}
	case EngineDynamic:
	default:
		return fmt.Errorf("engine %q is not one of %q and %q", s.Engine, EngineKV, EngineDynamic)
	}
	if !pathRE.MatchString(s.Path) || strings.Contains(s.Path, "..") || strings.HasPrefix(s.Path, "/") {
		return fmt.Errorf("path %q is not a relative Vault path of letters, digits, _ . - / and {plugin}", s.Path)
	}
	if s.Engine == EngineDynamic && (strings.HasPrefix(s.Path, "sys/") || strings.HasPrefix(s.Path, "auth/")) {
		return fmt.Errorf("path %q is Vault's own API, not a secrets engine", s.Path)
	}
	return nil
}

// Check logs in (AppRole) and looks the token up, so that a host fails at
// start with a clear message rather than at a plugin's first secret.
func (p *Provider) Check(ctx context.Context) error {
	if err := p.login(ctx, false); err != nil {
		return err
	}
	s, err := p.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return fmt.Errorf("vault: looking up the token: %w", err)
	}
	if s == nil || s.Data == nil {
		return errors.New("vault: the token lookup answered nothing")
	}
	return nil
}

// login performs AppRole login when there is no token yet, when its lease
// has (nearly) run out, or with force (Vault refused the token).
func (p *Provider) login(ctx context.Context, force bool) error {
	a := p.cfg.AppRole
	if a == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	if !force && !p.tokenExpires.IsZero() && now.Before(p.tokenExpires) {
		return nil
	}
	s, err := p.client.Logical().WriteWithContext(ctx, "auth/"+a.Mount+"/login", map[string]any{"role_id": a.RoleID, "secret_id": a.SecretID})
	if err != nil {
		return fmt.Errorf("vault: AppRole login at auth/%s: %w", a.Mount, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return fmt.Errorf("vault: AppRole login at auth/%s returned no token", a.Mount)
	}
	p.client.SetToken(s.Auth.ClientToken)
	ttl := time.Duration(s.Auth.LeaseDuration) * time.Second
	if ttl <= 0 {
		ttl = MaxTTL
	}
	// Log in again once two thirds of the token's life have passed.
	p.tokenExpires = now.Add(ttl * 2 / 3)
	return nil
}

// do runs op, logging in again once if Vault refuses the token.
func (p *Provider) do(ctx context.Context, op func() error) error {
	if err := p.login(ctx, false); err != nil {
		return err
	}
	err := op()
	var re *vault.ResponseError
	if p.cfg.AppRole != nil && errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		if lerr := p.login(ctx, true); lerr != nil {
			return errors.Join(err, lerr)
		}
		err = op()
	}
	return err
}

// Secret reads secret name for plugin. A name with no source is not found.
func (p *Provider) Secret(ctx context.Context, plugin sandbox.PluginRef, name string) (sandbox.Secret, error) {
	src, ok := p.cfg.Secrets[name]
	if !ok {
		return sandbox.Secret{}, fmt.Errorf("secret %s is not configured in Vault: %w", name, sandbox.ErrNotFound)
	}
	path := strings.ReplaceAll(src.Path, "{plugin}", plugin.ID)
	now := p.cfg.Now()
	var s *vault.Secret
	var data map[string]any
	switch src.Engine {
	case EngineKV:
		err := p.do(ctx, func() error {
			kv, err := p.client.KVv2(src.Mount).Get(ctx, path)
			if err != nil {
				return err
			}
			data = kv.Data
			return nil
		})
		if errors.Is(err, vault.ErrSecretNotFound) {
			return sandbox.Secret{}, fmt.Errorf("secret %s: no KV entry %s/%s: %w", name, src.Mount, path, sandbox.ErrNotFound)
		}
		if err != nil {
			return sandbox.Secret{}, fmt.Errorf("secret %s: reading KV entry %s/%s: %w", name, src.Mount, path, err)
		}
	case EngineDynamic:
		err := p.do(ctx, func() error {
			var err error
			s, err = p.client.Logical().ReadWithContext(ctx, path)
			return err
		})
		if err != nil {
			return sandbox.Secret{}, fmt.Errorf("secret %s: reading %s: %w", name, path, err)
		}
		if s == nil {
			return sandbox.Secret{}, fmt.Errorf("secret %s: nothing at %s: %w", name, path, sandbox.ErrNotFound)
		}
		if s.LeaseID == "" || s.LeaseDuration <= 0 {
			// A dynamic secret without a lease could never be revoked.
			return sandbox.Secret{}, fmt.Errorf("secret %s: %s issued no lease; configure it as a KV secret if it is static", name, path)
		}
		data = s.Data
	}
	value, err := field(data, src.Field)
	if err != nil {
		return sandbox.Secret{}, fmt.Errorf("secret %s at %s: %w", name, path, err)
	}
	sec := sandbox.Secret{Value: value, Lease: sandbox.Lease{IssuedAt: now}}
	if s != nil {
		sec.Lease.ID = s.LeaseID
		sec.Lease.TTL = min(time.Duration(s.LeaseDuration)*time.Second, MaxTTL)
		sec.Lease.Renewable = s.Renewable
	}
	return sec, nil
}

// field returns one field of data as bytes (a string as it is, anything
// else as JSON), or all of data as JSON when name is empty.
func field(data map[string]any, name string) ([]byte, error) {
	var v any = data
	if name != "" {
		x, ok := data[name]
		if !ok {
			return nil, fmt.Errorf("the data has no field %q", name)
		}
		v = x
	}
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, errors.New("the data's field is not JSON")
		}
	}
	if len(b) > maxSecretBytes {
		return nil, fmt.Errorf("the value is larger than %d bytes", maxSecretBytes)
	}
	return b, nil
}

// Renew extends a lease through sys/leases/renew.
func (p *Provider) Renew(ctx context.Context, l sandbox.Lease, increment time.Duration) (sandbox.Lease, error) {
	if l.ID == "" {
		return l, errors.New("a static secret has no lease to renew")
	}
	now := p.cfg.Now()
	var s *vault.Secret
	err := p.do(ctx, func() error {
		var err error
		s, err = p.client.Sys().RenewWithContext(ctx, l.ID, int(increment/time.Second))
		return err
	})
	if err != nil {
		return l, fmt.Errorf("renewing lease %s: %w", l.ID, err)
	}
	if s == nil || s.LeaseDuration <= 0 {
		return l, fmt.Errorf("renewing lease %s: Vault granted no more time", l.ID)
	}
	return sandbox.Lease{ID: l.ID, IssuedAt: now, TTL: min(time.Duration(s.LeaseDuration)*time.Second, MaxTTL), Renewable: s.Renewable}, nil
}

// Revoke ends a lease through sys/leases/revoke.
func (p *Provider) Revoke(ctx context.Context, l sandbox.Lease) error {
	if l.ID == "" {
		return nil
	}
	err := p.do(ctx, func() error { return p.client.Sys().RevokeWithContext(ctx, l.ID) })
	if err != nil {
		return fmt.Errorf("revoking lease %s: %w", l.ID, err)
	}
	return nil
}

var (
	_ sandbox.Secrets = (*Provider)(nil)
	_ sandbox.Leases  = (*Provider)(nil)
)
