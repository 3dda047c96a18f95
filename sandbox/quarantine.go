package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// ErrQuarantined is returned for a plugin version this host quarantined:
// calls, loads and swaps to it are refused until Release.
var ErrQuarantined = errors.New("plugin version is quarantined on this host")

// MaxQuarantined bounds the quarantine list of one Host.
const MaxQuarantined = 10_000

// Quarantine is why and since when a version is quarantined.
type Quarantine struct {
	Plugin  string
	Version string
	Reason  string
	Since   time.Time
}

// Quarantine stops this host running one plugin version: calls to it fail
// with ErrQuarantined (the plugin is not called, so it is not counted as
// failing again), and Load or Swap to it are refused, until Release. It is
// what a host does when its health report finds the version failing (the
// marketplace's answer says quarantine): the decision is this host's alone.
// The marketplace suspends the version everywhere only when a quorum of
// distinct hosts reports it failing. A host that wants the plugin back
// swaps to another version (Swap or Rollback) or releases the quarantine.
// The list lives in the Host's memory; a host that must keep it across
// restarts records it with its install state and quarantines again at
// start-up.
func (h *Host) Quarantine(plugin, version, reason string) error {
	if plugin == "" || version == "" {
		return errors.New("quarantine needs a plugin id and version")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.quarantined == nil {
		h.quarantined = make(map[string]Quarantine)
	}
	key := plugin + "@" + version
	if _, ok := h.quarantined[key]; !ok && len(h.quarantined) >= MaxQuarantined {
		return fmt.Errorf("quarantining %s: %d versions are quarantined, the limit; release some or unload them", key, MaxQuarantined)
	}
	h.quarantined[key] = Quarantine{Plugin: plugin, Version: version, Reason: reason, Since: time.Now()}
	return nil
}

// Release lifts a quarantine; it reports whether there was one.
func (h *Host) Release(plugin, version string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := plugin + "@" + version
	_, ok := h.quarantined[key]
	delete(h.quarantined, key)
	return ok
}

// Quarantined returns the quarantine of a plugin version, if any.
func (h *Host) Quarantined(plugin, version string) (Quarantine, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	q, ok := h.quarantined[plugin+"@"+version]
	return q, ok
}

// quarantineErr returns the refusal for a quarantined version; the
// caller holds h.mu.
func (h *Host) quarantineErr(plugin, version string) error {
	q, ok := h.quarantined[plugin+"@"+version]
	if !ok {
		return nil
	}
	return fmt.Errorf("%s@%s: %w since %s: %s; release it with Host.Release once fixed", plugin, version, ErrQuarantined, q.Since.UTC().Format(time.RFC3339), q.Reason)
}
