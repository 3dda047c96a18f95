// Package analyzers assembles the standard set of analyzers and loads a
// package into a vet.Input. It is the one place that knows every analyzer,
// so the server's vetting jobs and `gatehouse vet` run the same set; it
// lives apart from package vet because the analyzers import vet.
package analyzers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/behaviour"
	"gatehouse.dev/gatehouse/internal/vet/capabilities"
	"gatehouse.dev/gatehouse/internal/vet/dataflow"
	"gatehouse.dev/gatehouse/internal/vet/dependencies"
	"gatehouse.dev/gatehouse/internal/vet/diff"
	"gatehouse.dev/gatehouse/internal/vet/licenses"
	"gatehouse.dev/gatehouse/internal/vet/manifestcheck"
	"gatehouse.dev/gatehouse/internal/vet/provenance"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
	"gatehouse.dev/gatehouse/internal/vet/source"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// DefaultOptions configure the standard analyzers. The zero value runs
// every analyzer with no catalog (dependency ranges are not resolved), no
// vulnerability database (the dependencies analyzer is skipped, saying
// so) and no licence policy.
type DefaultOptions struct {
	// Manifest configures the manifest analyzer: the catalog that
	// resolves plugin dependencies, the host API versions on offer and the
	// manifest parsing options.
	Manifest manifestcheck.Options
	// Licenses is the licence policy.
	Licenses licenses.Policy
	// VulnDB is the imported OSV database; nil skips vulnerability
	// matching.
	VulnDB *vulndb.DB
	// Provenance configures the provenance analyzer: the builders whose
	// SLSA provenance is trusted (none by default) and the rebuild.
	Provenance provenance.Options
	// Behaviour is the behaviour analyzer to use; nil creates one. It owns
	// a sandbox runtime, so a long-lived caller creates it once and passes
	// it to every Default call.
	Behaviour vet.Analyzer
	// Caches hold per-file results across runs, so vetting an update
	// re-scans only the files it changed; nil caches nothing. A
	// long-lived caller makes them once (NewCaches) and passes them to
	// every Default call, so they outlive a vulnerability database swap.
	Caches *Caches
}

// Caches are the result caches of the analyzers whose findings are per
// part of a package: the secrets analyzer's per file, the source
// analyzer's per Go package (keyed by the package and every package of
// the plugin it imports). Each is bounded and safe for concurrent use.
type Caches struct {
	Secrets *secrets.Cache
	Source  *source.Cache
}

// NewCaches returns empty caches, each bounded by lim.
func NewCaches(lim resultcache.Limits) *Caches {
	return &Caches{Secrets: secrets.NewCache(lim), Source: source.NewCache(lim)}
}

// NewBehaviour returns the behaviour analyzer, or a stand-in that errors
// on every run (so a required check fails closed) when the sandbox cannot
// start.
func NewBehaviour() vet.Analyzer {
	b, err := behaviour.New(behaviour.Options{})
	if err != nil {
		return broken{name: behaviour.Name, err: err}
	}
	return b
}

// Default returns every standard analyzer, configured by opts, in a
// stable order.
func Default(opts DefaultOptions) []vet.Analyzer {
	var sec vet.Analyzer
	if s, err := secrets.New(); err != nil {
		// The rule set is compiled into the binary, so this cannot happen
		// short of a broken build; the secrets check then errors, which
		// blocks every version while it is required, rather than
		// silently disappearing.
		sec = broken{name: secrets.Name, err: err}
	} else {
		if opts.Caches != nil {
			s.WithCache(opts.Caches.Secrets)
		}
		sec = s
	}
	src := source.New()
	if opts.Caches != nil {
		src.WithCache(opts.Caches.Source)
	}
	beh := opts.Behaviour
	if beh == nil {
		beh = NewBehaviour()
	}
	return []vet.Analyzer{
		manifestcheck.New(opts.Manifest),
		capabilities.New(),
		dataflow.New(),
		sec,
		dependencies.New(opts.VulnDB),
		licenses.New(opts.Licenses),
		src,
		diff.New(),
		beh,
		provenance.New(opts.Provenance),
	}
}

// Rules returns each analyzer's rules by analyzer name, as sarif.Write
// wants them.
func Rules(as []vet.Analyzer) map[string][]vet.Rule {
	m := make(map[string][]vet.Rule, len(as))
	for _, a := range as {
		m[a.Name()] = a.Rules()
	}
	return m
}

// LoadInput reads what the analyzers need from a package that pkgfile has
// read: the manifest, parsed with opts, and the module it names.
//
// A manifest that breaks the manifest rules is not an error here: the
// Input's Manifest is nil, the manifest analyzer reports each problem as a
// finding, and the analyzers that need a manifest are skipped. A module
// the package does not hold leaves Module nil, which the manifest
// analyzer reports and the capabilities analyzer fails closed on.
func LoadInput(pkg *pkgfile.Package, opts manifest.Options) (*vet.Input, error) {
	if pkg == nil {
		return nil, errors.New("vet: no package to load")
	}
	in := &vet.Input{Package: pkg}
	m, err := manifest.Parse(pkg.Manifest(), opts)
	var ve *manifest.ValidationError
	switch {
	case errors.As(err, &ve):
		return in, nil
	case err != nil:
		return nil, fmt.Errorf("vet: reading %s: %w", manifest.FileName, err)
	}
	in.Manifest = m
	if mod, ok := pkg.File(m.Runtime.Module); ok {
		in.Module = mod
	}
	return in, nil
}

// broken stands in for an analyzer that could not be built: it keeps its
// name and rules slot and errors on every run.
type broken struct {
	name string
	err  error
}

func (b broken) Name() string           { return b.name }
func (b broken) Version() string        { return "unavailable" }
func (b broken) Requires() []string     { return nil }
func (b broken) Timeout() time.Duration { return time.Second }
func (b broken) Rules() []vet.Rule      { return nil }
func (b broken) Analyze(context.Context, *vet.Input) (*vet.Report, error) {
	return nil, fmt.Errorf("the analyzer could not be set up: %w", b.err)
}
