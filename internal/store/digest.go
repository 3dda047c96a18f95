package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// ParseDigest checks that digest is "sha256:" and 64 lower-case hex digits
// and returns the hex. Digests come from URLs, so nothing else may reach a
// file path.
func ParseDigest(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 2*sha256.Size {
		return "", fmt.Errorf("digest %q is not sha256: followed by 64 hex digits", truncate(digest))
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("digest %q is not sha256: followed by 64 lower-case hex digits", truncate(digest))
		}
	}
	return h, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// VerifyingReader passes rc's bytes through and, at EOF, fails with an
// error unless they hash to digest: a blob corrupted on disk is never
// served as good. A malformed digest fails the first read.
//
// Wrapping a VerifyingReader again for the same digest returns it as it
// is, so a caller may wrap what Blobs.Open returns without hashing twice.
func VerifyingReader(rc io.ReadCloser, digest string) io.ReadCloser {
	if v, ok := rc.(*verifyingReader); ok && v.digest == digest {
		return v
	}
	h, err := ParseDigest(digest)
	return &verifyingReader{rc: rc, want: h, err: err, h: sha256.New(), digest: digest}
}

type verifyingReader struct {
	rc     io.ReadCloser
	h      hash.Hash
	want   string
	digest string
	err    error // sticky
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			v.err = fmt.Errorf("blob %s is corrupt: its bytes hash to sha256:%s", v.digest, got)
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// CopyLimited copies r to w, at most max bytes, for a blob store's Stage:
// it fails with ErrTooLarge when r holds more and with ctx's error once ctx
// is done. Errors from r are wrapped, so a caller's own limit error still
// matches with errors.Is.
func CopyLimited(ctx context.Context, w io.Writer, r io.Reader, max int64) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("staging a blob: %w", err)
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if n+int64(k) > max {
				return n, fmt.Errorf("staging a blob: more than the limit of %d bytes: %w", max, ErrTooLarge)
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return n, fmt.Errorf("staging a blob: writing: %w", err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("staging a blob: reading: %w", rerr)
		}
	}
}
