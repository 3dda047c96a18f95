package audit

import (
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
		p, err := Pseudonymise(events[i], true)
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
	again, err := Pseudonymise(events[0], true)
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
			p, err := Pseudonymise(events[1], true)
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
	if _, err := Pseudonymise(e, true); !errors.Is(err, ErrNotPseudonymisable) {
		t.Fatalf("err = %v", err)
	}
	e.HashVersion, e.ActorSalt = 2, []byte("short")
	if _, err := Pseudonymise(e, true); err == nil || !strings.Contains(err.Error(), "actor salt of 5 bytes") {
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
	p, err := Pseudonymise(events[0], false)
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
