package api

import (
	"encoding/json"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
)

// HostAPIPublishRequest publishes a host API version (issue 19 item 6).
type HostAPIPublishRequest struct {
	Version string `json:"version"`
	// Capabilities is the capabilities file (see hostapi.ParseSpec).
	Capabilities json.RawMessage `json:"capabilities"`
	// Deprecates is an older published version this one replaces; Sunset
	// (YYYY-MM-DD, UTC) is when hosts may stop offering it; MigrationURL
	// tells authors how to move.
	Deprecates   string `json:"deprecates,omitempty"`
	Sunset       string `json:"sunset,omitempty"`
	MigrationURL string `json:"migrationUrl,omitempty"`
}

// HostAPIPublishResult is what publishing did: the version as published,
// the matrix column computed from the certified versions' imports, and
// how many revalidations were queued to confirm it.
type HostAPIPublishResult struct {
	Published  hostapi.Published `json:"published"`
	Checked    int               `json:"checked"`
	Broken     int               `json:"broken"`
	Deprecated int               `json:"deprecated"`
	Queued     int               `json:"queued"`
	Cells      []CompatCell      `json:"cells"`
}

// CompatCell is one cell of the compatibility matrix: a plugin version
// under a host API version.
type CompatCell struct {
	Submission string          `json:"submission"`
	Plugin     string          `json:"plugin"`
	Version    string          `json:"version"`
	HostAPI    string          `json:"hostApi"`
	Status     string          `json:"status"` // compatible, deprecated, broken
	Usages     []hostapi.Usage `json:"usages"`
	// Confirmed is "" until a revalidation ran the version's scenarios in
	// a sandbox offering that host API: then passed, failed or
	// no-scenarios, with Detail saying what it found.
	Confirmed string    `json:"confirmed,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
}

// CompatMatrix is the compatibility matrix: its columns (the published
// host API versions, newest first) and its cells.
type CompatMatrix struct {
	HostAPIs []string     `json:"hostApis"`
	Cells    []CompatCell `json:"cells"`
}

// SunsetEntry is one date on the deprecation calendar.
type SunsetEntry struct {
	HostAPI      string    `json:"hostApi"`
	ReplacedBy   string    `json:"replacedBy"`
	Sunset       time.Time `json:"sunset"`
	MigrationURL string    `json:"migrationUrl,omitempty"`
	Announced    time.Time `json:"announced"`
	// Affected lists the plugins the caller may read whose certified
	// versions do not work with ReplacedBy.
	Affected []SunsetAffected `json:"affected"`
}

// SunsetAffected is a plugin a sunset concerns.
type SunsetAffected struct {
	Plugin   string   `json:"plugin"`
	Versions []string `json:"versions"`
}

// SunsetNotice is a notice sent to a plugin's authors before a sunset.
type SunsetNotice struct {
	Plugin    string    `json:"plugin"`
	HostAPI   string    `json:"hostApi"`
	Threshold int       `json:"threshold"` // days before the sunset
	Sunset    time.Time `json:"sunset"`
	SentAt    time.Time `json:"sentAt"`
}
