package blobstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/blobs3"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
)

func TestOpenFolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for _, raw := range []string{"file://" + filepath.Join(dir, "a"), "file://localhost" + filepath.Join(dir, "b"), filepath.Join(dir, "c"), filepath.Join(dir, "d") + "/../e"} {
		s, err := Open(ctx, raw, nil)
		if err != nil {
			t.Errorf("Open(%q): %v", raw, err)
			continue
		}
		if _, ok := s.(*blobfs.FS); !ok {
			t.Errorf("Open(%q) is a %T, want a folder", raw, s)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping of %q: %v", raw, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "e", "sha256")); err != nil {
		t.Errorf("a plain path is not cleaned: %v", err)
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "topsecret"}
	for raw, want := range map[string]string{
		"":                         "no blob store given",
		"file://host/x":            "file:///ABSOLUTE/PATH",
		"file:relative":            "file:///ABSOLUTE/PATH",
		"file:///x?y=1":            "file:///ABSOLUTE/PATH",
		"gs://bucket":              `scheme "gs" are not supported`,
		"https://bucket.s3/x":      `scheme "https" are not supported`,
		"s3://id:topsecret@bucket": "holds credentials",
		"s3://bucket?bogus=1":      "unknown parameters bogus",
	} {
		_, err := Open(context.Background(), raw, func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error saying %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("Open(%q)'s error holds the secret", raw)
		}
	}
}

func TestOpenBucket(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), blobtest.S3URL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*blobs3.Store); !ok {
		t.Errorf("Open of an s3:// URL is a %T", s)
	}
}
