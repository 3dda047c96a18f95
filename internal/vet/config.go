package vet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
)

// DefaultMode is how an analyzer counts when the configuration does not
// name it: enabled, enforced and required. Vetting denies by default: a
// new analyzer blocks on its failing findings and on its own failure to
// run until an operator deliberately puts it in shadow mode. A rule the
// configuration does not name counts as its analyzer does.
var DefaultMode = Mode{Enabled: true, Enforced: true, Required: true}

// Config says how each analyzer and each rule counts.
//
// A rule's mode, when set, replaces its analyzer's mode for that rule's
// findings: a disabled rule's findings are dropped, a rule that is enabled
// but not enforced (shadow mode) shows its findings without ever blocking,
// and an enforced rule blocks on a failing finding even when its analyzer
// is in shadow mode.
type Config struct {
	// Analyzers maps an analyzer name to its mode.
	Analyzers map[string]Mode `json:"analyzers,omitempty"`
	// Rules maps a rule id (such as "secrets/aws-access-token") to its
	// mode.
	Rules map[string]Mode `json:"rules,omitempty"`
	// Logger, when set, receives the stack of a panicking analyzer and a
	// line per finished analyzer. Stacks never go into results: they are
	// shown to plugin authors.
	Logger *slog.Logger `json:"-"`
}

// AnalyzerMode returns the mode of the named analyzer.
func (c Config) AnalyzerMode(name string) Mode {
	if m, ok := c.Analyzers[name]; ok {
		return m
	}
	return DefaultMode
}

// RuleMode returns the mode of a rule of the named analyzer.
func (c Config) RuleMode(analyzer, rule string) Mode {
	if m, ok := c.Rules[rule]; ok {
		return m
	}
	return c.AnalyzerMode(analyzer)
}

// MaxConfigBytes bounds a configuration file.
const MaxConfigBytes = 1 << 20

// ParseConfig reads a configuration from JSON such as
//
//	{"analyzers": {"diff": {"enabled": true}},
//	 "rules": {"capabilities/unused-permission": {"enabled": false}}}
//
// A mode lists its three switches; an omitted switch is false, so the
// example puts the diff analyzer in shadow mode and makes it optional.
// Unknown fields and modes that are disabled yet enforced or required are
// refused, as they would not do what their author meant.
func ParseConfig(data []byte) (Config, error) {
	if len(data) > MaxConfigBytes {
		return Config{}, fmt.Errorf("vet configuration is %d bytes; the limit is %d", len(data), MaxConfigBytes)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("vet configuration: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, errors.New("vet configuration: unexpected data after the JSON object")
	}
	var problems []string
	check := func(kind, name string, m Mode) {
		if name == "" {
			problems = append(problems, fmt.Sprintf("an %s has an empty name", kind))
		}
		if !m.Enabled && (m.Enforced || m.Required) {
			problems = append(problems, fmt.Sprintf("%s %q is disabled but also enforced or required; enable it, or drop enforced and required", kind, name))
		}
	}
	for _, name := range sortedKeys(c.Analyzers) {
		check("analyzer", name, c.Analyzers[name])
	}
	for _, id := range sortedKeys(c.Rules) {
		check("rule", id, c.Rules[id])
		if !strings.Contains(id, "/") {
			problems = append(problems, fmt.Sprintf("rule %q is not a rule id of the form analyzer/rule", id))
		}
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("vet configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// Check reports configuration entries that name no analyzer or rule of
// analyzers, which are almost always typos that would silently leave a
// check in its default mode.
func (c Config) Check(analyzers []Analyzer) error {
	known := make(map[string]bool)
	rules := make(map[string]bool)
	for _, a := range analyzers {
		known[a.Name()] = true
		for _, r := range a.Rules() {
			rules[r.ID] = true
		}
	}
	var unknown []string
	for _, name := range sortedKeys(c.Analyzers) {
		if !known[name] {
			unknown = append(unknown, fmt.Sprintf("analyzer %q", name))
		}
	}
	for _, id := range sortedKeys(c.Rules) {
		if !rules[id] {
			unknown = append(unknown, fmt.Sprintf("rule %q", id))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("vet configuration names unknown %s", strings.Join(unknown, ", "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}
