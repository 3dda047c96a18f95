package marketplace

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/hostcompat"
	"gatehouse.dev/gatehouse/internal/retention"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/vulndb"
)

// revalidateInterval is how often the elected worker looks for due
// revalidations (a River periodic job); imports and policy changes wake
// it at once.
const revalidateInterval = time.Minute

// openMonitor sets up revalidation and host health. Both need the
// certifier: without certificates there is nothing to renew or suspend.
func (m *Marketplace) openMonitor(ctx context.Context, p *parts) error {
	if m.Trust == nil {
		return nil
	}
	sched, err := revalidate.New(revalidate.Config{
		Store:        m.Store,
		Vetter:       m.Intake,
		Certifier:    m.Trust,
		Policy:       m.Review.Engine,
		VetConfig:    m.Intake.VetConfig,
		Manifest:     m.Intake.Manifest,
		Log:          m.cfg.Log,
		Every:        revalidateInterval,
		SigstoreRoot: m.sigstoreRoot,
	})
	if err != nil {
		return fmt.Errorf("setting up revalidation: %w", err)
	}
	m.Revalidate = sched
	// Host API versions: publishing queues revalidation, and revalidation
	// confirms the matrix, so each is handed the other. Its compilation
	// cache is named like the behaviour analyzer's, so a killed process's
	// is swept at the next start.
	cache, err := os.MkdirTemp("", behaviourCachePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("setting up host API checks: %w", err)
	}
	hc, err := hostcompat.New(hostcompat.Config{
		Store: m.Store, Packages: m.Intake, Revalidate: sched, Manifest: m.Intake.Manifest,
		CacheDir: cache, Log: m.cfg.Log,
	})
	if err != nil {
		os.RemoveAll(cache)
		return fmt.Errorf("setting up host API checks: %w", err)
	}
	m.HostAPI, m.hostAPICache = hc, cache
	// Every process, whatever its role, settles the retention with the
	// database, so that one started with another value refuses to start.
	keep, err := retention.Adopt(ctx, m.Store, m.cfg.PersonalDataRetention, m.cfg.ChangePersonalDataRetention, time.Now())
	if err != nil {
		return fmt.Errorf("the personal data retention: %w", err)
	}
	ret, err := retention.New(retention.Config{Store: m.Store, Retention: keep, Log: m.cfg.Log})
	if err != nil {
		return fmt.Errorf("setting up the retention purge: %w", err)
	}
	m.Retention = ret
	sched.SetHostAPI(hc)
	p.app.HostAPI = hc
	m.Health = &health.Monitor{Store: m.Store, Policy: m.Review.Engine, Suspender: m.Trust, Now: time.Now, Log: m.cfg.Log}
	p.app.Revalidate, p.app.Health = sched, m.Health
	return nil
}

// runMonitor runs revalidation until ctx ends.
func (m *Marketplace) runMonitor(ctx context.Context) {
	if m.HostAPI != nil {
		done := make(chan struct{})
		go func() { defer close(done); m.HostAPI.Work(ctx) }()
		defer func() { <-done }()
	}
	if m.Retention != nil {
		done := make(chan struct{})
		go func() { defer close(done); m.Retention.Work(ctx) }()
		defer func() { <-done }()
	}
	if m.Revalidate != nil {
		m.Revalidate.Work(ctx)
	}
}

// ImportVulnDB imports an OSV all.zip into a stopped marketplace's data
// folder and queues, as River jobs in its database, revalidation of the certified
// versions the new advisories affect, exactly as an import through the API
// does; the jobs run when the server next starts.
func (m *Marketplace) ImportVulnDB(ctx context.Context, path, actor string) (*vulndb.DB, []revalidate.Affected, error) {
	old := m.VulnDB.DB()
	db, err := m.VulnDB.ImportFile(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return db, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return db, nil, err
	}
	if err := m.shareVulnDB(ctx, f, fi.Size()); err != nil {
		return db, nil, err
	}
	if m.Revalidate == nil {
		return db, nil, nil
	}
	affected, err := m.Revalidate.VulnDBImported(ctx, actor, db, old)
	if err != nil {
		return db, affected, fmt.Errorf("the database was imported, but queueing revalidation failed (run `gatehouse revalidate --all`): %w", err)
	}
	return db, affected, nil
}
