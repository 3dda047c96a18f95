package pipeline

import (
	"testing"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// TestEveryPipelineStateHasOneStep holds the state machine to its rule:
// every state the pipeline moves on has exactly one step, and no state
// that people, time or nobody moves on has one (a step there would race a
// reviewer).
func TestEveryPipelineStateHasOneStep(t *testing.T) {
	t.Parallel()
	for _, s := range lifecycle.States {
		step := StepOf(s)
		switch owned := lifecycle.MovedBy(s) == lifecycle.Pipeline; {
		case owned && step == "":
			t.Errorf("%s is moved on by the pipeline but has no step: add it to stepOf", s)
		case !owned && step != "":
			t.Errorf("%s is moved on by %s, yet the pipeline's %s step would move it", s, lifecycle.MovedBy(s), step)
		}
	}
}
