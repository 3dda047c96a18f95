package api

import "time"

// Releases (issue 18): which version each environment runs.

// StatusFeedPath is the public path of an environment's signed status
// feed (a DSSE envelope of trust.StatusFeed); {env} is the environment.
const StatusFeedPath = BasePath + "/environments/{env}/status"

// PromoteRequest moves a version into an environment.
type PromoteRequest struct {
	// Version is NS/NAME@VERSION.
	Version string `json:"version"`
	To      string `json:"to"`
	// Rollout is the share of the environment's hosts (1 to 100); 0
	// means 100.
	Rollout int    `json:"rollout,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// ApproveRequest is a steward's approval of a version for an environment.
type ApproveRequest struct {
	Version     string `json:"version"`
	Environment string `json:"environment"`
	Reason      string `json:"reason,omitempty"`
}

// RolloutRequest changes a staged rollout: action grow (with Rollout),
// pause, resume or abort.
type RolloutRequest struct {
	Environment string `json:"environment"`
	Action      string `json:"action"`
	Rollout     int    `json:"rollout,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// ReleaseRollbackRequest points an environment back at its previous
// release.
type ReleaseRollbackRequest struct {
	Environment string `json:"environment"`
	Reason      string `json:"reason,omitempty"`
}

// KillRequest is the kill switch.
type KillRequest struct {
	Reason string `json:"reason"`
}

// Release is what one environment runs of one plugin.
type Release struct {
	Plugin      string    `json:"plugin"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	Digest      string    `json:"digest"`
	Rollout     int       `json:"rollout"`
	Status      string    `json:"status"`
	Previous    string    `json:"previous,omitempty"`
	Since       time.Time `json:"since"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// ReleaseRecord is one line of a plugin's release history.
type ReleaseRecord struct {
	Environment string    `json:"environment"`
	Action      string    `json:"action"`
	Version     string    `json:"version"`
	Rollout     int       `json:"rollout"`
	Actor       string    `json:"actor"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}

// PluginReleases is a plugin's releases and their history.
type PluginReleases struct {
	Environments []string        `json:"environments"`
	Releases     []Release       `json:"releases"`
	History      []ReleaseRecord `json:"history"`
}
