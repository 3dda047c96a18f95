package pluginkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	gatehouse "gatehouse.dev/gatehouse"
	"gatehouse.dev/gatehouse/manifest"
)

// BuildOptions adjust Build. The zero value builds with the go command on
// PATH, the kit embedded in this binary and the user's cache folder.
type BuildOptions struct {
	// CacheDir is where the plugin kit is written out, one folder per kit
	// content. Empty means os.UserCacheDir()/gatehouse.
	CacheDir string
	// Go is the go command to run. Empty means "go" from PATH.
	Go string
	// Kit is the plugin kit source (pdk/ and hostapi/ trees). Nil means
	// the kit embedded in this binary (gatehouse.PDKSource).
	Kit fs.FS
}

// Limits on what Build reads from the plugin folder.
const (
	maxManifestSize = 1 << 20
	maxGoModSize    = 1 << 20
	// maxBuildOutput bounds the compiler output kept in an error.
	maxBuildOutput = 64 << 10
)

// wasmMagic is how every WebAssembly binary module starts: "\0asm" and
// version 1.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Build compiles the plugin in dir to the WebAssembly module its manifest
// names (runtime.module, usually plugin.wasm) and returns that file's path.
//
// The plugin imports gatehouse.dev/gatehouse/pdk, which no module proxy
// serves. A plugin scaffolded by this release carries the kit in
// .gatehouse/kit, named by a replace directive in its go.mod (see KitDir):
// Build refreshes that folder to the kit embedded in this binary, runs `go
// mod vendor` (every third-party module, checked against go.sum, and the
// kit land in vendor/, which `plugin pack` packs), and builds from vendor/
// alone, as the marketplace's rebuild does. An older plugin whose go.mod
// has no such replace builds as before: in a Go workspace over the plugin
// and the kit written to a cache folder, with no other dependency.
//
// Either way it builds with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared (a
// WASI reactor, so the host calls exports without running main), with
// -trimpath and no VCS stamping, so the same source and toolchain give the
// same bytes wherever the folders are. The rest of the user's Go
// environment (GOPROXY, GOFLAGS but -mod, caches) is kept, for fetching
// the plugin's dependencies.
func Build(ctx context.Context, dir string, opts BuildOptions) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("building plugin: %w", err)
	}
	module, err := manifestModule(dir)
	if err != nil {
		return "", err
	}
	gm, err := readGoMod(dir)
	if err != nil {
		return "", err
	}
	goBin := opts.Go
	if goBin == "" {
		goBin = "go"
	}
	flags := workspaceGOFLAGS(os.Getenv("GOFLAGS"))
	var env []string
	if gm.carried {
		kit := opts.Kit
		if kit == nil {
			kit = gatehouse.PDKSource
		}
		if err := syncKit(dir, kit); err != nil {
			return "", err
		}
		env = append(os.Environ(), "GOWORK=off", "GOFLAGS="+flags)
		if err := vendor(ctx, goBin, dir, env); err != nil {
			return "", err
		}
		env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0",
			"GOWORK=off", "GOFLAGS="+strings.TrimSpace(flags+" -mod=vendor"))
	} else {
		work, err := os.MkdirTemp("", "gatehouse-build-")
		if err != nil {
			return "", fmt.Errorf("building plugin: %w", err)
		}
		defer os.RemoveAll(work)
		ws, err := PrepareWorkspace(dir, work, opts)
		if err != nil {
			return "", err
		}
		env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0",
			"GOWORK="+ws.GoWork, "GOFLAGS="+flags)
	}

	out := filepath.Join(dir, filepath.FromSlash(module))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("building plugin: %w", err)
	}
	// Build into a fresh hidden folder next to the target and rename, so a
	// failed or cancelled build never leaves a truncated module where a
	// packer would pick it up, and two builds of one plugin never write the
	// same file. (go build -o refuses to overwrite a file it did not make,
	// so a pre-created temporary file would not do.)
	tmpDir, err := os.MkdirTemp(filepath.Dir(out), ".gatehouse-build-")
	if err != nil {
		return "", fmt.Errorf("building plugin: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmpOut := filepath.Join(tmpDir, filepath.Base(out))

	cmd := exec.CommandContext(ctx, goBin, "build",
		"-buildmode=c-shared", "-trimpath", "-buildvcs=false",
		"-o", tmpOut, ".")
	cmd.Dir = dir
	cmd.Env = env
	var output bytes.Buffer
	cmd.Stdout = &limitedBuffer{buf: &output, max: maxBuildOutput}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("building plugin in %s: %w", dir, ctx.Err())
		}
		msg := strings.TrimSpace(output.String())
		if msg == "" {
			msg = "(no output)"
		}
		return "", fmt.Errorf("building plugin in %s: go build failed: %v\n%s", dir, err, msg)
	}
	if err := checkWasm(tmpOut); err != nil {
		return "", fmt.Errorf("building plugin in %s: %w", dir, err)
	}
	if err := os.Rename(tmpOut, out); err != nil {
		return "", fmt.Errorf("building plugin: %w", err)
	}
	return out, nil
}

// Workspace is the Go workspace a plugin builds in: the plugin's module
// and the plugin kit, joined by a go.work file.
type Workspace struct {
	// GoWork is the go.work file, for the GOWORK variable.
	GoWork string
	// KitDir is the folder the kit was written to.
	KitDir string
	// KitDigest names the kit's content: the SHA-256 (hex) over one
	// "sha256  name" line per file, as Go's module hashes are.
	KitDigest string
}

// PrepareWorkspace writes the plugin kit (opts.Kit, or the one embedded in
// this binary) to its cache folder and a go.work in workDir that joins it
// with the plugin module in dir.
//
// Build uses it, and so does the marketplace when it rebuilds a submitted
// plugin from its source: both must see exactly the same workspace, since
// its go line sets the module's default GODEBUG settings, which the linker
// embeds.
func PrepareWorkspace(dir, workDir string, opts BuildOptions) (*Workspace, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("preparing the build workspace: %w", err)
	}
	goVersion, err := goModVersion(filepath.Join(dir, "go.mod"))
	if err != nil {
		return nil, err
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding a cache folder for the plugin kit: %w (set XDG_CACHE_HOME or HOME)", err)
		}
		cacheDir = filepath.Join(base, "gatehouse")
	}
	kit := opts.Kit
	if kit == nil {
		kit = gatehouse.PDKSource
	}
	kitDir, err := ensureKit(cacheDir, kit)
	if err != nil {
		return nil, err
	}
	goWork := filepath.Join(workDir, "go.work")
	// go.work must declare a Go version at least as new as every module in
	// it, so follow the plugin's own go.mod when it asks for more.
	workVersion := minGoVersion
	if version.Compare("go"+goVersion, "go"+workVersion) > 0 {
		workVersion = goVersion
	}
	workFile := fmt.Sprintf("go %s\n\nuse (\n\t%s\n\t%s\n)\n", workVersion, strconv.Quote(dir), strconv.Quote(kitDir))
	if err := os.WriteFile(goWork, []byte(workFile), 0o644); err != nil {
		return nil, fmt.Errorf("preparing the build workspace: %w", err)
	}
	return &Workspace{
		GoWork:    goWork,
		KitDir:    kitDir,
		KitDigest: strings.TrimPrefix(filepath.Base(kitDir), "pdk-"),
	}, nil
}

// manifestModule reads the manifest in dir and returns its runtime.module,
// checked to be a plain relative path inside the plugin folder.
func manifestModule(dir string) (string, error) {
	p := filepath.Join(dir, manifest.FileName)
	data, err := readLimited(p, maxManifestSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no %s in %s: is this a plugin folder? (gatehouse plugin init creates one)", manifest.FileName, dir)
		}
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	mod := m.Runtime.Module
	switch {
	case mod == "":
		return "", fmt.Errorf("%s: runtime.module is empty; name the module file, e.g. \"plugin.wasm\"", p)
	case !fs.ValidPath(mod) || mod == "." || strings.Contains(mod, `\`):
		return "", fmt.Errorf("%s: runtime.module %q must be a relative path inside the plugin folder, with no '..'", p, mod)
	case path.Ext(mod) != ".wasm":
		return "", fmt.Errorf("%s: runtime.module %q must end in .wasm", p, mod)
	}
	return mod, nil
}

// goModVersion returns the go directive of the go.mod at p.
func goModVersion(p string) (string, error) {
	data, err := readLimited(p, maxGoModSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no go.mod in %s: a plugin is a Go module that requires %s v0.0.0 (gatehouse plugin init writes one)", filepath.Dir(p), KitModule)
		}
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	v, err := parseGoVersion(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return v, nil
}

// parseGoVersion returns the version of the go directive in a go.mod file
// (minGoVersion when there is none: the kit needs that much anyway). It
// reads only that line; the go command checks the rest.
func parseGoVersion(gomod []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	sc.Buffer(nil, maxGoModSize)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "go" {
			continue
		}
		if len(f) != 2 || !version.IsValid("go"+f[1]) {
			return "", fmt.Errorf("the go directive %q does not name a Go version such as 1.26", strings.TrimSpace(line))
		}
		return f[1], nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	return minGoVersion, nil
}

// workspaceGOFLAGS returns the user's GOFLAGS without -mod: the go command
// refuses -mod=mod in workspace mode, and the workspace is how the kit is
// found, so such a setting would only break the build.
func workspaceGOFLAGS(flags string) string {
	var keep []string
	for _, f := range strings.Fields(flags) {
		if strings.HasPrefix(f, "-mod=") || strings.HasPrefix(f, "--mod=") {
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, " ")
}

func checkWasm(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(wasmMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, wasmMagic) {
		return fmt.Errorf("go build did not produce a WebAssembly module (%s)", p)
	}
	return nil
}

func readLimited(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("file is larger than %d bytes", max)
	}
	return data, nil
}

// limitedBuffer keeps the first max bytes written to it and drops the rest,
// so a runaway compiler output cannot fill memory.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
			l.buf.WriteString("\n[output truncated]")
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}
