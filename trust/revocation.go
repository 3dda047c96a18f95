package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PayloadTypeRevocations is the DSSE payload type of a revocation list.
const PayloadTypeRevocations = "application/vnd.gatehouse.revocations.v1+json"

// MaxRevocations bounds the entries of a revocation list read from outside.
const MaxRevocations = 1 << 20

// RevocationList is the marketplace's signed list of revoked package
// digests. Number grows by one with every list published, so a client can
// refuse an older list replayed at it.
type RevocationList struct {
	Number     uint64       `json:"number"`
	IssuedAt   time.Time    `json:"issuedAt"`
	NextUpdate time.Time    `json:"nextUpdate"`
	Entries    []Revocation `json:"entries"`
}

// Revocation is one revoked package.
type Revocation struct {
	Digest string    `json:"digest"` // "sha256:HEX"
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// NewRevocationList builds a list, sorting the entries by digest and
// refusing duplicates and malformed digests.
func NewRevocationList(number uint64, issuedAt, nextUpdate time.Time, entries []Revocation) (*RevocationList, error) {
	l := &RevocationList{
		Number:     number,
		IssuedAt:   issuedAt.UTC().Truncate(time.Second),
		NextUpdate: nextUpdate.UTC().Truncate(time.Second),
		Entries:    slices.Clone(entries),
	}
	if l.Entries == nil {
		l.Entries = []Revocation{}
	}
	for i := range l.Entries {
		l.Entries[i].Time = l.Entries[i].Time.UTC().Truncate(time.Second)
	}
	slices.SortFunc(l.Entries, func(a, b Revocation) int { return strings.Compare(a.Digest, b.Digest) })
	if err := l.validate(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *RevocationList) validate() error {
	if !l.NextUpdate.After(l.IssuedAt) {
		return fmt.Errorf("revocation list %d: %w: next update %s is not after its issue time %s", l.Number, ErrMalformed, l.NextUpdate.Format(time.RFC3339), l.IssuedAt.Format(time.RFC3339))
	}
	if len(l.Entries) > MaxRevocations {
		return fmt.Errorf("revocation list %d: %w: %d entries; at most %d are accepted", l.Number, ErrMalformed, len(l.Entries), MaxRevocations)
	}
	for i, e := range l.Entries {
		if !ValidDigest(e.Digest) {
			return fmt.Errorf("revocation list %d: %w: entry %d: digest %q is not \"sha256:\" and 64 lowercase hex digits", l.Number, ErrMalformed, i, e.Digest)
		}
		if i > 0 && l.Entries[i-1].Digest >= e.Digest {
			return fmt.Errorf("revocation list %d: %w: entries are not sorted by digest without duplicates (at %s)", l.Number, ErrMalformed, e.Digest)
		}
	}
	return nil
}

// Revoked returns the entry for digest, if it is revoked.
func (l *RevocationList) Revoked(digest string) (Revocation, bool) {
	i, ok := slices.BinarySearchFunc(l.Entries, digest, func(e Revocation, d string) int { return strings.Compare(e.Digest, d) })
	if !ok {
		return Revocation{}, false
	}
	return l.Entries[i], true
}

// SignRevocationList signs the list with the marketplace key.
func SignRevocationList(ctx context.Context, s Signer, l *RevocationList) (*dsse.Envelope, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding revocation list: %w", err)
	}
	return SignEnvelope(ctx, s, PayloadTypeRevocations, payload)
}

// RevocationCheck is what a client knows when it accepts a revocation list.
type RevocationCheck struct {
	// Now is the client's clock.
	Now time.Time
	// MaxAge is the oldest list the client accepts, counted from its issue
	// time. It must be positive: there is no "never stale".
	MaxAge time.Duration
	// LastNumber is the highest list number the client has accepted before
	// (0 if none).
	LastNumber uint64
}

// VerifyRevocationList checks a revocation list's signature (by a key in
// keyring active at its issue time), shape and freshness, and returns it.
// It fails closed: a list past its next-update time or older than MaxAge is
// refused with ErrStaleList, and one numbered below LastNumber with
// ErrRollback.
func VerifyRevocationList(env *dsse.Envelope, keyring *Keyring, c RevocationCheck) (*RevocationList, error) {
	if c.MaxAge <= 0 {
		return nil, fmt.Errorf("revocation list: a positive maximum age is required (fail closed)")
	}
	l, err := OpenRevocationList(env, keyring)
	if err != nil {
		return nil, err
	}
	if l.Number < c.LastNumber {
		return nil, fmt.Errorf("revocation list %d: %w: list %d was already seen; an older list may hide a revocation", l.Number, ErrRollback, c.LastNumber)
	}
	if err := l.CheckFresh(c.Now, c.MaxAge); err != nil {
		return nil, err
	}
	return l, nil
}

// OpenRevocationList checks a revocation list's signature (by a key in
// keyring active at its issue time) and shape, and returns it, fresh or
// not. A client records the number of a list that opens, so an older one
// replayed later is refused, and then checks its freshness with CheckFresh.
func OpenRevocationList(env *dsse.Envelope, keyring *Keyring) (*RevocationList, error) {
	payload, key, err := OpenEnvelope(env, PayloadTypeRevocations, keyring)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	var l RevocationList
	if err := decodeStrict(payload, &l); err != nil {
		return nil, fmt.Errorf("revocation list: %w: %v", ErrMalformed, err)
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	if !key.ActiveAt(l.IssuedAt) {
		return nil, fmt.Errorf("revocation list %d: %w: key %s signed it at %s, outside its window", l.Number, ErrKeyNotActive, key.ID, l.IssuedAt.Format(time.RFC3339))
	}
	return &l, nil
}

// CheckFresh refuses a list past its next-update time or issued more than
// maxAge before now (ErrStaleList), or issued in the future (ErrMalformed).
// maxAge must be positive: there is no "never stale".
func (l *RevocationList) CheckFresh(now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		return fmt.Errorf("revocation list: a positive maximum age is required (fail closed)")
	}
	if now.After(l.NextUpdate) {
		return fmt.Errorf("revocation list %d: %w: its next update was due at %s; fetch a fresh list", l.Number, ErrStaleList, l.NextUpdate.Format(time.RFC3339))
	}
	if age := now.Sub(l.IssuedAt); age > maxAge {
		return fmt.Errorf("revocation list %d: %w: issued %s ago, older than the %s accepted; fetch a fresh list", l.Number, ErrStaleList, age.Round(time.Second), maxAge)
	}
	if now.Before(l.IssuedAt.Add(-maxClockSkew)) {
		return fmt.Errorf("revocation list %d: %w: issued at %s, in the future (check the clock)", l.Number, ErrMalformed, l.IssuedAt.Format(time.RFC3339))
	}
	return nil
}

// maxClockSkew is how far in the future a list's issue time may be before
// the client suspects its own clock (or the list).
const maxClockSkew = 5 * time.Minute
