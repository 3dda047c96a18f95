package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
)

// KeySize is the size of a sealing key (AES-256).
const KeySize = 32

// Sealer protects signing secrets at rest. The marketplace must be able to
// sign, so it cannot keep only a hash the way it does for tokens; instead
// each secret is encrypted with AES-256-GCM under a key kept outside the
// database (a file in the data folder, mode 0600), with the subscription
// id as additional data, so a copy of the database alone (a backup, a
// replica, a SQL injection elsewhere) yields no secret, and a sealed secret
// moved to another row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer using key (KeySize bytes).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("the webhook sealing key is %d bytes; want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// LoadOrCreateKey reads the sealing key at path, creating it (mode 0600,
// exclusively) when it does not exist.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != KeySize {
			return nil, fmt.Errorf("%s holds %d bytes, not a %d-byte webhook sealing key; restore it from backup (without it no webhook can be signed)", path, len(b), KeySize)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the webhook sealing key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(path) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("creating the webhook sealing key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the webhook sealing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// Seal encrypts secret for the subscription id.
func (s *Sealer) Seal(id string, secret []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, secret, []byte(id)), nil
}

// Open decrypts a sealed secret of the subscription id.
func (s *Sealer) Open(id string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("the sealed secret of webhook %s is truncated", id)
	}
	b, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("the secret of webhook %s does not open with this server's sealing key (was the key file replaced?)", id)
	}
	return b, nil
}
