package webhook

import (
	"fmt"
	"strings"
)

// maxFilterLen bounds one event filter.
const maxFilterLen = 128

// CheckFilter says whether f is a valid event filter: "*", an event type
// made of dot-separated identifiers ([a-zA-Z0-9_-]), or such a prefix
// followed by ".*" ("submission.*").
func CheckFilter(f string) error {
	if f == "*" {
		return nil
	}
	if f == "" || len(f) > maxFilterLen {
		return fmt.Errorf("event filter %q must be 1 to %d characters", f, maxFilterLen)
	}
	body := strings.TrimSuffix(f, ".*")
	for _, part := range strings.Split(body, ".") {
		if part == "" {
			return fmt.Errorf("event filter %q has an empty part; write types like submission.transition or submission.*", f)
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return fmt.Errorf("event filter %q: %q is not allowed; use letters, digits, _ and -, dots between parts and a final .* as a wildcard", f, r)
			}
		}
	}
	return nil
}

// Matches reports whether an event type matches filter f. "a.*" matches
// every type under a ("a.b", "a.b.c"), not a itself.
func Matches(f, eventType string) bool {
	if f == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(f, "*"); ok {
		return strings.HasPrefix(eventType, prefix) && len(eventType) > len(prefix)
	}
	return f == eventType
}

// MatchesAny reports whether any filter matches.
func MatchesAny(filters []string, eventType string) bool {
	for _, f := range filters {
		if Matches(f, eventType) {
			return true
		}
	}
	return false
}
