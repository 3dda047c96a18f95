// Package provenance is the provenance analyzer. It checks the SLSA v1
// provenance a package may carry (package provenance of the module root
// does the parsing and the policy), and rebuilds the WebAssembly module
// from the Go source the package includes to see whether that source
// really is the module's.
//
// # The rebuild
//
// A package carries its source the way `gatehouse plugin pack` packs a
// plugin folder: the plugin's go.mod at the package root, its .go files
// beside it and in sub-folders, and any files they embed. The analyzer
// rebuilds the module only when the module's own Go build information
// (internal/wasmfile/gobuildinfo) says how, and only in ways it can reproduce
// exactly:
//
//   - the Go version must be the one this marketplace has (toolchains are
//     never downloaded: GOTOOLCHAIN=local);
//   - the build must be -trimpath, without VCS stamping, with CGO_ENABLED=0
//     for GOOS=wasip1 GOARCH=wasm, with no -gcflags or -asmflags;
//   - the main module must be the package's go.mod. When the package
//     carries vendor/modules.txt (`gatehouse plugin build` vendors every
//     dependency, the plugin kit included), the rebuild runs with
//     -mod=vendor and no workspace, from the package alone; go.mod may then
//     replace the kit only by its carried folder (./.gatehouse/kit), which
//     vendor mode never reads. Without vendor/, go.mod may have no replace
//     directive and the only dependency must be the plugin kit
//     (gatehouse.dev/gatehouse), which the marketplace supplies through a
//     Go workspace as pluginkit.Build does for older plugins. The rebuild
//     has no network (GOPROXY=off, an empty module cache): a dependency is
//     never fetched, so a third-party module can only come from vendor/.
//
// The build runs in a private temporary folder with a minimal environment
// (GOENV=off, so the operator's go env file cannot add flags), a timeout,
// and bounded output. -ldflags cannot be reproduced: a -trimpath build
// does not record them (go.dev/issue/52372), so a module linked with, say,
// -s -w does not reproduce.
//
// When the rebuilt module is byte for byte the submitted one the result's
// Detail says reproducible, which earns the "reproducible" check; when it
// differs, or the source does not build, the analyzer reports a finding: the
// source reviewers and the source analyzer read is then not what runs.
// Without source (or without build information) it does nothing costly.
package provenance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	prov "gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/goenv"
)

// Name is the analyzer's name.
const Name = prov.AnalyzerName

// Version changes whenever the analyzer's rules or rebuild recipe change.
const Version = "1.1.0"

// Rule ids.
const (
	RuleInvalid         = Name + "/invalid-attestation"
	RuleSubjectMismatch = Name + "/subject-mismatch"
	RuleBuilder         = Name + "/builder-not-allowed"
	RuleSignature       = Name + "/bad-signature"
	RuleNotReproducible = Name + "/not-reproducible"
)

// DefaultBuildTimeout bounds one rebuild. A warm build cache makes a
// rebuild of an example take a fraction of a second; a cold one compiles
// the standard library for wasip1 first (about 15 s on two cores). With
// the wait for another rebuild, the analyzer's Timeout stays well inside
// the 10 minutes after which River rescues a vetting job as a dead
// worker's (pipeline.jobRescue).
const DefaultBuildTimeout = 2 * time.Minute

// Options configure the analyzer. The zero value trusts no builder and
// rebuilds with the go command on PATH.
type Options struct {
	// Policy lists the builders whose provenance is trusted.
	Policy prov.Policy
	// Go is the go command. Empty means "go" from PATH.
	Go string
	// BuildTimeout bounds one rebuild; zero means DefaultBuildTimeout.
	BuildTimeout time.Duration
	// Now is the clock that dates a rebuild; nil means time.Now.
	Now func() time.Time
}

// Analyzer is the provenance analyzer. It is safe for concurrent use; it
// runs one rebuild at a time, since a build already uses every core.
type Analyzer struct {
	opts  Options
	sem   chan struct{}
	goEnv goenv.Memo
}

// New returns the provenance analyzer.
func New(opts Options) *Analyzer {
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.BuildTimeout <= 0 {
		opts.BuildTimeout = DefaultBuildTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Analyzer{opts: opts, sem: make(chan struct{}, 1)}
}

func (*Analyzer) Name() string       { return Name }
func (*Analyzer) Version() string    { return Version }
func (*Analyzer) Requires() []string { return nil }

// ExpectedDuration implements vet.Estimator: the reproducible rebuild is
// a go build, 1.0–1.9 s with a warm build cache (issue 21).
func (*Analyzer) ExpectedDuration() time.Duration { return 1500 * time.Millisecond }

// Timeout leaves room for waiting on another rebuild and for the rebuild
// itself.
func (a *Analyzer) Timeout() time.Duration { return 2*a.opts.BuildTimeout + 30*time.Second }

// Rules implements vet.Analyzer.
func (*Analyzer) Rules() []vet.Rule {
	return []vet.Rule{
		{
			ID: RuleInvalid, Name: "invalid provenance attestation", Severity: vet.Medium,
			Description: "The package carries a provenance attestation at " + prov.Path + " that is not a well-formed in-toto v1 statement with a SLSA v1 provenance predicate.",
			Remediation: "Include the attestation your builder produced, unchanged (a DSSE envelope or the bare statement), or leave " + prov.Path + " out of the package.",
		},
		{
			ID: RuleSubjectMismatch, Name: "provenance is about other bytes", Severity: vet.High,
			Description: "No subject of the provenance attestation has the sha256 digest of the package's WebAssembly module: the attestation describes some other build.",
			Remediation: "Pack the module the attestation was issued for, or the attestation issued for this module; a rebuilt module needs a new attestation.",
		},
		{
			ID: RuleBuilder, Name: "builder not trusted", Severity: vet.Medium,
			Description: "The attestation names a builder that the marketplace's provenance policy does not list.",
			Remediation: "Build the module with a builder the marketplace trusts (ask the marketplace's security steward which), or leave the attestation out.",
		},
		{
			ID: RuleSignature, Name: "provenance not signed by its builder", Severity: vet.High,
			Description: "The marketplace requires the attestation's builder to sign it, and it is unsigned or not signed by one of the builder's keys.",
			Remediation: "Include the signed DSSE envelope the builder produced, not the bare statement or a copy re-signed by another key.",
		},
		{
			ID: RuleNotReproducible, Name: "source does not reproduce the module", Severity: vet.Medium,
			Description: "The marketplace rebuilt the module from the Go source in the package, with the Go version and settings recorded in the module's build information, and got different bytes (or the source did not build): the source reviewers read is not what runs.",
			Remediation: "Build the module from exactly the packed source with `gatehouse plugin build` (which uses -trimpath and no -ldflags) using the marketplace's Go version and gatehouse release, then pack again; or leave the source out of the package.",
		},
	}
}

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Package == nil {
		return nil, errors.New("no package to analyse")
	}
	if in.Manifest == nil || in.Module == nil {
		return nil, fmt.Errorf("%w: the package has no valid manifest naming its module; the manifest check reports why", vet.ErrSkipped)
	}
	modulePath := in.Manifest.Runtime.Module
	moduleDigest := digest(in.Module)
	rep := &vet.Report{}
	var d prov.Detail

	if data, ok := in.Package.File(prov.Path); ok {
		d.Provenance, rep.Findings = a.checkAttestation(data, moduleDigest)
	} else {
		d.Provenance.Reason = "the package carries no provenance attestation (" + prov.Path + ")"
	}

	var faulty bool
	d.Rebuild, faulty = a.rebuild(ctx, in, modulePath, moduleDigest)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r := d.Rebuild; faulty {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID:   RuleNotReproducible,
			Severity: vet.Medium,
			Message:  "The module is not reproducible from the package's source: " + r.Reason,
			Location: vet.Location{File: modulePath},
			// The digests change with every version; the finding is the
			// same one as long as the module is not reproducible.
			Fingerprint: vet.Fingerprint(RuleNotReproducible, modulePath),
			Properties: map[string]any{
				"goVersion":     r.GoVersion,
				"moduleDigest":  r.ModuleDigest,
				"rebuiltDigest": r.RebuiltDigest,
			},
		})
	}
	rep.Detail = d
	return rep, nil
}

// checkAttestation parses and checks the attestation and turns what is
// wrong into findings.
func (a *Analyzer) checkAttestation(data []byte, moduleDigest string) (prov.ProvenanceDetail, []vet.Finding) {
	loc := vet.Location{File: prov.Path}
	att, err := prov.Parse(data)
	if err != nil {
		d := prov.ProvenanceDetail{Present: true, Reason: err.Error()}
		return d, []vet.Finding{{
			RuleID: RuleInvalid, Severity: vet.Medium, Location: loc,
			Message:     "The provenance attestation cannot be read: " + err.Error(),
			Fingerprint: vet.Fingerprint(RuleInvalid, prov.Path),
		}}
	}
	d, problem := prov.Check(att, moduleDigest, a.opts.Policy)
	finding := func(rule string, sev vet.Severity) []vet.Finding {
		return []vet.Finding{{
			RuleID: rule, Severity: sev, Location: loc,
			Message:     "The provenance attestation is not trusted: " + d.Reason + ".",
			Fingerprint: vet.Fingerprint(rule, prov.Path, d.Builder),
			Properties:  map[string]any{"builder": d.Builder, "moduleDigest": moduleDigest},
		}}
	}
	switch problem {
	case prov.SubjectMismatch:
		return d, finding(RuleSubjectMismatch, vet.High)
	case prov.BuilderNotAllowed:
		return d, finding(RuleBuilder, vet.Medium)
	case prov.BadSignature:
		return d, finding(RuleSignature, vet.High)
	}
	// Verified, or no builder is trusted at all (the default): the
	// latter is reported in Detail, and is no fault of the package.
	return d, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// limitedBuffer keeps the first max bytes written to it and drops the
// rest, so a runaway compiler output cannot fill memory.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
	cut bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := max(l.max-l.buf.Len(), 0); n > room {
		l.cut = true
		p = p[:room]
	}
	l.buf.Write(p)
	return n, nil
}

func (l *limitedBuffer) String() string {
	s := l.buf.String()
	if l.cut {
		s += " [output truncated]"
	}
	return s
}
