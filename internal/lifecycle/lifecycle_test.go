package lifecycle

import (
	"errors"
	"testing"
)

func TestDiagram(t *testing.T) {
	t.Parallel()
	// The path of DESIGN.md, end to end.
	path := []State{Received, Vetting, Triage, InReview, ChangesRequested, InReview, Certified, Certified, Suspended, Revoked}
	for i := 1; i < len(path); i++ {
		if err := Check(path[i-1], path[i]); err != nil {
			t.Errorf("%s → %s: %v", path[i-1], path[i], err)
		}
	}
	var ill *IllegalTransitionError
	for _, bad := range [][2]State{{Received, Certified}, {Rejected, Certified}, {Revoked, Certified}, {Certified, Received}, {Triage, ChangesRequested}} {
		if err := Check(bad[0], bad[1]); !errors.As(err, &ill) {
			t.Errorf("%s → %s allowed: %v", bad[0], bad[1], err)
		}
	}
	if err := Check("bogus", Vetting); err == nil || errors.As(err, &ill) {
		t.Errorf("unknown state: %v", err)
	}
	if !Terminal(Revoked) || Terminal(Rejected) {
		t.Error("only revoked is terminal (a rejection can be appealed)")
	}
	// Every state can be reached from received.
	seen := map[State]bool{Received: true}
	queue := []State{Received}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range Next(s) {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, s := range States {
		if !seen[s] {
			t.Errorf("%s cannot be reached", s)
		}
	}
}

// TestEveryStateHasOneMover: each state names the one thing that moves a
// version on, and only a final state has no way out.
func TestEveryStateHasOneMover(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		m := MovedBy(s)
		switch m {
		case Pipeline, People, Time:
			if Terminal(s) {
				t.Errorf("%s is moved on by %s but has no transition out", s, m)
			}
		case Nobody:
			if !Terminal(s) {
				t.Errorf("%s is final but has transitions out", s)
			}
		default:
			t.Errorf("%s has no mover: add it to movers", s)
		}
	}
}

// TestPath: the shortest legal way to every state, each step allowed; no
// way back to received.
func TestPath(t *testing.T) {
	for _, to := range States {
		path := Path(Received, to)
		if path == nil {
			t.Errorf("no path from received to %s", to)
			continue
		}
		from := Received
		for _, s := range path {
			if !Allowed(from, s) {
				t.Errorf("path to %s steps %s → %s, which is not allowed", to, from, s)
			}
			from = s
		}
		if from != to {
			t.Errorf("path to %s ends at %s", to, from)
		}
	}
	if got := Path(Received, Suspended); len(got) != 4 || got[3] != Suspended {
		t.Errorf("Path(received, suspended) = %v, want 4 steps", got)
	}
	if Path(Certified, Received) != nil {
		t.Error("found a way back to received")
	}
}
