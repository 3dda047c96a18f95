// Package lifecycle is the state machine of one plugin version, from the
// moment its package is received to its revocation. Every transition is
// checked here; the store refuses to record one this package does not allow.
package lifecycle

import "fmt"

// State is where a version stands.
type State string

const (
	Received         State = "received"
	Vetting          State = "vetting"
	Triage           State = "triage"
	AutoApproved     State = "auto_approved"
	InReview         State = "in_review"
	ChangesRequested State = "changes_requested"
	Certified        State = "certified"
	Rejected         State = "rejected"
	Suspended        State = "suspended"
	Revoked          State = "revoked"
)

// States lists every state in lifecycle order.
var States = []State{Received, Vetting, Triage, AutoApproved, InReview, ChangesRequested, Certified, Rejected, Suspended, Revoked}

// transitions is the whole diagram of DESIGN.md. A version is immutable, so
// a fix is a new version: no state leads back to received.
var transitions = map[State][]State{
	Received:         {Vetting, Rejected},
	Vetting:          {Triage, Rejected, Vetting}, // vetting again: a re-run on demand
	Triage:           {AutoApproved, InReview, Rejected},
	AutoApproved:     {Certified},
	InReview:         {Certified, Rejected, ChangesRequested},
	ChangesRequested: {InReview, Rejected},            // the author's next version links back; an appeal reopens
	Certified:        {Certified, Suspended, Revoked}, // certified again: renewed by revalidation
	Rejected:         {InReview},                      // an appeal
	Suspended:        {Certified, Revoked},
	Revoked:          {},
}

// Mover is what moves a version on from a state.
type Mover string

const (
	// Pipeline: one step of the pipeline (vetting, triage, certification)
	// moves the version on, with no person involved. A process that dies
	// mid-step leaves the version here, so these are the states resumed at
	// start-up and by the worker's sweep.
	Pipeline Mover = "pipeline"
	// People: a reviewer, the author or a steward decides.
	People Mover = "people"
	// Time: revalidation on its cadence (or a steward) decides again.
	Time Mover = "time"
	// Nobody: the state is final.
	Nobody Mover = "nobody"
)

// movers says, for each state, the one thing that moves a version on.
// A version in review with all its approvals is certified by the pipeline
// (review.Service resumes it); until then people decide.
var movers = map[State]Mover{
	Received:         Pipeline, // intake queues its vetting
	Vetting:          Pipeline, // the vetting job
	Triage:           Pipeline, // the policy decides
	AutoApproved:     Pipeline, // certification
	InReview:         People,
	ChangesRequested: People,
	Rejected:         People, // an appeal
	Certified:        Time,
	Suspended:        Time,
	Revoked:          Nobody,
}

// MovedBy says what moves a version on from s ("" for an unknown state).
func MovedBy(s State) Mover { return movers[s] }

// Valid reports whether s is a known state.
func Valid(s State) bool {
	_, ok := transitions[s]
	return ok
}

// Allowed reports whether a version may move from one state to another.
func Allowed(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Check returns an error naming the illegal transition, or nil.
func Check(from, to State) error {
	if !Valid(from) {
		return fmt.Errorf("unknown state %q", from)
	}
	if !Valid(to) {
		return fmt.Errorf("unknown state %q", to)
	}
	if !Allowed(from, to) {
		return &IllegalTransitionError{From: from, To: to}
	}
	return nil
}

// IllegalTransitionError is returned for a move the diagram does not have.
type IllegalTransitionError struct{ From, To State }

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("a version in state %s cannot move to %s", e.From, e.To)
}

// Terminal reports whether nothing can follow s.
func Terminal(s State) bool { return len(transitions[s]) == 0 }

// Next lists the states reachable from s in one step.
func Next(s State) []State { return append([]State(nil), transitions[s]...) }

// Path returns the shortest way from one state to another, the states
// after from in order (empty when from is to), or nil when to cannot be
// reached: how tests and tools put a version in a given state through
// legal transitions only.
func Path(from, to State) []State {
	if from == to {
		return []State{}
	}
	prev := map[State]State{from: from}
	queue := []State{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range transitions[s] {
			if _, seen := prev[n]; seen {
				continue
			}
			prev[n] = s
			if n == to {
				var path []State
				for at := to; at != from; at = prev[at] {
					path = append([]State{at}, path...)
				}
				return path
			}
			queue = append(queue, n)
		}
	}
	return nil
}
