package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"time"
)

// Secrets provides the secret_get host function. The sandbox has already
// checked that name was granted to plugin. Return an error wrapping
// ErrNotFound for a secret that is not configured. Implementations must
// never log secret values, nor put them in errors.
//
// A secret comes with its Lease. The sandbox hands a value to a plugin
// only while its lease is live, for the call (or the plugin's lifetime,
// SecretLifetime) it was leased for; a provider whose leases can be
// renewed and revoked also implements Leases. EnvSecrets and DirSecrets
// are static: their leases never end.
type Secrets interface {
	Secret(ctx context.Context, plugin PluginRef, name string) (Secret, error)
}

// static is the lease of a static secret, issued now.
func static(b []byte) Secret {
	return Secret{Value: b, Lease: Lease{IssuedAt: time.Now()}}
}

// secretNameRE is the manifest grammar's secret name; providers check it
// again so that a name can never become a path or an odd variable name.
var secretNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// EnvSecrets reads secret NAME from the environment variable
// GATEHOUSE_SECRET_NAME.
type EnvSecrets struct {
	// Lookup replaces os.LookupEnv (for tests).
	Lookup func(string) (string, bool)
}

func (e EnvSecrets) Secret(_ context.Context, _ PluginRef, name string) (Secret, error) {
	b, err := e.secret(name)
	return static(b), err
}

func (e EnvSecrets) secret(name string) ([]byte, error) {
	if !secretNameRE.MatchString(name) {
		return nil, fmt.Errorf("secret name %q is not valid", name)
	}
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup("GATEHOUSE_SECRET_" + name)
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	return []byte(v), nil
}

// DirSecrets reads secret NAME from the file DIR/NAME (the layout of
// Kubernetes and Docker secret mounts). One trailing newline is removed.
type DirSecrets struct {
	Dir string
}

// maxSecretBytes bounds a secret file.
const maxSecretBytes = 64 << 10

func (d DirSecrets) Secret(_ context.Context, _ PluginRef, name string) (Secret, error) {
	b, err := d.secret(name)
	return static(b), err
}

func (d DirSecrets) secret(name string) ([]byte, error) {
	if !secretNameRE.MatchString(name) {
		return nil, fmt.Errorf("secret name %q is not valid", name)
	}
	root, err := os.OpenRoot(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("opening secrets directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if len(b) > maxSecretBytes {
		return nil, fmt.Errorf("secret %s is larger than %d bytes", name, maxSecretBytes)
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return b, nil
}
