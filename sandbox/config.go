package sandbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/hostapi"
)

// Config configures a Runtime. The zero value of every field means the
// documented default; limits are ceilings: a manifest may ask for less and
// gets less, never more.
type Config struct {
	// CacheDir holds compiled modules, keyed by the module's digest, so a
	// restart does not recompile. Empty keeps the cache in memory only.
	CacheDir string
	// Interpreter runs modules on wazero's interpreter instead of its
	// optimizing compiler: a module new to the runtime is ready in about
	// a sixth of the CPU time its compile takes, and runs several times
	// slower. It suits short runs of a module seen once, as vetting's
	// scenarios are (docs/decisions.md); CacheDir is not used with it.
	Interpreter bool
	// HostAPIVersion is the host API version offered to plugins, checked
	// against each manifest's runtime.hostApi range. Default HostAPI's
	// version, or hostapi.Version.
	HostAPIVersion string
	// HostAPI is the host API this host offers: only its functions are
	// linked, so a module importing one it lacks fails to load, as it
	// would on a host running that version. Nil offers every function of
	// this build (hostapi.Current). Its module must be hostapi.Module:
	// the sandbox implements no other.
	HostAPI *hostapi.Spec

	// MaxMemoryBytes caps a plugin's linear memory (default 256 MiB);
	// DefaultMemoryBytes applies when the manifest does not ask (default
	// 64 MiB).
	MaxMemoryBytes     uint64
	DefaultMemoryBytes uint64
	// MaxTimeout caps a call's duration, instantiation included (default
	// 30s); DefaultTimeout applies when the manifest does not ask (5s).
	MaxTimeout     time.Duration
	DefaultTimeout time.Duration
	// MaxOutputBytes caps output_set and, separately, each of stdout and
	// stderr (default 1 MiB).
	MaxOutputBytes int
	// MaxHostCalls caps capability host calls (kv, fetch, fs, secret, data)
	// per call (default 1000). The calling-convention functions and log do
	// not count; log has its own limits.
	MaxHostCalls int
	// MaxLogLines (default 100) and MaxLogLineBytes (default 4096) limit
	// the log host function per call; further lines are dropped and counted.
	MaxLogLines     int
	MaxLogLineBytes int

	// MaxConcurrent is the number of calls a plugin may run at once
	// (default 8). QueueWait is how long a call beyond it waits for a slot
	// before it is throttled (default 0: throttled at once, so a flood can
	// never pile up goroutines in the host).
	MaxConcurrent int
	QueueWait     time.Duration
	// RatePerSecond and RateBurst form a token bucket per plugin (default:
	// no rate limit). A call without a token is throttled at once.
	RatePerSecond float64
	RateBurst     int

	// FetchTimeout bounds one http_fetch (default 10s, and never past the
	// call's deadline); MaxFetchResponseBytes bounds its body (1 MiB);
	// MaxRedirects bounds its redirect hops (5).
	FetchTimeout          time.Duration
	MaxFetchResponseBytes int
	MaxRedirects          int
	// MaxFileBytes bounds one fs_read (default 4 MiB).
	MaxFileBytes int
	// MaxKVValueBytes bounds one kv value (default 64 KiB).
	MaxKVValueBytes int

	// Secrets provides secret_get. Nil refuses every secret as not found.
	Secrets Secrets
	// Data serves data_read and data_write. Nil fails them.
	Data DataFunc
	// KV stores key-value pairs per plugin. Nil uses a new in-memory store.
	KV KV

	// Breaker configures the circuit breaker of each plugin.
	Breaker BreakerConfig

	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers nowhere (the metrics
	// still work, e.g. for tests that read them directly).
	Registerer prometheus.Registerer

	// Now is the clock of the rate limiter and the circuit breaker
	// (default time.Now); tests replace it.
	Now func() time.Time

	// stopWith chooses how a call's deadline stops the guest; only the
	// benchmarks that compare the mechanisms change it (see interrupt.go).
	stopWith stopMechanism
	// copyReset makes pooled instances reset by copying the whole
	// snapshot even where the copy-on-write reset works; only the
	// benchmarks that compare the two set it.
	copyReset bool
}

// stopMechanism is how the sandbox stops a guest whose call has ended.
type stopMechanism int

const (
	// stopChecks: the rewrite's interrupt checks, falling back to
	// wazero's close-on-context-done for a module it cannot instrument.
	stopChecks stopMechanism = iota
	// stopCloseOnDone: wazero's WithCloseOnContextDone for every module.
	stopCloseOnDone
	// stopNothing: no way to stop a running guest; the floor the
	// benchmarks compare against, never used to serve.
	stopNothing
)

// PluginRef names a loaded plugin version for callbacks.
type PluginRef struct {
	ID      string
	Version string
}

// DataFunc serves the data_read (write false) and data_write (write true)
// host functions. The sandbox has already checked that req.Scope was
// granted. Returning an error wrapping ErrNotFound yields StatusNotFound;
// any other error yields StatusFailed with the error's text given to the
// plugin, so it must not contain secrets.
type DataFunc func(ctx context.Context, plugin PluginRef, req hostapi.DataRequest, write bool) ([]byte, error)

func (c Config) withDefaults() Config {
	if c.HostAPIVersion == "" && c.HostAPI != nil {
		c.HostAPIVersion = c.HostAPI.Version
	}
	if c.HostAPIVersion == "" {
		c.HostAPIVersion = hostapi.Version
	}
	if c.HostAPI == nil {
		c.HostAPI = hostapi.Current()
	}
	if c.MaxMemoryBytes == 0 {
		c.MaxMemoryBytes = 256 << 20
	}
	if c.DefaultMemoryBytes == 0 {
		c.DefaultMemoryBytes = 64 << 20
	}
	c.DefaultMemoryBytes = min(c.DefaultMemoryBytes, c.MaxMemoryBytes)
	if c.MaxTimeout == 0 {
		c.MaxTimeout = 30 * time.Second
	}
	if c.DefaultTimeout == 0 {
		c.DefaultTimeout = 5 * time.Second
	}
	c.DefaultTimeout = min(c.DefaultTimeout, c.MaxTimeout)
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = 1 << 20
	}
	if c.MaxHostCalls == 0 {
		c.MaxHostCalls = 1000
	}
	if c.MaxLogLines == 0 {
		c.MaxLogLines = 100
	}
	if c.MaxLogLineBytes == 0 {
		c.MaxLogLineBytes = 4096
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 8
	}
	if c.RatePerSecond > 0 && c.RateBurst <= 0 {
		c.RateBurst = max(1, int(c.RatePerSecond))
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = 10 * time.Second
	}
	if c.MaxFetchResponseBytes == 0 {
		c.MaxFetchResponseBytes = 1 << 20
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = 5
	}
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = 4 << 20
	}
	if c.MaxKVValueBytes == 0 {
		c.MaxKVValueBytes = 64 << 10
	}
	if c.KV == nil {
		c.KV = NewMemoryKV()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Breaker = c.Breaker.withDefaults()
	return c
}
