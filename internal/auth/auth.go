// Package auth issues API tokens and checks them. Who may do what is the
// domain's rule (domain.Principal). Token secrets are never stored: only their SHA-256, which the store indexes, so a lookup
// reveals nothing useful through timing and a leaked database holds no
// usable credential.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/ids"
)

// Prefix marks a Gatehouse token, so secret scanners (and people) can
// recognise one that leaked.
const Prefix = "ghtk_"

// DefaultLifetime is a token's validity unless its creator says otherwise.
const DefaultLifetime = 90 * 24 * time.Hour

// MaxLifetime bounds how long any token may live.
const MaxLifetime = 366 * 24 * time.Hour

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a fresh token secret (160 bits of randomness after the
// prefix) and its hash.
func NewSecret() (secret string, hash []byte) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on a supported platform.
		panic(fmt.Sprintf("auth: reading randomness: %v", err))
	}
	secret = Prefix + strings.ToLower(enc.EncodeToString(b[:]))
	return secret, Hash(secret)
}

// NewID returns a random identifier for a token record.
func NewID() string { return ids.New("tok") }

// Hash is the SHA-256 of a token secret, the only form the store keeps.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Errors from Authenticate. They are deliberately coarse for the caller on
// the wire (all become 401) but distinct in the audit trail.
var (
	ErrMissing = errors.New("no token given")
	ErrInvalid = errors.New("token not recognised")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

// Check validates a token record found by the hash of secret: the stored
// hash matches in constant time, and the token is neither expired nor
// revoked at now.
func Check(t domain.Token, secret string, now time.Time) error {
	if subtle.ConstantTimeCompare(t.Hash, Hash(secret)) != 1 {
		return ErrInvalid
	}
	if !t.RevokedAt.IsZero() {
		return ErrRevoked
	}
	if !now.Before(t.ExpiresAt) {
		return ErrExpired
	}
	return nil
}
