// Package hostcompat keeps host API versions as first-class objects
// (issue 19 item 6): a platform publishes each version it ships with its
// functions and capabilities, and may deprecate an older one with a sunset
// date and migration notes. The package
//
//   - checks every certified plugin version against each published version
//     and keeps the result as the compatibility matrix: compatible,
//     deprecated (uses a function or capability marked deprecated) or
//     broken (imports something the version lacks, or needs a capability
//     it does not offer, or declares a host API range that excludes it).
//     The verdict is computed from the module's imports at once, and
//     confirmed when the version is revalidated by running its scenarios
//     in a sandbox that offers exactly that version's functions;
//   - queues revalidation of every certified version when a version is
//     published (revalidate.TriggerHostAPIChange);
//   - lists sunset dates as a deprecation calendar (and its iCalendar
//     feed), and tells the authors of affected plugins 90, 30 and 7 days
//     before, once per plugin and threshold, from a periodic job.
package hostcompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/riverqueue/river"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/behaviour"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Queue is the River queue of the notice job; NoticeKind its job kind.
const (
	Queue      = "hostapi"
	NoticeKind = "hostapi_notices"
)

// Thresholds are the days before a sunset when authors are told.
var Thresholds = []int{90, 30, 7}

// Limits.
const (
	// MaxCertified bounds how many certified versions a publication checks
	// at once; more fails with a clear error rather than checking some.
	MaxCertified = 10000
	// MaxConfirmed bounds how many published versions a revalidation
	// confirms by running scenarios (the newest; the others keep their
	// import verdict).
	MaxConfirmed = 8
	maxURLBytes  = 2048
	maxDetail    = 4000
)

// Records is what the service reads and writes; store.Store is one.
type Records interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	FindVersions(ctx context.Context, q domain.VersionQuery) ([]domain.Version, error)
	AppendAudit(ctx context.Context, ev audit.Event) error
	store.HostAPIs
	store.Jobs
}

// Packages loads stored packages by digest (intake.Service).
type Packages interface {
	LoadPackage(ctx context.Context, digest string) (*pkgfile.Package, error)
}

// Revalidator queues revalidations (revalidate.Scheduler).
type Revalidator interface {
	EnqueueVersions(ctx context.Context, ids []string, actor string, trigger revalidate.Trigger, why string) (int, error)
}

// Config is what a Service needs.
type Config struct {
	Store    Records
	Packages Packages
	// Revalidate, when set, is told to revalidate every certified version
	// when a host API version is published.
	Revalidate Revalidator
	Manifest   manifest.Options
	// CacheDir keeps compiled modules for the confirmation runs; empty is
	// a temporary folder removed by Close.
	CacheDir string
	Now      func() time.Time
	Log      *slog.Logger
	// Every is how often the notice job looks for due notices (an hour
	// when zero).
	Every time.Duration
}

// Service publishes host API versions and keeps the matrix, the calendar
// and the notices.
type Service struct {
	cfg      Config
	q        store.Queue
	ownCache string

	mu        sync.Mutex
	analyzers map[string]*behaviour.Analyzer // by host API version
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Packages == nil {
		return nil, errors.New("hostcompat: a store and a package loader are required")
	}
	clock := cfg.Now
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Hour
	}
	s := &Service{cfg: cfg, analyzers: map[string]*behaviour.Analyzer{}}
	if cfg.CacheDir == "" {
		dir, err := os.MkdirTemp("", "gatehouse-hostcompat-")
		if err != nil {
			return nil, fmt.Errorf("hostcompat: creating the compilation cache: %w", err)
		}
		s.cfg.CacheDir, s.ownCache = dir, dir
	}
	tick := store.Periodic{Every: cfg.Every, Args: func() river.JobArgs { return noticeJob{} }, RunOnStart: true}
	q, err := cfg.Store.JobQueue(store.QueueConfig{
		Name:        Queue,
		Workers:     []store.Worker{store.Work[noticeJob](&noticeWorker{s: s})},
		MaxWorkers:  1,
		Periodic:    []store.Periodic{tick},
		RescueAfter: 30 * time.Minute,
		Now:         clock,
		Log:         cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the host API job queue: %w", err)
	}
	s.q = q
	return s, nil
}

// Close releases the confirmation sandboxes and a temporary cache.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for v, a := range s.analyzers {
		err = errors.Join(err, a.Close(ctx))
		delete(s.analyzers, v)
	}
	if s.ownCache != "" {
		err = errors.Join(err, os.RemoveAll(s.ownCache))
	}
	return err
}

// PublishRequest is a host API version to publish.
type PublishRequest struct {
	Version string
	// Capabilities is the capabilities file (hostapi.ParseSpec).
	Capabilities []byte
	Deprecates   string
	Sunset       time.Time
	MigrationURL string
	Actor        string
}

// Published is what a publication did.
type Published struct {
	Version domain.HostAPIVersion
	Spec    *hostapi.Spec
	// Cells are the matrix cells computed from the certified versions'
	// imports; Queued counts the revalidations queued to confirm them.
	Cells  []domain.HostAPICompat
	Queued int
}

// Publish validates and records a host API version, computes its column
// of the matrix from the certified versions' imports, flags the versions
// it breaks in the audit trail, and queues revalidation of every
// certified version against it. Mistakes in the request match
// domain.ErrInvalid; a version published before is domain.ErrConflict.
func (s *Service) Publish(ctx context.Context, req PublishRequest) (Published, error) {
	if !hostapi.ValidVersion(req.Version) {
		return Published{}, domain.Invalidf("the host API version %q is not a semantic version such as 1.1.0", clip(req.Version))
	}
	spec, err := hostapi.ParseSpec(req.Capabilities, req.Version)
	if err != nil {
		return Published{}, domain.Invalidf("%v", err)
	}
	now := s.cfg.Now()
	if err := s.checkDeprecation(ctx, req, now); err != nil {
		return Published{}, err
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return Published{}, fmt.Errorf("encoding the capabilities of %s: %w", spec.Version, err)
	}
	certified, err := s.cfg.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Certified, Limit: MaxCertified + 1})
	if err != nil {
		return Published{}, fmt.Errorf("listing certified versions: %w", err)
	}
	if len(certified) > MaxCertified {
		return Published{}, fmt.Errorf("more than %d versions are certified; publishing checks at most that many at once", MaxCertified)
	}
	// The matrix column, from each module's imports. A package that cannot
	// be read is left for its revalidation to check.
	var cells []domain.HostAPICompat
	var broken, deprecated []string
	for _, v := range certified {
		c, err := s.staticCell(ctx, v, spec, now)
		if err != nil {
			s.cfg.Log.Warn("checking a version against a new host API", "version", v.ID, "hostapi", spec.Version, "err", err)
			continue
		}
		cells = append(cells, c)
		switch c.Status {
		case hostapi.Broken:
			broken = append(broken, v.ID)
		case hostapi.Deprecated:
			deprecated = append(deprecated, v.ID)
		}
	}
	h := domain.HostAPIVersion{Version: spec.Version, Spec: body, Deprecates: req.Deprecates, Sunset: req.Sunset.UTC(),
		MigrationURL: req.MigrationURL, PublishedBy: req.Actor, PublishedAt: now}
	reason := "host API " + spec.Version + " published"
	if req.Deprecates != "" {
		reason += "; it deprecates " + req.Deprecates
		if !req.Sunset.IsZero() {
			reason += ", which sunsets on " + req.Sunset.UTC().Format(time.DateOnly)
		}
	}
	data, _ := json.Marshal(map[string]any{"version": spec.Version, "deprecates": req.Deprecates, "sunset": h.Sunset, "migrationUrl": req.MigrationURL,
		"functions": len(spec.Functions), "capabilities": len(spec.Capabilities), "checked": len(cells), "broken": len(broken),
		"deprecated": len(deprecated), "queued": len(certified), "broadcast": true})
	ev := audit.Event{Time: now, Actor: req.Actor, Action: audit.HostAPIPublished, Subject: "hostapi:" + spec.Version, Reason: reason, Data: data}
	if err := s.cfg.Store.PublishHostAPI(ctx, h, ev); err != nil {
		return Published{}, err
	}
	for i := 0; i < len(cells); i += 500 {
		if err := s.cfg.Store.SaveHostAPICompat(ctx, cells[i:min(i+500, len(cells))]); err != nil {
			return Published{}, fmt.Errorf("saving the matrix column of %s: %w", spec.Version, err)
		}
	}
	for _, c := range cells {
		if c.Status != hostapi.Broken {
			continue
		}
		ev := audit.Event{Time: now, Actor: req.Actor, Action: audit.HostAPIIncompatible, Subject: "submission:" + c.VersionID,
			Reason: clip2(fmt.Sprintf("%s@%s will not load on hosts running host API %s: %s; publish a version that does not need it", c.PluginID, c.PluginVersion, spec.Version, WhyOf(c)), 4096)}
		if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
			return Published{}, err
		}
	}
	out := Published{Version: h, Spec: spec, Cells: cells}
	if !h.Sunset.IsZero() {
		// A sunset announced within a threshold is told at once, not at
		// the notice job's next period.
		if _, err := s.q.Insert(ctx, noticeJob{}, nil); err != nil {
			s.cfg.Log.Warn("queueing sunset notices", "hostapi", spec.Version, "err", err)
		}
	}
	if s.cfg.Revalidate != nil && len(certified) > 0 {
		ids := make([]string, len(certified))
		for i, v := range certified {
			ids[i] = v.ID
		}
		n, err := s.cfg.Revalidate.EnqueueVersions(ctx, ids, req.Actor, revalidate.TriggerHostAPIChange, "host API "+spec.Version+" published")
		if err != nil {
			return out, fmt.Errorf("queueing revalidation against host API %s: %w", spec.Version, err)
		}
		out.Queued = n
	}
	return out, nil
}

func (s *Service) checkDeprecation(ctx context.Context, req PublishRequest, now time.Time) error {
	if req.Deprecates == "" {
		if !req.Sunset.IsZero() || req.MigrationURL != "" {
			return domain.Invalid("a sunset date and migration notes belong to a deprecation: add --deprecates OLD (the version that sunsets)")
		}
		return nil
	}
	old, err := s.cfg.Store.GetHostAPI(ctx, req.Deprecates)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Invalidf("host API %s is not published, so it cannot be deprecated; publish it first (gatehouse hostapi publish %s --capabilities FILE)", clip(req.Deprecates), clip(req.Deprecates))
	}
	if err != nil {
		return err
	}
	ov, err1 := semver.StrictNewVersion(old.Version)
	nv, err2 := semver.StrictNewVersion(req.Version)
	if err1 != nil || err2 != nil || !ov.LessThan(nv) {
		return domain.Invalidf("host API %s can only deprecate an older version, and %s is not older", req.Version, old.Version)
	}
	if !req.Sunset.IsZero() && !req.Sunset.After(now) {
		return domain.Invalidf("the sunset date %s is not in the future; give the date hosts may stop offering %s", req.Sunset.UTC().Format(time.DateOnly), old.Version)
	}
	if req.MigrationURL != "" {
		u, err := url.Parse(req.MigrationURL)
		if err != nil || len(req.MigrationURL) > maxURLBytes || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return domain.Invalidf("the migration notes %q are not an http(s) URL without credentials (at most %d bytes)", clip(req.MigrationURL), maxURLBytes)
		}
	}
	return nil
}

// staticCell checks one stored version's module against spec.
func (s *Service) staticCell(ctx context.Context, v domain.Version, spec *hostapi.Spec, now time.Time) (domain.HostAPICompat, error) {
	pkg, err := s.cfg.Packages.LoadPackage(ctx, v.Digest)
	if err != nil {
		return domain.HostAPICompat{}, err
	}
	m, err := manifest.Parse(v.Manifest, s.cfg.Manifest)
	if err != nil {
		return domain.HostAPICompat{}, fmt.Errorf("reading the manifest of %s: %w", v.ID, err)
	}
	mod, ok := pkg.File(m.Runtime.Module)
	if !ok {
		return domain.HostAPICompat{}, fmt.Errorf("the package of %s has no module %s", v.ID, m.Runtime.Module)
	}
	status, usages, err := Static(spec, m, mod)
	if err != nil {
		return domain.HostAPICompat{}, err
	}
	body, _ := json.Marshal(usages)
	return domain.HostAPICompat{VersionID: v.ID, HostAPI: spec.Version, PluginID: v.PluginID, PluginVersion: v.Version,
		Status: status, Usages: body, CheckedAt: now}, nil
}

// Static says how a module with manifest m fares under spec, from its
// imports, the permission kinds its manifest asks for, and its declared
// host API range.
func Static(spec *hostapi.Spec, m *manifest.Manifest, module []byte) (string, []hostapi.Usage, error) {
	imports, err := hostapi.ModuleImports(module)
	if err != nil {
		return "", nil, fmt.Errorf("reading the module's imports: %w", err)
	}
	_, usages := spec.Check(imports, NeededKinds(m))
	if ok, err := manifest.HostAPICompatible(m.Runtime.HostAPI, spec.Version); err != nil || !ok {
		usages = append(usages, hostapi.Usage{Kind: "range", Name: m.Runtime.HostAPI, Status: hostapi.Broken,
			Why: fmt.Sprintf("the manifest's runtime.hostApi %q excludes %s, so a host running it refuses the plugin; widen the range once the plugin works with it", m.Runtime.HostAPI, spec.Version)})
	}
	return hostapi.Worst(usages), usages, nil
}

// NeededKinds lists the permission kinds a manifest asks for.
func NeededKinds(m *manifest.Manifest) []string {
	ps, _ := m.ParsedPermissions()
	var out []string
	for _, p := range ps {
		if !slices.Contains(out, p.Kind) {
			out = append(out, p.Kind)
		}
	}
	sort.Strings(out)
	return out
}

// CheckVersion is revalidation's hook: it checks a version just vetted
// again (in) against every published host API version, confirming the
// newest MaxConfirmed by running the version's scenarios in a sandbox
// that offers exactly that version's functions, and saves the cells.
func (s *Service) CheckVersion(ctx context.Context, v domain.Version, in *vet.Input) error {
	if in == nil || in.Manifest == nil || in.Module == nil {
		return nil // the manifest or the module did not read: vetting says why
	}
	pubs, err := s.cfg.Store.ListPublishedHostAPIs(ctx)
	if err != nil {
		return err
	}
	sort.SliceStable(pubs, func(i, j int) bool { return newer(pubs[i].Version, pubs[j].Version) })
	now := s.cfg.Now()
	var cells []domain.HostAPICompat
	var baseline map[string]bool // scenarios passing under this build's host API, computed when needed
	for i, p := range pubs {
		var spec hostapi.Spec
		if err := json.Unmarshal(p.Spec, &spec); err != nil {
			return fmt.Errorf("reading the capabilities of host API %s: %w", p.Version, err)
		}
		status, usages, err := Static(&spec, in.Manifest, in.Module)
		if err != nil {
			return err
		}
		c := domain.HostAPICompat{VersionID: v.ID, HostAPI: p.Version, PluginID: v.PluginID, PluginVersion: v.Version, Status: status, CheckedAt: now}
		if i < MaxConfirmed && spec.Module == hostapi.Module {
			c.Confirmed, c.Detail, err = s.confirm(ctx, &spec, in, &baseline)
			if err != nil {
				return err
			}
			if c.Confirmed == domain.CompatFailed {
				c.Status = hostapi.Broken
				usages = append(usages, hostapi.Usage{Kind: "scenarios", Name: "tests/*.json", Status: hostapi.Broken, Why: c.Detail})
			}
		}
		c.Usages, _ = json.Marshal(usages)
		cells = append(cells, c)
	}
	return s.cfg.Store.SaveHostAPICompat(ctx, cells)
}

// confirm runs in's scenarios under spec. A load failure fails it; so do
// scenarios that fail under spec and pass under this build's own host
// API (baseline), since those failing anyway say nothing of spec.
func (s *Service) confirm(ctx context.Context, spec *hostapi.Spec, in *vet.Input, baseline *map[string]bool) (string, string, error) {
	a, err := s.analyzer("published:"+spec.Version, spec)
	if err != nil {
		return "", "", err
	}
	loaded, failing, err := runScenarios(ctx, a, in)
	switch {
	case errors.Is(err, vet.ErrSkipped):
		if loaded == "" {
			return domain.CompatNoScenarios, "the package has no scenarios to run", nil
		}
	case err != nil:
		return "", "", err
	}
	if loaded != "" && loaded != "ok" {
		return domain.CompatFailed, clip2("a sandbox offering host API "+spec.Version+" refuses to load it: "+loaded, maxDetail), nil
	}
	if len(failing) > 0 {
		if *baseline == nil {
			cur, err := s.analyzer("current", hostapi.Current())
			if err != nil {
				return "", "", err
			}
			_, baseFailing, err := runScenarios(ctx, cur, in)
			if err != nil && !errors.Is(err, vet.ErrSkipped) {
				return "", "", err
			}
			*baseline = map[string]bool{}
			for _, f := range baseFailing {
				(*baseline)[f] = true
			}
		}
		var news []string
		for _, f := range failing {
			if !(*baseline)[f] {
				news = append(news, f)
			}
		}
		if len(news) > 0 {
			return domain.CompatFailed, clip2(fmt.Sprintf("under host API %s these scenarios fail that pass on this marketplace's host API: %s", spec.Version, strings.Join(news, "; ")), maxDetail), nil
		}
	}
	return domain.CompatPassed, fmt.Sprintf("loaded in a sandbox offering host API %s; every scenario that passes today passed", spec.Version), nil
}

// runScenarios runs the behaviour analyzer; loaded is "ok", or the load
// error, or "" when nothing ran; failing names the failing scenarios.
func runScenarios(ctx context.Context, a *behaviour.Analyzer, in *vet.Input) (loaded string, failing []string, err error) {
	rep, err := a.Analyze(ctx, &vet.Input{Package: in.Package, Manifest: in.Manifest, Module: in.Module})
	if err != nil {
		return "", nil, err
	}
	for _, f := range rep.Findings {
		if f.RuleID == behaviour.RuleScenarioError && strings.Contains(f.Message, "cannot be loaded") {
			return f.Message, nil, nil
		}
	}
	d, ok := rep.Detail.(*behaviour.Detail)
	if !ok {
		return "ok", nil, nil
	}
	for _, r := range d.Scenarios {
		if !r.Passed {
			failing = append(failing, r.File+": "+r.Name)
		}
	}
	return "ok", failing, nil
}

// analyzer returns the behaviour analyzer whose sandbox offers spec,
// kept by key (the published version, or "current" for this build's).
func (s *Service) analyzer(key string, spec *hostapi.Spec) (*behaviour.Analyzer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.analyzers[key]; ok {
		return a, nil
	}
	a, err := behaviour.New(behaviour.Options{CacheDir: s.cfg.CacheDir, HostAPI: spec, Logger: s.cfg.Log})
	if err != nil {
		return nil, err
	}
	s.analyzers[key] = a
	return a, nil
}

// newer orders versions newest first (unparsable ones last).
func newer(a, b string) bool {
	va, err1 := semver.NewVersion(a)
	vb, err2 := semver.NewVersion(b)
	if err1 != nil || err2 != nil {
		return err2 != nil && err1 == nil
	}
	return va.GreaterThan(vb)
}

// WhyOf says why a cell has its status: the reasons of the usages that
// decide it.
func WhyOf(c domain.HostAPICompat) string {
	var us []hostapi.Usage
	_ = json.Unmarshal(c.Usages, &us)
	var out []string
	for _, u := range us {
		if u.Status == c.Status && u.Why != "" {
			out = append(out, u.Why)
		}
	}
	return strings.Join(out, "; ")
}

func clip(s string) string { return clip2(s, 80) }

func clip2(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
