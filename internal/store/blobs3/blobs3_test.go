package blobs3

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
)

// open returns a store on the test bucket under a prefix of its own,
// staging in a folder of its own, emptied when t ends.
func open(t *testing.T, partSize int64) *Store {
	t.Helper()
	o, err := ParseURL(blobtest.S3URL(t), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	o.StageDir = t.TempDir()
	if partSize != 0 {
		o.PartSize = partSize
	}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.deleteAll(t) })
	return s
}

// deleteAll removes every key under the store's prefix.
func (s *Store) deleteAll(t *testing.T) {
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(s.opts.Prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("listing the test prefix to empty it: %v", err)
			return
		}
		for _, o := range page.Contents {
			if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: o.Key}); err != nil {
				t.Errorf("emptying the test prefix: %v", err)
				return
			}
		}
	}
}

// TestConformance runs the blob-store conformance suite against a real
// S3-compatible server, with the smallest part size S3 allows so that the
// large blob goes up in parts.
func TestConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		New:      func(t *testing.T) store.BlobStore { return open(t, MinPartSize) },
		StageDir: func(s store.BlobStore) string { return s.(*Store).opts.StageDir },
		Corrupt: func(t *testing.T, bs store.BlobStore, digest string, data []byte) {
			s := bs.(*Store)
			h, err := store.ParseDigest(digest)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.c.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.blobKey(h)), Body: bytes.NewReader(data),
			}); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestLargeBlobGoesUpInParts: a blob over the part size is a multipart
// upload (its ETag says how many parts), a smaller one a single PUT.
func TestLargeBlobGoesUpInParts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, MinPartSize)
	for _, c := range []struct {
		size  int
		parts string
	}{{MinPartSize, ""}, {2*MinPartSize + 1, "-3"}} {
		data := make([]byte, c.size)
		rand.Read(data)
		st, err := s.Stage(ctx, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		h, _ := store.ParseDigest(st.Digest())
		head, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(s.blobKey(h))})
		if err != nil {
			t.Fatal(err)
		}
		etag := strings.Trim(aws.ToString(head.ETag), `"`)
		if c.parts == "" && strings.Contains(etag, "-") || c.parts != "" && !strings.HasSuffix(etag, c.parts) {
			t.Errorf("a %d-byte blob has ETag %s, want %s", c.size, etag, map[bool]string{true: "a single PUT's", false: "one of " + c.parts[1:] + " parts"}[c.parts == ""])
		}
	}
}

// TestCleanTmpAbortsUnfinishedUploads: a multipart upload a crash left
// open is aborted once older than the grace period.
func TestCleanTmpAbortsUnfinishedUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, 0)
	key := s.blobKey(strings.Repeat("ab", 32))
	up, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	uploads := func() []types.MultipartUpload {
		out, err := s.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(s.opts.Prefix + "/")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Uploads
	}
	if err := s.CleanTmp(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if len(uploads()) != 1 {
		t.Fatalf("CleanTmp aborted an upload younger than the grace period")
	}
	time.Sleep(1100 * time.Millisecond) // upload times have one-second resolution
	if err := s.CleanTmp(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if u := uploads(); len(u) != 0 {
		t.Errorf("CleanTmp left %d unfinished uploads (%s)", len(u), aws.ToString(up.UploadId))
	}
}

// TestSettingErrorsSayWhatToFix: a missing bucket, refused or missing
// credentials and an unreachable server each fail New with what to fix,
// and no message holds the secret.
func TestSettingErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	base, err := ParseURL(blobtest.S3URL(t), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	const wrongSecret = "not-the-secret-Zq93kfL"
	for _, c := range []struct {
		name   string
		change func(*Options)
		want   []string
	}{
		{"missing bucket", func(o *Options) { o.Bucket = "gatehouse-no-such-bucket" }, []string{`bucket "gatehouse-no-such-bucket" does not exist`, "create it"}},
		{"wrong secret", func(o *Options) { o.SecretAccessKey = wrongSecret }, []string{"access refused", "AWS_SECRET_ACCESS_KEY"}},
		{"unknown key", func(o *Options) { o.AccessKeyID = "AKIAUNKNOWN"; o.SecretAccessKey = wrongSecret }, []string{"access refused", `"AKIAUNKNOWN"`}},
		{"no credentials", func(o *Options) { o.AccessKeyID, o.SecretAccessKey = "", "" }, []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		{"server down", func(o *Options) { o.Endpoint = closed }, []string{"cannot reach the server"}},
		{"bad endpoint", func(o *Options) { o.Endpoint = "ftp://x" }, []string{"must be http://HOST:PORT"}},
		{"small part size", func(o *Options) { o.PartSize = 1 << 20 }, []string{"part size"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.change(&o)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := New(ctx, o)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error %q does not say %q", err, w)
				}
			}
			for _, secret := range []string{base.SecretAccessKey, wrongSecret} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds the secret: %q", err)
				}
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "topsecret", "AWS_REGION": "eu-west-1"}
	getenv := func(k string) string { return env[k] }
	o, err := ParseURL("s3://my-bucket/some/prefix/?endpoint=http://127.0.0.1:7070&region=us-east-1&part_size=8388608", getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Bucket: "my-bucket", Prefix: "some/prefix", Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", PartSize: 8 << 20, AccessKeyID: "id", SecretAccessKey: "topsecret"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("ParseURL = %+v, want %+v", o, want)
	}
	if o, _ := ParseURL("s3://my-bucket", getenv); o.Region != "eu-west-1" || o.Endpoint != "" || o.Prefix != "" {
		t.Errorf("without parameters: %+v, want the region from AWS_REGION", o)
	}
	for raw, want := range map[string]string{
		"s3://id:topsecret@bucket":                    "holds credentials",
		"s3://bucket?endpiont=http://x":               "unknown parameters endpiont",
		"s3://Bad_Bucket":                             "not an S3 bucket name",
		"s3:///prefix":                                "names no bucket",
		"s3://bucket?part_size=12":                    "part_size",
		"s3://bucket?region=a&region=b":               "more than once",
		"s3://bucket#x":                               "fragment",
		"s3://bucket?endpoint=http://u:topsecret@x:1": "unknown", // see below
	} {
		_, err := ParseURL(raw, getenv)
		if raw == "s3://bucket?endpoint=http://u:topsecret@x:1" {
			// Parses; New refuses the endpoint (TestSettingErrors...).
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v, want an error saying %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseURL(%q)'s error holds the secret: %v", raw, err)
		}
	}
	_, err = New(context.Background(), Options{Bucket: "bucket", Endpoint: "http://u:topsecret@x:1", AccessKeyID: "id", SecretAccessKey: "s"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("New with credentials in the endpoint: %v", err)
	}
	if c := (staticCredentials{id: "id", secret: "topsecret"}); strings.Contains(fmt.Sprint(c), "topsecret") || strings.Contains(fmt.Sprintf("%+v %#v", c, c), "topsecret") {
		t.Error("the credentials print their secret")
	}
	if o := (Options{Bucket: "b", SecretAccessKey: "topsecret", SessionToken: "topsecret"}); strings.Contains(fmt.Sprintf("%v %+v %#v", o, o, o), "topsecret") {
		t.Error("the options print the secret")
	}
}

// TestStringHidesSecret: what the store says of itself names the bucket,
// never the secret.
func TestStringHidesSecret(t *testing.T) {
	t.Parallel()
	s := open(t, 0)
	if strings.Contains(s.String(), s.opts.SecretAccessKey) || !strings.Contains(s.String(), s.opts.Bucket) {
		t.Errorf("String() = %q", s.String())
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Error(err)
	}
}
