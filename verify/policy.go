package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
)

// Policy is the host's own rule for which plugins it loads and which
// permissions it lets each have. It denies by default. It comes in two
// forms, which one file may combine:
//
//   - {"allow": [...]}: any plugin, with only permissions an Allow entry
//     matches;
//   - {"plugins": {"acme/hello": {"permissions": [...]}}}: the AI-SWA
//     policy file (seed 003): only the plugins listed load, each with
//     only the permissions listed for it.
//
// When a file has both, a plugin must be listed and each of its
// permissions matched by both its entry and Allow.
type Policy struct {
	// Allow lists accepted permissions. An entry matches a permission that
	// equals it or, when it ends in "*", one that starts with the part
	// before the "*": "kv:*" accepts kv:read and kv:write. Only a trailing
	// "*" is special.
	Allow []string `json:"allow,omitempty"`
	// Plugins, when present (even empty), lists the only plugins that
	// load, by id, each with the permissions it may have (matched as
	// Allow's entries are).
	Plugins map[string]PluginRule `json:"plugins,omitempty"`
	// HostAPI says which host API version the host runs and what it does
	// with plugins that rely on a deprecated one (see HostAPIRule).
	HostAPI *HostAPIRule `json:"hostApi,omitempty"`
}

// HostAPIRule is the host's rule for host API deprecations (issue 19
// item 6), checked against the published versions in Options.HostAPIs:
// a plugin that uses a function or capability the host's version marks
// deprecated, or that a version replacing the host's lacks, is verified
// with a warning (Result.Warnings); with RefuseAfterSunset, once the
// host's version has passed its sunset date, a plugin that does not work
// with its replacement is refused.
type HostAPIRule struct {
	// Version is the host API version the host runs (default
	// hostapi.Version, this build's).
	Version           string `json:"version,omitempty"`
	RefuseAfterSunset bool   `json:"refuseAfterSunset,omitempty"`
}

// PluginRule is one plugin's entry in an AI-SWA policy file.
type PluginRule struct {
	Permissions []string `json:"permissions"`
}

// Accepts reports whether the allow list accepts permission perm.
func (p Policy) Accepts(perm string) bool { return matches(p.Allow, perm) }

// matches reports whether an entry of list matches perm (exactly, or by a
// trailing "*").
func matches(list []string, perm string) bool {
	for _, a := range list {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(perm, prefix) {
				return true
			}
		} else if a == perm {
			return true
		}
	}
	return false
}

// Check returns nil when the policy lets plugin id load with perms, or an
// error matching ErrNotAllowed that names what is refused and the fix.
func (p Policy) Check(id string, perms []string) error {
	if p.Plugins == nil {
		for _, perm := range perms {
			if !p.Accepts(perm) {
				return fmt.Errorf("%w: the plugin was granted %q; add it to the host policy's allow list to accept it", ErrNotAllowed, perm)
			}
		}
		return nil
	}
	rule, ok := p.Plugins[id]
	if !ok {
		return fmt.Errorf("%w: the host policy lists the plugins that may load, and %s is not one of them; add \"%s\": {\"permissions\": [...]} to its plugins to load it", ErrNotAllowed, id, id)
	}
	for _, perm := range perms {
		if !matches(rule.Permissions, perm) {
			return fmt.Errorf("%w: the plugin was granted %q, which the host policy does not list for %s; add it to plugins[%q].permissions to accept it", ErrNotAllowed, perm, id, id)
		}
		if p.Allow != nil && !p.Accepts(perm) {
			return fmt.Errorf("%w: the plugin was granted %q; add it to the host policy's allow list to accept it", ErrNotAllowed, perm)
		}
	}
	return nil
}

// Limits of a policy file.
const (
	maxPolicyBytes   = 1 << 20
	maxPolicyPlugins = 10000
	maxPluginIDBytes = 256
)

// ParsePolicy decodes a policy file in either form (see Policy):
// {"allow": ["kv:read", "net:https://api.example.com"]} or
// {"plugins": {"acme/hello": {"permissions": ["kv:read"]}}}.
func ParsePolicy(data []byte) (Policy, error) {
	if len(data) > maxPolicyBytes {
		return Policy{}, fmt.Errorf("verify: policy file is %d bytes; the limit is %d", len(data), maxPolicyBytes)
	}
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("verify: policy file: %w (expected {\"allow\": [...]} or {\"plugins\": {\"ID\": {\"permissions\": [...]}}})", err)
	}
	if dec.More() {
		return Policy{}, errors.New("verify: policy file: data after its JSON object")
	}
	if len(p.Plugins) > maxPolicyPlugins {
		return Policy{}, fmt.Errorf("verify: policy file lists %d plugins; the limit is %d", len(p.Plugins), maxPolicyPlugins)
	}
	ids := make([]string, 0, len(p.Plugins))
	for id := range p.Plugins {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the first problem named is the same every time
	for _, id := range ids {
		if id == "" || len(id) > maxPluginIDBytes || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return Policy{}, fmt.Errorf("verify: policy file: plugin id %q is not an id such as acme/hello", id)
		}
		if slices.Contains(p.Plugins[id].Permissions, "") {
			return Policy{}, fmt.Errorf("verify: policy file: plugins[%q].permissions has an empty entry", id)
		}
	}
	if p.HostAPI != nil && p.HostAPI.Version != "" && !hostapi.ValidVersion(p.HostAPI.Version) {
		return Policy{}, fmt.Errorf("verify: policy file: hostApi.version %q is not a semantic version such as 1.0.0", p.HostAPI.Version)
	}
	if slices.Contains(p.Allow, "") {
		return Policy{}, errors.New("verify: policy file: allow has an empty entry")
	}
	return p, nil
}
