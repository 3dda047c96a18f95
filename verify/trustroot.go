package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// TrustRootMediaType identifies a trust root file: what a marketplace serves
// at /.well-known/gatehouse/trust-root.json and a host keeps beside its
// installed packages.
const TrustRootMediaType = "application/vnd.gatehouse.trust-root.v1+json"

// MaxTrustRootBytes bounds a trust root read from outside. It holds a handful
// of public keys.
const MaxTrustRootBytes = 1 << 20

// maxRevocationMaxAge bounds the revocation maximum age a trust root may ask
// for: a marketplace cannot tell hosts to accept a year-old list.
const maxRevocationMaxAge = 90 * 24 * time.Hour

// TrustRoot is what a host trusts of one marketplace: the keys that sign
// certificates and revocation lists, the transparency log's checkpoint key,
// and how old a revocation list it may accept.
type TrustRoot struct {
	MarketplaceKeys *trust.Keyring
	LogOrigin       string
	// LogKey is the log's signed-note verifier key.
	LogKey string
	// LogVerifier verifies the log's checkpoints.
	LogVerifier note.Verifier
	// RevocationMaxAge is the oldest revocation list the marketplace asks
	// hosts to accept.
	RevocationMaxAge time.Duration
}

type trustRootFile struct {
	MediaType               string          `json:"mediaType"`
	MarketplaceKeys         json.RawMessage `json:"marketplaceKeys"`
	LogOrigin               string          `json:"logOrigin"`
	LogKey                  string          `json:"logKey"`
	RevocationMaxAgeSeconds int64           `json:"revocationMaxAgeSeconds"`
	// KeyIDScheme documents how marketplaceKeys[].id is made
	// (trust.KeyIDScheme); a root without it is from an older marketplace,
	// whose ids were made the same way.
	KeyIDScheme string `json:"keyIdScheme,omitempty"`
}

// ParseTrustRoot decodes a trust root file read from outside: at most
// MaxTrustRootBytes, of the right media type, with at least one marketplace
// key, a log key whose name is the log's origin, and a revocation maximum age
// between one second and 90 days.
func ParseTrustRoot(data []byte) (*TrustRoot, error) {
	if len(data) > MaxTrustRootBytes {
		return nil, fmt.Errorf("the trust root is larger than %d bytes", MaxTrustRootBytes)
	}
	var f trustRootFile
	// Unknown fields are ignored so that a host keeps working when a newer
	// marketplace adds some; what it does not know it does not trust.
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("the trust root is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the trust root has data after its JSON object")
	}
	if f.MediaType != TrustRootMediaType {
		return nil, fmt.Errorf("the trust root's media type is %q, want %q", f.MediaType, TrustRootMediaType)
	}
	keys, err := trust.ParseKeyring(f.MarketplaceKeys)
	if err != nil {
		return nil, fmt.Errorf("the trust root's marketplace keys: %w", err)
	}
	if keys.Len() == 0 {
		return nil, errors.New("the trust root lists no marketplace keys")
	}
	v, err := tlog.NewVerifier(f.LogKey)
	if err != nil {
		return nil, fmt.Errorf("the trust root's log key: %w", err)
	}
	if f.LogOrigin == "" || v.Name() != f.LogOrigin {
		return nil, fmt.Errorf("the trust root's log key is named %q but the log origin is %q; they must be equal", v.Name(), f.LogOrigin)
	}
	if f.KeyIDScheme != "" && f.KeyIDScheme != trust.KeyIDScheme {
		return nil, fmt.Errorf("the trust root's key ids are made as %q; this verifier knows only %q: update gatehouse", f.KeyIDScheme, trust.KeyIDScheme)
	}
	age := time.Duration(f.RevocationMaxAgeSeconds) * time.Second
	if f.RevocationMaxAgeSeconds <= 0 || age > maxRevocationMaxAge {
		return nil, fmt.Errorf("the trust root's revocation maximum age is %d seconds; it must be positive and at most %s", f.RevocationMaxAgeSeconds, maxRevocationMaxAge)
	}
	return &TrustRoot{MarketplaceKeys: keys, LogOrigin: f.LogOrigin, LogKey: f.LogKey, LogVerifier: v, RevocationMaxAge: age}, nil
}

// Marshal encodes the trust root as the file ParseTrustRoot reads.
func (r *TrustRoot) Marshal() ([]byte, error) {
	keys, err := r.MarketplaceKeys.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(trustRootFile{
		MediaType: TrustRootMediaType, MarketplaceKeys: keys, LogOrigin: r.LogOrigin, LogKey: r.LogKey,
		RevocationMaxAgeSeconds: int64(r.RevocationMaxAge / time.Second), KeyIDScheme: trust.KeyIDScheme,
	}, "", "  ")
}
