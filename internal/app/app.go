// Package app is Gatehouse's application layer: every operation a user can
// do (submit, approve, request changes, appeal, revoke, open an incident,
// read the catalog…) is one method of App, which checks who may do it,
// validates the request, changes the state and records the audit event in
// one place. The transports (the HTTP API in internal/server, the web pages
// in internal/web, the command line's local commands in internal/cli) only
// translate requests into these calls and results into their own form;
// they never reach the store themselves.
//
// Failures are *Error values of a Kind (errors.go); each transport maps the
// Kind the same way, so the API, the pages and the command line agree on
// what went wrong.
//
// A new operation goes here as a method (in the file of its area), with
// its rules in internal/domain and its storage in internal/store; then one
// route in internal/server/routes.go or one page in internal/web exposes it.
// docs/architecture.md walks through an example.
package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/hostcompat"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// Config holds the parts the operations use. The services (intake,
// review, certify…) are the engines behind the operations; App is the one
// door to them. A nil service makes its operations fail with
// KindUnavailable.
type Config struct {
	Store  store.Store
	Blobs  store.Blobs
	Intake *intake.Service
	Review *review.Service
	// Pipeline runs vetting, triage and certification (re-vets go
	// through it).
	Pipeline *pipeline.Pipeline
	Trust    *certify.Service
	// VulnDB is the vulnerability database; nil refuses imports.
	// ShareVulnDB, when set, hands an imported all.zip to the other
	// processes of the marketplace.
	VulnDB      *vulndb.Store
	ShareVulnDB func(ctx context.Context, zip io.ReaderAt, size int64) error
	Revalidate  *revalidate.Scheduler
	// SigstoreRoot verifies keyless Sigstore publisher bundles when a key
	// change re-checks what they signed (nil: they no longer verify).
	SigstoreRoot root.TrustedMaterial
	Health       *health.Monitor
	HostAPI      *hostcompat.Service
	Webhooks     *webhook.Service
	Incidents    *incident.Service
	// Environments are the environments hosts enroll into, in promotion
	// order; empty means domain.DefaultEnvironments. StatusFeedMaxAge is
	// how old a status feed hosts accept (zero: DefaultStatusFeedMaxAge).
	Environments     domain.Environments
	StatusFeedMaxAge time.Duration
	// Policy is the active policy engine for release decisions; nil means
	// the review service's.
	Policy func() *policy.Engine
	Now    func() time.Time
	Log    *slog.Logger
}

// App is the application layer. It is safe for concurrent use.
type App struct {
	cfg Config
}

// New returns the application over its parts.
func New(cfg Config) *App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &App{cfg: cfg}
}

// Now is the application's clock, for transports that show times
// relative to it (a deadline's "overdue").
func (a *App) Now() time.Time { return a.cfg.Now() }

// unavailable is the error of an operation whose part is not configured.
func unavailable(what string) error {
	return Errorf(KindUnavailable, "%s is not enabled on this marketplace", what)
}
