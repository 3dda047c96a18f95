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
// it. An event sealed by Seal (hash version 2) is hashed over commitments
// to its Actor and Subject, HMAC-SHA256 keyed by a random salt per field
// and event, not over the values. Pseudonymise replaces a value by its
// commitment and forgets that field's salt: the hash still holds, and
// without the 32 random bytes nobody can test a guess (an email address, a
// token id) against the pseudonym. Events sealed before (version 1) hash
// the plain values and cannot be pseudonymised without breaking the chain;
// see docs/decisions.md.

// SaltSize is the length of a field's salt.
const SaltSize = 32

// PseudonymPrefix starts a pseudonymised Actor or Subject.
const PseudonymPrefix = "pseudonym:"

// ErrNotPseudonymisable is returned for an event sealed without salts.
var ErrNotPseudonymisable = errors.New("audit: the event was sealed with hash version 1, which covers its actor and subject as they are, so they cannot be replaced without breaking the chain")

// Seal makes e a version 2 event with fresh salts; call it before Link.
func Seal(e *Event) error {
	a, s := make([]byte, SaltSize), make([]byte, SaltSize)
	if _, err := rand.Read(a); err != nil {
		return fmt.Errorf("audit: reading a salt: %w", err)
	}
	if _, err := rand.Read(s); err != nil {
		return fmt.Errorf("audit: reading a salt: %w", err)
	}
	e.HashVersion, e.ActorSalt, e.SubjectSalt = 2, a, s
	return nil
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
// commitment computed from its salt, or, once the salt is gone, the one
// the field holds (anything else cannot match, and verification breaks).
func commitment(salt []byte, field, value string) string {
	if salt == nil {
		if c, ok := strings.CutPrefix(value, PseudonymPrefix); ok {
			return c
		}
		return "unsalted:" + value
	}
	return Commit(salt, field, value)
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
	}{2, e.Seq, e.Time.UTC().Format(time.RFC3339Nano), commitment(e.ActorSalt, "actor", e.Actor), e.Action,
		commitment(e.SubjectSalt, "subject", e.Subject), e.OldState, e.NewState, e.Reason, compact(e.Data), e.PrevHash}
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("audit: encoding event: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Pseudonymise returns e with its Actor, and its Subject when subject is
// true (a subject that names a person: an account, a token), replaced by
// their commitments and those salts dropped; its Hash still verifies. A
// field already pseudonymised stays as it is, so a purge run twice
// changes nothing.
func Pseudonymise(e Event, subject bool) (Event, error) {
	if e.HashVersion != 2 {
		return e, ErrNotPseudonymisable
	}
	out := e
	pseudo := func(salt *[]byte, field string, value *string) error {
		if *salt == nil {
			return nil
		}
		if len(*salt) != SaltSize {
			return fmt.Errorf("audit: event %d has a %s salt of %d bytes, not %d", e.Seq, field, len(*salt), SaltSize)
		}
		*value = PseudonymPrefix + Commit(*salt, field, *value)
		*salt = nil
		return nil
	}
	if err := pseudo(&out.ActorSalt, "actor", &out.Actor); err != nil {
		return e, err
	}
	if subject {
		if err := pseudo(&out.SubjectSalt, "subject", &out.Subject); err != nil {
			return e, err
		}
	}
	return out, nil
}

// PersonalSubject reports whether an event's subject names a person (a
// token, whose id leads to its holder) rather than a thing (a submission,
// a namespace), so that retention pseudonymises it.
func PersonalSubject(subject string) bool {
	return strings.HasPrefix(subject, "token:")
}
