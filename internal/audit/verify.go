package audit

import "errors"

// Report is the outcome of verifying a whole trail.
type Report struct {
	Count int64  // events that verified, in order, before any break
	Head  string // hash of the last verified event (GenesisHash when none)
	Break *Break // the first link that does not hold; nil when the trail is intact
}

// VerifyAll checks every event that scan produces, in the order it produces
// them (by Seq), and stops at the first break. scan calls fn once per event
// and must stop and return fn's error when fn fails.
//
// A broken chain is not an error of VerifyAll: it is reported in
// Report.Break, so that callers can show where the trail was altered. The
// error is non-nil only when scan itself failed, and then the report covers
// what was checked before the failure.
func VerifyAll(scan func(fn func(Event) error) error) (Report, error) {
	var v Verifier
	var brk *Break
	err := scan(func(e Event) error {
		if err := v.Add(e); err != nil {
			brk, _ = err.(*Break)
			return err
		}
		return nil
	})
	rep := Report{Count: v.Count(), Head: v.Head(), Break: brk}
	if brk != nil && errors.As(err, &brk) {
		return rep, nil
	}
	return rep, err
}
