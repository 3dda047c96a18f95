package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"gatehouse.dev/gatehouse/trust"
)

// The marketplace's identity in the statements it writes.
const (
	// BuilderID is the marketplace's rebuild service as a SLSA builder.
	BuilderID = "https://gatehouse.dev/rebuild/v1"
	// BuildType describes how it builds: go build of a plugin for
	// GOOS=wasip1 GOARCH=wasm in a workspace with the plugin kit, with
	// -trimpath and without network.
	BuildType = "https://gatehouse.dev/rebuild/go-wasip1/v1"
)

// StatementInput is what the marketplace's statement says besides the
// rebuild's Detail.
type StatementInput struct {
	// PluginID and Version name the plugin version ("namespace/name",
	// semver).
	PluginID, Version string
	// PackageDigest is the package's digest ("sha256:HEX"): the source
	// the module was rebuilt from.
	PackageDigest string
	// Marketplace is the version of the gatehouse binary that rebuilt it,
	// for the builder's version map; empty leaves it out.
	Marketplace string
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// MarketplaceStatement returns the marketplace's own SLSA v1 provenance
// statement (an in-toto Statement v1, unsigned JSON) for a module it
// rebuilt reproducibly: the subject is the module ("namespace/name@version/
// MODULE" with its digest), the builder BuilderID, the resolved
// dependencies the package, the plugin kit and the Go toolchain.
//
// It refuses a Detail whose rebuild did not reproduce moduleDigest: the
// statement is a claim the marketplace signs. The output is deterministic
// for the same inputs; the caller DSSE-signs it (payload type
// application/vnd.in-toto+json).
func MarketplaceStatement(d Detail, moduleDigest string, in StatementInput) ([]byte, error) {
	r := d.Rebuild
	switch {
	case !r.Attempted || !r.Reproducible:
		return nil, errors.New("provenance: the module was not rebuilt reproducibly, so the marketplace has no provenance of its own to state")
	case moduleDigest == "" || r.ModuleDigest != moduleDigest || r.RebuiltDigest != moduleDigest:
		return nil, fmt.Errorf("provenance: the rebuild's digests (%s, rebuilt %s) are not the module's (%s)", r.ModuleDigest, r.RebuiltDigest, moduleDigest)
	case in.PluginID == "" || in.Version == "":
		return nil, errors.New("provenance: the plugin id and version are required")
	case r.Module == "" || r.GoVersion == "":
		return nil, errors.New("provenance: the rebuild detail names no module file or Go version")
	}
	modHex, err := digestHex(moduleDigest)
	if err != nil {
		return nil, err
	}
	pkgHex, err := digestHex(in.PackageDigest)
	if err != nil {
		return nil, fmt.Errorf("provenance: package digest: %w", err)
	}

	external, err := structpb.NewStruct(map[string]any{
		"plugin":  in.PluginID,
		"version": in.Version,
		"module":  r.Module,
		"package": r.Package,
	})
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	internal, err := structpb.NewStruct(map[string]any{
		"mainModule": r.MainModule,
		"flags":      toAny(r.Flags),
		"env":        toAny(r.Env),
	})
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	deps := []*ita1.ResourceDescriptor{{
		Name:   "package",
		Uri:    "pkg:gatehouse/" + in.PluginID + "@" + in.Version,
		Digest: map[string]string{"sha256": pkgHex},
	}}
	for _, dep := range r.Dependencies {
		if !hexDigest.MatchString(dep.SHA256) {
			return nil, fmt.Errorf("provenance: dependency %q has no sha256 digest", dep.Name)
		}
		deps = append(deps, &ita1.ResourceDescriptor{Name: dep.Name, Uri: dep.URI, Digest: map[string]string{"sha256": dep.SHA256}})
	}
	// The toolchain has no digest here: a Go release is named by its
	// version, and the Go project publishes the checksums of each.
	deps = append(deps, &ita1.ResourceDescriptor{Name: "go", Uri: "pkg:golang/go@" + r.GoVersion})

	builder := &slsa.Builder{Id: BuilderID}
	if in.Marketplace != "" {
		builder.Version = map[string]string{"gatehouse": in.Marketplace}
	}
	run := &slsa.RunDetails{Builder: builder}
	if !r.FinishedAt.IsZero() {
		run.Metadata = &slsa.BuildMetadata{FinishedOn: timestamppb.New(r.FinishedAt.UTC())}
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   external,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: run,
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: the statement would not be valid SLSA provenance: %w", err)
	}
	predJSON, err := protojson.Marshal(pred)
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	var predStruct structpb.Struct
	if err := protojson.Unmarshal(predJSON, &predStruct); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	st := &ita1.Statement{
		Type: ita1.StatementTypeUri,
		Subject: []*ita1.ResourceDescriptor{{
			Name:   trust.SubjectName(in.PluginID, in.Version) + "/" + r.Module,
			Digest: map[string]string{"sha256": modHex},
		}},
		PredicateType: PredicateType,
		Predicate:     &predStruct,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: the statement would not be a valid in-toto statement: %w", err)
	}
	out, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	// protojson varies its whitespace on purpose; compacting gives the
	// same bytes for the same statement (it already orders fields and
	// map keys).
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return buf.Bytes(), nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func digestHex(d string) (string, error) {
	rest, ok := bytes.CutPrefix([]byte(d), []byte("sha256:"))
	if !ok || !hexDigest.Match(rest) {
		return "", fmt.Errorf("digest %q is not of the form sha256:<64 lowercase hex>", d)
	}
	return string(rest), nil
}
