// Package audit defines the audit trail: append-only events linked in a
// SHA-256 hash chain, so that an edited, deleted or reordered row is found
// by recomputing the chain.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Event is one entry of the trail. Seq, PrevHash and Hash are set by the
// store when the event is appended, inside the transaction of the change it
// records.
type Event struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`   // who: a token subject, "system" for background work
	Action   string          `json:"action"`  // what: "submission.create", "token.revoke", ...
	Subject  string          `json:"subject"` // on what: "submission:ID", "token:ID", "namespace:acme"
	OldState string          `json:"oldState,omitempty"`
	NewState string          `json:"newState,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`

	// HashVersion 2 makes the chain cover commitments to Actor and
	// Subject (see Commit and Seal) instead of the plain values, so that
	// Pseudonymise can later replace them without breaking the chain.
	// 0 is the original hash (version 1), which every event before
	// pseudonymisation existed has.
	HashVersion int `json:"hashVersion,omitempty"`
	// ActorSalt and SubjectSalt key the commitments of a version 2
	// event; each is dropped when its field is pseudonymised. One salt per
	// field, so that a subject kept in clear (a submission id) does not
	// keep the salt that would let a guess be tested against the actor's
	// pseudonym.
	ActorSalt   []byte `json:"actorSalt,omitempty"`
	SubjectSalt []byte `json:"subjectSalt,omitempty"`
	// ReasonSalt and DataSalt key the commitments of a version 3 event's
	// Reason and Data, the fields where people are named in passing (a
	// token's holder, the hosts of a health quorum, a steward's note);
	// see PersonalFields.
	ReasonSalt []byte `json:"reasonSalt,omitempty"`
	DataSalt   []byte `json:"dataSalt,omitempty"`
}

// GenesisHash is the PrevHash of the first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the hash of e given its PrevHash: SHA-256 over a
// canonical JSON encoding of every field but Hash. Time is encoded in UTC
// with nanoseconds, so a round trip through any database gives the same
// bytes as long as it keeps the instant.
func ComputeHash(e Event) string {
	if e.HashVersion == 2 || e.HashVersion == 3 {
		return computeHashSalted(e)
	}
	c := struct {
		Seq      int64           `json:"seq"`
		Time     string          `json:"time"`
		Actor    string          `json:"actor"`
		Action   string          `json:"action"`
		Subject  string          `json:"subject"`
		OldState string          `json:"oldState"`
		NewState string          `json:"newState"`
		Reason   string          `json:"reason"`
		Data     json.RawMessage `json:"data"`
		PrevHash string          `json:"prevHash"`
	}{e.Seq, e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.OldState, e.NewState, e.Reason, compact(e.Data), e.PrevHash}
	b, err := json.Marshal(c)
	if err != nil {
		// Every field is a plain value and Data was compacted; Marshal cannot fail.
		panic(fmt.Sprintf("audit: encoding event: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		// Not JSON: hash it as a JSON string so it still binds.
		b, _ := json.Marshal(string(raw))
		return b
	}
	b, _ := json.Marshal(v)
	return b
}

// Link fills in e's Seq, PrevHash and Hash so that it follows prev (nil for
// the first event).
func Link(e *Event, prev *Event) {
	e.Seq, e.PrevHash = 1, GenesisHash
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond) // what every backend keeps
	e.Hash = ComputeHash(*e)
}

// Break describes the first place where the chain does not hold.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", b.Seq, b.Reason)
}

// Verifier checks events one at a time, in the order the store returns them
// (by Seq). It keeps only the previous event, so a trail of any length is
// checked in constant memory.
type Verifier struct {
	prev  *Event
	count int64
}

// Add checks the next event. It returns a *Break at the first link that
// does not hold: an edited row (its hash no longer matches its contents), a
// deleted row (a gap in the sequence, or a PrevHash that names another
// event) or reordered rows (the same).
func (v *Verifier) Add(e Event) error {
	wantSeq, wantPrev := int64(1), GenesisHash
	if v.prev != nil {
		wantSeq, wantPrev = v.prev.Seq+1, v.prev.Hash
	}
	if e.Seq != wantSeq {
		return &Break{Seq: wantSeq, Reason: fmt.Sprintf("expected event %d, found %d: an event was deleted or the rows were reordered", wantSeq, e.Seq)}
	}
	if e.PrevHash != wantPrev {
		return &Break{Seq: e.Seq, Reason: "its previous-hash does not match the event before it: an event before it was replaced or reordered"}
	}
	if got := ComputeHash(e); got != e.Hash {
		return &Break{Seq: e.Seq, Reason: "its contents do not match its hash: the row was edited"}
	}
	e2 := e
	v.prev = &e2
	v.count++
	return nil
}

// Count is how many events verified.
func (v *Verifier) Count() int64 { return v.count }

// Head is the last verified event's hash (GenesisHash when none).
func (v *Verifier) Head() string {
	if v.prev == nil {
		return GenesisHash
	}
	return v.prev.Hash
}
