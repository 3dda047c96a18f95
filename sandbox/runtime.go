// Package sandbox runs plugins' WebAssembly modules in-process under
// wazero, with only the capabilities they were granted.
//
// A Runtime is made once per host process. Load checks a module against its
// manifest and grants and links only the granted host functions (package
// hostapi); Call runs an export under the plugin's limits and returns its
// output, or a *CallError whose Kind says why not. Host keeps plugins by id
// and swaps, rolls back and unloads versions while calls are in flight.
//
// # Isolation between calls
//
// By default (IsolationCall) no call sees anything an earlier call left:
// every call starts from the state the module had right after its
// initialisation. Each plugin version keeps a pool of live instances, as
// many as its concurrency limit. The first instance runs _initialize and
// its state is recorded as a snapshot: the bytes of its linear memory and
// the value of every mutable global (the load-time rewrite exports each
// under a reserved __gatehouse_global_ name, since wazero shows the host
// only exported globals). Before each call, the instance it takes is reset
// to the snapshot, so whatever a call wrote is gone before the next call's
// code runs. New instances start from the snapshot too, without running
// _initialize again.
//
// What else a live instance could carry is handled one by one:
//   - An instance is thrown away, never reused, after a call that failed
//     or breached a limit (timeout, trap, out of memory, output too large,
//     host abort): wazero may have stopped it mid-way.
//   - Memory cannot shrink, so an instance whose memory grew during a call
//     is thrown away rather than reset.
//   - WASI descriptors live outside memory. wazero gives the host no way
//     to close them, so a listener on the WASI functions marks a call that
//     opens, closes, renumbers, seeks, reads or changes the flags of a
//     descriptor other than stdio, and that call's instance is thrown
//     away. Mounts are read-only, so a descriptor never holds data a call
//     wrote; plugins reading through the host API's fs_read keep their
//     instances.
//   - Tables and passive segments also live outside memory. A module with
//     an instruction that changes them (table.set, table.grow, elem.drop,
//     data.drop, ...) or one the rewrite does not know is never reset:
//     each of its instances is initialised anew and serves one call. Go's
//     compiler emits none of these.
//   - Per-call state on the host side (input, output, host-call budget,
//     logs, stdout and stderr) is per call already.
//
// On Linux a pooled instance's memory is a copy-on-write mapping of the
// snapshot, and a reset puts back only the pages the call wrote, which
// the kernel reports (see memimage_linux.go): microseconds for a call
// that touched little memory. Elsewhere a reset copies the whole snapshot
// back, a few MB for a Go plugin, on the order of 0.1 ms a call.
//
// Because the state is the same after every reset, a Go plugin's
// non-cryptographic randomness (math/rand, map iteration order) repeats
// from call to call; crypto/rand asks the host each time and does not.
//
// IsolationPlugin is the opt-in alternative for trusted plugins that need
// calls in microseconds: instances are reused without a reset, so a
// plugin's memory persists between its own calls, like a process's. It
// never crosses plugins or versions, and an instance that failed or
// breached is still thrown away. Per-call isolation stays the default for
// untrusted plugins: under IsolationPlugin, one caller's input can reach a
// later caller's output if the plugin keeps it.
//
// # Stopping a guest
//
// A call's deadline, its caller's cancel and an output over its limit all
// stop the guest wherever it is: the load-time rewrite puts a countdown
// and a stop flag at every function entry and loop head, and the guest
// visits Go every few thousand of them, so it can be preempted and
// stopped (see interrupt.go). A module the rewrite cannot instrument
// falls back to wazero's WithCloseOnContextDone.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// Runtime loads plugins. It holds the compiled-module cache and the
// metrics; each loaded plugin has its own wazero runtime (so its memory
// cap and its set of host functions are its own) sharing that cache.
type Runtime struct {
	cfg     Config
	cache   wazero.CompilationCache
	metrics *metrics
	closed  atomic.Bool
	// prepared remembers prepareModule's output for the last modules
	// loaded: loading one module many times (vetting loads it once per
	// scenario run) then rewrites it once.
	prepared preparedMemo
}

// NewRuntime returns a Runtime. With cfg.CacheDir set, compiled modules are
// kept there (wazero keys them by the SHA-256 of the module's bytes and its
// own version), so a restart loads without compiling.
func NewRuntime(cfg Config) (*Runtime, error) {
	cfg = cfg.withDefaults()
	if _, err := semver.NewVersion(cfg.HostAPIVersion); err != nil {
		return nil, fmt.Errorf("host API version %q is not a SemVer version: %w", cfg.HostAPIVersion, err)
	}
	if cfg.HostAPI.Module != hostapi.Module {
		return nil, fmt.Errorf("host API %s names the import module %s; this sandbox implements %s only", cfg.HostAPI.Version, cfg.HostAPI.Module, hostapi.Module)
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" && !cfg.Interpreter {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("opening the compilation cache in %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Runtime{cfg: cfg, cache: cache, metrics: m}, nil
}

// Close releases the compilation cache's memory. Close plugins first.
func (r *Runtime) Close(ctx context.Context) error {
	if r.closed.Swap(true) {
		return nil
	}
	return r.cache.Close(ctx)
}

// LoadRequest is what Load needs.
type LoadRequest struct {
	Manifest *manifest.Manifest
	// Module is the WebAssembly binary.
	Module []byte
	// Grants are the permissions granted, a subset of the manifest's; nil
	// grants all of the manifest's permissions.
	Grants []manifest.Permission
	// Mounts maps the mount path of each granted fs:read permission (for
	// fs:read:/templates, "/templates") to a host directory.
	Mounts map[string]string

	// HTTPTransport replaces the network leg of http_fetch (scenario runs
	// pass fakes here). Origin and redirect checks still apply; the
	// dial-time address check belongs to the built-in transport only.
	HTTPTransport http.RoundTripper
	// Data replaces Config.Data for this plugin.
	Data DataFunc

	// Isolation says what a call may see of the plugin's earlier calls;
	// the default, IsolationCall, is nothing. See the package comment.
	Isolation Isolation
	// SecretLifetime is how long a secret the plugin asks for is leased
	// to it: one call (the default) or the plugin version's lifetime.
	SecretLifetime SecretLifetime
}

// Limits are the limits a plugin runs under: its manifest's asks, capped by
// the Config's ceilings.
type Limits struct {
	MemoryBytes   uint64
	Timeout       time.Duration
	OutputBytes   int
	HostCalls     int
	MaxConcurrent int
}

// Load compiles (or fetches from the cache) and checks a plugin's module,
// and links the host functions it was granted. It fails with a *CallError
// of KindLoadFailed that says what is wrong.
func (r *Runtime) Load(ctx context.Context, req LoadRequest) (p *Plugin, err error) {
	m := req.Manifest
	if m == nil {
		return nil, &CallError{Kind: KindLoadFailed, Msg: "no manifest"}
	}
	defer func() {
		result := ResultOK
		if err != nil {
			result = "failed"
			r.cfg.Logger.LogAttrs(ctx, levelWarn, "plugin load failed",
				attrPlugin(m.ID), attrVersion(m.Version), attrErr(err))
		}
		r.metrics.loads.WithLabelValues(m.ID, m.Version, result).Inc()
	}()
	fail := func(format string, args ...any) error {
		return &CallError{Kind: KindLoadFailed, Plugin: m.ID, Version: m.Version, Msg: fmt.Sprintf(format, args...)}
	}
	if r.closed.Load() {
		return nil, fail("the runtime is closed")
	}
	if err := checkHostAPI(m.Runtime.HostAPI, r.cfg.HostAPIVersion); err != nil {
		return nil, fail("%v", err)
	}
	grants, err := effectiveGrants(m, req.Grants)
	if err != nil {
		return nil, fail("%v", err)
	}
	for _, g := range grants {
		if _, ok := r.cfg.HostAPI.Capability(g.Kind); !ok {
			return nil, fail("it is granted %s, and host API %s does not offer the %s capability", g, r.cfg.HostAPIVersion, hostapi.PermissionExample(g.Kind))
		}
	}
	limits := r.limitsFor(m)

	var mountPaths, origins []string
	for _, g := range grants {
		switch g.Kind {
		case hostapi.PermFSRead:
			mountPaths = append(mountPaths, g.Scope)
		case hostapi.PermNet:
			origins = append(origins, g.Scope)
		}
	}
	ms, err := openMounts(mountPaths, req.Mounts)
	if err != nil {
		return nil, fail("%v", err)
	}
	defer func() {
		if err != nil {
			ms.close()
		}
	}()

	if req.Isolation != IsolationCall && req.Isolation != IsolationPlugin {
		return nil, fail("unknown isolation %d", int(req.Isolation))
	}
	if req.SecretLifetime != SecretsPerCall && req.SecretLifetime != SecretsPerPlugin {
		return nil, fail("unknown secret lifetime %d", int(req.SecretLifetime))
	}
	// The rewrite is deterministic, so the compilation cache (keyed by the
	// bytes compiled) still hits on the next load of the same module.
	prepared, reset, err := r.prepared.prepare(req.Module, r.cfg.stopWith == stopChecks)
	if err != nil {
		return nil, fail("%v", err)
	}
	// A module with the rewrite's interrupt checks is stopped by them, and
	// compiled without wazero's call out to Go at every loop head (see
	// interrupt.go); any other keeps wazero's.
	pages := uint32(limits.MemoryBytes / 65536)
	rc := wazero.NewRuntimeConfig()
	if r.cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	// No DWARF: wazero would only use it to add source lines to trap
	// stack traces, the interrupt rewrite shifts the code it points into,
	// and its reader refuses a valid module that ends in an empty custom
	// section.
	wrt := wazero.NewRuntimeWithConfig(ctx, rc.
		WithDebugInfoEnabled(false).
		WithCompilationCache(r.cache).
		WithCloseOnContextDone(!reset.interrupt && r.cfg.stopWith != stopNothing).
		WithMemoryLimitPages(pages))
	defer func() {
		if err != nil {
			wrt.Close(context.Background())
		}
	}()
	compiled, err := wrt.CompileModule(ctx, prepared)
	if err != nil {
		return nil, fail("the module is not valid WebAssembly or does not fit the %d MiB memory cap: %v", limits.MemoryBytes>>20, err)
	}
	if err := checkImports(compiled, grants, r.cfg.HostAPI, r.cfg.HostAPIVersion); err != nil {
		return nil, fail("%v", err)
	}
	exports, err := checkExports(compiled, m.Runtime.Exports)
	if err != nil {
		return nil, fail("%v", err)
	}

	p = &Plugin{
		rt:       r,
		ref:      PluginRef{ID: m.ID, Version: m.Version},
		manifest: m,
		grants:   grants,
		limits:   limits,
		wrt:      wrt,
		compiled: compiled,
		loaded:   &loadRefs{refs: 1},
		exports:  exports,
		mounts:   ms,
		secrets:  map[string]bool{},
		leases:   &leaseSet{},
		lifetime: req.SecretLifetime,
		dataR:    map[string]bool{},
		dataW:    map[string]bool{},
		data:     r.cfg.Data,
		sem:      make(chan struct{}, limits.MaxConcurrent),
		drained:  make(chan struct{}),
		bucket:   newTokenBucket(r.cfg.RatePerSecond, r.cfg.RateBurst, r.cfg.Now),
		log:      r.cfg.Logger.With(attrPlugin(m.ID), attrVersion(m.Version)),

		isolation: req.Isolation,
		interrupt: reset.interrupt,
	}
	if req.Isolation == IsolationPlugin || reset.unsafe == "" {
		p.pool = &pool{
			free:      make(chan *instance, limits.MaxConcurrent),
			globals:   reset.globals,
			snapshots: reset.unsafe == "",
			reset:     req.Isolation == IsolationCall,
		}
	}
	if reset.unsafe != "" {
		p.log.Info("the plugin's instances cannot be reset to a snapshot, so each is initialised anew", "reason", reset.unsafe, "isolation", req.Isolation.String())
	}
	if req.Data != nil {
		p.data = req.Data
	}
	if d := m.Data; d != nil && d.Retention != "" && manifest.Grants(grants, hostapi.PermKVWrite) {
		r, err := parseRetention(d.Retention)
		if err != nil {
			return nil, fail("data.retention: %v", err)
		}
		p.retention = &r
	}
	for _, g := range grants {
		switch g.Kind {
		case hostapi.PermSecret:
			p.secrets[g.Scope] = true
		case hostapi.PermDataRead:
			p.dataR[g.Scope] = true
		case hostapi.PermDataWrite:
			p.dataW[g.Scope] = true
		}
	}
	if len(origins) > 0 {
		p.fetch = newFetcher(origins, req.HTTPTransport, &r.cfg)
	}
	p.breaker = newBreaker(r.cfg.Breaker, r.cfg.Now, func(s BreakerState) {
		r.metrics.breaker.WithLabelValues(m.ID, m.Version).Set(float64(s))
		p.log.Warn("plugin circuit breaker changed state", "state", s.String())
	})

	// The listener marks calls that change an instance's WASI descriptors,
	// whose instance a reset could not restore.
	if _, err := wasi_snapshot_preview1.Instantiate(experimental.WithFunctionListenerFactory(ctx, wasiState{}), wrt); err != nil {
		return nil, fail("linking WASI: %v", err)
	}
	if err := p.linkHostModule(ctx); err != nil {
		return nil, fail("linking the host API: %v", err)
	}

	fsc := wazero.NewFSConfig()
	for _, mt := range ms {
		// The os.Root's fs.FS keeps WASI inside the mount even through
		// symbolic links, and an fs.FS offers no way to write.
		fsc = fsc.WithFSMount(mt.root.FS(), mt.guest)
	}
	p.modCfg = wazero.NewModuleConfig().
		WithName("").
		// Go reactors (-buildmode=c-shared) initialise their runtime in
		// _initialize; a module without one skips it.
		WithStartFunctions("_initialize").
		WithSysWalltime().WithSysNanotime().
		WithRandSource(rand.Reader).
		WithFSConfig(fsc)

	r.metrics.breaker.WithLabelValues(m.ID, m.Version).Set(float64(BreakerClosed))
	p.log.Info("plugin loaded", "grants", permStrings(grants), "memory_bytes", limits.MemoryBytes,
		"timeout", limits.Timeout.String())
	return p, nil
}

func (r *Runtime) limitsFor(m *manifest.Manifest) Limits {
	c := &r.cfg
	l := Limits{
		MemoryBytes:   c.DefaultMemoryBytes,
		Timeout:       c.DefaultTimeout,
		OutputBytes:   c.MaxOutputBytes,
		HostCalls:     c.MaxHostCalls,
		MaxConcurrent: c.MaxConcurrent,
	}
	if ml := m.Limits; ml != nil {
		if ml.MemoryMiB > 0 {
			l.MemoryBytes = min(uint64(ml.MemoryMiB)<<20, c.MaxMemoryBytes)
		}
		if ml.TimeoutMillis > 0 {
			l.Timeout = min(time.Duration(ml.TimeoutMillis)*time.Millisecond, c.MaxTimeout)
		}
		if ml.OutputBytes > 0 {
			l.OutputBytes = min(ml.OutputBytes, c.MaxOutputBytes)
		}
		if ml.HostCalls > 0 {
			l.HostCalls = min(ml.HostCalls, c.MaxHostCalls)
		}
	}
	// At least one 64 KiB page.
	l.MemoryBytes = max(l.MemoryBytes, 65536)
	return l
}

func checkHostAPI(rangeStr, offered string) error {
	if strings.TrimSpace(rangeStr) == "" {
		return fmt.Errorf("the manifest does not say which host API versions it works with (runtime.hostApi)")
	}
	c, err := semver.NewConstraint(rangeStr)
	if err != nil {
		return fmt.Errorf("runtime.hostApi %q is not a SemVer range: %v", rangeStr, err)
	}
	v, err := semver.NewVersion(offered)
	if err != nil {
		return fmt.Errorf("host API version %q is not SemVer: %v", offered, err)
	}
	if !c.Check(v) {
		return fmt.Errorf("the plugin needs host API %s, and this host offers %s", rangeStr, offered)
	}
	return nil
}

// effectiveGrants returns the permissions the plugin runs with: the
// manifest's own, or the subset granted.
func effectiveGrants(m *manifest.Manifest, grants []manifest.Permission) ([]manifest.Permission, error) {
	asked, err := manifest.ParsePermissions(m.Permissions)
	if err != nil {
		return nil, fmt.Errorf("the manifest's permissions: %v", err)
	}
	if grants == nil {
		return asked, nil
	}
	askedSet := make(map[string]bool, len(asked))
	for _, p := range asked {
		askedSet[p.String()] = true
	}
	seen := make(map[string]bool, len(grants))
	out := make([]manifest.Permission, 0, len(grants))
	for _, g := range grants {
		// Re-parse so a hand-built Permission gets the canonical scope.
		pg, err := manifest.ParsePermission(g.String())
		if err != nil {
			return nil, fmt.Errorf("grant %q: %v", g.String(), err)
		}
		if !askedSet[pg.String()] {
			return nil, fmt.Errorf("permission %s is granted but the manifest does not ask for it; a grant can only narrow the manifest's permissions", pg)
		}
		if !seen[pg.String()] {
			seen[pg.String()] = true
			out = append(out, pg)
		}
	}
	return out, nil
}

// checkImports refuses a module that imports anything it may not have: a
// host function whose permission was not granted, an unknown host
// function, a WASI function outside hostapi.WASI and
// hostapi.WASISocketsInert (sockets that could connect above all), a
// function of any other module, or any imported memory, table or global.
func checkImports(c wazero.CompiledModule, grants []manifest.Permission, offered *hostapi.Spec, version string) error {
	var problems []string
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case hostapi.Module:
			hf, ok := hostapi.Lookup(name)
			if !ok || !offered.Offers(hf) {
				if sf, listed := offered.Function(name); listed && ok {
					problems = append(problems, fmt.Sprintf("it imports %s.%s, which host API %s defines as %s", mod, name, version, "("+strings.Join(sf.Params, ", ")+") -> ("+strings.Join(sf.Results, ", ")+")"))
					continue
				}
				problems = append(problems, fmt.Sprintf("it imports %s.%s, which host API %s does not have", mod, name, version))
				continue
			}
			if !manifest.Grants(grants, hf.Permission) {
				problems = append(problems, fmt.Sprintf("it imports %s, which needs a %s permission that was not granted", name, hostapi.PermissionExample(hf.Permission)))
				continue
			}
			if !sameSig(f, hf) {
				problems = append(problems, fmt.Sprintf("it imports %s with the signature %s, and host API %s defines %s", name, sigString(f.ParamTypes(), f.ResultTypes()), version, sigString(valTypes(hf.Params), valTypes(hf.Results))))
			}
		case hostapi.WASIModule:
			switch hostapi.ClassifyWASI(name) {
			case hostapi.WASILinked, hostapi.WASIInertSocket:
				// Linked. The inert socket calls act only on descriptors
				// the host hands over, and it hands over none.
			case hostapi.WASISocket:
				problems = append(problems, fmt.Sprintf("it imports the WASI socket function %s, which could open a connection; plugins have no sockets (use http_fetch with a net: permission)", name))
			default:
				problems = append(problems, fmt.Sprintf("it imports the WASI function %s, which plugins may not use", name))
			}
		default:
			problems = append(problems, fmt.Sprintf("it imports %s.%s; plugins may import only from %s and %s", mod, name, hostapi.Module, hostapi.WASIModule))
		}
	}
	for _, m := range c.ImportedMemories() {
		mod, name, _ := m.Import()
		problems = append(problems, fmt.Sprintf("it imports the memory %s.%s; a plugin must define its own memory", mod, name))
	}
	if len(problems) > 0 {
		return fmt.Errorf("the module cannot be loaded: %s", strings.Join(problems, "; "))
	}
	return nil
}

func checkExports(c wazero.CompiledModule, names []string) (map[string]bool, error) {
	fns := c.ExportedFunctions()
	out := make(map[string]bool, len(names))
	for _, n := range names {
		f, ok := fns[n]
		if !ok {
			return nil, fmt.Errorf("the manifest lists the export %q, which the module does not export", n)
		}
		if len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 1 || f.ResultTypes()[0] != api.ValueTypeI32 {
			return nil, fmt.Errorf("the export %q has the signature %s; exports take no parameters and return an i32 status", n, sigString(f.ParamTypes(), f.ResultTypes()))
		}
		out[n] = true
	}
	return out, nil
}

func valTypes(v []hostapi.ValType) []api.ValueType {
	out := make([]api.ValueType, len(v))
	for i, t := range v {
		out[i] = api.ValueType(t)
	}
	return out
}

func sameSig(f api.FunctionDefinition, hf hostapi.Function) bool {
	eq := func(a []api.ValueType, b []hostapi.ValType) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != api.ValueType(b[i]) {
				return false
			}
		}
		return true
	}
	return eq(f.ParamTypes(), hf.Params) && eq(f.ResultTypes(), hf.Results)
}

func sigString(params, results []api.ValueType) string {
	names := func(v []api.ValueType) string {
		s := make([]string, len(v))
		for i, t := range v {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(params) + ") -> (" + names(results) + ")"
}

func permStrings(ps []manifest.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

const levelWarn = slog.LevelWarn

func attrPlugin(id string) slog.Attr { return slog.String("plugin", id) }
func attrVersion(v string) slog.Attr { return slog.String("version", v) }
func attrErr(err error) slog.Attr    { return slog.String("error", err.Error()) }

// preparedMemo holds prepareModule's output for the few modules loaded
// last, by the SHA-256 of their bytes. prepareModule is deterministic, so
// a held result is what preparing the bytes again would give.
type preparedMemo struct {
	mu      sync.Mutex
	entries []preparedEntry // most recently used last
}

type preparedEntry struct {
	sum        [sha256.Size]byte
	interrupts bool
	prepared   []byte
	reset      resetInfo
}

// maxPrepared bounds the memo: a module is at most a few tens of MiB, and
// a runtime loads one module many times in a row, not many in turn.
const maxPrepared = 4

func (m *preparedMemo) prepare(mod []byte, interrupts bool) ([]byte, resetInfo, error) {
	sum := sha256.Sum256(mod)
	m.mu.Lock()
	for i, e := range m.entries {
		if e.sum == sum && e.interrupts == interrupts {
			m.entries = append(slices.Delete(m.entries, i, i+1), e)
			m.mu.Unlock()
			return e.prepared, e.reset, nil
		}
	}
	m.mu.Unlock()
	prepared, reset, err := prepareModule(mod, interrupts)
	if err != nil {
		return nil, resetInfo{}, err
	}
	m.mu.Lock()
	if len(m.entries) == maxPrepared {
		m.entries = slices.Delete(m.entries, 0, 1)
	}
	m.entries = append(m.entries, preparedEntry{sum, interrupts, prepared, reset})
	m.mu.Unlock()
	return prepared, reset, nil
}
