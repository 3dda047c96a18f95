// Package webhook sends Gatehouse's events to subscribers' HTTP endpoints,
// signed as the Standard Webhooks specification says
// (https://www.standardwebhooks.com): every request carries webhook-id,
// webhook-timestamp and webhook-signature headers, the signature being
// "v1," followed by the base64 HMAC-SHA256, under the subscription's
// secret, of "{id}.{timestamp}.{body}".
//
// Events come from the audit trail: a Worker reads it from a stored cursor,
// turns each event into one delivery per matching subscription, and sends
// the deliveries with retries (exponential backoff with jitter, capped),
// keeping a log of every attempt, and dead-letters what keeps failing until
// someone replays it. Receivers check requests with Verify.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix marks a symmetric signing secret.
const SecretPrefix = "whsec_"

// Secret sizes: the specification asks for 24 to 64 random bytes.
const (
	SecretBytes    = 32
	minSecretBytes = 24
	maxSecretBytes = 64
)

// DefaultTolerance is how far a request's timestamp may be from the
// receiver's clock: old requests are replays, future ones forgeries or a
// broken clock.
const DefaultTolerance = 5 * time.Minute

// maxSignatureHeader bounds the signature header a receiver parses.
const maxSignatureHeader = 4 << 10

// Errors Verify returns (wrapped), for receivers that answer differently.
var (
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrTimestamp      = errors.New("webhook timestamp outside the tolerance")
	ErrSignature      = errors.New("no signature matches")
)

// NewSecret returns a fresh random secret in its serialized form
// ("whsec_" + base64).
func NewSecret(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, SecretBytes)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("generating a webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ParseSecret decodes a serialized secret, with or without its prefix.
func ParseSecret(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil {
		return nil, errors.New("the webhook secret is not base64 after its whsec_ prefix")
	}
	if len(b) < minSecretBytes || len(b) > maxSecretBytes {
		return nil, fmt.Errorf("the webhook secret is %d bytes; the specification asks for %d to %d", len(b), minSecretBytes, maxSecretBytes)
	}
	return b, nil
}

// Sign returns the "v1,<base64>" signature of a message.
func Sign(key []byte, msgID string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(key []byte, msgID, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// SetHeaders sets the three Standard Webhooks headers on h.
func SetHeaders(h http.Header, key []byte, msgID string, ts time.Time, body []byte) {
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(key, msgID, ts, body))
}

// Verify checks a received webhook: the headers are present, the
// timestamp is within tolerance of now (0 means DefaultTolerance), and
// one of the space-separated v1 signatures matches the body under secret
// (serialized, "whsec_..."). The comparison is constant-time. body must be
// the raw bytes received, not re-encoded JSON.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	return verify(key, h, body, now, tolerance)
}

func verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	if len(sigs) > maxSignatureHeader {
		return fmt.Errorf("%w: the signature header is over %d bytes", ErrSignature, maxSignatureHeader)
	}
	sec, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not a Unix time in seconds", ErrTimestamp, tsText)
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-tolerance)) {
		return fmt.Errorf("%w: sent at %s, more than %s ago", ErrTimestamp, ts.UTC().Format(time.RFC3339), tolerance)
	}
	if ts.After(now.Add(tolerance)) {
		return fmt.Errorf("%w: sent at %s, more than %s ahead", ErrTimestamp, ts.UTC().Format(time.RFC3339), tolerance)
	}
	want := mac(key, id, tsText, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue // another scheme (v1a) or a future version
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return ErrSignature
}
