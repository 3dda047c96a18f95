package api

import "time"

// RevalidateRequest asks for revalidation now: of one version (its
// submission id, or namespace/name@version), or of every certified and
// suspended version (All). Reviewed records that a steward looked at a
// version whose revalidation was routed to people, so the analyzers decide
// it again.
type RevalidateRequest struct {
	Version  string `json:"version,omitempty"`
	All      bool   `json:"all,omitempty"`
	Reviewed bool   `json:"reviewed,omitempty"`
}

// RevalidateResult says how many revalidations were queued.
type RevalidateResult struct {
	Queued int    `json:"queued"`
	Status string `json:"status"`
}

// Revalidation is a version's revalidation schedule and where it stands.
type Revalidation struct {
	Version      string    `json:"version"` // submission id
	Plugin       string    `json:"plugin"`
	Tier         string    `json:"tier,omitempty"`
	State        string    `json:"state,omitempty"`
	Next         time.Time `json:"next"`
	Deadline     time.Time `json:"deadline,omitzero"`
	LastRun      time.Time `json:"lastRun,omitzero"`
	LastOutcome  string    `json:"lastOutcome,omitempty"`
	LastReason   string    `json:"lastReason,omitempty"`
	NeedsReview  bool      `json:"needsReview,omitempty"`
	ReviewReason string    `json:"reviewReason,omitempty"`
}

// HostAPIOfferRequest records a host API version the platform offers.
type HostAPIOfferRequest struct {
	Version string `json:"version"`
}

// HostAPIOffer is a host API version the platform offers, with the
// certified versions whose declared range excludes it.
type HostAPIOffer struct {
	Version      string              `json:"version"`
	By           string              `json:"by,omitempty"`
	OfferedAt    time.Time           `json:"offeredAt,omitzero"`
	Incompatible []IncompatibleEntry `json:"incompatible,omitempty"`
}

// IncompatibleEntry is a certified version whose host API range excludes
// an offered host API version.
type IncompatibleEntry struct {
	Submission string `json:"submission"`
	Plugin     string `json:"plugin"`
	Version    string `json:"version"`
	HostAPI    string `json:"hostApi"`
}
