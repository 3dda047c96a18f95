package domain

import (
	"time"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Version is one submitted version of a plugin. Its ID is the submission
// id. Everything but State, Reason and UpdatedAt is immutable.
type Version struct {
	ID        string
	PluginID  string // namespace/name
	Version   string // SemVer
	Digest    string // "sha256:HEX" of the package bytes
	Size      int64
	Manifest  []byte // the manifest as stored in the package (v1 JSON)
	Files     []File
	Submitter string
	State     lifecycle.State
	Reason    string // why it is in State
	CreatedAt time.Time
	UpdatedAt time.Time
}

// File is one entry of a package, with its digest.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Plugin is a catalog entry: a namespace/name with at least one version.
type Plugin struct {
	ID            string
	Namespace     string
	Name          string
	DisplayName   string // from the latest version's manifest
	Description   string
	LatestVersion string // highest SemVer among its versions
	UpdatedAt     time.Time
}

// VetRun is one run of the analyzers over a version.
type VetRun struct {
	VersionID string
	Run       int
	Results   []byte // JSON array of vet.Result
	Blocked   bool
	Summary   string // why it blocked, or that it passed
	CreatedAt time.Time
}

// Suppression is a reviewer's decision that a finding is a false positive.
type Suppression struct {
	PluginID    string
	Fingerprint string
	RuleID      string
	By          string
	Reason      string
	CreatedAt   time.Time
}
