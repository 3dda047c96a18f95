// Package marketplace assembles a running Gatehouse: it opens the data
// folder and the store, bootstraps the first admin token, clears what an
// interrupted run left behind, and serves the API with its background
// worker until told to stop.
package marketplace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"go.opentelemetry.io/otel/trace"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/hostcompat"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/obs"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/retention"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/server"
	"gatehouse.dev/gatehouse/internal/sigstore"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/blobstore"
	"gatehouse.dev/gatehouse/internal/store/postgres"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/tracing"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	vethunt "gatehouse.dev/gatehouse/internal/vet/hunt"
	"gatehouse.dev/gatehouse/internal/vet/licenses"
	"gatehouse.dev/gatehouse/internal/vet/manifestcheck"
	vetprovenance "gatehouse.dev/gatehouse/internal/vet/provenance"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/internal/webhook"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// Role is what one process of a marketplace does. The embedded default
// (SQLite and a local folder) is one process doing everything; on
// PostgreSQL any number of API and worker processes share the database,
// the blob store and the log, and each may be killed at any moment.
type Role string

const (
	// RoleAll serves the API and the web pages and does the background
	// work: `gatehouse serve`.
	RoleAll Role = "all"
	// RoleAPI serves the API and the web pages only: `gatehouse serve
	// --role api`. It queues work and never integrates the log.
	RoleAPI Role = "api"
	// RoleWorker does the background work (vetting, triage, certification,
	// revalidation, webhooks, the log, schedules) and serves only the
	// probes and the metrics: `gatehouse worker`.
	RoleWorker Role = "worker"
)

// Config is what `gatehouse serve` is told.
type Config struct {
	Addr string // HOST:PORT
	// Role is this process's part; empty means RoleAll.
	Role Role
	// DrainDelay is how long a stopping process fails its readiness probe
	// before it stops taking requests, so a load balancer notices first.
	DrainDelay time.Duration
	// PublicCacheBytes bounds the memory this process keeps anonymous
	// catalog and package answers in (server.Config.PublicCacheBytes):
	// 0 is the default, negative keeps none.
	PublicCacheBytes int64
	Data             string // the data folder
	// DatabaseURL selects PostgreSQL; empty means SQLite in the data folder.
	DatabaseURL string
	// BlobsURL selects the blob store (packages, and objects such as the
	// log's tiles): file:///PATH or a plain path for a folder,
	// s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION for an S3-compatible
	// bucket with credentials from the AWS_* environment variables. Empty
	// means the folder "blobs" in the data folder.
	BlobsURL string
	// LegacySigningKey is PLUGIN_SIGNING_KEY, for seed-form manifests.
	LegacySigningKey []byte
	// SigstoreTrustedRoot is a Sigstore trusted_root.json (Fulcio CAs,
	// timestamp authorities, Rekor logs) that keyless publisher bundles
	// are verified against, offline; empty refuses keyless bundles (keyed
	// ones verify with the namespace's keys either way).
	SigstoreTrustedRoot string
	// VetConfig is a file of check modes (which analyzers and rules are
	// enabled, enforced, required); empty means every check enforced and
	// required.
	VetConfig string
	// Licenses is the licence policy (allowed and denied SPDX ids).
	Licenses licenses.Policy
	// Provenance lists the builders whose SLSA provenance is trusted;
	// the zero value trusts none (attestations are reported, never
	// counted as verified).
	Provenance provenance.Policy
	Log        *slog.Logger
	// KeyAlgorithm is the marketplace key's algorithm when it is made
	// (ed25519 or ecdsa-p256-sha256); LogOrigin names a new transparency
	// log (DefaultLogOrigin when empty).
	KeyAlgorithm string
	LogOrigin    string
	// PublicURL is the address users reach the marketplace at, shown in
	// install instructions; an https:// one marks session cookies Secure.
	PublicURL string
	// WebhooksAllowPrivate lets webhook subscriptions target loopback and
	// private addresses (off: a subscriber could reach internal services).
	WebhooksAllowPrivate bool
	// MaxConcurrentUploads bounds the package uploads taken at once (the
	// excess is answered 429 with Retry-After); MaxConcurrentVets bounds
	// the vetting runs. Zero means server.DefaultMaxConcurrentUploads and
	// intake.DefaultMaxConcurrentVets.
	MaxConcurrentUploads int
	MaxConcurrentVets    int
	// BehaviourTimeout bounds one behaviour analysis (compiling the
	// module and its dependencies, every scenario twice, the workflows);
	// zero is the analyzer's default of 2 minutes. Tests built with the
	// race detector raise it: wazero's compiler runs several times slower
	// there, and a timeout blocks the version.
	BehaviourTimeout time.Duration
	// Environments are the environments hosts enroll into, in promotion
	// order (issue 18); empty means dev, staging, prod.
	Environments domain.Environments
	// TracerProvider, when set, traces the HTTP requests, the pipeline's
	// jobs, the analyzers and every store and blob call (package
	// tracing); nil traces nothing and installs none of it.
	TracerProvider trace.TracerProvider
	// PersonalDataRetention is how long the marketplace keeps its own
	// personal data (package retention); zero when not given, which
	// adopts the database's (retention.DefaultRetention on a new one). A
	// value the database does not record refuses to start unless
	// ChangePersonalDataRetention is set (retention.Adopt).
	PersonalDataRetention       time.Duration
	ChangePersonalDataRetention bool
}

// environments returns the configured environments or the defaults.
func (c Config) environments() domain.Environments {
	if len(c.Environments) == 0 {
		return domain.Environments(domain.DefaultEnvironments)
	}
	return c.Environments
}

// AdminTokenFile is where the first admin token is written, mode 0600.
const AdminTokenFile = "admin.token"

// LockFile is locked by the process serving an embedded data folder.
const LockFile = "gatehouse.lock"

func closeLock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// ErrDataInUse: another process holds the data folder's lock.
var ErrDataInUse = errors.New("the data folder's lock is held")

// LockData takes the data folder's lock, as `gatehouse serve` holds it on
// an embedded data folder, for tools that must not run beside a server
// (gatehouse migrate). It fails, saying so, while a process serves the
// folder; Close releases it.
func LockData(data string) (io.Closer, error) {
	f, err := lockData(data)
	if err != nil {
		return nil, err
	}
	return lockCloser{f}, nil
}

type lockCloser struct{ f *os.File }

func (l lockCloser) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// Marketplace is an assembled, not yet serving, Gatehouse.
type Marketplace struct {
	cfg    Config
	Store  store.Store
	Blobs  store.BlobStore
	Intake *intake.Service
	Server *server.Server
	VulnDB *vulndb.Store
	Review *review.Service
	// sigstoreRoot verifies keyless Sigstore publisher bundles (nil: none).
	sigstoreRoot root.TrustedMaterial
	// Pipeline moves stored versions through vetting, triage and
	// certification.
	Pipeline *pipeline.Pipeline
	// Trust issues certificates and publishes the transparency log.
	Trust *certify.Service
	// Metrics is this process's Prometheus registry (served at /metrics).
	Metrics *obs.Metrics
	// Revalidate re-earns certificates; Health takes hosts' reports.
	Revalidate *revalidate.Scheduler
	Health     *health.Monitor
	// HostAPI publishes host API versions and keeps the compatibility
	// matrix, the deprecation calendar and the sunset notices.
	HostAPI *hostcompat.Service
	// Retention purges personal data past its retention (the audit
	// trail's actors and token subjects).
	Retention    *retention.Service
	hostAPICache string
	// Webhooks delivers events to subscribers; Incidents runs incidents
	// and their hunting rules.
	Webhooks  *webhook.Service
	Incidents *incident.Service
	// dataLock is held on the data folder by the embedded marketplace,
	// which is its only process (released by Close).
	dataLock *os.File
	// analyzers hold the behaviour analyzer's sandbox (closed by Close),
	// whose compilation cache is behaviourCache (removed by Close).
	analyzers      *analyzerSet
	behaviourCache string
	// publicCache is the folder of the server's public cache (removed by
	// Close).
	publicCache string
	// AdminTokenPath is set when this start created the admin token.
	AdminTokenPath string
	shared         bool // the store may be shared with other processes
}

// parts is what the layers of Open fill in: the services the application
// layer runs on and the server's own settings.
type parts struct {
	app    app.Config
	server server.Config
}

// openBlobs opens the blob store cfg names; the folder "blobs" in the data
// folder when it names none.
func openBlobs(ctx context.Context, cfg Config) (store.BlobStore, error) {
	if cfg.BlobsURL == "" {
		return blobfs.New(filepath.Join(cfg.Data, "blobs"))
	}
	return blobstore.Open(ctx, cfg.BlobsURL, nil)
}

// Open prepares the data folder and the store.
func Open(ctx context.Context, cfg Config) (*Marketplace, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.environments().Validate(); err != nil {
		return nil, fmt.Errorf("the environments (--environments): %w", err)
	}
	switch cfg.Role {
	case "":
		cfg.Role = RoleAll
	case RoleAll:
	case RoleAPI, RoleWorker:
		if cfg.DatabaseURL == "" {
			return nil, fmt.Errorf("the %s role runs beside other processes, which the embedded SQLite store cannot serve: give it --database postgres://… (or run `gatehouse serve` alone)", cfg.Role)
		}
	default:
		return nil, fmt.Errorf("role %q: use %s, %s or %s", cfg.Role, RoleAll, RoleAPI, RoleWorker)
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("creating data folder: %w", err)
	}
	if err := CheckSecretModes(cfg.Data); err != nil {
		return nil, err
	}
	var (
		st   store.Store
		lock *os.File
		err  error
	)
	if cfg.DatabaseURL == "" {
		if lock, err = lockData(cfg.Data); err != nil {
			return nil, err
		}
	}
	opened := false
	defer func() {
		if !opened {
			closeLock(lock)
		}
	}()
	if cfg.DatabaseURL != "" {
		st, err = postgres.Open(ctx, cfg.DatabaseURL)
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(cfg.Data, "gatehouse.db"))
	}
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	if tp := cfg.TracerProvider; tp != nil {
		// The one place store calls are traced: every service below
		// gets the decorated store.
		system := "sqlite"
		if cfg.DatabaseURL != "" {
			system = "postgresql"
		}
		st, blobs = tracing.WrapStore(st, tp, system), tracing.WrapBlobs(blobs, tp)
	}
	cfg.Log.Info("blob store", "at", blobs.String())
	vulns, err := vulndb.OpenStore(filepath.Join(cfg.Data, "vulndb"))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("opening the vulnerability database: %w", err)
	}
	mopts := manifest.Options{LegacyKey: cfg.LegacySigningKey}
	sigRoot, err := loadSigstoreRoot(cfg.SigstoreTrustedRoot)
	if err != nil {
		st.Close()
		return nil, err
	}
	in := intake.New(st, blobs, pkgfile.DefaultLimits(), mopts, cfg.Log)
	in.SigstoreRoot = sigRoot
	in.MaxConcurrentVets = cfg.MaxConcurrentVets
	beh, behCache := newBehaviour(certifiedCatalog{st: st, blobs: blobs}, cfg.BehaviourTimeout)
	set := &analyzerSet{vulns: vulns, hunt: vethunt.New(st), opts: analyzers.DefaultOptions{
		Manifest:   manifestcheck.Options{Catalog: catalog{st}, Manifest: mopts},
		Licenses:   cfg.Licenses,
		Provenance: vetprovenance.Options{Policy: cfg.Provenance},
		Behaviour:  beh,
		Caches:     analyzers.NewCaches(resultcache.DefaultLimits()),
	}}
	in.Analyzers = set.get
	if in.VetConfig, err = loadVetConfig(cfg.VetConfig, set.get()); err != nil {
		set.close()
		st.Close()
		return nil, err
	}
	in.VetConfig.Logger = cfg.Log
	m := &Marketplace{cfg: cfg, Metrics: obs.New(), Store: st, Blobs: blobs, Intake: in, VulnDB: vulns, analyzers: set, behaviourCache: behCache, shared: cfg.DatabaseURL != "", dataLock: lock, sigstoreRoot: sigRoot}
	rv, err := review.New(ctx, st, cfg.Log)
	if err != nil {
		set.close()
		st.Close()
		return nil, err
	}
	in.Triager = rv
	m.Review = rv
	// Every process loads the vulnerability database whichever process
	// imported it: at start-up, and before each vetting run.
	in.KeepBlob = m.keepVulnDB
	set.sync = func() {
		if _, err := m.syncVulnDB(context.Background()); err != nil {
			m.cfg.Log.Warn("loading the shared vulnerability database; vetting with this process's copy", "err", err)
		}
	}
	set.sync()
	m.Pipeline = pipeline.New(pipeline.Config{
		Store: st, Vetting: in, Certifying: rv, Log: cfg.Log,
		TracerProvider: cfg.TracerProvider, ObserveStep: m.Metrics.ObserveStage,
	})
	in.Submitted = m.Pipeline.Wake
	if cfg.PublicCacheBytes >= 0 {
		m.publicCache = newPublicCacheDir()
	}
	p := &parts{
		app:    app.Config{Store: st, Blobs: blobs, Intake: in, VulnDB: vulns, ShareVulnDB: m.shareVulnDB, Review: rv, Pipeline: m.Pipeline, Environments: cfg.environments(), SigstoreRoot: sigRoot},
		server: server.Config{Log: cfg.Log, PublicCacheBytes: cfg.PublicCacheBytes, PublicCacheDir: m.publicCache, PublicURL: cfg.PublicURL, MaxConcurrentUploads: cfg.MaxConcurrentUploads},
	}
	// Each layer adds its services to the application layer's
	// configuration and its handlers to the server's.
	for _, open := range []func(context.Context, *parts) error{m.openTrust, m.openMonitor, m.openNotify, m.openWeb} {
		if err := open(ctx, p); err != nil {
			m.closeTrust()
			set.close()
			st.Close()
			if m.publicCache != "" {
				os.RemoveAll(m.publicCache)
			}
			return nil, err
		}
	}
	m.Server = server.New(p.server)
	opened = true
	return m, nil
}

// Close releases the store, the log and the vetting sandbox.
func (m *Marketplace) Close() error {
	err := m.closeTrust()
	err = errors.Join(err, m.analyzers.close(), m.Store.Close())
	closeLock(m.dataLock)
	if m.behaviourCache != "" {
		err = errors.Join(err, os.RemoveAll(m.behaviourCache))
	}
	if m.publicCache != "" {
		err = errors.Join(err, os.RemoveAll(m.publicCache))
	}
	if m.HostAPI != nil {
		err = errors.Join(err, m.HostAPI.Close(context.Background()))
	}
	if m.hostAPICache != "" {
		err = errors.Join(err, os.RemoveAll(m.hostAPICache))
	}
	return err
}

// EnsureAdminToken creates the installation's first admin token, writes
// it to admin.token (mode 0600) in the data folder and returns its path.
// It returns "" when the file exists already, or when the database has
// had its first admin token: whatever became of that token (revoked,
// expired, deleted by the retention purge) and whichever data folder
// holds it, a start never mints another admin, so that deleting
// admin.token and restarting, or starting a process on an empty data
// folder, gives nobody admin access (the database records the bootstrap,
// store.SettingAdminBootstrapped). Admins make further admin tokens with
// `gatehouse token create`.
func (m *Marketplace) EnsureAdminToken(ctx context.Context) (string, error) {
	path := filepath.Join(m.cfg.Data, AdminTokenFile)
	if _, err := os.Stat(path); err == nil {
		return "", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if _, _, err := m.Store.Setting(ctx, store.SettingAdminBootstrapped); err == nil {
		return "", nil
	} else if !errors.Is(err, domain.ErrNotFound) {
		return "", err
	}
	now := time.Now()
	t, secret, err := server.NewToken(now, api.TokenRequest{Subject: "admin", Role: "admin"})
	if err != nil {
		return "", err
	}
	// Write the file first, exclusively: if the record then fails, a
	// restart makes a new one; a record whose secret was lost would be
	// worse, as nobody could use or even find it.
	f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("writing admin token: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("writing admin token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ev := server.TokenEvent(t, "system", now)
	ev.Reason = "the installation's first admin token, made at start-up"
	created, err := m.Store.BootstrapAdmin(ctx, t, ev)
	if err != nil || !created {
		// Not created: another process sharing the database made the
		// first admin token meanwhile.
		os.Remove(path + ".tmp")
		if err != nil {
			return "", fmt.Errorf("recording admin token: %w", err)
		}
		return "", nil
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return "", err
	}
	m.AdminTokenPath = path
	return path, nil
}

// ReadAdminToken reads the admin token of a data folder.
func ReadAdminToken(data string) (string, error) {
	b, err := os.ReadFile(filepath.Join(data, AdminTokenFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Listen binds the address (so a caller knows the port before serving).
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve clears what an interrupted run left behind and resumes the versions
// it left mid-way (sweep), then serves on ln
// and runs the worker until ctx ends, then shuts down gracefully: in-flight
// requests get up to 30 seconds to finish.
func (m *Marketplace) Serve(ctx context.Context, ln net.Listener) error {
	grace := time.Duration(0) // alone on this data folder: nothing is in flight yet
	if m.shared {
		grace = time.Hour // other processes may be between blob and record
	}
	working := m.cfg.Role != RoleAPI
	if working {
		if err := m.sweep(ctx, grace); err != nil {
			return err
		}
	}
	var handler http.Handler = m.Server
	if m.cfg.Role == RoleWorker {
		handler = opsOnly(m.Server)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	var work sync.WaitGroup
	if working {
		work.Go(func() { m.heartbeat(workCtx) })
		work.Go(func() { m.Pipeline.Work(workCtx, 2*time.Second) })
		work.Go(func() { m.escalate(workCtx, time.Minute) })
		// Each layer's background work (publishing the log, revalidation,
		// webhook deliveries) runs until workCtx ends.
		for _, run := range []func(context.Context){m.runTrust, m.runMonitor, m.runNotify} {
			work.Go(func() { run(workCtx) })
		}
	}
	workDone := make(chan struct{})
	go func() { work.Wait(); close(workDone) }()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopWork()
		<-workDone
		return err
	case <-ctx.Done():
	}
	m.cfg.Log.Info("shutting down", "role", m.cfg.Role, "drain", m.cfg.DrainDelay)
	m.Server.Drain()
	if m.cfg.DrainDelay > 0 {
		time.Sleep(m.cfg.DrainDelay)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	stopWork()
	<-workDone
	return err
}

// escalate raises an event for every review whose deadline passed, every
// interval until ctx ends.
func (m *Marketplace) escalate(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := m.Review.Escalate(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Log.Error("escalating overdue reviews", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// opsOnly serves a worker's probes and metrics, and nothing of the API:
// a worker is not an API process, even when someone routes requests to it.
func opsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"code":"not_found","message":"this is a worker process: it serves /healthz, /readyz and /metrics only; send API requests to a gatehouse serve process"}`+"\n")
		}
	})
}

// Heartbeat of a working process: it holds store.WorkerLease of its River
// client while it runs, renewed well inside the lease's life. Another
// process's reconcile hands the running jobs of a
// worker whose lease ran out (it was killed) to the living ones.
const (
	heartbeatEvery = 5 * time.Second
	heartbeatTTL   = 20 * time.Second
)

func (m *Marketplace) heartbeat(ctx context.Context) {
	id := m.Pipeline.WorkerID()
	if id == "" {
		return
	}
	name := store.WorkerLease(id)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		if _, err := m.Store.AcquireLease(ctx, name, id, heartbeatTTL); err != nil && ctx.Err() == nil {
			m.cfg.Log.Warn("renewing this worker's lease; other processes may take its jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			// Not released: jobs still finishing while the process stops
			// are its own until the lease runs out, and a stop hands back
			// what it cancels.
			return
		case <-t.C:
		}
	}
}

// loadSigstoreRoot reads the Sigstore trusted root file, if one is
// configured; nil when none is.
func loadSigstoreRoot(path string) (root.TrustedMaterial, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Sigstore trusted root: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, trust.MaxSigstoreTrustedRootBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the Sigstore trusted root %s: %w", path, err)
	}
	tr, err := sigstore.LoadTrustedRoot(data)
	if err != nil {
		return nil, fmt.Errorf("the Sigstore trusted root %s (a trusted_root.json, as `cosign trusted-root create` writes): %w", path, err)
	}
	return tr, nil
}
