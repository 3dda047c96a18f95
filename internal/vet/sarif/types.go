package sarif

// The SARIF 2.1.0 objects this package writes: a subset of the format,
// with the field names and shapes of the OASIS schema.

// Log is a SARIF log file.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one analyzer's run.
type Run struct {
	Tool        Tool         `json:"tool"`
	Invocations []Invocation `json:"invocations,omitempty"`
	Results     []Result     `json:"results"`
}

// Tool holds the driver.
type Tool struct {
	Driver ToolComponent `json:"driver"`
}

// ToolComponent describes the analyzer and its rules.
type ToolComponent struct {
	Name           string                `json:"name"`
	FullName       string                `json:"fullName,omitempty"`
	Version        string                `json:"version,omitempty"`
	InformationURI string                `json:"informationUri,omitempty"`
	Rules          []ReportingDescriptor `json:"rules"`
	Properties     map[string]any        `json:"properties,omitempty"`
}

// ReportingDescriptor is a rule.
type ReportingDescriptor struct {
	ID                   string                  `json:"id"`
	Name                 string                  `json:"name,omitempty"`
	ShortDescription     *MultiformatMessage     `json:"shortDescription,omitempty"`
	FullDescription      *MultiformatMessage     `json:"fullDescription,omitempty"`
	Help                 *MultiformatMessage     `json:"help,omitempty"`
	HelpURI              string                  `json:"helpUri,omitempty"`
	DefaultConfiguration *ReportingConfiguration `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any          `json:"properties,omitempty"`
}

// ReportingConfiguration is a rule's default level.
type ReportingConfiguration struct {
	Level string `json:"level,omitempty"`
}

// MultiformatMessage is plain text (SARIF also allows markdown).
type MultiformatMessage struct {
	Text string `json:"text"`
}

// Message is a result's or notification's text.
type Message struct {
	Text string `json:"text"`
}

// Invocation records whether the analyzer ran to completion.
type Invocation struct {
	ExecutionSuccessful        bool           `json:"executionSuccessful"`
	StartTimeUTC               string         `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string         `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []Notification `json:"toolExecutionNotifications,omitempty"`
	Properties                 map[string]any `json:"properties,omitempty"`
}

// Notification is a message about the run itself.
type Notification struct {
	Level   string  `json:"level,omitempty"`
	Message Message `json:"message"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Suppressions        []Suppression     `json:"suppressions,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

// Location is where a result is.
type Location struct {
	PhysicalLocation PhysicalLocation `json:"physicalLocation"`
}

// PhysicalLocation is a file and a region of it.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation names a file of the package by its path, as a relative
// URI reference.
type ArtifactLocation struct {
	URI string `json:"uri"`
}

// Region is a line and column in text, or a byte range in a binary.
type Region struct {
	StartLine   int              `json:"startLine,omitempty"`
	StartColumn int              `json:"startColumn,omitempty"`
	ByteOffset  *int64           `json:"byteOffset,omitempty"`
	ByteLength  int64            `json:"byteLength,omitempty"`
	Snippet     *ArtifactContent `json:"snippet,omitempty"`
}

// ArtifactContent is a snippet's text.
type ArtifactContent struct {
	Text string `json:"text"`
}

// Suppression records a reviewer's false-positive decision.
type Suppression struct {
	Kind          string         `json:"kind"`
	Status        string         `json:"status,omitempty"`
	Justification string         `json:"justification,omitempty"`
	Properties    map[string]any `json:"properties,omitempty"`
}
