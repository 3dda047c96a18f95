package blobs3

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// URLParams are the query parameters ParseURL understands.
var URLParams = []string{"endpoint", "region", "part_size"}

// ParseURL reads s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&part_size=BYTES]
// and takes the credentials from the environment through getenv:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; the
// region, when the URL has none, from AWS_REGION or AWS_DEFAULT_REGION
// (us-east-1 when neither is set). A URL that holds credentials is
// refused, and no error repeats what was in its user part.
func ParseURL(raw string, getenv func(string) string) (Options, error) {
	var o Options
	u, err := url.Parse(raw)
	if err != nil {
		return o, fmt.Errorf("the blob store URL %q does not parse; the form is s3://BUCKET?endpoint=http://HOST:PORT&region=REGION", redactURL(raw))
	}
	if u.Scheme != "s3" {
		return o, fmt.Errorf("the blob store URL %q is not an s3:// URL", redactURL(raw))
	}
	if u.User != nil {
		return o, fmt.Errorf("the blob store URL %q holds credentials: remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment instead", redactURL(raw))
	}
	if u.Opaque != "" || u.Host == "" {
		return o, fmt.Errorf("the blob store URL %q names no bucket; the form is s3://BUCKET?endpoint=http://HOST:PORT&region=REGION", redactURL(raw))
	}
	if u.Fragment != "" {
		return o, fmt.Errorf("the blob store URL %q has a #fragment, which means nothing here", redactURL(raw))
	}
	o.Bucket = u.Host
	if err := checkBucketName(o.Bucket); err != nil {
		return o, fmt.Errorf("the blob store URL %q: %w", redactURL(raw), err)
	}
	o.Prefix = strings.Trim(u.Path, "/")
	q := u.Query()
	var unknown []string
	for k := range q {
		if !slices.Contains(URLParams, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return o, fmt.Errorf("the blob store URL %q has unknown parameters %s; known are %s", redactURL(raw), strings.Join(unknown, ", "), strings.Join(URLParams, ", "))
	}
	for k, v := range q {
		if len(v) > 1 {
			return o, fmt.Errorf("the blob store URL %q gives %s more than once", redactURL(raw), k)
		}
	}
	o.Endpoint = q.Get("endpoint")
	o.Region = q.Get("region")
	if ps := q.Get("part_size"); ps != "" {
		n, err := strconv.ParseInt(ps, 10, 64)
		if err != nil || n < MinPartSize || n > maxPartSize {
			return o, fmt.Errorf("the blob store URL %q: part_size must be a number of bytes from %d (5 MiB) to %d (5 GiB)", redactURL(raw), MinPartSize, maxPartSize)
		}
		o.PartSize = n
	}
	if o.Region == "" {
		o.Region = getenv("AWS_REGION")
	}
	if o.Region == "" {
		o.Region = getenv("AWS_DEFAULT_REGION")
	}
	o.AccessKeyID = getenv("AWS_ACCESS_KEY_ID")
	o.SecretAccessKey = getenv("AWS_SECRET_ACCESS_KEY")
	o.SessionToken = getenv("AWS_SESSION_TOKEN")
	return o, nil
}

// redactURL returns raw with any user part replaced, for messages; a raw
// string that does not parse is cut at its last '@'.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			u.User = url.User("REDACTED")
		}
		if q := u.Query(); q.Has("endpoint") {
			if e, err := url.Parse(q.Get("endpoint")); err != nil || e.User != nil {
				q.Set("endpoint", "REDACTED")
				u.RawQuery = q.Encode()
			}
		}
		return u.String()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return "REDACTED" + raw[i:]
	}
	return raw
}
