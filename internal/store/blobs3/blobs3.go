// Package blobs3 keeps blobs and objects in an S3-compatible bucket
// (Amazon S3, or any server that speaks its API, such as the Versity S3
// Gateway the tests run): blobs under PREFIX/sha256/HEX, objects under
// PREFIX/objects/KEY.
//
// Stage streams the bytes to a local temporary file while hashing them,
// so that intake can read the package before deciding to keep it; Commit
// uploads that file (one PUT up to the part size, a multipart upload
// beyond, each part read from the file, never the whole blob in memory)
// and removes it. After Commit or Abort no byte of the blob is left on
// local disk. The digest is checked on every read (store.VerifyingReader);
// a single PUT also sends the SHA-256 so that the server refuses bytes
// damaged on the way.
//
// Credentials come from the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), never from the URL, and no
// error or log line holds the secret.
package blobs3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// Limits. Every request has a deadline besides the caller's context; an
// upload's parts have their own, longer one.
const (
	// DefaultPartSize is the size of a multipart upload's parts, and the
	// size above which Commit uploads in parts. S3 allows 5 MiB to 5 GiB
	// per part and 10,000 parts.
	DefaultPartSize = 16 << 20
	MinPartSize     = 5 << 20
	maxPartSize     = 5 << 30
	maxParts        = 10_000
	// requestTimeout bounds one small request (HEAD, DELETE, a list page,
	// an object); partTimeout one PUT of up to a part's bytes.
	requestTimeout = 60 * time.Second
	partTimeout    = 10 * time.Minute
	// maxListed bounds the blobs one List walks.
	maxListed = 10_000_000
	// maxUploadsListed bounds the unfinished uploads one CleanTmp looks at.
	maxUploadsListed = 100_000
	// stagePrefix names the local staging files in StageDir.
	stagePrefix = "gatehouse-s3stage-"
)

// Options say which bucket and how to reach it. ParseURL fills them from a
// URL and the environment.
type Options struct {
	Bucket string
	// Prefix, when set, is a key prefix (without slashes at either end)
	// under which everything of this store lives.
	Prefix string
	// Endpoint is the server's URL (http://127.0.0.1:7070); empty means
	// Amazon S3 itself. An endpoint is addressed path-style
	// (ENDPOINT/BUCKET/KEY), which every S3-compatible server accepts.
	Endpoint string
	Region   string
	// The credentials; AccessKeyID and SecretAccessKey are required.
	AccessKeyID, SecretAccessKey, SessionToken string
	// StageDir is the local folder staged bytes wait in until Commit;
	// os.TempDir() when empty.
	StageDir string
	// PartSize is the multipart part size; DefaultPartSize when zero.
	PartSize int64
	// HTTPClient replaces the default client (with its timeouts).
	HTTPClient *http.Client
}

// String prints the options with the secret and session token hidden,
// so that logging them by mistake leaks nothing.
func (o Options) String() string {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return "REDACTED"
	}
	return fmt.Sprintf("{Bucket:%s Prefix:%s Endpoint:%s Region:%s AccessKeyID:%s SecretAccessKey:%s SessionToken:%s StageDir:%s PartSize:%d}",
		o.Bucket, o.Prefix, o.Endpoint, o.Region, o.AccessKeyID, hide(o.SecretAccessKey), hide(o.SessionToken), o.StageDir, o.PartSize)
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Store is a store.BlobStore on an S3 bucket.
type Store struct {
	c    *s3.Client
	opts Options
}

var _ store.BlobStore = (*Store)(nil)

// New checks the options, connects and checks that the bucket is there
// and the credentials are accepted (a HEAD on the bucket), so that a bad
// setting fails at start-up with what to fix.
func New(ctx context.Context, o Options) (*Store, error) {
	if err := checkBucketName(o.Bucket); err != nil {
		return nil, err
	}
	if o.Prefix != "" {
		if err := store.CheckObjectKey(o.Prefix); err != nil {
			return nil, fmt.Errorf("the blob store's key prefix: %w", err)
		}
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("the S3 blob store needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (never in the URL)")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("the S3 endpoint %q must be http://HOST:PORT or https://HOST (with no credentials in it)", redactURL(o.Endpoint))
		}
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > maxPartSize {
		return nil, fmt.Errorf("the S3 part size %d must be between %d and %d bytes", o.PartSize, MinPartSize, maxPartSize)
	}
	if o.StageDir == "" {
		o.StageDir = os.TempDir()
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = newHTTPClient()
	}
	so := s3.Options{
		Region:      o.Region,
		Credentials: staticCredentials{id: o.AccessKeyID, secret: o.SecretAccessKey, token: o.SessionToken},
		HTTPClient:  hc,
		// The digest is ours to check, on every read; an upload carries
		// its SHA-256 in the signature (x-amz-content-sha256) and, as one
		// PUT, as x-amz-checksum-sha256. The SDK's own CRC32s would add
		// trailers some S3-compatible servers refuse.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	}
	if o.Endpoint != "" {
		so.BaseEndpoint = aws.String(o.Endpoint)
		so.UsePathStyle = true
	}
	s := &Store{c: s3.New(so), opts: o}
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// newHTTPClient bounds each phase of a request; the caller's context and
// the per-request deadlines bound the whole.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  requestTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    16,
		MaxResponseHeaderBytes: 64 << 10,
	}}
}

// staticCredentials hands the SDK the keys from the environment. Its
// String hides the secret should it ever be printed.
type staticCredentials struct{ id, secret, token string }

func (c staticCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, SessionToken: c.token, Source: "environment"}, nil
}

func (c staticCredentials) String() string { return "access key " + c.id }

// GoString is String, for %#v.
func (c staticCredentials) GoString() string { return c.String() }

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func checkBucketName(b string) error {
	if !bucketName.MatchString(b) || strings.Contains(b, "..") {
		return fmt.Errorf("%q is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit", b)
	}
	return nil
}

// String names the bucket, prefix and endpoint; never a credential.
func (s *Store) String() string {
	loc := "s3://" + s.opts.Bucket
	if s.opts.Prefix != "" {
		loc += "/" + s.opts.Prefix
	}
	if s.opts.Endpoint != "" {
		loc += " at " + s.opts.Endpoint
	}
	return loc
}

func (s *Store) key(parts ...string) string {
	k := strings.Join(parts, "/")
	if s.opts.Prefix != "" {
		k = s.opts.Prefix + "/" + k
	}
	return k
}

func (s *Store) blobKey(hex string) string { return s.key("sha256", hex) }

// Ping sends a HEAD for the bucket: it answers when the server is up, the
// bucket exists and the credentials are accepted.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.opts.Bucket)})
	if err == nil {
		return nil
	}
	if notFound(err) {
		// A HEAD's answer has no body to say why. Some servers answer an
		// unknown access key with 404 too: a one-key listing tells.
		if _, lerr := s.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.opts.Bucket), MaxKeys: aws.Int32(1)}); lerr != nil {
			err = lerr
		}
	}
	return s.explain(err, "")
}

// explain turns an SDK error into one that says what to fix; what names
// the blob or object concerned ("" for the bucket).
func (s *Store) explain(err error, what string) error {
	if what == "" {
		what = "bucket " + s.opts.Bucket
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("S3 blob store %s: %s: %w", s, what, err)
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" || code == "ExpiredToken" ||
		code == "XAdminUserNotFound" || // the Versity gateway's unknown access key
		status == http.StatusForbidden || status == http.StatusUnauthorized:
		return fmt.Errorf("S3 blob store %s: %s: access refused (%s) for access key %q: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the key's permissions on the bucket", s, what, firstNonEmpty(code, http.StatusText(status)), s.opts.AccessKeyID)
	case code == "NoSuchBucket" || status == http.StatusNotFound && strings.HasPrefix(what, "bucket ") && (code == "" || code == "NotFound"):
		return fmt.Errorf("S3 blob store %s: the bucket %q does not exist; create it (e.g. aws s3 mb s3://%s --endpoint-url ENDPOINT) or correct the URL", s, s.opts.Bucket, s.opts.Bucket)
	case status == 0 && code == "":
		var ne net.Error
		var oe *net.OpError
		if errors.As(err, &oe) || errors.As(err, &ne) {
			return fmt.Errorf("S3 blob store %s: %s: cannot reach the server (is it running, and is the endpoint right?): %w", s, what, err)
		}
	}
	return fmt.Errorf("S3 blob store %s: %s: %w", s, what, err)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func notFound(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	var nk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nk) || errors.As(err, &nf)
}

// Stage copies r to a local temporary file in StageDir while hashing it,
// refusing more than max bytes. Nothing reaches the bucket until Commit.
func (s *Store) Stage(ctx context.Context, r io.Reader, max int64) (store.Staged, error) {
	if max <= 0 {
		return nil, fmt.Errorf("staging a blob: the size limit %d must be positive", max)
	}
	tmp, err := os.CreateTemp(s.opts.StageDir, stagePrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("staging a blob: %w", err)
	}
	fail := func(err error) (store.Staged, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	h := sha256.New()
	n, err := store.CopyLimited(ctx, io.MultiWriter(tmp, h), r, max)
	if err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(fmt.Errorf("staging a blob: %w", err))
	}
	sum := h.Sum(nil)
	return &staged{s: s, path: tmp.Name(), hex: hex.EncodeToString(sum), sum: sum, size: n}, nil
}

type staged struct {
	s    *Store
	path string
	hex  string
	sum  []byte
	size int64
	done bool // committed or aborted: the local file is gone
}

func (st *staged) Digest() string { return "sha256:" + st.hex }
func (st *staged) Size() int64    { return st.size }
func (st *staged) Path() string   { return st.path }

// Commit uploads the staged file under its digest, unless a blob of that
// digest and size is there already, then removes the local file.
func (st *staged) Commit(ctx context.Context) error {
	if st.done {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := st.s
	key := s.blobKey(st.hex)
	what := "blob " + st.Digest()
	hctx, cancel := context.WithTimeout(ctx, requestTimeout)
	head, err := s.c.HeadObject(hctx, &s3.HeadObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key)})
	cancel()
	switch {
	case err == nil && aws.ToInt64(head.ContentLength) == st.size:
		// The same digest is the same bytes: nothing to upload. (A copy
		// damaged in the bucket is caught on every read, naming it.)
	case err == nil || notFound(err):
		// Absent, or there with another size (damaged): upload.
		if err := st.upload(ctx, key); err != nil {
			return s.explain(err, what)
		}
	default:
		return s.explain(err, what)
	}
	st.done = true
	if err := os.Remove(st.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the staged copy of %s: %w", what, err)
	}
	return nil
}

func (st *staged) upload(ctx context.Context, key string) error {
	f, err := os.Open(st.path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := st.s
	if st.size <= s.opts.PartSize {
		pctx, cancel := context.WithTimeout(ctx, partTimeout)
		defer cancel()
		_, err := s.c.PutObject(pctx, &s3.PutObjectInput{
			Bucket:         aws.String(s.opts.Bucket),
			Key:            aws.String(key),
			Body:           io.NewSectionReader(f, 0, st.size),
			ContentLength:  aws.Int64(st.size),
			ContentType:    aws.String("application/octet-stream"),
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(st.sum)),
		})
		return err
	}
	return s.multipart(ctx, key, f, st.size)
}

// multipart uploads size bytes of f in parts, each read from the file as
// it is sent, and aborts the upload if any step fails.
func (s *Store) multipart(ctx context.Context, key string, f io.ReaderAt, size int64) (err error) {
	part := s.opts.PartSize
	if (size+part-1)/part > maxParts {
		part = (size + maxParts - 1) / maxParts
	}
	if part > maxPartSize {
		return fmt.Errorf("%d bytes is more than one S3 object may hold in %d parts", size, maxParts)
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	up, err := s.c.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), ContentType: aws.String("application/octet-stream"),
	})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// The caller's context may be the reason: abort on our own.
			actx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			s.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	for i, off := int32(1), int64(0); off < size; i, off = i+1, off+part {
		n := min(part, size-off)
		pctx, cancel := context.WithTimeout(ctx, partTimeout)
		out, err := s.c.UploadPart(pctx, &s3.UploadPartInput{
			Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(i), Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
		})
		cancel()
		if err != nil {
			return fmt.Errorf("uploading part %d: %w", i, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(i)})
	}
	cctx, cancel = context.WithTimeout(ctx, partTimeout) // the server may assemble for a while
	defer cancel()
	_, err = s.c.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// Abort removes the local staged file; after Commit it does nothing.
func (st *staged) Abort() error {
	if st.done {
		return nil
	}
	st.done = true
	if err := os.Remove(st.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing staged blob: %w", err)
	}
	return nil
}

// Open returns the blob's bytes and size, checked against the digest as
// they are read; domain.ErrNotFound when it is absent.
func (s *Store) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	h, err := store.ParseDigest(digest)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.blobKey(h))})
	if err != nil {
		if notFound(err) {
			return nil, 0, fmt.Errorf("blob %s: %w", digest, domain.ErrNotFound)
		}
		return nil, 0, s.explain(err, "opening blob "+digest)
	}
	return store.VerifyingReader(out.Body, digest), aws.ToInt64(out.ContentLength), nil
}

// Exists reports whether the blob is stored.
func (s *Store) Exists(ctx context.Context, digest string) (bool, error) {
	h, err := store.ParseDigest(digest)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err = s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.blobKey(h))})
	switch {
	case err == nil:
		return true, nil
	case notFound(err):
		return false, nil
	}
	return false, s.explain(err, "checking blob "+digest)
}

// Delete removes the blob; deleting an absent blob is not an error.
func (s *Store) Delete(ctx context.Context, digest string) error {
	h, err := store.ParseDigest(digest)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err = s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.blobKey(h))})
	if err != nil && !notFound(err) {
		return s.explain(err, "deleting blob "+digest)
	}
	return nil
}

// List calls fn for every stored blob, with its upload time. Keys under
// the blob prefix that are not named like a blob are skipped.
func (s *Store) List(ctx context.Context, fn func(digest string, modTime time.Time) error) error {
	prefix := s.blobKey("")
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1000)})
	seen := 0
	for p.HasMorePages() {
		pctx, cancel := context.WithTimeout(ctx, requestTimeout)
		page, err := p.NextPage(pctx)
		cancel()
		if err != nil {
			return s.explain(err, "listing blobs")
		}
		for _, o := range page.Contents {
			if seen++; seen > maxListed {
				return fmt.Errorf("S3 blob store %s: more than %d blobs to list", s, maxListed)
			}
			digest := "sha256:" + strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if _, err := store.ParseDigest(digest); err != nil {
				continue
			}
			if err := fn(digest, aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// CleanTmp removes this machine's staged files older than olderThan and
// aborts the bucket's unfinished multipart uploads under the prefix
// started before then: what a crash in Commit left behind.
func (s *Store) CleanTmp(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	var errs []error
	matches, err := filepath.Glob(filepath.Join(s.opts.StageDir, stagePrefix+"*"))
	if err != nil {
		errs = append(errs, err)
	}
	for _, m := range matches {
		if info, err := os.Lstat(m); err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff) {
			if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	p := s3.NewListMultipartUploadsPaginator(s.c, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(s.blobKey(""))})
	seen := 0
	for p.HasMorePages() && seen < maxUploadsListed {
		pctx, cancel := context.WithTimeout(ctx, requestTimeout)
		page, err := p.NextPage(pctx)
		cancel()
		if err != nil {
			errs = append(errs, s.explain(err, "listing unfinished uploads"))
			break
		}
		for _, u := range page.Uploads {
			seen++
			if !aws.ToTime(u.Initiated).Before(cutoff) {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, requestTimeout)
			_, err := s.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.opts.Bucket), Key: u.Key, UploadId: u.UploadId})
			cancel()
			if err != nil && !notFound(err) {
				errs = append(errs, s.explain(err, "aborting the unfinished upload of "+aws.ToString(u.Key)))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning staged blobs: %w", err)
	}
	return nil
}

// ReadObject returns the object's bytes; an error matching fs.ErrNotExist
// when there is none.
func (s *Store) ReadObject(ctx context.Context, key string) ([]byte, error) {
	if err := store.CheckObjectKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.key("objects", key))})
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("object %s: %w", key, fs.ErrNotExist)
		}
		return nil, s.explain(err, "reading object "+key)
	}
	defer out.Body.Close()
	if aws.ToInt64(out.ContentLength) > store.MaxObjectBytes {
		return nil, fmt.Errorf("object %s is larger than the limit of %d bytes", key, store.MaxObjectBytes)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, store.MaxObjectBytes+1))
	if err != nil {
		return nil, s.explain(err, "reading object "+key)
	}
	if len(b) > store.MaxObjectBytes {
		return nil, fmt.Errorf("object %s is larger than the limit of %d bytes", key, store.MaxObjectBytes)
	}
	return b, nil
}

// WriteObject creates or replaces the object with one PUT, which S3 makes
// visible whole or not at all.
func (s *Store) WriteObject(ctx context.Context, key string, data []byte) error {
	if err := store.CheckObjectKey(key); err != nil {
		return err
	}
	if len(data) > store.MaxObjectBytes {
		return fmt.Errorf("object %s: %d bytes is more than the limit of %d: %w", key, len(data), store.MaxObjectBytes, store.ErrTooLarge)
	}
	sum := sha256.Sum256(data)
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(s.opts.Bucket),
		Key:            aws.String(s.key("objects", key)),
		Body:           bytes.NewReader(data),
		ContentLength:  aws.Int64(int64(len(data))),
		ContentType:    aws.String("application/octet-stream"),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		return s.explain(err, "writing object "+key)
	}
	return nil
}
