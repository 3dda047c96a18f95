package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Tokens keeps API credentials. Only the SHA-256 of a token's secret is
// stored.
//
// Creating and revoking write their audit event in the same transaction; a
// write that changes nothing (revoking a revoked token) records nothing.
type Tokens interface {
	// CreateToken stores t; ErrConflict when its id or secret exists.
	CreateToken(ctx context.Context, t domain.Token, ev audit.Event) error
	// TokenByHash finds a token by the SHA-256 of its secret. The caller
	// still checks expiry and revocation.
	TokenByHash(ctx context.Context, hash []byte) (domain.Token, error)
	// ListTokens returns every token, oldest first.
	ListTokens(ctx context.Context) ([]domain.Token, error)
	// RevokeToken marks a token revoked at at; ErrNotFound for an unknown
	// id.
	RevokeToken(ctx context.Context, id string, at time.Time, ev audit.Event) error
	// PurgeTokens deletes at most limit tokens that expired, or were
	// revoked, before before (retention of their subjects, who are
	// people), and records ev with the count in the same transaction.
	// Nothing references a token's row: the trail names it as `token:ID`,
	// which its own purge pseudonymises. A run that finds nothing deletes
	// and records nothing.
	PurgeTokens(ctx context.Context, before time.Time, limit int, ev audit.Event) (deleted int, err error)
	// BootstrapAdmin stores t, the installation's first admin token, and
	// records SettingAdminBootstrapped and ev in the same transaction,
	// unless SettingAdminBootstrapped is set already: then it stores
	// nothing and returns false. A database that ever had its first admin
	// never gets another this way, whatever became of that token.
	BootstrapAdmin(ctx context.Context, t domain.Token, ev audit.Event) (created bool, err error)
}
