// Package api holds the JSON types of Gatehouse's HTTP API: every request
// and response body, shared by the server, the command line and the Go
// client. It is the one home of wire types, and it imports nothing under
// internal/ (deps_test.go holds that), so every type a client decodes is
// one it can name. The server converts its own types to these at the edge.
package api

import (
	"encoding/json"
	"time"
)

// BasePath prefixes every API endpoint.
const BasePath = "/api/v1"

// Submission is where a submitted version stands.
type Submission struct {
	ID        string          `json:"id"`
	Plugin    string          `json:"plugin"`
	Version   string          `json:"version"`
	Digest    string          `json:"digest"`
	Size      int64           `json:"size"`
	State     string          `json:"state"`
	Reason    string          `json:"reason"`
	Submitter string          `json:"submitter"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	StatusURL string          `json:"statusUrl"`
	Next      string          `json:"next"` // what happens next, in a sentence
	Files     []File          `json:"files,omitempty"`
	Manifest  json.RawMessage `json:"manifest,omitempty"`
	History   []Event         `json:"history,omitempty"`
	Vetting   *Vetting        `json:"vetting,omitempty"`
	Review    *Review         `json:"review,omitempty"`
	Thread    []Message       `json:"thread,omitempty"`
}

// Review is where a version stands in the review queue.
type Review struct {
	Tier              string    `json:"tier"`
	Weight            int       `json:"weight"`
	Deadline          time.Time `json:"deadline"`
	ApprovalsRequired int       `json:"approvalsRequired"`
	Approvals         int       `json:"approvals"`
	Open              bool      `json:"open"`
}

// Message is an entry of a plugin's review thread.
type Message struct {
	Version string    `json:"submission"`
	Author  string    `json:"author"`
	Kind    string    `json:"kind"`
	Body    string    `json:"body"`
	At      time.Time `json:"at"`
}

// Vetting is the newest run of the analyzers over a version. Findings a
// reviewer marked false positive are shown, marked suppressed.
type Vetting struct {
	Run     int         `json:"run"`
	Blocked bool        `json:"blocked"`
	Summary string      `json:"summary"`
	At      time.Time   `json:"at"`
	Results []VetResult `json:"results"`
}

// FalsePositive marks a finding (by fingerprint) a false positive for a
// plugin; the decision carries forward to later versions.
type FalsePositive struct {
	Reason string `json:"reason"`
}

// File is a package entry with its digest.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Event is an audit event as the API shows it.
type Event struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	OldState string          `json:"oldState,omitempty"`
	NewState string          `json:"newState,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
}

// Plugin is a catalog entry.
type Plugin struct {
	ID            string    `json:"id"`
	Namespace     string    `json:"namespace"`
	Name          string    `json:"name"`
	DisplayName   string    `json:"displayName"`
	Description   string    `json:"description"`
	LatestVersion string    `json:"latestVersion"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// PluginDetail is a plugin with its versions.
type PluginDetail struct {
	Plugin
	Versions []Submission `json:"versions"`
}

// PluginList is a page of the catalog.
type PluginList struct {
	Plugins []Plugin `json:"plugins"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
}

// SubmissionList is a page of submissions.
type SubmissionList struct {
	Submissions []Submission `json:"submissions"`
}

// Namespace is a publisher's namespace.
type Namespace struct {
	Name      string    `json:"name"`
	Owners    []string  `json:"owners"`
	CreatedAt time.Time `json:"createdAt"`
}

// TokenRequest asks for a new token.
type TokenRequest struct {
	Subject   string `json:"subject"`
	Role      string `json:"role"`
	Namespace string `json:"namespace,omitempty"`
	// Environment is a host token's environment (one the marketplace
	// declares); empty means the first.
	Environment string `json:"environment,omitempty"`
	// TTL is a Go duration ("720h"); 90 days when empty.
	TTL string `json:"ttl,omitempty"`
}

// Token describes a token; Secret is present only in the answer to its
// creation and is never shown again.
type Token struct {
	ID        string `json:"id"`
	Subject   string `json:"subject"`
	Role      string `json:"role"`
	Namespace string `json:"namespace,omitempty"`
	// Environment is a host token's environment.
	Environment string     `json:"environment,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	Secret      string     `json:"secret,omitempty"`
}

// Whoami describes the caller.
type Whoami struct {
	TokenID   string `json:"tokenId"`
	Subject   string `json:"subject"`
	Role      string `json:"role"`
	Namespace string `json:"namespace,omitempty"`
}

// AuditVerification is the result of checking the audit chain.
type AuditVerification struct {
	OK     bool        `json:"ok"`
	Count  int64       `json:"count"`
	Head   string      `json:"head"`
	Broken *AuditBreak `json:"broken,omitempty"`
}

// AuditBreak is the first event at which the audit chain does not verify.
type AuditBreak struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Error is the body of every error response: an RFC 9457 problem
// (Content-Type application/problem+json). Type, Title, Status and Detail
// are the RFC's members; the "error" member carries the same code and
// message for clients written before the RFC's members were added.
type Error struct {
	// Type names the problem: ProblemBase + the code.
	Type   string `json:"type,omitempty"`
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	// Detail says what went wrong and what to do about it.
	Detail string `json:"detail,omitempty"`
	Error  struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ProblemBase prefixes a problem's code to make its RFC 9457 type URI.
const ProblemBase = "https://gatehouse.dev/problems/"
