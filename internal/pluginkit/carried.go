package pluginkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// A plugin folder carries the plugin kit itself, as a local module that its
// go.mod points at with a replace directive:
//
//	require gatehouse.dev/gatehouse v0.0.0
//	replace gatehouse.dev/gatehouse => ./.gatehouse/kit
//
// so that the ordinary go command (go get, go mod tidy, go build, gopls)
// resolves the kit without the network, while every other module comes
// from the author's module proxy as usual. `gatehouse plugin init` writes
// the folder and `gatehouse plugin build` refreshes it to this binary's
// kit. The folder is hidden, so `gatehouse plugin pack` leaves it out: the
// package carries the kit, with every other dependency, in vendor/ (see
// Build), which is what the marketplace rebuilds from, offline.
const (
	// KitDir is the slash path, relative to the plugin folder, of the
	// carried kit.
	KitDir = ".gatehouse/kit"
	// KitReplace is the replace directive's target in go.mod.
	KitReplace = "./" + KitDir
	// VendorDir is the folder the build vendors every dependency into.
	VendorDir = "vendor"
)

// goModInfo is what Build needs to know of a plugin's go.mod.
type goModInfo struct {
	goVersion string
	// carried: the go.mod points the kit at KitReplace, so the plugin
	// builds with the ordinary go command from vendor/. Otherwise the
	// plugin predates carried kits and builds in a Go workspace with the
	// kit from the cache, which admits no other dependency.
	carried bool
	// thirdParty lists the required modules other than the kit.
	thirdParty []string
}

// readGoMod reads the go.mod in dir and decides how the plugin builds.
func readGoMod(dir string) (*goModInfo, error) {
	p := filepath.Join(dir, "go.mod")
	data, err := readLimited(p, maxGoModSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no go.mod in %s: a plugin is a Go module that requires %s v0.0.0 (gatehouse plugin init writes one)", dir, KitModule)
		}
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return parseGoMod(p, data)
}

// parseGoMod decides from a go.mod's text (p names it in errors) how the
// plugin builds.
func parseGoMod(p string, data []byte) (*goModInfo, error) {
	v, err := parseGoVersion(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	info := &goModInfo{goVersion: v}
	mf, err := modfile.Parse(p, data, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	for _, r := range mf.Require {
		if r.Mod.Path != KitModule {
			info.thirdParty = append(info.thirdParty, r.Mod.Path+"@"+r.Mod.Version)
		}
	}
	for _, r := range mf.Replace {
		if r.Old.Path != KitModule {
			continue
		}
		if r.Old.Version != "" || r.New.Version != "" || r.New.Path != KitReplace {
			return nil, fmt.Errorf("%s: replace %s => %s %s: the plugin kit must be replaced by the folder gatehouse carries; write `replace %s => %s`", p, KitModule, r.New.Path, r.New.Version, KitModule, KitReplace)
		}
		info.carried = true
	}
	if !info.carried && len(info.thirdParty) > 0 {
		return nil, fmt.Errorf("%s requires %s, but the plugin kit is not carried in the folder, so no go command can resolve both: add the line `replace %s => %s` to go.mod and run `gatehouse plugin build` again (it writes the kit there)",
			p, strings.Join(info.thirdParty, ", "), KitModule, KitReplace)
	}
	return info, nil
}

// syncKit makes dir/.gatehouse/kit hold exactly kit's files, rewriting it
// when it holds anything else (another gatehouse release's kit, an edit):
// the folder is gatehouse's, and the kit in it must match the host API of
// the binary that builds the plugin.
//
// A fresh copy is written next to the folder and swapped in by renames, so
// a concurrent build sees an old or a new kit, never half of one.
func syncKit(dir string, kit fs.FS) error {
	files, _, err := kitFiles(kit)
	if err != nil {
		return err
	}
	final := filepath.Join(dir, filepath.FromSlash(KitDir))
	if checkKit(final, files) == nil {
		return nil
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("writing the plugin kit into %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, ".kit-tmp-")
	if err != nil {
		return fmt.Errorf("writing the plugin kit into %s: %w", parent, err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing the plugin kit: %w", err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("writing the plugin kit: %w", err)
		}
	}
	if err := swapDir(final, tmp, func() bool { return checkKit(final, files) == nil }); err != nil {
		return fmt.Errorf("installing the plugin kit in %s: %w", final, err)
	}
	return nil
}

// swapDir puts the folder fresh where final is, moving an old final aside
// and removing it. When the rename loses a race with another writer, done
// says whether the winner's folder will do.
func swapDir(final, fresh string, done func() bool) error {
	old := fresh + ".old"
	if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	defer os.RemoveAll(old)
	if err := os.Rename(fresh, final); err != nil {
		if done() {
			return nil
		}
		return err
	}
	return nil
}

// vendor runs `go mod vendor` for the plugin in dir into a fresh folder
// and swaps it in as dir/vendor when it differs from what is there. The go
// command checks every module it copies against go.sum, and downloads what
// the module cache lacks through the author's GOPROXY; the kit comes from
// the carried folder. A vendor/ that is already right is left untouched,
// so builds of an unchanged plugin rewrite nothing.
func vendor(ctx context.Context, goBin, dir string, env []string) error {
	parent := filepath.Join(dir, filepath.FromSlash(path.Dir(KitDir)))
	tmp, err := os.MkdirTemp(parent, ".vendor-tmp-")
	if err != nil {
		return fmt.Errorf("vendoring the plugin's dependencies: %w", err)
	}
	defer os.RemoveAll(tmp)
	fresh := filepath.Join(tmp, VendorDir)
	cmd := exec.CommandContext(ctx, goBin, "mod", "vendor", "-o", fresh)
	cmd.Dir = dir
	cmd.Env = env
	var output bytes.Buffer
	cmd.Stdout = &limitedBuffer{buf: &output, max: maxBuildOutput}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("vendoring the plugin's dependencies in %s: %w", dir, ctx.Err())
		}
		return fmt.Errorf("vendoring the plugin's dependencies in %s: go mod vendor failed: %v\n%s", dir, err, strings.TrimSpace(output.String()))
	}
	final := filepath.Join(dir, VendorDir)
	if same, err := sameTree(final, fresh); err == nil && same {
		return nil
	}
	if err := swapDir(final, fresh, func() bool { s, err := sameTree(final, fresh); return err == nil && s }); err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	return nil
}

// sameTree reports whether folders a and b hold the same regular files
// with the same bytes.
func sameTree(a, b string) (bool, error) {
	read := func(root string) (map[string][]byte, error) {
		files := map[string][]byte{}
		var total int64
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if total += int64(len(data)); total > maxVendorBytes {
				return fmt.Errorf("%s holds more than %d MiB", root, maxVendorBytes>>20)
			}
			rel, _ := filepath.Rel(root, p)
			files[rel] = data
			return nil
		})
		return files, err
	}
	fa, err := read(a)
	if err != nil {
		return false, err
	}
	fb, err := read(b)
	if err != nil {
		return false, err
	}
	if len(fa) != len(fb) {
		return false, nil
	}
	for k, v := range fa {
		if w, ok := fb[k]; !ok || !bytes.Equal(v, w) {
			return false, nil
		}
	}
	return true, nil
}

// maxVendorBytes bounds what sameTree reads of a vendor folder; a package
// is bounded at 100 MiB anyway (pkgfile.DefaultLimits).
const maxVendorBytes = 256 << 20
