package verify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Policy is the host's own rule for which permissions it lets a plugin
// have. It denies by default: a permission is accepted only when an Allow
// entry matches it.
type Policy struct {
	// Allow lists accepted permissions. An entry matches a permission that
	// equals it or, when it ends in "*", one that starts with the part
	// before the "*": "kv:*" accepts kv:read and kv:write. Only a trailing
	// "*" is special.
	Allow []string `json:"allow"`
}

// Accepts reports whether the policy accepts permission p.
func (p Policy) Accepts(perm string) bool {
	for _, a := range p.Allow {
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

// maxPolicyBytes bounds a policy file.
const maxPolicyBytes = 1 << 20

// ParsePolicy decodes a policy file: {"allow": ["kv:read", "net:https://api.example.com"]}.
func ParsePolicy(data []byte) (Policy, error) {
	if len(data) > maxPolicyBytes {
		return Policy{}, fmt.Errorf("verify: policy file is %d bytes; the limit is %d", len(data), maxPolicyBytes)
	}
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("verify: policy file: %w", err)
	}
	return p, nil
}
