package sandbox

import (
	"context"
	"fmt"
	"slices"

	"gatehouse.dev/gatehouse/trust"
)

// An Obeyed is what Obey did to one loaded plugin.
type Obeyed struct {
	Plugin string
	// From and To are the versions before and after; To is empty for a
	// plugin Obey stopped.
	From, To string
	// Err is why the plugin could not be moved; it keeps running From.
	Err error
}

// Obey makes the running host follow its environment's status feed, which
// the caller has verified (verify.ObserveStatusFeed, or install.Sync's):
// a killed plugin is stopped (calls in flight finish; new ones get
// ErrNotLoaded), and a plugin whose version differs from the one the feed
// gives this host (hostID places it in or out of a staged rollout) is
// swapped to it, loaded through load (which must verify the version, as
// VerifiedRequest does). A plugin the feed does not name is left as it
// is. A failed load leaves the plugin on its version and is reported;
// the others are still moved.
func (h *Host) Obey(ctx context.Context, f *trust.StatusFeed, hostID string, load func(ctx context.Context, plugin, version string) (LoadRequest, error)) []Obeyed {
	type running struct{ id, version string }
	h.mu.RLock()
	var loaded []running
	for id, s := range h.slots {
		loaded = append(loaded, running{id, s.current.ref.Version})
	}
	h.mu.RUnlock()
	slices.SortFunc(loaded, func(a, b running) int {
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	})
	var out []Obeyed
	for _, p := range loaded {
		if k, ok := f.Kill(p.id); ok {
			ch := Obeyed{Plugin: p.id, From: p.version}
			if err := h.Unload(p.id); err != nil {
				ch.Err = err
			} else {
				h.rt.cfg.Logger.Warn("plugin stopped: killed by the marketplace", "plugin", p.id, "version", p.version, "reason", k.Reason,
					"feed", fmt.Sprintf("%s/%d", f.Environment, f.Sequence))
			}
			out = append(out, ch)
			continue
		}
		want, _, ok := f.VersionFor(p.id, hostID)
		if !ok || want == p.version {
			continue
		}
		ch := Obeyed{Plugin: p.id, From: p.version, To: want}
		req, err := load(ctx, p.id, want)
		if err == nil {
			_, err = h.Swap(ctx, req)
		}
		if err != nil {
			ch.Err = fmt.Errorf("moving %s from %s to %s (status feed %s/%d): %w", p.id, p.version, want, f.Environment, f.Sequence, err)
		}
		out = append(out, ch)
	}
	return out
}
