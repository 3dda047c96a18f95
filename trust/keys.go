package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Algorithm names a signature scheme.
type Algorithm string

const (
	// Ed25519 is the default: small keys, fast, deterministic signatures.
	Ed25519 Algorithm = "ed25519"
	// ECDSAP256 is ECDSA over NIST P-256 with SHA-256, for environments that
	// require NIST curves (many KMS and HSM offerings).
	ECDSAP256 Algorithm = "ecdsa-p256-sha256"
)

// maxKeyFileBytes bounds what LoadSigner and LoadPublicKey read: a PEM key of
// either algorithm is a few hundred bytes.
const maxKeyFileBytes = 16 << 10

// Signer signs messages with one private key. File keys implement it; a KMS or
// HSM can stand behind it without the callers changing.
type Signer interface {
	// KeyID is the id of the public key (see the package documentation).
	KeyID() string
	// Public returns the public key: ed25519.PublicKey or *ecdsa.PublicKey.
	Public() crypto.PublicKey
	// Sign signs msg. Ed25519 signs msg itself; ECDSA signs its SHA-256 and
	// returns an ASN.1 DER signature.
	Sign(ctx context.Context, msg []byte) ([]byte, error)
	// Algorithm names the signature scheme.
	Algorithm() Algorithm
}

// PublicKey is a parsed public key with its id and algorithm.
type PublicKey struct {
	ID        string
	Algorithm Algorithm
	Key       crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey
}

// NewPublicKey wraps an Ed25519 or ECDSA P-256 public key.
func NewPublicKey(pub crypto.PublicKey) (PublicKey, error) {
	alg, err := algorithmOf(pub)
	if err != nil {
		return PublicKey{}, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{ID: id, Algorithm: alg, Key: pub}, nil
}

// Verify reports whether sig is a valid signature of msg by this key. It
// returns ErrBadSignature when it is not.
func (k PublicKey) Verify(msg, sig []byte) error {
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
		if ed25519.Verify(pub, msg, sig) {
			return nil
		}
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(msg)
		if ecdsa.VerifyASN1(pub, sum[:], sig) {
			return nil
		}
	default:
		return fmt.Errorf("trust: key %s has unsupported type %T", k.ID, k.Key)
	}
	return fmt.Errorf("%w by key %s", ErrBadSignature, k.ID)
}

// MarshalPEM encodes the key as a PEM "PUBLIC KEY" block (PKIX).
func (k PublicKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Key)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding public key %s: %w", k.ID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// KeyIDScheme names how key ids are made, as the trust root states it
// ("keyIdScheme") for verifiers that bring their own DSSE code: such a
// verifier checks only signatures whose keyid is its key's, and derives ids
// its own way unless told (go-securesystemslib and Python's securesystemslib
// hash their own JSON form of the key), so it must be given these ids.
const KeyIDScheme = "hex(sha256(pkix-der)[:16])"

// KeyID returns the id of an Ed25519 or ECDSA P-256 public key: the lowercase
// hex of the first 16 bytes of the SHA-256 of its PKIX encoding (KeyIDScheme).
func KeyID(pub crypto.PublicKey) (string, error) {
	if _, err := algorithmOf(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("trust: encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:16]), nil
}

func algorithmOf(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("trust: Ed25519 public key has the wrong length")
		}
		return Ed25519, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("trust: ECDSA key on curve %s; only P-256 is supported", k.Curve.Params().Name)
		}
		return ECDSAP256, nil
	default:
		return "", fmt.Errorf("trust: unsupported public key type %T; use Ed25519 or ECDSA P-256", pub)
	}
}

// FileSigner is a Signer whose private key is held in memory, loaded from or
// written to a PEM file.
type FileSigner struct {
	priv crypto.Signer
	pub  PublicKey
}

var _ Signer = (*FileSigner)(nil)

// GenerateKey makes a new key pair of the given algorithm; an empty
// algorithm means Ed25519.
func GenerateKey(alg Algorithm) (*FileSigner, error) {
	return generateKey(alg, rand.Reader)
}

func generateKey(alg Algorithm, r io.Reader) (*FileSigner, error) {
	var priv crypto.Signer
	switch alg {
	case Ed25519, "":
		_, k, err := ed25519.GenerateKey(r)
		if err != nil {
			return nil, fmt.Errorf("trust: generating Ed25519 key: %w", err)
		}
		priv = k
	case ECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), r)
		if err != nil {
			return nil, fmt.Errorf("trust: generating ECDSA P-256 key: %w", err)
		}
		priv = k
	default:
		return nil, fmt.Errorf("trust: unknown key algorithm %q; use %q or %q", alg, Ed25519, ECDSAP256)
	}
	return newFileSigner(priv)
}

func newFileSigner(priv crypto.Signer) (*FileSigner, error) {
	pub, err := NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return &FileSigner{priv: priv, pub: pub}, nil
}

// KeyID implements Signer.
func (s *FileSigner) KeyID() string { return s.pub.ID }

// Public implements Signer.
func (s *FileSigner) Public() crypto.PublicKey { return s.pub.Key }

// PublicKey returns the public half with its id.
func (s *FileSigner) PublicKey() PublicKey { return s.pub }

// Algorithm implements Signer.
func (s *FileSigner) Algorithm() Algorithm { return s.pub.Algorithm }

// Sign implements Signer.
func (s *FileSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch s.pub.Algorithm {
	case Ed25519:
		return s.priv.Sign(nil, msg, crypto.Hash(0))
	default:
		sum := sha256.Sum256(msg)
		return s.priv.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
}

// WriteKeyPair writes the private key to privPath (PKCS#8 PEM, mode 0600) and
// the public key to pubPath (PKIX PEM, mode 0644). It refuses to overwrite an
// existing private key file, so a key is never lost by accident.
func (s *FileSigner) WriteKeyPair(privPath, pubPath string) error {
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return fmt.Errorf("trust: encoding private key: %w", err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pubPEM, err := s.pub.MarshalPEM()
	if err != nil {
		return err
	}
	if err := writeNewFile(privPath, privPEM, 0o600); err != nil {
		return fmt.Errorf("trust: writing private key: %w", err)
	}
	if pubPath != "" {
		if err := writeFileAtomic(pubPath, pubPEM, 0o644); err != nil {
			return fmt.Errorf("trust: writing public key: %w", err)
		}
	}
	return nil
}

// writeNewFile creates path exclusively with the given mode and syncs it.
// The mode is set explicitly afterwards because the umask may have removed
// bits, never added them; Chmod makes the mode exact either way.
func writeNewFile(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite a key", path)
		}
		return err
	}
	if err := f.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, synced, then renamed over path, then the directory synced. A
// reader sees the old contents or the new, never a mix.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// WriteFileAtomic is writeFileAtomic for other packages of Gatehouse (the
// verify state folder, the log's checkpoint).
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	return writeFileAtomic(path, data, mode)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadSigner reads a PEM PKCS#8 private key written by WriteKeyPair (or by
// openssl genpkey). It refuses a file that group or other users may read or
// write, naming the chmod that fixes it.
func LoadSigner(path string) (*FileSigner, error) {
	data, err := readKeyFile(path, true)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block != nil && block.Type == "PUBLIC KEY" {
		return nil, publicKeyGiven(path)
	}
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("trust: %s is not a PEM \"PRIVATE KEY\" (PKCS#8) file", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("trust: %s: parsing PKCS#8 private key: %w", path, err)
	}
	priv, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("trust: %s: unsupported private key type %T", path, key)
	}
	s, err := newFileSigner(priv)
	if err != nil {
		return nil, fmt.Errorf("trust: %s: %w", path, err)
	}
	return s, nil
}

// LoadPublicKey reads a PEM PKIX public key.
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := readKeyFile(path, false)
	if err != nil {
		return PublicKey{}, err
	}
	k, err := ParsePublicKeyPEM(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParsePublicKeyPEM parses a PEM "PUBLIC KEY" block (PKIX) holding an Ed25519
// or ECDSA P-256 key.
func ParsePublicKeyPEM(data []byte) (PublicKey, error) {
	if len(data) > maxKeyFileBytes {
		return PublicKey{}, fmt.Errorf("trust: public key is %d bytes; a PEM key is at most %d", len(data), maxKeyFileBytes)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return PublicKey{}, errors.New("trust: not a PEM \"PUBLIC KEY\" (PKIX) block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("trust: parsing PKIX public key: %w", err)
	}
	return NewPublicKey(pub)
}

// isPublicKeyPEM reports whether data is a PEM "PUBLIC KEY" block.
func isPublicKeyPEM(data []byte) bool {
	block, _ := pem.Decode(data)
	return block != nil && block.Type == "PUBLIC KEY"
}

// publicKeyGiven is the error for a public key passed where the private key
// is needed, naming the private key file it probably belongs to.
func publicKeyGiven(path string) error {
	if priv, ok := strings.CutSuffix(path, ".pub"); ok {
		return fmt.Errorf("trust: %s is a public key; pass the private key (%s)", path, priv)
	}
	return fmt.Errorf("trust: %s is a public key; pass the private key file it was made with (gatehouse keys generate -o KEY writes KEY and KEY.pub)", path)
}

func readKeyFile(path string, private bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("trust: %s is not a regular file", path)
	}
	if private && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		// A public key is readable by design: say what was mixed up
		// rather than ask for a chmod.
		if head, _ := io.ReadAll(io.LimitReader(f, maxKeyFileBytes)); isPublicKeyPEM(head) {
			return nil, publicKeyGiven(path)
		}
		return nil, fmt.Errorf("trust: private key %s has mode %04o, readable by other users; run chmod 600 %s (and consider the key compromised if others could read it)",
			path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("trust: reading %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("trust: %s is larger than %d bytes; it is not a key file", path, maxKeyFileBytes)
	}
	return data, nil
}
