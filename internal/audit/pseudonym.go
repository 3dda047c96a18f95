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

// Version 3 (every event sealed since migration 0023) extends the same
// scheme to Reason and Data, where people are named in passing: a token's
// holder in token.create, the hosts of a health quorum, a steward's note.
// Which of those fields the purge replaces is declared per action in the
// catalogue (PersonalFields); Data is replaced as a whole, since the hash
// cannot cover part of a JSON object by commitment without fixing, for
// ever, which keys are personal.

// SaltSize is the length of a field's salt.
const SaltSize = 32

// PseudonymPrefix starts a pseudonymised Actor, Subject or Reason; a
// pseudonymised Data is the JSON string of the same form.
const PseudonymPrefix = "pseudonym:"

// ErrNotPseudonymisable is returned for an event sealed without salts.
var ErrNotPseudonymisable = errors.New("audit: the event was sealed with hash version 1, which covers its actor and subject as they are, so they cannot be replaced without breaking the chain")

// Seal makes e a version 3 event with fresh salts; call it before Link.
func Seal(e *Event) error {
	salts := make([][]byte, 4)
	for i := range salts {
		salts[i] = make([]byte, SaltSize)
		if _, err := rand.Read(salts[i]); err != nil {
			return fmt.Errorf("audit: reading a salt: %w", err)
		}
	}
	e.HashVersion = 3
	e.ActorSalt, e.SubjectSalt, e.ReasonSalt, e.DataSalt = salts[0], salts[1], salts[2], salts[3]
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

// commitment is what the salted hash covers for a field: the
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

// dataValue is the text Data's commitment is computed over: its compact
// JSON, or, for a pseudonymised Data (a JSON string "pseudonym:..."), that
// string, so that commitment finds the prefix.
func dataValue(salt []byte, data []byte) string {
	c := string(compact(data))
	if salt == nil {
		var s string
		if json.Unmarshal([]byte(c), &s) == nil && strings.HasPrefix(s, PseudonymPrefix) {
			return s
		}
	}
	return c
}

func computeHashSalted(e Event) string {
	var v any
	if e.HashVersion == 2 {
		// Version 2 as it shipped (migration 0022): never change it.
		v = struct {
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
	} else {
		v = struct {
			V        int    `json:"v"`
			Seq      int64  `json:"seq"`
			Time     string `json:"time"`
			Actor    string `json:"actorCommit"`
			Action   string `json:"action"`
			Subject  string `json:"subjectCommit"`
			OldState string `json:"oldState"`
			NewState string `json:"newState"`
			Reason   string `json:"reasonCommit"`
			Data     string `json:"dataCommit"`
			PrevHash string `json:"prevHash"`
		}{3, e.Seq, e.Time.UTC().Format(time.RFC3339Nano), commitment(e.ActorSalt, "actor", e.Actor), e.Action,
			commitment(e.SubjectSalt, "subject", e.Subject), e.OldState, e.NewState,
			commitment(e.ReasonSalt, "reason", e.Reason), commitment(e.DataSalt, "data", dataValue(e.DataSalt, e.Data)), e.PrevHash}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("audit: encoding event: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Fields says which fields of an event Pseudonymise replaces besides the
// actor, which it always replaces.
type Fields struct {
	Subject bool // the subject names a person (PersonalSubject)
	Reason  bool // the reason is a person's text or names one (version 3)
	Data    bool // the data names a person or holds a person's text (version 3)
}

// Pseudonymise returns e with its Actor, and the fields f names, replaced
// by their commitments and those salts dropped; its Hash still verifies.
// Reason and Data are replaced only in version 3 events (a version 2
// event hashes them as they are). A field already pseudonymised stays as
// it is, so a purge run twice changes nothing.
func Pseudonymise(e Event, f Fields) (Event, error) {
	if e.HashVersion != 2 && e.HashVersion != 3 {
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
	if f.Subject {
		if err := pseudo(&out.SubjectSalt, "subject", &out.Subject); err != nil {
			return e, err
		}
	}
	if e.HashVersion != 3 {
		return out, nil
	}
	if f.Reason {
		if err := pseudo(&out.ReasonSalt, "reason", &out.Reason); err != nil {
			return e, err
		}
	}
	if f.Data && out.DataSalt != nil {
		v := dataValue(out.DataSalt, out.Data)
		if err := pseudo(&out.DataSalt, "data", &v); err != nil {
			return e, err
		}
		b, _ := json.Marshal(v)
		out.Data = b
	}
	return out, nil
}

// PersonalSubject reports whether an event's subject names a person (a
// token, whose id leads to its holder) rather than a thing (a submission,
// a namespace), so that retention pseudonymises it.
func PersonalSubject(subject string) bool {
	return strings.HasPrefix(subject, "token:")
}
