package trust

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// KeyringMediaType identifies a keyring file: what the marketplace serves at
// its well-known keys endpoint and what a host keeps as its trusted keys.
const KeyringMediaType = "application/vnd.gatehouse.keyring.v1+json"

// maxKeyringKeys bounds the keys of a keyring read from outside.
const maxKeyringKeys = 1024

type keyringFile struct {
	MediaType string        `json:"mediaType"`
	Keys      []keyringJSON `json:"keys"`
}

type keyringJSON struct {
	ID        string     `json:"id"`
	Algorithm Algorithm  `json:"algorithm"`
	PublicKey string     `json:"publicKey"` // PEM
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
}

// MarshalJSON encodes the keyring as a keyring file, keys sorted by id.
func (r *Keyring) MarshalJSON() ([]byte, error) {
	f := keyringFile{MediaType: KeyringMediaType, Keys: []keyringJSON{}}
	for _, k := range r.Keys() {
		p, err := k.MarshalPEM()
		if err != nil {
			return nil, err
		}
		j := keyringJSON{ID: k.ID, Algorithm: k.Algorithm, PublicKey: string(p)}
		if !k.NotBefore.IsZero() {
			t := k.NotBefore.UTC()
			j.NotBefore = &t
		}
		if !k.NotAfter.IsZero() {
			t := k.NotAfter.UTC()
			j.NotAfter = &t
		}
		f.Keys = append(f.Keys, j)
	}
	return json.MarshalIndent(f, "", "  ")
}

// ParseKeyring decodes a keyring file. Every key's id and algorithm must
// match its public key.
func ParseKeyring(data []byte) (*Keyring, error) {
	if len(data) > maxKeyringKeys*maxKeyFileBytes/4 {
		return nil, fmt.Errorf("%w: keyring file is %d bytes", ErrMalformed, len(data))
	}
	var f keyringFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%w: keyring: %v", ErrMalformed, err)
	}
	if f.MediaType != KeyringMediaType {
		return nil, fmt.Errorf("%w: keyring media type %q, want %q", ErrMalformed, f.MediaType, KeyringMediaType)
	}
	if len(f.Keys) > maxKeyringKeys {
		return nil, fmt.Errorf("%w: keyring holds %d keys; at most %d are accepted", ErrMalformed, len(f.Keys), maxKeyringKeys)
	}
	r := &Keyring{}
	for i, j := range f.Keys {
		pk, err := ParsePublicKeyPEM([]byte(j.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("keyring key %d: %w", i, err)
		}
		if pk.ID != j.ID || pk.Algorithm != j.Algorithm {
			return nil, fmt.Errorf("%w: keyring key %d says id %s (%s), its public key is %s (%s)", ErrMalformed, i, j.ID, j.Algorithm, pk.ID, pk.Algorithm)
		}
		k := Key{PublicKey: pk}
		if j.NotBefore != nil {
			k.NotBefore = *j.NotBefore
		}
		if j.NotAfter != nil {
			k.NotAfter = *j.NotAfter
		}
		if _, dup := r.Lookup(k.ID); dup {
			return nil, fmt.Errorf("%w: keyring lists key %s twice", ErrMalformed, k.ID)
		}
		if err := r.Add(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// LoadOrGenerate loads the private key at privPath or, when there is none,
// generates one of algorithm alg and writes the pair (the private key mode
// 0600, the public key to pubPath). The marketplace calls it on first start
// for its signing and log keys. created reports whether a key was made.
func LoadOrGenerate(privPath, pubPath string, alg Algorithm) (s *FileSigner, created bool, err error) {
	s, err = LoadSigner(privPath)
	if err == nil {
		return s, false, nil
	}
	if _, statErr := os.Lstat(privPath); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, false, err // the key exists but is unusable: never replace it
	}
	s, err = GenerateKey(alg)
	if err != nil {
		return nil, false, err
	}
	if err := s.WriteKeyPair(privPath, pubPath); err != nil {
		return nil, false, err
	}
	return s, true, nil
}
