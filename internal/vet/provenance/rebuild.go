package provenance

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"gatehouse.dev/gatehouse/internal/pluginkit"
	prov "gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/internal/wasmfile/gobuildinfo"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Limits on a rebuild. pkgfile already bounds the package; these bound
// what one rebuild writes to disk and reads back.
const (
	maxSourceBytes = 64 << 20
	maxModuleBytes = 256 << 20
	// maxOutput bounds the go command's output kept for the reason.
	maxOutput = 4 << 10
	// maxGoModBytes bounds the go.mod the analyzer parses.
	maxGoModBytes = 1 << 20
)

// errNotAttempted carries the reason a rebuild was not attempted.
type errNotAttempted struct{ reason string }

func (e errNotAttempted) Error() string { return e.reason }

func notAttempted(format string, args ...any) error {
	return errNotAttempted{fmt.Sprintf(format, args...)}
}

// rebuild rebuilds the module from the package's source when it can, and
// says what happened. It returns quickly, without running any program, when
// the package has no go.mod at its root or the module no Go build
// information.
//
// faulty is true when the source failed to reproduce the module: it did not
// build, or built other bytes. A rebuild the marketplace could not finish
// (a timeout, a local failure) is not the package's fault.
func (a *Analyzer) rebuild(ctx context.Context, in *vet.Input, modulePath, moduleDigest string) (d prov.RebuildDetail, faulty bool) {
	d = prov.RebuildDetail{Module: modulePath, ModuleDigest: moduleDigest}
	p, err := planRebuild(in)
	if p != nil {
		d.GoVersion, d.MainModule, d.Package = p.goVersion, p.mainModule, p.pkgPath
		d.Flags = p.flags
		d.Env = append(slices.Clone(buildEnv), p.recordedEnv...)
	}
	if err == nil {
		err = a.run(ctx, in, p, &d)
	}
	var (
		na errNotAttempted
		ic errInconclusive
	)
	switch {
	case errors.As(err, &na):
		d.Attempted = false
		d.Reason = "not attempted: " + na.reason
	case errors.As(err, &ic):
		d.Reason = "inconclusive: " + ic.reason
	case err != nil:
		d.Reason = err.Error()
		faulty = true
	}
	return d, faulty
}

// errInconclusive: the rebuild ran but the marketplace could not finish
// it, which says nothing about the package.
type errInconclusive struct{ reason string }

func (e errInconclusive) Error() string { return e.reason }

// plan is how to rebuild: what the build information recorded, turned
// into go build flags and environment.
type plan struct {
	goVersion   string
	mainModule  string
	pkgPath     string
	pkgDir      string // "." or a slash path inside the main module
	flags       []string
	recordedEnv []string // GOWASM, GOEXPERIMENT, GOFIPS140 as recorded
	// vendored: the package carries vendor/modules.txt, so the rebuild
	// runs with -mod=vendor and no workspace, from the package alone.
	vendored bool
	modules  []*debug.Module // the dependencies built from vendor/
}

var (
	tagsRE    = regexp.MustCompile(`^[A-Za-z0-9_.,-]+$`)
	envWordRE = regexp.MustCompile(`^[A-Za-z0-9_.,-]*$`)
)

// planRebuild decides from the package and the module alone (no program
// runs) whether and how the module can be rebuilt.
func planRebuild(in *vet.Input) (*plan, error) {
	gomod, ok := in.Package.File("go.mod")
	if !ok {
		if slices.ContainsFunc(in.Package.Files, func(e pkgfile.Entry) bool { return strings.HasSuffix(e.Path, ".go") }) {
			return nil, notAttempted("the package's Go source has no go.mod at the package root, so the module it builds cannot be told")
		}
		return nil, notAttempted("the package includes no Go source")
	}
	m, err := wasmfile.Parse(in.Module)
	if err != nil {
		return nil, notAttempted("the module cannot be read: %v", err)
	}
	bi, err := gobuildinfo.Read(m)
	if err != nil {
		return nil, notAttempted("the module carries no Go build information to rebuild it by (%v)", err)
	}
	p := &plan{goVersion: bi.GoVersion, mainModule: bi.Main.Path, pkgPath: bi.Path}
	if err := p.settings(bi.BuildInfo); err != nil {
		return p, err
	}
	if bi.Main.Path == "" || bi.Main.Version != "(devel)" {
		return p, notAttempted("the module was built from module %s %s, not from a local source tree", bi.Main.Path, bi.Main.Version)
	}
	rel, ok := strings.CutPrefix(bi.Path, bi.Main.Path)
	switch {
	case !ok || (rel != "" && !strings.HasPrefix(rel, "/")):
		return p, notAttempted("the main package %s is not in the main module %s", bi.Path, bi.Main.Path)
	case rel == "":
		p.pkgDir = "."
	default:
		p.pkgDir = rel[1:]
		if !fs.ValidPath(p.pkgDir) {
			return p, notAttempted("the main package %s is not a folder of the main module", bi.Path)
		}
	}
	_, p.vendored = in.Package.File(pluginkit.VendorDir + "/modules.txt")
	for _, dep := range bi.Deps {
		if p.vendored {
			// Built from vendor/: the package carries every module's
			// source, the plugin kit's included, and the go command
			// checks vendor/modules.txt against go.mod before building.
			// The kit may be the folder a scaffold's replace names.
			if dep.Replace != nil && !(dep.Path == pluginkit.KitModule && dep.Replace.Path == pluginkit.KitReplace) {
				return p, notAttempted("the module was built with %s replaced by %s; the marketplace rebuilds only from the package's vendor/ folder", dep.Path, dep.Replace.Path)
			}
			p.modules = append(p.modules, dep)
			continue
		}
		if dep.Path == pluginkit.KitModule && dep.Version == "(devel)" && dep.Replace == nil {
			continue
		}
		return p, notAttempted("the module depends on %s %s, but the package has no vendor/modules.txt; the marketplace rebuilds without network, from the package's source (with its vendor/ folder, which `gatehouse plugin build` writes) and otherwise its own plugin kit (%s) only", dep.Path, dep.Version, pluginkit.KitModule)
	}
	if len(gomod) > maxGoModBytes {
		return p, notAttempted("go.mod is over %d bytes", maxGoModBytes)
	}
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return p, notAttempted("the package's go.mod cannot be parsed: %v", err)
	}
	replaced := slices.ContainsFunc(mf.Replace, func(r *modfile.Replace) bool {
		// Only the carried kit, and only when vendor/ holds it: in
		// vendor mode the go command reads no replaced folder.
		return !p.vendored || r.Old.Path != pluginkit.KitModule || r.Old.Version != "" || r.New.Path != pluginkit.KitReplace || r.New.Version != ""
	})
	switch {
	case mf.Module == nil || mf.Module.Mod.Path != bi.Main.Path:
		declared := ""
		if mf.Module != nil {
			declared = mf.Module.Mod.Path
		}
		return p, notAttempted("the package's go.mod declares module %q, but the module was built from %q", declared, bi.Main.Path)
	case replaced:
		// A replace could point the build at folders of the marketplace's
		// own machine; the kit needs none but its own folder.
		return p, notAttempted("the package's go.mod has replace directives other than `replace %s => %s` with a vendor/ folder; the marketplace supplies the plugin kit itself or takes it from vendor/, and rebuilds nothing else", pluginkit.KitModule, pluginkit.KitReplace)
	}
	if !slices.ContainsFunc(in.Package.Files, func(e pkgfile.Entry) bool {
		return path.Dir(e.Path) == p.pkgDir && strings.HasSuffix(e.Path, ".go")
	}) {
		return p, notAttempted("the package has no Go source in %s, the main package's folder", p.pkgDir)
	}
	return p, nil
}

// settings turns the recorded build settings into flags and environment,
// refusing any it cannot reproduce exactly.
func (p *plan) settings(bi *debug.BuildInfo) error {
	var trimpath bool
	want := map[string]string{"CGO_ENABLED": "0", "GOOS": "wasip1", "GOARCH": "wasm", "-compiler": "gc"}
	seen := map[string]bool{}
	for _, s := range bi.Settings {
		seen[s.Key] = true
		switch k, v := s.Key, s.Value; {
		case want[k] != "":
			if v != want[k] {
				return notAttempted("the module was built with %s=%s; plugins are built with %s=%s", k, v, k, want[k])
			}
		case k == "-buildmode":
			if v != "c-shared" && v != "exe" {
				return notAttempted("the module was built with -buildmode=%s", v)
			}
			p.flags = append(p.flags, "-buildmode="+v)
		case k == "-trimpath":
			trimpath = v == "true"
		case k == "-tags":
			if !tagsRE.MatchString(v) {
				return notAttempted("the recorded build tags %q are not a plain comma-separated list", v)
			}
			p.flags = append(p.flags, "-tags="+v)
		case k == "GOWASM" || k == "GOEXPERIMENT" || k == "GOFIPS140":
			if !envWordRE.MatchString(v) {
				return notAttempted("the recorded %s value %q is not a plain list of words", k, v)
			}
			p.recordedEnv = append(p.recordedEnv, k+"="+v)
		case k == "DefaultGODEBUG":
			// Derived from go.mod and go.work, which the rebuild
			// reproduces; the digest comparison checks it.
		case k == "vcs" || strings.HasPrefix(k, "vcs."):
			return notAttempted("the module records version-control information (%s), which only that checkout reproduces; build with -buildvcs=false, as `gatehouse plugin build` does", k)
		case k == "-ldflags" || k == "-gcflags" || k == "-asmflags":
			return notAttempted("the module was built with %s %q, which the marketplace does not rebuild with", k, v)
		default:
			return notAttempted("the module records the build setting %s=%s, which the marketplace does not know how to reproduce", k, v)
		}
	}
	for k, v := range want {
		if !seen[k] && k != "-compiler" {
			return notAttempted("the build information does not record %s=%s", k, v)
		}
	}
	if !trimpath {
		return notAttempted("the module was built without -trimpath, so it embeds the builder's own file paths and no other machine can reproduce it")
	}
	p.flags = append(p.flags, "-trimpath", "-buildvcs=false")
	slices.Sort(p.flags)
	slices.Sort(p.recordedEnv)
	return nil
}

// run performs the rebuild planned by p and fills in d.
func (a *Analyzer) run(ctx context.Context, in *vet.Input, p *plan, d *prov.RebuildDetail) error {
	local, gocache, err := a.toolchain(ctx)
	if err != nil {
		return notAttempted("%v", err)
	}
	if local != p.goVersion {
		return notAttempted("needs %s, this marketplace has %s", p.goVersion, local)
	}
	// One rebuild at a time: a build already uses every core.
	select {
	case a.sem <- struct{}{}:
		defer func() { <-a.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}

	tmp, err := os.MkdirTemp("", "gatehouse-rebuild-")
	if err != nil {
		return notAttempted("creating a folder for the rebuild: %v", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	srcDigest, err := writeSource(src, in, d.Module)
	if err != nil {
		return notAttempted("%v", err)
	}
	d.Dependencies = []prov.Dependency{{Name: "source", SHA256: srcDigest}}
	gowork, goflags := "off", "-mod=vendor"
	if p.vendored {
		// The source digest covers vendor/; each module is named too, with
		// the digest of its vendored files, for readers of the provenance.
		for _, m := range p.modules {
			d.Dependencies = append(d.Dependencies, prov.Dependency{
				Name: m.Path + "@" + m.Version, URI: "pkg:golang/" + m.Path + "@" + m.Version,
				SHA256: vendoredDigest(in, m.Path),
			})
		}
	} else {
		ws, err := pluginkit.PrepareWorkspace(src, tmp, pluginkit.BuildOptions{CacheDir: filepath.Join(tmp, "kit")})
		if err != nil {
			return notAttempted("preparing the build workspace: %v", err)
		}
		d.Dependencies = append(d.Dependencies, prov.Dependency{Name: "plugin kit", URI: "pkg:golang/" + pluginkit.KitModule, SHA256: ws.KitDigest})
		gowork, goflags = ws.GoWork, ""
	}
	for _, dir := range []string{"out", "modcache"} {
		if err := os.Mkdir(filepath.Join(tmp, dir), 0o700); err != nil {
			return notAttempted("creating a folder for the rebuild: %v", err)
		}
	}
	out := filepath.Join(tmp, "out", "module.wasm")
	args := append([]string{"build"}, p.flags...)
	args = append(args, "-o", out, "./"+p.pkgDir)

	bctx, cancel := context.WithTimeout(ctx, a.opts.BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(bctx, a.opts.Go, args...)
	cmd.Dir = src
	cmd.Env = append(a.isolatedEnv(tmp, gocache, gowork, goflags), p.recordedEnv...)
	cmd.WaitDelay = 10 * time.Second
	output := &limitedBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = output, output
	d.Attempted = true
	runErr := cmd.Run()
	d.FinishedAt = a.opts.Now().UTC().Truncate(time.Second)
	if runErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if bctx.Err() != nil {
			return errInconclusive{fmt.Sprintf("the rebuild did not finish within %s", a.opts.BuildTimeout)}
		}
		var exit *exec.ExitError
		if !errors.As(runErr, &exit) {
			return errInconclusive{fmt.Sprintf("running the go command: %v", runErr)}
		}
		msg := strings.TrimSpace(strings.ReplaceAll(output.String(), tmp, "$WORK"))
		return fmt.Errorf("the source does not build with the recorded settings (%s): %s", p.goVersion, msg)
	}
	rebuilt, err := readBounded(out, maxModuleBytes)
	if err != nil {
		return errInconclusive{fmt.Sprintf("reading the rebuilt module: %v", err)}
	}
	d.RebuiltDigest = digest(rebuilt)
	if d.RebuiltDigest != d.ModuleDigest {
		return fmt.Errorf("rebuilding it with %s gave %s (%d bytes), not the submitted %s (%d bytes); it was built from other source, other settings (such as -ldflags) or another gatehouse release's plugin kit",
			p.goVersion, d.RebuiltDigest, len(rebuilt), d.ModuleDigest, len(in.Module))
	}
	d.Reproducible = true
	return nil
}

// buildEnv is the environment that decides what a rebuild produces,
// recorded in Detail: the plugin platform, no cgo, no network, and this
// machine's toolchain only.
var buildEnv = []string{"CGO_ENABLED=0", "GOARCH=wasm", "GOOS=wasip1", "GOPROXY=off", "GOTOOLCHAIN=local"}

// isolatedEnv is the rebuild's whole environment: the marketplace's
// toolchain and build cache, and nothing of the operator's Go settings
// that could change the output or reach the network.
func (a *Analyzer) isolatedEnv(tmp, gocache, gowork, goflags string) []string {
	env := append(slices.Clone(buildEnv),
		"GOENV=off", "GOFLAGS="+goflags,
		"GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GOINSECURE=",
		"GOWORK="+gowork,
		"GOMODCACHE="+filepath.Join(tmp, "modcache"),
		"GOPATH="+filepath.Join(tmp, "gopath"),
		"GOCACHE="+gocache,
		"TMPDIR="+tmp,
	)
	for _, k := range []string{"PATH", "HOME", "GOROOT", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// toolchain asks the go command for its version and build cache, once
// for as long as the go command and its settings stay the same
// (goenv.Memo).
func (a *Analyzer) toolchain(ctx context.Context) (version, gocache string, err error) {
	vals, _, err := a.goEnv.Get(ctx, a.opts.Go, append(os.Environ(), "GOTOOLCHAIN=local"), "GOVERSION", "GOCACHE")
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return "", "", errors.New("this marketplace has no Go toolchain to rebuild with")
		}
		return "", "", fmt.Errorf("asking the Go toolchain for its version: %v", err)
	}
	if vals[0] == "" || vals[1] == "" || vals[1] == "off" {
		return "", "", fmt.Errorf("the Go toolchain reports no version or no build cache (%q)", vals)
	}
	return vals[0], vals[1], nil
}

// writeSource writes every file of the package except the module (and the
// attestation, which no build reads) under dir and returns the digest of
// what it wrote, over one "sha256  path" line per file as Go's module hashes
// are.
func writeSource(dir string, in *vet.Input, modulePath string) (string, error) {
	h := sha256.New()
	var total int64
	for _, e := range in.Package.Files {
		if e.Path == modulePath || e.Path == prov.Path {
			continue
		}
		total += e.Size
		if total > maxSourceBytes {
			return "", fmt.Errorf("the package's files other than the module are over %d MiB", maxSourceBytes>>20)
		}
		data, _ := in.Package.File(e.Path)
		// pkgfile has already refused unsafe and colliding paths.
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return "", fmt.Errorf("writing the source: %w", err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return "", fmt.Errorf("writing the source: %w", err)
		}
		fmt.Fprintf(h, "%s  %s\n", e.SHA256, e.Path)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// vendoredDigest is the digest of the files under vendor/MODULE/, over one
// "sha256  path" line per file as writeSource's is. (A module nested in
// another's folder is counted in both; the go command vendors each
// package's files once, so this names exactly what was compiled.)
func vendoredDigest(in *vet.Input, module string) string {
	h := sha256.New()
	prefix := pluginkit.VendorDir + "/" + module + "/"
	for _, e := range in.Package.Files {
		if strings.HasPrefix(e.Path, prefix) {
			fmt.Fprintf(h, "%s  %s\n", e.SHA256, e.Path)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("it is over %d MiB", limit>>20)
	}
	return b, nil
}
