package tlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"gatehouse.dev/gatehouse/trust"
)

// MaxCheckpointBytes bounds a signed checkpoint read from outside.
const MaxCheckpointBytes = 16 << 10

// Hash is a Merkle tree hash (SHA-256).
type Hash = sumtlog.Hash

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, the
// tree size and the root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   Hash
}

// Marshal returns the checkpoint body: three lines, no extensions.
func (c Checkpoint) Marshal() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint parses a checkpoint body. Extension lines after the root
// hash are allowed by the format and ignored.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	lines := strings.SplitAfterN(string(body), "\n", 4)
	if len(lines) < 3 || !strings.HasSuffix(lines[2], "\n") {
		return Checkpoint{}, errors.New("tlog: checkpoint must have an origin, a size and a root hash line")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	if origin == "" {
		return Checkpoint{}, errors.New("tlog: checkpoint has an empty origin line")
	}
	sizeText := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || (len(sizeText) > 1 && sizeText[0] == '0') || size > 1<<62 {
		return Checkpoint{}, fmt.Errorf("tlog: checkpoint size %q is not a decimal tree size", sizeText)
	}
	h, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(h) != sumtlog.HashSize {
		return Checkpoint{}, errors.New("tlog: checkpoint root hash is not 32 bytes of base64")
	}
	c := Checkpoint{Origin: origin, Size: size}
	copy(c.Hash[:], h)
	return c, nil
}

// VerifyCheckpoint opens a signed checkpoint note with the log's verifier and
// returns the checkpoint. It fails when the note is not signed by that key
// (a checkpoint signed by another key, or altered), and when the origin line
// differs from the verifier's name, which C2SP requires to be the origin.
func VerifyCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	if len(signed) > MaxCheckpointBytes {
		return Checkpoint{}, fmt.Errorf("tlog: checkpoint is %d bytes; the limit is %d", len(signed), MaxCheckpointBytes)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			return Checkpoint{}, fmt.Errorf("tlog: checkpoint is not signed by the log key %s: %w", v.Name(), err)
		}
		return Checkpoint{}, fmt.Errorf("tlog: checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("tlog: checkpoint is for log %q, the verifier key is for %q", c.Origin, v.Name())
	}
	return c, nil
}

// NewVerifier parses a signed-note verifier key ("origin+hash+base64").
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("tlog: log verifier key: %w", err)
	}
	return v, nil
}

// VerifierKey returns the signed-note verifier key for an Ed25519 log key.
func VerifierKey(origin string, pub trust.PublicKey) (string, error) {
	k, ok := pub.Key.(ed25519.PublicKey)
	if !ok {
		return "", fmt.Errorf("tlog: the log key must be Ed25519 (C2SP signed notes); key %s is %s", pub.ID, pub.Algorithm)
	}
	vkey, err := note.NewEd25519VerifierKey(origin, k)
	if err != nil {
		return "", fmt.Errorf("tlog: %w", err)
	}
	return vkey, nil
}

// NewNoteSigner makes a signed-note signer for the log, named origin, from a
// trust.Signer holding an Ed25519 key. The key stays behind the Signer
// interface, so an HSM can sign checkpoints too.
func NewNoteSigner(origin string, s trust.Signer) (note.Signer, error) {
	pub, err := trust.NewPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	vkey, err := VerifierKey(origin, pub)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("tlog: %w", err)
	}
	return &noteSigner{name: origin, hash: v.KeyHash(), s: s}, nil
}

type noteSigner struct {
	name string
	hash uint32
	s    trust.Signer
}

func (n *noteSigner) Name() string    { return n.name }
func (n *noteSigner) KeyHash() uint32 { return n.hash }

// Sign implements note.Signer, whose interface has no context; a checkpoint
// signature is one local operation, so the background context is used.
func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	return n.s.Sign(context.Background(), msg)
}

// signCheckpoint signs a checkpoint body as a note.
func signCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Marshal())}, s)
}

// noteText returns the text of a note without verifying it: the part
// before the blank line that starts the signatures.
func noteText(signed []byte) ([]byte, error) {
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("tlog: checkpoint note has no signature block")
	}
	return signed[:i+1], nil
}
