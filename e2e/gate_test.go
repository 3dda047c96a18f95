package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/verify"
)

// TestVerifiedRequest checks the gate hosts load installed plugins through:
// the plugin gets no permission its certificate does not grant, even one
// its manifest asks for, and a package that does not verify never becomes
// a LoadRequest.
func TestVerifiedRequest(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute)
	m := installtest.New(t, t0)
	// The manifest asks for kv:read and kv:write; the reviewer granted only
	// kv:read.
	pkg := installtest.Pack(t, installtest.Plugin{ID: "acme/kv", Version: "1.0.0", Permissions: []string{"kv:read", "kv:write"}})
	m.PublishPackage("acme/kv", "1.0.0", pkg, []string{"kv:read"})
	src, err := install.NewHTTP(m.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := install.Install(ctx, install.Request{ID: "acme/kv", Range: "*"}, install.Options{
		Source: src, Marketplace: m.URL(), Dir: dir, Policy: verify.Policy{Allow: []string{"kv:*"}},
	}); err != nil {
		t.Fatal(err)
	}
	files := install.Beside(filepath.Join(dir, install.PackageFileName("acme/kv", "1.0.0")))
	load := func() ([]byte, *verify.Bundle, verify.Options) {
		pkg, b, opts, err := install.Load(files, install.Check{Policy: verify.Policy{Allow: []string{"kv:*"}}})
		if err != nil {
			t.Fatal(err)
		}
		return pkg, b, opts
	}

	pkgBytes, b, opts := load()
	req, res, err := sandbox.VerifiedRequest(ctx, pkgBytes, b, opts, sandbox.LoadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.PluginID != "acme/kv" || len(req.Grants) != 1 || req.Grants[0].String() != "kv:read" || req.Manifest == nil || len(req.Module) == 0 {
		t.Fatalf("request = grants %v, result %+v", req.Grants, res)
	}

	// Asking for the uncertified permission explicitly is an error.
	write, _ := manifest.ParsePermission("kv:write")
	_, _, err = sandbox.VerifiedRequest(ctx, pkgBytes, b, opts, sandbox.LoadRequest{Grants: []manifest.Permission{write}})
	if err == nil || !strings.Contains(err.Error(), "did not certify") {
		t.Fatalf("granting kv:write: err = %v", err)
	}

	// A changed byte never reaches the loader.
	pkgBytes, b, opts = load()
	pkgBytes[len(pkgBytes)-5] ^= 1
	_, _, err = sandbox.VerifiedRequest(ctx, pkgBytes, b, opts, sandbox.LoadRequest{})
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckDigest {
		t.Fatalf("flipped byte: err = %v", err)
	}
}
