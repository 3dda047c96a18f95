package domain

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Environments and releases (issue 18). A marketplace declares the
// environments hosts enroll into, in promotion order; a certified version
// is released into the first one and promoted by policy to the next. A
// release is what one environment runs of one plugin: the version, how far
// its rollout has gone, and the version hosts outside the rollout keep.

// DefaultEnvironments are the environments of a marketplace that declares
// none.
var DefaultEnvironments = []string{"dev", "staging", "prod"}

// Limits on environments.
const (
	MaxEnvironments   = 16
	MaxEnvironmentLen = 32
)

var envName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Environments is a marketplace's ordered list of environment names.
type Environments []string

// ParseEnvironments reads a comma-separated list ("dev,staging,prod"); an
// empty string is DefaultEnvironments.
func ParseEnvironments(s string) (Environments, error) {
	if strings.TrimSpace(s) == "" {
		return Environments(append([]string(nil), DefaultEnvironments...)), nil
	}
	var out Environments
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out, out.Validate()
}

// Validate refuses an empty list, too many names, a malformed name and a
// duplicate.
func (e Environments) Validate() error {
	if len(e) == 0 || len(e) > MaxEnvironments {
		return fmt.Errorf("declare 1 to %d environments, in promotion order (such as dev,staging,prod): %w", MaxEnvironments, ErrInvalid)
	}
	seen := map[string]bool{}
	for _, n := range e {
		if len(n) > MaxEnvironmentLen || !envName.MatchString(n) {
			return fmt.Errorf("environment %q must be 1 to %d characters of a-z, 0-9 and -, starting with a letter: %w", n, MaxEnvironmentLen, ErrInvalid)
		}
		if seen[n] {
			return fmt.Errorf("environment %q is declared twice: %w", n, ErrInvalid)
		}
		seen[n] = true
	}
	return nil
}

// Index returns the position of name, or -1.
func (e Environments) Index(name string) int {
	for i, n := range e {
		if n == name {
			return i
		}
	}
	return -1
}

// Check refuses a name that is not declared, listing the ones that are.
func (e Environments) Check(name string) error {
	if e.Index(name) < 0 {
		return fmt.Errorf("environment %q is not one of this marketplace's (%s): %w", name, strings.Join(e, ", "), ErrInvalid)
	}
	return nil
}

// First is the environment a certified version is released into.
func (e Environments) First() string { return e[0] }

// Previous returns the environment before name ("" for the first).
func (e Environments) Previous(name string) string {
	if i := e.Index(name); i > 0 {
		return e[i-1]
	}
	return ""
}

// RolloutStatus says whether a release's rollout moves.
type RolloutStatus string

// Rollout statuses. A release at 100% is complete whatever its status
// says; a halted rollout was stopped by the health threshold, a paused one
// by a person. Aborting a rollout sets the release back to its previous
// version (RolloutActive, 100%).
const (
	RolloutActive RolloutStatus = "active"
	RolloutPaused RolloutStatus = "paused"
	RolloutHalted RolloutStatus = "halted"
)

// Release is what one environment runs of one plugin.
type Release struct {
	PluginID    string
	Environment string
	// VersionID and Version are the release; Digest its package.
	VersionID string
	Version   string
	Digest    string
	// Rollout is the share of hosts (percent, 1 to 100) that run Version;
	// the others keep Previous.
	Rollout int
	Status  RolloutStatus
	// PreviousID and Previous are the version this one replaced (empty
	// for the first release): what hosts outside the rollout run, and
	// what a release rollback returns to.
	PreviousID     string
	Previous       string
	PreviousDigest string
	// Since is when Version entered this environment; UpdatedAt is the
	// last change (compare-and-set token of the next one).
	Since     time.Time
	UpdatedAt time.Time
}

// Complete reports whether every host of the environment runs Version.
func (r Release) Complete() bool { return r.Rollout >= 100 || r.PreviousID == "" }

// ReleaseAction names one change of a release, recorded in its history,
// the audit trail and the transparency log.
type ReleaseAction string

// The release actions.
const (
	ReleaseReleased   ReleaseAction = "released" // into the first environment on certification
	ReleasePromoted   ReleaseAction = "promoted"
	ReleaseGrown      ReleaseAction = "grown"
	ReleasePaused     ReleaseAction = "paused"
	ReleaseResumed    ReleaseAction = "resumed"
	ReleaseHalted     ReleaseAction = "halted"
	ReleaseAborted    ReleaseAction = "aborted"
	ReleaseRolledBack ReleaseAction = "rolled-back"
)

// ReleaseRecord is one line of a plugin's release history.
type ReleaseRecord struct {
	Seq         int64
	PluginID    string
	Environment string
	Action      ReleaseAction
	VersionID   string
	Version     string
	Rollout     int
	Actor       string
	Reason      string
	At          time.Time
}

// ReleaseApproval is a steward's approval of a version for an
// environment, which the policy may require before promotion.
type ReleaseApproval struct {
	VersionID   string
	Environment string
	Approver    string
	At          time.Time
}

// PluginKill is the kill switch: every environment's status feed names
// the plugin and hosts stop running it, whatever version.
type PluginKill struct {
	PluginID string
	Reason   string
	Actor    string
	At       time.Time
}

// StatusFeedRecord is one signed status feed of an environment.
type StatusFeedRecord struct {
	Environment string
	Sequence    int64
	Envelope    []byte
	IssuedAt    time.Time
	NextUpdate  time.Time
}

// MaxReleaseReason bounds the reason given for a release change or a kill.
const MaxReleaseReason = 1 << 10

// ParseRollout reads a rollout percentage ("10%", "10", "100%").
func ParseRollout(s string) (int, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "%")
	var n int
	if _, err := fmt.Sscanf(t, "%d", &n); err != nil || fmt.Sprint(n) != t || n < 1 || n > 100 {
		return 0, fmt.Errorf("rollout %q must be a whole percentage from 1%% to 100%% (such as 10%%): %w", s, ErrInvalid)
	}
	return n, nil
}
