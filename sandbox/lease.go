package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Lease is the terms on which a provider handed out a secret: when, for how
// long, and whether the host may extend it. A static secret (environment,
// folder, a KV entry) has a zero ID and TTL: it does not expire, and there
// is nothing to renew or revoke at the provider.
type Lease struct {
	// ID is the provider's lease id (Vault's lease_id); empty for a
	// static secret.
	ID string
	// IssuedAt is when the provider issued (or last renewed) the lease.
	IssuedAt time.Time
	// TTL is how long the lease lasts from IssuedAt; 0 never ends.
	TTL time.Duration
	// Renewable reports whether Renew may extend it.
	Renewable bool
}

// Expires returns the end of the lease; the zero time when it has none.
func (l Lease) Expires() time.Time {
	if l.TTL <= 0 {
		return time.Time{}
	}
	return l.IssuedAt.Add(l.TTL)
}

// Live reports whether the lease still holds at now.
func (l Lease) Live(now time.Time) bool {
	return l.TTL <= 0 || now.Before(l.Expires())
}

// Secret is a secret's value and the lease it was handed out on. Its
// String, Format, GoString, LogValue and MarshalJSON never show the value,
// so a Secret that reaches a log line, an error or a JSON document by
// mistake shows "[redacted]".
type Secret struct {
	Value []byte
	Lease Lease
}

const redacted = "[redacted]"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format makes every fmt verb, %#v and %x included, print "[redacted]".
func (s Secret) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// LogValue keeps slog from reaching the value through reflection.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", redacted), slog.String("lease", s.Lease.ID),
		slog.Duration("ttl", s.Lease.TTL), slog.Bool("renewable", s.Lease.Renewable))
}

// MarshalJSON writes the lease, never the value.
func (s Secret) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"value":%q,"leaseId":%q,"ttlSeconds":%d,"renewable":%t}`,
		redacted, s.Lease.ID, int64(s.Lease.TTL/time.Second), s.Lease.Renewable), nil
}

// Leases is implemented by a Secrets provider whose secrets carry leases
// the host can renew and revoke (Vault's dynamic secrets). The sandbox
// renews a lease it still needs once two thirds of it have passed and
// revokes it when the call or plugin it was granted for ends.
type Leases interface {
	// Renew asks to extend the lease by increment (the provider may grant
	// less) and returns the lease as it now stands. It fails for a lease
	// that ended or was revoked.
	Renew(ctx context.Context, lease Lease, increment time.Duration) (Lease, error)
	// Revoke ends the lease at once: the secret stops working wherever
	// the provider can enforce it. Revoking a lease that has already
	// ended is not an error.
	Revoke(ctx context.Context, lease Lease) error
}

// SecretLifetime is how long a plugin holds the secrets it asks for.
type SecretLifetime int

const (
	// SecretsPerCall (the default) leases a secret for one call: the
	// host revokes it when the call returns, and the next call gets a new
	// one.
	SecretsPerCall SecretLifetime = iota
	// SecretsPerPlugin leases a secret for as long as the plugin version
	// is loaded: calls share it, the host renews it while it is used, and
	// revokes it when the version is closed, swapped out or RevokeSecrets
	// is called.
	SecretsPerPlugin
)

func (l SecretLifetime) String() string {
	switch l {
	case SecretsPerCall:
		return "call"
	case SecretsPerPlugin:
		return "plugin"
	}
	return fmt.Sprintf("SecretLifetime(%d)", int(l))
}

// maxLeases bounds the leases one holder (a call or a plugin) keeps; a
// plugin is granted at most this many secret names anyway in practice.
const maxLeases = 64

// minRedactBytes is the shortest secret value the host scrubs from what a
// plugin writes to logs and errors: shorter ones would redact ordinary
// text (and are too weak to be worth a lease).
const minRedactBytes = 4

// leaseSet holds the secrets handed to one call or one plugin, by name.
type leaseSet struct {
	mu   sync.Mutex
	held map[string]Secret
	// seen are the values handed out under this set, kept until it is
	// released so that the host can scrub them from the plugin's logs and
	// errors even after a renewal replaced them.
	seen [][]byte
}

// get returns the secret name for a holder, leasing, renewing or replacing
// it as its lease requires. The provider's errors are returned as they
// are; the caller keeps them out of the plugin's hands.
func (s *leaseSet) get(ctx context.Context, prov Secrets, ref PluginRef, name string, now time.Time, log *slog.Logger) (Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec, ok := s.held[name]; ok {
		l := sec.Lease
		switch {
		case !l.Live(now):
			// Ended: a value past its lease is never handed out again.
			delete(s.held, name)
		case l.TTL > 0 && l.Renewable && now.Sub(l.IssuedAt) >= l.TTL*2/3:
			if lp, ok := prov.(Leases); ok {
				nl, err := lp.Renew(ctx, l, l.TTL)
				if err == nil && nl.Live(now) {
					sec.Lease = nl
					s.held[name] = sec
					return sec, nil
				}
				log.LogAttrs(ctx, slog.LevelInfo, "secret lease not renewed; leasing a new one",
					slog.String("secret", name), slog.String("lease", l.ID), slog.Any("error", err))
			}
			delete(s.held, name)
		default:
			return sec, nil
		}
	}
	if len(s.held) >= maxLeases {
		return Secret{}, fmt.Errorf("more than %d secrets leased at once", maxLeases)
	}
	sec, err := prov.Secret(ctx, ref, name)
	if err != nil {
		return Secret{}, err
	}
	if !sec.Lease.Live(now) {
		return Secret{}, fmt.Errorf("secret %s: the provider handed out a lease that has already ended", name)
	}
	if s.held == nil {
		s.held = make(map[string]Secret)
	}
	s.held[name] = sec
	if len(sec.Value) >= minRedactBytes {
		s.seen = append(s.seen, sec.Value)
	}
	return sec, nil
}

// release revokes every revocable lease in the set and forgets the values.
func (s *leaseSet) release(ctx context.Context, prov Secrets, log *slog.Logger) error {
	s.mu.Lock()
	held := s.held
	s.held, s.seen = nil, nil
	s.mu.Unlock()
	lp, ok := prov.(Leases)
	if !ok {
		return nil
	}
	var errs []error
	for name, sec := range held {
		if sec.Lease.ID == "" {
			continue
		}
		if err := lp.Revoke(ctx, sec.Lease); err != nil {
			// The lease still ends at its TTL; say which one outlived
			// its holder so an operator can revoke it by hand.
			log.LogAttrs(ctx, slog.LevelError, "revoking a secret lease failed",
				slog.String("secret", name), slog.String("lease", sec.Lease.ID), slog.Any("error", err))
			errs = append(errs, fmt.Errorf("revoking the lease of secret %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// redact replaces every value handed out under the set in b.
func (s *leaseSet) redact(b []byte) []byte {
	if s == nil {
		return b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.seen {
		if bytes.Contains(b, v) {
			b = bytes.ReplaceAll(b, v, []byte(redacted))
		}
	}
	return b
}

// RevokeSecrets revokes every lease the plugin holds for its lifetime
// (SecretsPerPlugin) at once, e.g. when a secret may have leaked: a value
// the plugin kept stops working wherever the provider enforces leases, and
// its next secret_get leases a new one.
func (p *Plugin) RevokeSecrets(ctx context.Context) error {
	return p.leases.release(ctx, p.rt.cfg.Secrets, p.log)
}
