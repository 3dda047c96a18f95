package verify

import (
	"context"
	"errors"
	"fmt"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// observation is what one look at a checkpoint and a revocation list
// established, each part with its own error.
type observation struct {
	cp      tlog.Checkpoint
	cpErr   error // the checkpoint's signature
	consErr error // its consistency with the last checkpoint seen
	rl      *trust.RevocationList
	rlErr   error // the list's signature and shape, or a rollback
}

// observe checks a signed checkpoint and opts.Revocations against the
// trust in opts and the state st, moves st on to whichever of them is
// genuine and newer, and saves st if it moved. The checks' failures are in
// the observation; the error is a failure to save.
func observe(ctx context.Context, st *state, checkpoint []byte, opts Options) (observation, error) {
	var o observation
	changed := false
	o.cp, o.cpErr = tlog.VerifyCheckpoint(checkpoint, opts.LogVerifier)
	if o.cpErr == nil {
		var advance bool
		advance, o.consErr = checkConsistency(ctx, *st, o.cp, opts)
		if o.consErr == nil && advance {
			st.Checkpoint, changed = string(checkpoint), true
		}
	}
	o.rl, o.rlErr = trust.OpenRevocationList(opts.Revocations, opts.MarketplaceKeys)
	switch {
	case o.rlErr != nil:
	case o.rl.Number < st.RevocationNumber:
		o.rlErr = fmt.Errorf("revocation list %d is older than list %d already seen: %w; fetch the current list (gatehouse verify --refresh)", o.rl.Number, st.RevocationNumber, ErrRevocationRollback)
	case o.rl.Number > st.RevocationNumber:
		st.RevocationNumber, changed = o.rl.Number, true
	}
	if changed {
		if err := saveState(opts.StateDir, *st); err != nil {
			return o, fmt.Errorf("recording the newer checkpoint or revocation list: %w", err)
		}
	}
	return o, nil
}

// Observed is the log checkpoint and revocation list Observe accepted.
type Observed struct {
	Checkpoint     tlog.Checkpoint
	RevocationList *trust.RevocationList
	// Recorded reports that the state folder moved on to either of them.
	Recorded bool
}

// Observe checks a signed log checkpoint and the revocation list
// opts.Revocations without a package: the checkpoint's signature and its
// consistency with the last one seen (opts.Prover supplies the proof), the
// list's signature, that it is not older than one seen, and its freshness.
// It records in opts.StateDir whichever of them verifies and is newer, even
// when the other does not, so that an older one replayed later is refused.
// This is how a host keeps its state current between verifications
// (`gatehouse verify --refresh`). A failure is an *Error naming the check.
func Observe(ctx context.Context, checkpoint []byte, opts Options) (*Observed, error) {
	fail := func(c Check, err error) (*Observed, error) { return nil, &Error{Check: c, Err: err} }
	if opts.MarketplaceKeys.Len() == 0 || opts.LogVerifier == nil || opts.StateDir == "" || opts.Revocations == nil || opts.RevocationMaxAge <= 0 {
		return fail(CheckSetup, errors.New("the marketplace keys, the log verifier key, a state folder, a revocation list and its maximum age are all required"))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = timeNow
	}
	unlock, err := lockState(ctx, opts.StateDir)
	if err != nil {
		return fail(CheckSetup, err)
	}
	defer unlock()
	st, err := loadState(opts.StateDir)
	if err != nil {
		return fail(CheckSetup, err)
	}
	before := st
	o, err := observe(ctx, &st, checkpoint, opts)
	if err != nil {
		return fail(CheckSetup, err)
	}
	switch {
	case o.cpErr != nil:
		return fail(CheckCheckpoint, o.cpErr)
	case o.consErr != nil:
		return fail(CheckConsistency, o.consErr)
	case o.rlErr != nil:
		return fail(CheckRevocationList, o.rlErr)
	}
	if err := o.rl.CheckFresh(now(), opts.RevocationMaxAge); err != nil {
		return fail(CheckRevocationList, err)
	}
	return &Observed{Checkpoint: o.cp, RevocationList: o.rl, Recorded: st.Checkpoint != before.Checkpoint || st.RevocationNumber != before.RevocationNumber}, nil
}
