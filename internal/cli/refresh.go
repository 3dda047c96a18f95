package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/verify"
)

// refreshFolder is `gatehouse verify --refresh PATH`: it fetches the
// marketplace's current revocation list, log checkpoint and the bundles of
// the plugins the install folder of PATH (a package or the folder itself)
// pins, checks them against the pinned trust root, records them in the
// state folder and reports each plugin's standing. For a package, the
// caller verifies it afterwards; for a folder, a plugin that no longer
// verifies ends the command with exit code 2.
func (v *verifyFlags) refreshFolder(cmd *cobra.Command, g *globals, path string) (install.Check, error) {
	chk, _, err := v.check()
	if err != nil {
		return chk, err
	}
	pkgPath, folder := path, false
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		pkgPath, folder = filepath.Join(path, "_"), true
	}
	files := v.files(pkgPath)
	base := g.server
	switch l, err := install.ReadLock(files.Lock); {
	case err == nil && l.Marketplace != "":
		base = l.Marketplace // where the folder's plugins came from
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return chk, err
	}
	src, err := install.NewHTTP(base, nil)
	if err != nil {
		return chk, err
	}
	if chk.Prover == nil {
		fetch, err := install.NewLogFetcher(src.URL()+"/log", nil)
		if err != nil {
			return chk, err
		}
		chk.Prover = tlog.TileProver{Fetch: fetch}
	}
	res, err := install.Refresh(cmd.Context(), src, files, chk)
	if err != nil {
		return chk, refreshFailure(cmd, base, err)
	}
	out := cmd.OutOrStdout()
	rl := res.RevocationList
	fmt.Fprintf(out, "refreshed from %s: revocation list %d (issued %s, next update due %s), checkpoint of %s at %d entries\n",
		src.URL(), rl.Number, rl.IssuedAt.Format(time.RFC3339), rl.NextUpdate.Format(time.RFC3339), res.Checkpoint.Origin, res.Checkpoint.Size)
	if res.Recorded {
		fmt.Fprintf(out, "  recorded in %s: an older list or checkpoint is refused from now on\n", files.StateDir)
	}
	var failed []string
	for _, p := range res.Plugins {
		if p.Err != nil {
			fmt.Fprintf(out, "  FAIL  %s@%s: %v\n", p.ID, p.Version, p.Err)
			failed = append(failed, p.ID+"@"+p.Version)
		} else {
			fmt.Fprintf(out, "  ok    %s@%s: certified until %s\n", p.ID, p.Version, p.Result.Certificate.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	// Versions kept for rollback are reported, never failed on: hosts do
	// not load them, and `gatehouse rollback` verifies one again before
	// pinning it.
	for _, k := range res.Kept {
		if k.Err != nil {
			fmt.Fprintf(out, "  kept  %s@%s for rollback: a rollback to it would be refused: %v\n", k.ID, k.Version, k.Err)
		} else {
			fmt.Fprintf(out, "  kept  %s@%s for rollback: verifies\n", k.ID, k.Version)
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}
	if folder && len(failed) > 0 {
		return chk, &exitError{code: 2, msg: fmt.Sprintf("%s no longer verifies; hosts must not load it", strings.Join(failed, ", "))}
	}
	// A package refused by the refresh (suspended, say) is refused even
	// when its files alone still verify.
	for _, p := range res.Plugins {
		if !folder && p.Err != nil && filepath.Clean(p.Package) == filepath.Clean(path) {
			return chk, &exitError{code: 2, msg: fmt.Sprintf("%s@%s no longer verifies; hosts must not load it: %v", p.ID, p.Version, p.Err)}
		}
	}
	return chk, nil
}

// refreshFailure turns a refused list or checkpoint into exit code 2.
func refreshFailure(cmd *cobra.Command, base string, err error) error {
	if !isVerifyError(err) {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "  FAIL  %v\n", err)
	return &exitError{code: 2, msg: fmt.Sprintf("what %s serves did not verify against the pinned trust root; nothing it failed on was recorded", base)}
}

func isVerifyError(err error) bool {
	var ve *verify.Error
	return errors.As(err, &ve)
}
