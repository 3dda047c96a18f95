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
}
