package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The version 1 hash is what every existing trail was sealed with; the
// salt must not change it.
func TestVersion1HashUnchanged(t *testing.T) {
	e := Event{Seq: 7, Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), Actor: "token:alice@example.com", Action: "token.create",
		Subject: "account:alice@example.com", Reason: "r", Data: []byte(`{"a":1}`), PrevHash: GenesisHash}
	// Computed by ComputeHash before pseudonymisation existed.
	const want = "3552258e1f53b986c2d2ff6ddad51169047dd062c7b282bdef304e8064568806"
	if got := ComputeHash(e); got != want {
		t.Fatalf("version 1 hash changed: %s", got)
	}
}

func saltedChain(t *testing.T, n int) []Event {
	t.Helper()
	var out []Event
	var prev *Event
	for i := 0; i < n; i++ {
		e := Event{Time: time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC), Actor: "token:alice@example.com", Action: "token.use",
			Subject: "account:alice@example.com"}
		if err := Seal(&e); err != nil {
			t.Fatal(err)
		}
		Link(&e, prev)
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func verifyAll(events []Event) error {
	var v Verifier
	for _, e := range events {
		if err := v.Add(e); err != nil {
			return err
		}
	}
	return nil
}

func TestPseudonymisedChainStillVerifies(t *testing.T) {
	events := saltedChain(t, 5)
	head := events[len(events)-1].Hash
	// The three oldest are past retention; the two newest stay as they are.
	for i := 0; i < 3; i++ {
		p, err := Pseudonymise(events[i], Fields{Subject: true})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.Actor+p.Subject, "alice") || p.ActorSalt != nil || p.SubjectSalt != nil || !strings.HasPrefix(p.Subject, PseudonymPrefix) {
			t.Fatalf("event %d still identifies its subject: %+v", p.Seq, p)
		}
		events[i] = p
	}
	if err := verifyAll(events); err != nil {
		t.Fatal(err)
	}
	if events[len(events)-1].Hash != head || events[4].Subject != "account:alice@example.com" {
		t.Fatal("the recent events or the head changed")
	}
	// Twice changes nothing.
	again, err := Pseudonymise(events[0], Fields{Subject: true})
	if err != nil || again.Subject != events[0].Subject || again.Hash != events[0].Hash {
		t.Fatalf("a second pseudonymisation changed the event: %+v, %v", again, err)
	}
	// Each event has its own salt: pseudonyms do not link events.
	if events[0].Subject == events[1].Subject {
		t.Fatal("two events share a pseudonym")
	}
}

func TestTamperedPseudonymBreaksTheChain(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Event)
	}{
		{"pseudonym swapped", func(e *Event) { e.Subject = PseudonymPrefix + strings.Repeat("0", 64) }},
		{"plain subject put back", func(e *Event) { e.Subject = "account:mallory@example.com" }},
		{"version dropped", func(e *Event) { e.HashVersion = 0 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events := saltedChain(t, 3)
			p, err := Pseudonymise(events[1], Fields{Subject: true})
			if err != nil {
				t.Fatal(err)
			}
			tt.change(&p)
			events[1] = p
			var b *Break
			if err := verifyAll(events); !errors.As(err, &b) || b.Seq != 2 {
				t.Fatalf("err = %v, want a break at event 2", err)
			}
		})
	}
}

func TestSaltedEventEditedBreaksTheChain(t *testing.T) {
	events := saltedChain(t, 2)
	events[0].Actor = "token:mallory@example.com"
	if err := verifyAll(events); err == nil {
		t.Fatal("an edited actor verified")
	}
}

func TestVersion1EventsAreNotPseudonymised(t *testing.T) {
	e := Event{Time: time.Now(), Actor: "token:a", Action: "x", Subject: "account:a"}
	Link(&e, nil)
	if _, err := Pseudonymise(e, Fields{Subject: true}); !errors.Is(err, ErrNotPseudonymisable) {
		t.Fatalf("err = %v", err)
	}
	e.HashVersion, e.ActorSalt = 2, []byte("short")
	if _, err := Pseudonymise(e, Fields{Subject: true}); err == nil || !strings.Contains(err.Error(), "actor salt of 5 bytes") {
		t.Fatalf("err = %v", err)
	}
}

// A subject that names no person (a submission) stays in clear, and the
// actor's pseudonym stays unguessable: its salt is gone, the subject's is
// its own.
func TestActorOnlyPseudonymKeepsSubject(t *testing.T) {
	events := saltedChain(t, 2)
	events[0].Subject = "submission:01J"
	Link(&events[0], nil)
	Link(&events[1], &events[0])
	p, err := Pseudonymise(events[0], Fields{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "submission:01J" || p.ActorSalt != nil || p.SubjectSalt == nil || strings.Contains(p.Actor, "alice") {
		t.Fatalf("%+v", p)
	}
	events[0] = p
	if err := verifyAll(events); err != nil {
		t.Fatal(err)
	}
}

// The version 2 hash is what events sealed between migrations 0022 and
// 0023 carry; version 3 must not change it.
func TestVersion2HashUnchanged(t *testing.T) {
	e := Event{Seq: 9, Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), Actor: "alice@example.com", Action: "token.create",
		Subject: "token:tok-1", Reason: "r", Data: []byte(`{"subject":"alice@example.com"}`), PrevHash: GenesisHash, HashVersion: 2,
		ActorSalt: bytes.Repeat([]byte{1}, 32), SubjectSalt: bytes.Repeat([]byte{2}, 32)}
	// Computed by ComputeHash as migration 0022 shipped it.
	const want = "6b2b463c60b37080c22a408042a38e4f54ac694367dfaff6df61e74995805e74"
	if got := ComputeHash(e); got != want {
		t.Fatalf("version 2 hash changed: %s", got)
	}
}

// A version 3 event names its token's holder in Data and a person in
// Reason; pseudonymising them leaves no trace of either, the chain still
// verifies, and putting either back, or another pseudonym, breaks it.
func TestReasonAndDataPseudonymisedChainStillVerifies(t *testing.T) {
	mk := func() []Event {
		var out []Event
		var prev *Event
		for i := 0; i < 3; i++ {
			e := Event{Time: time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC), Actor: "admin@example.com", Action: TokenCreate,
				Subject: "token:tok-1", Reason: "issued by admin@example.com", Data: []byte(`{"subject":"alice@example.com","role":"publisher"}`)}
			if err := Seal(&e); err != nil {
				t.Fatal(err)
			}
			if e.HashVersion != 3 || e.ReasonSalt == nil || e.DataSalt == nil {
				t.Fatalf("Seal did not make a version 3 event: %+v", e)
			}
			Link(&e, prev)
			out = append(out, e)
			prev = &out[len(out)-1]
		}
		return out
	}
	events := mk()
	f := PersonalFields(events[0])
	if f != (Fields{Subject: true, Reason: true, Data: true}) {
		t.Fatalf("PersonalFields = %+v; want subject, reason (it names the actor) and data", f)
	}
	p, err := Pseudonymise(events[0], f)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(p); strings.Contains(string(b), "alice") || strings.Contains(string(b), "admin@") || strings.Contains(string(b), "tok-1") {
		t.Fatalf("pseudonymised event still names someone: %s", b)
	}
	events[0] = p
	if err := verifyAll(events); err != nil {
		t.Fatal(err)
	}
	again, err := Pseudonymise(p, f)
	if err != nil || again.Hash != p.Hash || string(again.Data) != string(p.Data) || again.Reason != p.Reason {
		t.Fatalf("a second pseudonymisation changed the event: %+v, %v", again, err)
	}
	for name, change := range map[string]func(*Event){
		"data put back":     func(e *Event) { e.Data = []byte(`{"subject":"alice@example.com","role":"publisher"}`) },
		"data pseudonym":    func(e *Event) { e.Data = []byte(`"` + PseudonymPrefix + strings.Repeat("0", 64) + `"`) },
		"reason put back":   func(e *Event) { e.Reason = "issued by admin@example.com" },
		"reason pseudonym":  func(e *Event) { e.Reason = PseudonymPrefix + strings.Repeat("0", 64) },
		"version lowered":   func(e *Event) { e.HashVersion = 2 },
		"data salt dropped": func(e *Event) { e.DataSalt = nil },
	} {
		t.Run(name, func(t *testing.T) {
			events := mk()
			q := events[1]
			if name != "data salt dropped" {
				var err error
				if q, err = Pseudonymise(q, f); err != nil {
					t.Fatal(err)
				}
			}
			change(&q)
			events[1] = q
			var b *Break
			if err := verifyAll(events); !errors.As(err, &b) || b.Seq != 2 {
				t.Fatalf("err = %v, want a break at event 2", err)
			}
		})
	}
}

func TestPersonalFields(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    Event
		want Fields
	}{
		{"token holder in data", Event{Actor: "admin", Action: TokenCreate, Subject: "token:t", Data: []byte(`{"subject":"bob","role":"auditor"}`)}, Fields{Subject: true, Data: true}},
		{"steward's note", Event{Actor: "s", Action: IncidentNote, Subject: "incident:1", Reason: "bob said so"}, Fields{Reason: true}},
		{"quorum hosts", Event{Actor: "system", Action: HealthQuorum, Subject: "submission:1", Data: []byte(`{"hosts":["h1"],"requiredHosts":1}`)}, Fields{Reason: true, Data: true}},
		{"no why given", Event{Actor: "system", Action: SubmissionVet, Subject: "submission:1", Reason: "every enforced check passed", Data: []byte(`{"blocked":false,"why":""}`)}, Fields{}},
		{"why given", Event{Actor: "system", Action: SubmissionVet, Subject: "submission:1", Data: []byte(`{"why":"bob asked"}`)}, Fields{Data: true}},
		{"nothing personal", Event{Actor: "carol", Action: SubmissionCreate, Subject: "submission:1", Reason: "package received", Data: []byte(`{"plugin":"acme/x"}`)}, Fields{}},
		{"actor named in an undeclared reason and data", Event{Actor: "carol", Action: SubmissionCreate, Subject: "submission:1", Reason: "sent by carol", Data: []byte(`{"by":"carol"}`)}, Fields{Reason: true, Data: true}},
	} {
		if got := PersonalFields(tt.e); got != tt.want {
			t.Errorf("%s: PersonalFields = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}
