package audit

import (
	"errors"
	"testing"
	"time"
)

func chain(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Time: time.Date(2026, 11, 22, 5, 0, i, 1234000, time.UTC), Actor: "alice", Action: SubmissionCreate, Subject: "thing:1"}
		var prev *Event
		if i > 0 {
			prev = &evs[i-1]
		}
		Link(&evs[i], prev)
	}
	return evs
}

func scanOf(evs []Event) func(func(Event) error) error {
	return func(fn func(Event) error) error {
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestVerifyAll(t *testing.T) {
	t.Parallel()
	evs := chain(5)
	rep, err := VerifyAll(scanOf(evs))
	if err != nil || rep.Break != nil || rep.Count != 5 || rep.Head != evs[4].Hash {
		t.Fatalf("honest trail: report %+v, err %v", rep, err)
	}

	empty, err := VerifyAll(scanOf(nil))
	if err != nil || empty.Break != nil || empty.Count != 0 || empty.Head != GenesisHash {
		t.Fatalf("empty trail: report %+v, err %v", empty, err)
	}

	edited := chain(5)
	edited[2].Reason = "x"
	rep, err = VerifyAll(scanOf(edited))
	if err != nil || rep.Break == nil || rep.Break.Seq != 3 || rep.Count != 2 || rep.Head != edited[1].Hash {
		t.Fatalf("edited event 3: report %+v (break %v), err %v", rep, rep.Break, err)
	}

	deleted := append(chain(5)[:2:2], chain(5)[3:]...)
	rep, _ = VerifyAll(scanOf(deleted))
	if rep.Break == nil || rep.Break.Seq != 3 {
		t.Fatalf("deleted event 3: report %+v", rep)
	}
}

func TestVerifyAllScanError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk gone")
	evs := chain(3)
	rep, err := VerifyAll(func(fn func(Event) error) error {
		if err := fn(evs[0]); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || rep.Count != 1 || rep.Break != nil {
		t.Fatalf("scan failure: report %+v, err %v", rep, err)
	}
}
