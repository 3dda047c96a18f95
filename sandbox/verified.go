package sandbox

import (
	"bytes"
	"context"
	"fmt"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/verify"
)

// VerifiedRequest is how a host loads an installed plugin: it verifies pkg
// against its certificate bundle with verify.Verify and only then builds the
// LoadRequest, from exactly the bytes verified. A package that does not
// verify is refused with the *verify.Error naming the failed check.
//
// base carries the host's choices (grants, mounts, isolation, ...). The
// grants are narrowed to what the marketplace certified: a permission the
// manifest asks for but the certificate does not grant (or that a data flow
// the reviewers refused rests on) is never linked, and a
// base grant outside the certificate is an error rather than silently dropped.
//
// Runtime.Load itself stays usable on unverified packages, because vetting
// must run them before any certificate exists; hosts call this instead.
func VerifiedRequest(ctx context.Context, pkg []byte, b *verify.Bundle, opts verify.Options, base LoadRequest) (LoadRequest, *verify.Result, error) {
	res, err := verify.Verify(ctx, pkg, b, opts)
	if err != nil {
		return LoadRequest{}, nil, err
	}
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		return LoadRequest{}, nil, fmt.Errorf("the verified package: %w", err)
	}
	m, err := manifest.Parse(p.Manifest(), manifest.Options{})
	if err != nil {
		return LoadRequest{}, nil, fmt.Errorf("the verified package's %s: %w", manifest.FileName, err)
	}
	module, ok := p.File(m.Runtime.Module)
	if !ok {
		return LoadRequest{}, nil, fmt.Errorf("the verified package has no module %s", m.Runtime.Module)
	}
	// Compare canonical forms: the certificate lists permissions as the
	// marketplace wrote them.
	// A permission a refused data flow rests on is withheld even if the
	// certificate also lists it: reviewers refused what it would carry.
	withheld := map[string]bool{}
	for s := range res.Certificate.Withheld() {
		if perm, err := manifest.ParsePermission(s); err == nil {
			withheld[perm.String()] = true
		}
	}
	certified := map[string]bool{}
	for _, s := range res.Certificate.Permissions {
		if perm, err := manifest.ParsePermission(s); err == nil && !withheld[perm.String()] {
			certified[perm.String()] = true
		}
	}
	req := base
	req.Manifest, req.Module = m, module
	if base.Grants == nil {
		asked, err := m.ParsedPermissions()
		if err != nil {
			return LoadRequest{}, nil, err
		}
		req.Grants = []manifest.Permission{} // non-nil: grant no more than the certificate does
		for _, perm := range asked {
			if certified[perm.String()] {
				req.Grants = append(req.Grants, perm)
			}
		}
	} else {
		for _, perm := range base.Grants {
			if !certified[perm.String()] {
				return LoadRequest{}, nil, fmt.Errorf("grant %s: the marketplace did not certify %s with that permission", perm, res.PluginID)
			}
		}
	}
	return req, res, nil
}
