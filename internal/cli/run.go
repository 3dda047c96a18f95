package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/verify"
)

func runCmd(g *globals) *cobra.Command {
	var (
		export, input, secretsDir string
		grants, mounts, dataFiles []string
		vf                        verifyFlags
		vault                     vaultFlags
		skipVerify                bool
	)
	c := &cobra.Command{
		Use:   "run PACKAGE --call EXPORT --input JSON|@FILE",
		Short: "Run a plugin's export locally in the sandbox, as a host would",
		Long: `Run one export of a package in the sandbox with the manifest's permissions,
or fewer with --grant (repeat it; each must be one the manifest asks for).
A granted fs:read:/NAME mount needs --mount NAME=DIR. Secrets come from
GATEHOUSE_SECRET_<NAME> variables, files in --secrets DIR, or HashiCorp
Vault with --vault-secrets FILE (address from --vault-addr or $VAULT_ADDR,
token from $VAULT_TOKEN or AppRole from $VAULT_ROLE_ID and $VAULT_SECRET_ID;
leased secrets are revoked when the call ends). --data SCOPE=FILE
answers the plugin's data_read of a granted data:read:SCOPE with the file's
bytes (writes are refused), as a host's data source would.

The package is verified first, as ` + "`gatehouse verify`" + ` does (the bundle,
trust root and revocation list beside it, or the same flags), and refused
with the failed check (exit 2) unless it verifies; the plugin then gets at
most the permissions its certificate grants. --insecure-skip-verify runs an
unverified package, for local development of your own plugin only.

The output goes to standard output; the call's time, memory and host calls
to standard error. A refused or failed call exits 1 and names its kind
(timeout, out_of_memory, trap, denied, throttled, output_too_large, ...).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if export == "" {
				return errors.New("--call EXPORT is required: name the export to call")
			}
			// Vault is checked first: a host that cannot reach it fails
			// before any work, with the setting to fix.
			var vp sandbox.Secrets
			if vault.enabled() {
				if secretsDir != "" {
					return errors.New("--secrets and --vault-secrets both name where secrets come from: use one")
				}
				p, err := vault.provider(cmd.Context(), g)
				if err != nil {
					return err
				}
				vp = p
			}
			req := sandbox.LoadRequest{Mounts: map[string]string{}}
			if len(grants) > 0 {
				for _, s := range grants {
					p, err := manifest.ParsePermission(s)
					if err != nil {
						return fmt.Errorf("--grant: %w", err)
					}
					req.Grants = append(req.Grants, p)
				}
			}
			var err error
			if skipVerify {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: --insecure-skip-verify: running %s WITHOUT verifying its signatures, certificate or revocation status; use this only for a plugin you are developing, never on a host\n", args[0])
				req, err = unverifiedRequest(args[0], req)
			} else {
				req, err = verifiedRequest(cmd, args[0], vf, req)
			}
			if err != nil {
				return err
			}
			for _, s := range mounts {
				name, dir, ok := strings.Cut(s, "=")
				if !ok || name == "" || dir == "" {
					return fmt.Errorf("--mount %q: write NAME=DIR, e.g. templates=./templates for fs:read:/templates", s)
				}
				req.Mounts["/"+strings.TrimPrefix(name, "/")] = dir
			}
			in := []byte(input)
			if strings.HasPrefix(input, "@") {
				if in, err = os.ReadFile(strings.TrimPrefix(input, "@")); err != nil {
					return err
				}
			}
			if !json.Valid(in) {
				return errors.New("--input is not valid JSON")
			}
			cfg := sandbox.Config{Logger: g.logger(), Secrets: sandbox.EnvSecrets{}}
			if len(dataFiles) > 0 {
				if cfg.Data, err = fileData(dataFiles); err != nil {
					return err
				}
			}
			if secretsDir != "" {
				cfg.Secrets = sandbox.DirSecrets{Dir: secretsDir}
			}
			if vp != nil {
				cfg.Secrets = vp
			}
			if dir, err := os.UserCacheDir(); err == nil {
				cfg.CacheDir = filepath.Join(dir, "gatehouse", "compiled")
			}
			res, err := sandbox.RunOnce(cmd.Context(), cfg, req, export, in)
			if len(res.Output) > 0 {
				cmd.OutOrStdout().Write(res.Output)
				fmt.Fprintln(cmd.OutOrStdout())
			}
			if sandbox.KindOf(err) != sandbox.KindLoadFailed {
				fmt.Fprintln(cmd.ErrOrStderr(), res.Summary())
			}
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&export, "call", "", "the export to call (required)")
	f.StringVar(&input, "input", "{}", "the input: JSON, or @FILE")
	f.StringArrayVar(&grants, "grant", nil, "grant only this permission (repeatable); default: all the manifest asks for")
	f.StringArrayVar(&mounts, "mount", nil, "NAME=DIR: serve DIR read-only at /NAME (repeatable)")
	f.StringArrayVar(&dataFiles, "data", nil, "SCOPE=FILE: answer data_read of SCOPE with FILE (repeatable; the permission must still be granted)")
	f.StringVar(&secretsDir, "secrets", "", "read secrets from files in this folder instead of GATEHOUSE_SECRET_* variables")
	f.BoolVar(&skipVerify, "insecure-skip-verify", false, "run the package without verifying it (local development only; prints a warning)")
	vf.register(c)
	vault.register(g, c)
	return c
}

// verifiedRequest verifies the package at path with the files beside it (or
// the flags) and builds the request from the bytes verified.
func verifiedRequest(cmd *cobra.Command, path string, vf verifyFlags, base sandbox.LoadRequest) (sandbox.LoadRequest, error) {
	chk, note, err := vf.check()
	if err != nil {
		return base, err
	}
	pkg, b, opts, err := install.Load(vf.files(path), chk)
	if err == nil {
		req, res, err2 := sandbox.VerifiedRequest(cmd.Context(), pkg, b, opts, base)
		if err2 == nil {
			if note == "" {
				note = "accepted"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "verified %s@%s (%s); host policy %s\n", res.PluginID, res.Version, res.Digest, note)
			return req, nil
		}
		err = err2
	}
	var ve *verify.Error
	if errors.As(err, &ve) {
		fmt.Fprintf(cmd.ErrOrStderr(), "refusing to run %s: %v\n", path, err)
		return base, &exitError{code: 2, msg: fmt.Sprintf("%s did not verify: the %s check failed (pass --insecure-skip-verify only for a plugin you are developing)", path, ve.Check)}
	}
	return base, err
}

// unverifiedRequest reads the package at path with pkgfile's hostile-input
// checks and nothing more.
func unverifiedRequest(path string, req sandbox.LoadRequest) (sandbox.LoadRequest, error) {
	pkg, err := pkgfile.ReadFile(path, pkgfile.DefaultLimits())
	if err != nil {
		return req, err
	}
	m, err := manifest.Parse(pkg.Manifest(), manifest.Options{})
	if err != nil {
		return req, fmt.Errorf("%s: %w", manifest.FileName, err)
	}
	module, ok := pkg.File(m.Runtime.Module)
	if !ok {
		return req, fmt.Errorf("the package has no module %s", m.Runtime.Module)
	}
	req.Manifest, req.Module = m, module
	return req, nil
}

// maxDataFile bounds a --data file: the sandbox bounds a data result like
// a fetched body anyway.
const maxDataFile = 16 << 20

// fileData serves data scopes from files given as SCOPE=FILE. The sandbox
// asks only for scopes the plugin was granted; the rest are never read.
func fileData(specs []string) (sandbox.DataFunc, error) {
	files := map[string][]byte{}
	for _, s := range specs {
		scope, file, ok := strings.Cut(s, "=")
		if !ok || scope == "" || file == "" {
			return nil, fmt.Errorf("--data %q: write SCOPE=FILE, e.g. contacts=./contacts.json", s)
		}
		fi, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", scope, err)
		}
		if fi.Size() > maxDataFile {
			return nil, fmt.Errorf("--data %s: %s is %d bytes; the limit is %d", scope, file, fi.Size(), maxDataFile)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", scope, err)
		}
		files[scope] = b
	}
	return func(_ context.Context, _ sandbox.PluginRef, req hostapi.DataRequest, write bool) ([]byte, error) {
		if write {
			return nil, errors.New("this host serves data read-only")
		}
		b, ok := files[req.Scope]
		if !ok {
			return nil, sandbox.ErrNotFound
		}
		return b, nil
	}, nil
}
