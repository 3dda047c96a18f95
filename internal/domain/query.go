package domain

import (
	"time"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// The criteria callers select records by. Storage implements them and the
// transports fill them from a request; they are the domain's so that a
// transport can ask for a page of records without naming storage.

// HotspotQuery selects a ranking.
type HotspotQuery struct {
	By    HotspotKind
	Since time.Time
	Limit int // 1..store.MaxInsightRows; 0 means 10
}

// AuditFilter selects audit events. Zero values mean "any".
type AuditFilter struct {
	Actor   string
	Action  string // exact, or a prefix ending in "." ("submission.")
	Subject string // exact, or a prefix ending in ":" ("submission:")
	Since   time.Time
	Until   time.Time // exclusive
	// BeforeSeq pages backwards: only events with a smaller seq.
	BeforeSeq int64
	Limit     int // 1..store.MaxInsightRows; 0 means 100
}

// CatalogQuery filters the catalog in the store; finer filters (permission
// kind, badges) are applied by the caller to the entries it gets.
type CatalogQuery struct {
	Search string            // substring of id, name or description, case-insensitive
	States []lifecycle.State // the version shown is the newest in one of these; required
	Tier   string            // the shown version's risk tier; "" for any
	Limit  int               // 1..store.MaxInsightRows; 0 means 50
	Offset int
}

// RevalidationQuery pages schedules.
type RevalidationQuery struct {
	States       []lifecycle.State
	AfterVersion string
	Limit        int // 1..1000; 0 means 100
}

// DeliveryQuery filters the delivery log. Zero values mean any.
type DeliveryQuery struct {
	WebhookID string
	State     string
	// Webhooks restricts to these subscriptions (a publisher's own).
	Webhooks []string
	Limit    int // 1..1000, 0 means 100
}

// IncidentQuery filters incidents.
type IncidentQuery struct {
	State string // empty: any
	Limit int    // 1..1000, 0 means 100
}

// PluginQuery filters and pages the catalog.
type PluginQuery struct {
	Search    string // substring of id, name or description, case-insensitive
	Namespace string
	// Reader, when not nil, keeps only the plugins a caller who does not
	// oversee every namespace may read, before the page is cut, so that
	// every page is full while more such plugins exist. Nil lists every
	// plugin: for the overseers and the services.
	Reader *PluginReader
	Limit  int // 1..500; 0 means 50
	Offset int
}

// PluginReader is what a caller who does not oversee every namespace reads
// of the catalog (Principal.CanSee, CanSeeVersion): the plugins with a
// released version (Released), and every plugin of the namespaces it
// publishes in. The zero PluginReader, an anonymous caller's or a host's,
// reads the released plugins alone.
type PluginReader struct {
	Namespaces []string // the namespaces whose unreleased versions it reads
}

// VersionQuery filters versions across plugins.
type VersionQuery struct {
	State lifecycle.State // empty: any
	// UpdatedBefore, when set, keeps only versions untouched since then
	// (the pipeline's reconciler looks for work left behind).
	UpdatedBefore time.Time
	Limit         int
}

// AuditQuery filters the trail. Zero values mean "any".
type AuditQuery struct {
	Subject  string
	AfterSeq int64
	Limit    int // 0: no limit
}

// ReviewQuery pages the queue.
type ReviewQuery struct {
	Limit  int // 1..500, 0 means 50
	Offset int
}
