// Package blobstore opens the blob store a URL names: a local folder
// (package blobfs) or an S3-compatible bucket (package blobs3).
package blobstore

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/blobs3"
)

// Forms is the one-line help for a blob store URL.
const Forms = "file:///ABSOLUTE/PATH (or a plain path) for a local folder, s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION for an S3-compatible bucket"

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// Open returns the blob store rawURL names:
//
//   - file:///ABSOLUTE/PATH, or a plain path: a local folder, created if
//     needed;
//   - s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&part_size=BYTES]:
//     a bucket, which must exist; credentials from the environment
//     (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), read
//     through getenv (os.Getenv when nil).
//
// Errors say what is wrong and how to fix it, and never hold a secret.
func Open(ctx context.Context, rawURL string, getenv func(string) string) (store.BlobStore, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case rawURL == "":
		return nil, fmt.Errorf("no blob store given; use %s", Forms)
	case strings.HasPrefix(rawURL, "s3:"):
		o, err := blobs3.ParseURL(rawURL, getenv)
		if err != nil {
			return nil, err
		}
		return blobs3.New(ctx, o)
	case strings.HasPrefix(rawURL, "file:"):
		dir, err := fileURL(rawURL)
		if err != nil {
			return nil, err
		}
		return blobfs.New(dir)
	case scheme.MatchString(rawURL) && !(len(rawURL) > 2 && rawURL[1] == ':' && (rawURL[2] == '\\' || rawURL[2] == '/')):
		s, _, _ := strings.Cut(rawURL, ":")
		return nil, fmt.Errorf("blob store URLs of scheme %q are not supported; use %s", s, Forms)
	default:
		return blobfs.New(filepath.Clean(rawURL))
	}
}

func fileURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the blob store URL %q must be file:///ABSOLUTE/PATH (three slashes, no host, query or fragment)", raw)
	}
	if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
		return "", fmt.Errorf("the blob store URL %q names no absolute folder; the form is file:///ABSOLUTE/PATH", raw)
	}
	return filepath.Clean(filepath.FromSlash(u.Path)), nil
}
