package tlog

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// MaxProofHashes bounds a proof read from outside: a proof in a tree of at
// most 2^63 leaves has at most 2*63 hashes.
const MaxProofHashes = 128

// Proof is an inclusion or consistency proof: a list of hashes. In JSON it
// is an array of base64 strings, as in C2SP and Sigstore bundles.
type Proof []Hash

// MarshalJSON encodes the proof as base64 strings.
func (p Proof) MarshalJSON() ([]byte, error) {
	s := make([]string, len(p))
	for i, h := range p {
		s[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return json.Marshal(s)
}

// UnmarshalJSON decodes base64 strings, refusing more than MaxProofHashes.
func (p *Proof) UnmarshalJSON(b []byte) error {
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if len(s) > MaxProofHashes {
		return fmt.Errorf("tlog: proof has %d hashes; at most %d are possible", len(s), MaxProofHashes)
	}
	out := make(Proof, len(s))
	for i, x := range s {
		h, err := base64.StdEncoding.Strict().DecodeString(x)
		if err != nil || len(h) != sumtlog.HashSize {
			return fmt.Errorf("tlog: proof hash %d is not 32 bytes of base64", i)
		}
		copy(out[i][:], h)
	}
	*p = out
	return nil
}

// ErrProof is wrapped by every proof that does not check out.
var ErrProof = errors.New("proof does not verify")

// VerifyInclusion checks that entry is the leaf at index in the tree the
// checkpoint commits to. An inclusion proof for another entry, or another
// index, fails.
func VerifyInclusion(entry []byte, index uint64, proof Proof, cp Checkpoint) error {
	if len(proof) > MaxProofHashes {
		return fmt.Errorf("tlog: %w: %d hashes", ErrProof, len(proof))
	}
	if index >= cp.Size {
		return fmt.Errorf("tlog: %w: entry %d is outside a tree of %d entries", ErrProof, index, cp.Size)
	}
	if err := sumtlog.CheckRecord(sumtlog.RecordProof(proof), int64(cp.Size), cp.Hash, int64(index), sumtlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("tlog: %w: entry %d is not in the tree of size %d", ErrProof, index, cp.Size)
	}
	return nil
}

// VerifyConsistency checks that the tree of newer extends the tree of older:
// every entry older committed to is still there, in the same place. A
// rewritten or forked log fails, including one that shows two different
// trees of the same size.
func VerifyConsistency(older, newer Checkpoint, proof Proof) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("tlog: %w: checkpoints are of different logs (%q and %q)", ErrProof, older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("tlog: %w: the newer checkpoint (%d entries) is smaller than the older (%d)", ErrProof, newer.Size, older.Size)
	}
	if len(proof) > MaxProofHashes {
		return fmt.Errorf("tlog: %w: %d hashes", ErrProof, len(proof))
	}
	if older.Size == newer.Size {
		if older.Hash != newer.Hash {
			return fmt.Errorf("tlog: %w: two different trees of size %d: the log has forked", ErrProof, older.Size)
		}
		return nil
	}
	if older.Size == 0 {
		return nil // the empty tree is a prefix of every tree
	}
	if err := sumtlog.CheckTree(sumtlog.TreeProof(proof), int64(newer.Size), newer.Hash, int64(older.Size), older.Hash); err != nil {
		return fmt.Errorf("tlog: %w: the tree of size %d does not extend the tree of size %d: the log was rewritten or forked", ErrProof, newer.Size, older.Size)
	}
	return nil
}
