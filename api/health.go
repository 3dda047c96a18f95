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

// HealthOutcome is what a report said of one version: over the policy's
// thresholds it raises an alert and routes the version's next
// revalidation to people.
type HealthOutcome struct {
	Plugin    string   `json:"plugin"`
	Version   string   `json:"version"`
	ErrorRate float64  `json:"errorRate"`
	Alert     bool     `json:"alert"`
	Reasons   []string `json:"reasons,omitempty"`
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
