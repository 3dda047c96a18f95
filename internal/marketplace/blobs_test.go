package marketplace

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/store/blobs3"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// TestBlobsInABucket runs a submission with --blobs naming an S3 bucket:
// the package is read before commit from the local staging file, stored in
// the bucket, read back checked, and no byte of it stays on local disk;
// the start-up sweep removes a blob no record names, in the bucket too.
func TestBlobsInABucket(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m, err := Open(ctx, Config{Data: data, BlobsURL: blobtest.S3URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Cleanup(func() { // leave the test bucket as it was
		var all []string
		m.Blobs.List(ctx, func(d string, _ time.Time) error { all = append(all, d); return nil })
		for _, d := range all {
			m.Blobs.Delete(ctx, d)
		}
	})
	if _, ok := m.Blobs.(*blobs3.Store); !ok {
		t.Fatalf("the blob store is a %T, want the bucket", m.Blobs)
	}

	var buf bytes.Buffer
	man := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"H","description":"H.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), []byte("a marker no other file holds: 7c1e0b5f")...)
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(man)}, {Path: "plugin.wasm", Data: wasm}}); err != nil {
		t.Fatal(err)
	}
	pkg := buf.Bytes()
	env, err := intake.Sign(ctx, certifytest.PublisherKey(t, m.Store, "acme", "alice"), pkg)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	v, created, err := m.Intake.SubmitSigned(ctx, domain.Principal{Subject: "alice", Role: "publisher"}, bytes.NewReader(pkg), sig)
	if err != nil || !created {
		t.Fatalf("Submit = %v, %v", created, err)
	}
	if ok, err := m.Blobs.Exists(ctx, v.Digest); !ok || err != nil {
		t.Fatalf("the package is not in the bucket: %v, %v", ok, err)
	}
	if _, err := m.Intake.LoadPackage(ctx, v.Digest); err != nil {
		t.Fatalf("reading the package back from the bucket: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "blobs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the data folder has a blobs folder with a bucket configured (%v)", err)
	}
	for _, dir := range []string{data, os.TempDir()} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || dir == os.TempDir() && !strings.HasPrefix(d.Name(), "gatehouse-s3stage-") {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, pkg) {
				t.Errorf("the package's bytes are on local disk after the submission: %s", p)
			}
			return nil
		})
	}

	// An orphan: a blob committed by a submission that never recorded it.
	st, err := m.Blobs.Stage(ctx, strings.NewReader("an interrupted submission"), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.sweep(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.Blobs.Exists(ctx, st.Digest()); ok {
		t.Error("the sweep kept a blob no record names")
	}
	if ok, _ := m.Blobs.Exists(ctx, v.Digest); !ok {
		t.Error("the sweep removed a recorded package")
	}
}

// TestBadBlobsURLRefusesToStart: a wrong --blobs fails Open with what to
// fix, before anything is served.
func TestBadBlobsURLRefusesToStart(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	for url, want := range map[string]string{
		"gs://bucket": "not supported",
		"s3://bucket?endpoint=http://127.0.0.1:1": "AWS_ACCESS_KEY_ID",
	} {
		_, err := Open(context.Background(), Config{Data: t.TempDir(), BlobsURL: url})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open with --blobs %s: %v, want an error saying %q", url, err, want)
		}
	}
}
