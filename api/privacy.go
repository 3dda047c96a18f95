package api

import "time"

// PrivacyReport is a version's data flows, ready for a privacy impact
// assessment: each flow with its purpose, retention, the decision on it
// and the evidence it rests on, the secrets, and the change since the
// previous released version.
type PrivacyReport struct {
	Plugin      string        `json:"plugin"`
	Version     string        `json:"version"`
	Submission  string        `json:"submission"`
	State       string        `json:"state"`
	GeneratedAt time.Time     `json:"generatedAt"`
	Flows       []PrivacyFlow `json:"flows"`
	// SecretsDeclared are the secret: permissions; SecretsRequested the
	// secret names the module asks for.
	SecretsDeclared  []string `json:"secretsDeclared"`
	SecretsRequested []string `json:"secretsRequested"`
	// Findings are the dataflow analyzer's findings.
	Findings []PrivacyFinding `json:"findings"`
	Diff     PrivacyDiff      `json:"diff"`
	// Source says where the flows come from: "vetting" (the dataflow
	// analyzer) or "manifest" (the manifest alone, when vetting has not
	// produced them).
	Source string `json:"source"`
}

// PrivacyFlow is one data flow in a privacy report.
type PrivacyFlow struct {
	ID          string `json:"id"` // "category>destination"
	Category    string `json:"category"`
	Destination string `json:"destination"` // "platform" or an origin
	Purpose     string `json:"purpose"`
	Retention   string `json:"retention"`
	// RetentionDays is -1 when the retention is missing or invalid.
	RetentionDays int64    `json:"retentionDays"`
	Access        []string `json:"access"`
	Permissions   []string `json:"permissions"`
	// Decision is "approved", "refused" or "pending"; DecidedBy names
	// who decided (reviewers, or "policy" on auto-approval).
	Decision  string            `json:"decision"`
	DecidedBy []string          `json:"decidedBy"`
	Evidence  []PrivacyEvidence `json:"evidence"`
}

// PrivacyEvidence is one fact a flow rests on.
type PrivacyEvidence struct {
	Source  string `json:"source"` // manifest, module or scenario
	File    string `json:"file"`
	Pointer string `json:"pointer,omitempty"`
	Line    int    `json:"line,omitempty"`
	Offset  int64  `json:"offset,omitempty"`
	Detail  string `json:"detail"`
}

// PrivacyFinding is a finding about the version's data handling.
type PrivacyFinding struct {
	RuleID   string `json:"ruleId"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Offset   int64  `json:"offset,omitempty"`
}

// PrivacyDiff compares the flows with the previous released version's.
type PrivacyDiff struct {
	// Previous is the version compared with; empty when there is none.
	Previous string   `json:"previous"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	// Changed are flows whose purpose or retention changed, each
	// "id: what changed".
	Changed []string `json:"changed"`
}

// DataCategoryUse is one row of the steward's view: a plugin version that
// touches a category of user data, and where the data goes.
type DataCategoryUse struct {
	Category     string   `json:"category"`
	Plugin       string   `json:"plugin"`
	Version      string   `json:"version"`
	State        string   `json:"state"`
	Destinations []string `json:"destinations"`
	Retention    string   `json:"retention"`
}

// DataCategories is the steward's view across the catalog.
type DataCategories struct {
	Uses []DataCategoryUse `json:"uses"`
	// Truncated is true when more versions exist than the view reads.
	Truncated bool `json:"truncated,omitempty"`
}
