package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/verify"
)

func rollbackCmd(g *globals) *cobra.Command {
	var (
		dir, to, reason, by string
		keep                int
		vf                  verifyFlags
	)
	c := &cobra.Command{
		Use:   "rollback NAMESPACE/NAME",
		Short: "Pin the version a plugin had before, from the install folder, verified first and offline",
		Long: `Rollback pins an earlier version of an installed plugin again, from the
files ` + "`gatehouse install`" + ` kept in --dir, without the network.

Without --to it goes to the version the current one replaced, as
gatehouse.history records it: rolling back twice goes further back
(1.2.0, then 1.1.0, then 1.0.0), never forward again; to go forward, name
the version with --to or install with --update. --to names any version
pinned in --dir before whose files are still kept.

The version is verified first exactly as ` + "`gatehouse verify`" + ` verifies an
installed package, against the folder's current revocation list (which must
be fresh: a version revoked since, or a certificate expired since, is
refused with the reason, exit 2), and its dependencies are checked against
the other pins. Only then is gatehouse.lock replaced, and the rollback
recorded in gatehouse.history. A refused rollback changes nothing.

Run ` + "`gatehouse verify --refresh DIR`" + ` first when the host has been offline:
it fetches the current revocation list and the kept versions' bundles.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keep < 1 {
				return fmt.Errorf("--keep %d: keep at least 1 earlier version", keep)
			}
			chk, note, err := vf.check()
			if err != nil {
				return err
			}
			res, err := install.Rollback(cmd.Context(), args[0], install.RollbackOptions{
				Dir: dir, To: to, Reason: reason, By: byOrUser(g, by), Check: chk, Keep: keep,
			})
			w := cmd.OutOrStdout()
			if err != nil {
				var ve *verify.Error
				if errors.As(err, &ve) {
					fmt.Fprintln(w, err)      // names the version and why
					verifyFailure(w, "", err) // prints the checks that passed and the one that failed
					return &exitError{code: 2, msg: fmt.Sprintf("%s was not rolled back: the %s check failed; %s is unchanged", args[0], ve.Check, install.LockFile)}
				}
				return err
			}
			fmt.Fprintf(w, "rolled back %s from %s to %s (%s) in %s\n", res.To.ID, res.From.Version, res.To.Version, res.To.Digest, filepath.Join(dir, install.LockFile))
			printVerified(w, res.To.Result, note)
			for _, r := range res.Recorded {
				fmt.Fprintf(w, "recorded in %s: %s %s@%s\n", install.HistoryFile, r.Action, r.ID, r.Version)
			}
			for _, p := range res.Pruned {
				fmt.Fprintf(w, "removed %s: no longer kept for rollback\n", p)
			}
			for _, m := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", m)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "plugins", "the install folder")
	f.StringVar(&to, "to", "", "the version to pin (default: the one the current version replaced)")
	f.StringVar(&reason, "reason", "", "why, recorded in gatehouse.history")
	f.StringVar(&by, "by", "", "who, recorded in gatehouse.history (default: $USER)")
	f.IntVar(&keep, "keep", install.DefaultKeep, "how many earlier versions of each plugin to keep in --dir")
	f.StringVar(&vf.policy, "policy", "", `the host's policy file: {"allow": ["kv:*", ...]}, or an AI-SWA file {"plugins": {"ID": {"permissions": [...]}}} listing the only plugins that load (default: accept every permission the certificate grants, and say so)`)
	positiveDuration(f, &vf.maxAge, "max-age", 0, 0, "refuse a revocation list older than this (default: the trust root's maximum age; it can only be shortened)")
	return c
}

// printHistory is `gatehouse install --history [PLUGIN]`.
func printHistory(cmd *cobra.Command, dir string, args []string, out *output) error {
	path := filepath.Join(dir, install.HistoryFile)
	h, err := install.ReadHistory(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h = &install.History{HistoryVersion: install.HistoryVersion, Records: []install.Record{}}
	case err != nil:
		return err
	}
	if len(args) == 1 {
		id := args[0]
		if req, err := install.ParseRequest(id); err != nil {
			return err
		} else if req.Range != "*" || strings.Contains(id, "@") {
			return fmt.Errorf("--history takes a plugin id without a version, e.g. %s", req.ID)
		}
		h.Records = h.For(id)
		if h.Records == nil {
			h.Records = []install.Record{}
		}
	}
	// Notes go to standard error, so that -o json stays one document.
	stderr := cmd.ErrOrStderr()
	switch l, err := install.ReadLock(filepath.Join(dir, install.LockFile)); {
	case err == nil:
		for _, e := range h.Unrecorded(l) {
			if len(args) == 0 || e.ID == args[0] {
				fmt.Fprintf(stderr, "note: %s pins %s@%s, which the history does not record yet (a write interrupted by a crash, or an edit by hand); the next install or rollback records it\n", install.LockFile, e.ID, e.Version)
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "note: %v\n", err)
	}
	if h.Dropped > 0 {
		fmt.Fprintf(stderr, "note: the %d oldest records were dropped to keep the history within %d records and %d bytes\n", h.Dropped, install.MaxHistoryRecords, install.MaxHistoryBytes)
	}
	w := cmd.OutOrStdout()
	if out.json() {
		return writeJSON(w, h)
	}
	if len(h.Records) == 0 {
		fmt.Fprintf(w, "no history in %s: nothing was installed there since gatehouse began keeping one\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tPLUGIN\tVERSION\tFROM\tDIGEST\tBY\tREASON")
	for _, r := range h.Records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Action, r.ID, r.Version,
			dash(r.Previous), shortDigest(r.Digest), dash(r.By), dash(r.Reason))
	}
	return tw.Flush()
}

// shortDigest is enough of a digest to tell versions apart in a table;
// -o json has them whole.
func shortDigest(d string) string {
	const n = len("sha256:") + 12
	if len(d) > n {
		return d[:n]
	}
	return d
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
