package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/trust"
)

// Errors of the status feed (issue 18), matched with errors.Is.
var (
	// ErrSuspended: the environment's status feed suspends this version.
	// Its reason is in the error; a fixed version lifts it.
	ErrSuspended = errors.New("version is suspended")
	// ErrKilled: the marketplace's kill switch stops this plugin, every
	// version of it, in every environment.
	ErrKilled = errors.New("plugin is killed")
)

// ObserveStatusFeed opens an environment's status feed with the host's
// marketplace keys, refuses one older than the newest this host accepted
// for the environment (trust.ErrFeedRollback) or stale
// (trust.ErrStaleFeed), and records its sequence in the state folder as
// soon as its signature verifies, whatever is decided after: a host that
// refuses a version because a newer feed suspends it must not accept an
// older feed replayed afterwards.
func ObserveStatusFeed(env *dsse.Envelope, opts Options) (*trust.StatusFeed, error) {
	if err := statusOptionsErr(opts); err != nil {
		return nil, err
	}
	unlock, err := lockState(context.Background(), opts.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return observeStatusFeed(env, opts)
}

// observeStatusFeed is ObserveStatusFeed with the state folder's lock
// already held (Verify holds it for its whole run).
func observeStatusFeed(env *dsse.Envelope, opts Options) (*trust.StatusFeed, error) {
	if err := statusOptionsErr(opts); err != nil {
		return nil, err
	}
	now := timeNow
	if opts.Now != nil {
		now = opts.Now
	}
	f, err := trust.OpenStatusFeed(env, opts.MarketplaceKeys)
	if err != nil {
		return nil, err
	}
	if opts.Environment != "" && f.Environment != opts.Environment {
		return nil, fmt.Errorf("status feed of %s: %w: this host is enrolled in %s", f.Environment, trust.ErrWrongEnvironment, opts.Environment)
	}
	st, err := loadState(opts.StateDir)
	if err != nil {
		return nil, err
	}
	last := st.StatusSequences[f.Environment]
	if f.Sequence < last {
		return nil, fmt.Errorf("status feed %s/%d: %w (%d); an older feed may hide a suspension or a kill", f.Environment, f.Sequence, trust.ErrFeedRollback, last)
	}
	if f.Sequence > last {
		if st.StatusSequences == nil {
			st.StatusSequences = map[string]uint64{}
		}
		st.StatusSequences[f.Environment] = f.Sequence
		if err := saveState(opts.StateDir, st); err != nil {
			return nil, err
		}
	}
	if err := f.CheckFresh(now(), opts.StatusMaxAge); err != nil {
		return nil, err
	}
	return f, nil
}

// Obeys refuses a version the feed suspends (ErrSuspended), revokes
// (ErrRevoked) or whose plugin it kills (ErrKilled), each with the
// marketplace's reason.
func Obeys(f *trust.StatusFeed, pluginID, version, digest string) error {
	name := trust.SubjectName(pluginID, version)
	if k, ok := f.Kill(pluginID); ok {
		return fmt.Errorf("%w: %s is stopped everywhere by the marketplace since %s: %s", ErrKilled, pluginID, k.Time.Format("2006-01-02 15:04 MST"), k.Reason)
	}
	if r, ok := f.Revocation(digest); ok {
		return fmt.Errorf("%w: %s (status feed %s/%d): %s", ErrRevoked, name, f.Environment, f.Sequence, r.Reason)
	}
	if s, ok := f.Suspension(digest); ok {
		return fmt.Errorf("%w: %s (status feed %s/%d): %s", ErrSuspended, name, f.Environment, f.Sequence, s.Reason)
	}
	return nil
}

// statusOptionsErr refuses options a status feed cannot be checked with
// (fail closed).
func statusOptionsErr(opts Options) error {
	if opts.StatusMaxAge <= 0 || opts.StateDir == "" || opts.MarketplaceKeys.Len() == 0 {
		return errors.New("the status feed needs the marketplace keys, a state folder and a positive maximum age (fail closed)")
	}
	return nil
}
