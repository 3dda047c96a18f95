package api

import "time"

// HealthReport is what a host reports of the plugins it ran over a window
// (POST /health). The server refuses unknown fields.
type HealthReport struct {
	WindowStart time.Time      `json:"windowStart"`
	WindowEnd   time.Time      `json:"windowEnd"`
	Plugins     []PluginHealth `json:"plugins"`
}

// PluginHealth is what a host saw of one plugin version.
type PluginHealth struct {
	Plugin  string `json:"plugin"` // namespace/name
	Version string `json:"version"`
	Calls   int64  `json:"calls"`
	// Errors counts failed calls by sandbox error kind.
	Errors       map[string]int64 `json:"errors,omitempty"`
	Denials      int64            `json:"denials"`
	BreakerTrips int64            `json:"breakerTrips"`
}

// HealthAnswer answers a health report, version by version.
type HealthAnswer struct {
	Plugins []HealthOutcome `json:"plugins"`
}

// HealthOutcome is what a report said of one version. Over the policy's
// thresholds the reporting host quarantines the version locally
// (Quarantine); the version is suspended marketplace-wide only when
// RequiredHosts distinct hosts stand against it (Suspended).
type HealthOutcome struct {
	Plugin    string   `json:"plugin"`
	Version   string   `json:"version"`
	ErrorRate float64  `json:"errorRate"`
	Alert     bool     `json:"alert"`
	Reasons   []string `json:"reasons,omitempty"`
	// Quarantine: stop running this version on the reporting host until
	// its operator clears it (sandbox.Host.Quarantine).
	Quarantine bool `json:"quarantine"`
	// Hosts is how many distinct hosts reported the version failing within
	// the policy's window; RequiredHosts is the quorum.
	Hosts         int  `json:"hosts,omitempty"`
	RequiredHosts int  `json:"requiredHosts,omitempty"`
	Suspended     bool `json:"suspended"`
}

// HealthConfirmation is a steward's confirmation of hosts' failing reports
// (POST /health/{id}/confirm).
type HealthConfirmation struct {
	Reason string `json:"reason"`
}

// HealthQuorum answers a confirmation: who stands against the version and
// whether it is now suspended.
type HealthQuorum struct {
	Submission       string   `json:"submission"`
	Plugin           string   `json:"plugin"`
	Version          string   `json:"version"`
	State            string   `json:"state"`
	Suspended        bool     `json:"suspended"`
	Hosts            []string `json:"hosts"`
	Stewards         []string `json:"stewards"`
	RequiredHosts    int      `json:"requiredHosts"`
	RequiredStewards int      `json:"requiredStewards"`
	WindowHours      int      `json:"windowHours"`
	Reason           string   `json:"reason"`
}

// HostHealth is one stored host report about one version.
type HostHealth struct {
	Host         string           `json:"host"`
	WindowStart  time.Time        `json:"windowStart"`
	WindowEnd    time.Time        `json:"windowEnd"`
	Calls        int64            `json:"calls"`
	Errors       map[string]int64 `json:"errors"`
	Denials      int64            `json:"denials"`
	BreakerTrips int64            `json:"breakerTrips"`
}
