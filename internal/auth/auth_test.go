package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	now := time.Now()
	secret, hash := NewSecret()
	if !strings.HasPrefix(secret, Prefix) || len(secret) < len(Prefix)+32 {
		t.Fatalf("secret %q", secret)
	}
	other, _ := NewSecret()
	if other == secret {
		t.Fatal("two secrets are equal")
	}
	tok := domain.Token{Hash: hash, ExpiresAt: now.Add(time.Hour)}
	if err := Check(tok, secret, now); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	if err := Check(tok, other, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Check(tok, secret, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
	tok.RevokedAt = now
	if err := Check(tok, secret, now); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked: %v", err)
	}
}
