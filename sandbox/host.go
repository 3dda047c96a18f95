package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Host keeps the loaded plugins of a host process by plugin id, and
// changes versions while calls are in flight: a call that started on a
// version finishes on it, and the version is closed when its last call
// returns.
type Host struct {
	rt *Runtime

	mu    sync.RWMutex
	slots map[string]*slot
	// quarantined are the versions this host refuses to run, by
	// "id@version" (Quarantine); at most MaxQuarantined.
	quarantined map[string]Quarantine
}

type slot struct {
	current *Plugin
	req     LoadRequest
	// previous is the request of the version before current, for Rollback.
	// It is reloaded (from the compilation cache) rather than kept running.
	previous *LoadRequest
}

// ErrNotLoaded is returned for a plugin id the Host does not have.
var ErrNotLoaded = errors.New("plugin is not loaded")

// NewHost returns an empty Host on rt.
func NewHost(rt *Runtime) *Host {
	return &Host{rt: rt, slots: make(map[string]*slot)}
}

// Load loads a plugin whose id is not loaded yet.
func (h *Host) Load(ctx context.Context, req LoadRequest) (*Plugin, error) {
	if req.Manifest == nil {
		return nil, &CallError{Kind: KindLoadFailed, Msg: "no manifest"}
	}
	id := req.Manifest.ID
	h.mu.RLock()
	_, exists := h.slots[id]
	qerr := h.quarantineErr(id, req.Manifest.Version)
	h.mu.RUnlock()
	if qerr != nil {
		return nil, fmt.Errorf("loading %w", qerr)
	}
	if exists {
		return nil, fmt.Errorf("plugin %s is already loaded; use Swap to change its version", id)
	}
	p, err := h.rt.Load(ctx, req)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if _, exists := h.slots[id]; exists {
		h.mu.Unlock()
		p.retire()
		return nil, fmt.Errorf("plugin %s was loaded concurrently; use Swap to change its version", id)
	}
	h.slots[id] = &slot{current: p, req: req}
	h.mu.Unlock()
	return p, nil
}

// Swap loads req and makes it the plugin's current version. Calls in
// flight finish on the old version, which is closed when they have; new
// calls go to the new one. If the new version fails to load, the old one
// stays. Swap on an id that is not loaded loads it.
func (h *Host) Swap(ctx context.Context, req LoadRequest) (*Plugin, error) {
	if req.Manifest == nil {
		return nil, &CallError{Kind: KindLoadFailed, Msg: "no manifest"}
	}
	h.mu.RLock()
	qerr := h.quarantineErr(req.Manifest.ID, req.Manifest.Version)
	h.mu.RUnlock()
	if qerr != nil {
		return nil, fmt.Errorf("swapping to %w", qerr)
	}
	p, err := h.rt.Load(ctx, req)
	if err != nil {
		return nil, err
	}
	id := req.Manifest.ID
	h.mu.Lock()
	s := h.slots[id]
	var old *Plugin
	if s == nil {
		h.slots[id] = &slot{current: p, req: req}
	} else {
		old = s.current
		prev := s.req
		s.previous, s.current, s.req = &prev, p, req
	}
	h.mu.Unlock()
	if old != nil {
		old.retire()
		h.rt.cfg.Logger.Info("plugin swapped", "plugin", id, "from", old.ref.Version, "to", p.ref.Version)
	}
	return p, nil
}

// Rollback swaps the plugin back to the version before the current one.
// Rolling back twice returns to where it started.
func (h *Host) Rollback(ctx context.Context, id string) (*Plugin, error) {
	h.mu.RLock()
	s := h.slots[id]
	var prev *LoadRequest
	if s != nil {
		prev = s.previous
	}
	h.mu.RUnlock()
	if s == nil {
		return nil, fmt.Errorf("rolling back %s: %w", id, ErrNotLoaded)
	}
	if prev == nil {
		return nil, fmt.Errorf("rolling back %s: there is no previous version", id)
	}
	return h.Swap(ctx, *prev)
}

// Unload removes the plugin. Calls in flight finish; new calls fail with
// ErrNotLoaded.
func (h *Host) Unload(id string) error {
	h.mu.Lock()
	s := h.slots[id]
	delete(h.slots, id)
	h.mu.Unlock()
	if s == nil {
		return fmt.Errorf("unloading %s: %w", id, ErrNotLoaded)
	}
	s.current.retire()
	return nil
}

// Plugin returns the current version of plugin id.
func (h *Host) Plugin(id string) (*Plugin, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.slots[id]
	if s == nil {
		return nil, false
	}
	return s.current, true
}

// Call calls export on the current version of plugin id.
func (h *Host) Call(ctx context.Context, id, export string, input []byte) (Result, error) {
	h.mu.RLock()
	s := h.slots[id]
	var p *Plugin
	var qerr error
	if s != nil {
		qerr = h.quarantineErr(id, s.current.ref.Version)
	}
	// Register the call while holding the lock, so a concurrent Swap
	// cannot close this version between choosing it and calling it.
	if s != nil && qerr == nil && s.current.acquire() {
		p = s.current
	}
	h.mu.RUnlock()
	if qerr != nil {
		return Result{}, fmt.Errorf("calling %w", qerr)
	}
	if p == nil {
		return Result{}, fmt.Errorf("calling %s: %w", id, ErrNotLoaded)
	}
	defer p.release()
	return p.call(ctx, export, input)
}

// Close unloads every plugin and waits (up to ctx) for their calls.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	slots := h.slots
	h.slots = make(map[string]*slot)
	h.mu.Unlock()
	var errs []error
	for _, s := range slots {
		if err := s.current.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
