package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Pseudonymisation keeps the chain verifiable after personal data leaves
// it. An event sealed with a salt (hash version 2) is hashed over
// commitments to its Actor and Subject, HMAC-SHA256 keyed by a random
// per-event salt, not over the values. Pseudonymise replaces the values
// by their commitments and forgets the salt: the hash still holds, and
// without the 32 random bytes of the salt nobody can test a guess (an
// email address, a token id) against the commitment. Events sealed before
// (version 1, Salt nil) hash the plain values and cannot be pseudonymised
// without breaking the chain; see docs/decisions.md.

// SaltSize is the length of an event's salt.
const SaltSize = 32

// PseudonymPrefix starts a pseudonymised Actor or Subject.
const PseudonymPrefix = "pseudonym:"

// ErrNotPseudonymisable is returned for an event sealed without a salt.
var ErrNotPseudonymisable = errors.New("audit: the event was sealed without a salt (hash version 1), so its actor and subject are hashed as they are and cannot be replaced without breaking the chain")

// NewSalt returns a fresh random salt for an event about to be linked.
func NewSalt() ([]byte, error) {
	b := make([]byte, SaltSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("audit: reading a salt: %w", err)
	}
	return b, nil
}

// Commit is the commitment to one field's value under salt. The field
// name is bound in, so an actor's commitment is never a subject's.
func Commit(salt []byte, field, value string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// commitment is what the version 2 hash covers for a field: the
// commitment computed from the salt, or the one a pseudonymised event
// already holds.
func commitment(e Event, field, value string) string {
	if e.Pseudonymised {
		return strings.TrimPrefix(value, PseudonymPrefix)
	}
	return Commit(e.Salt, field, value)
}

func computeHashV2(e Event) string {
	c := struct {
		V        int             `json:"v"`
		Seq      int64           `json:"seq"`
		Time     string          `json:"time"`
		Actor    string          `json:"actorCommit"`
		Action   string          `json:"action"`
		Subject  string          `json:"subjectCommit"`
		OldState string          `json:"oldState"`
		NewState string          `json:"newState"`
		Reason   string          `json:"reason"`
		Data     json.RawMessage `json:"data"`
		PrevHash string          `json:"prevHash"`
	}{2, e.Seq, e.Time.UTC().Format(time.RFC3339Nano), commitment(e, "actor", e.Actor), e.Action,
		commitment(e, "subject", e.Subject), e.OldState, e.NewState, e.Reason, compact(e.Data), e.PrevHash}
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("audit: encoding event: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Pseudonymise returns e with Actor and Subject replaced by their
// commitments and the salt dropped; its Hash still verifies. An event
// already pseudonymised comes back unchanged, so a purge run twice
// changes nothing.
func Pseudonymise(e Event) (Event, error) {
	if e.Pseudonymised {
		return e, nil
	}
	if e.Salt == nil {
		return e, ErrNotPseudonymisable
	}
	if len(e.Salt) != SaltSize {
		return e, fmt.Errorf("audit: event %d has a salt of %d bytes, not %d", e.Seq, len(e.Salt), SaltSize)
	}
	out := e
	out.Actor = PseudonymPrefix + Commit(e.Salt, "actor", e.Actor)
	out.Subject = PseudonymPrefix + Commit(e.Salt, "subject", e.Subject)
	out.Salt = nil
	out.Pseudonymised = true
	return out, nil
}
