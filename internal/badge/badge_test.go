package badge

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden badges in testdata")

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var cases = []struct {
	name    string
	status  Status
	message string
}{
	{"certified", Status{State: "certified", ExpiresAt: now.Add(90 * 24 * time.Hour), Checks: []string{"secrets", "capabilities", "reviewed", "reproducible"}, Now: now}, "certified"},
	{"expiring", Status{State: "certified", ExpiresAt: now.Add(3*24*time.Hour - time.Hour), Checks: []string{"reviewed"}, Now: now}, "certified, expires in 3 days"},
	{"expiring-today", Status{State: "certified", ExpiresAt: now.Add(time.Hour), Now: now}, "certified, expires in 1 day"},
	{"expired", Status{State: "certified", ExpiresAt: now.Add(-time.Second), Checks: []string{"reviewed"}, Now: now}, "expired"},
	{"expires-now", Status{State: "certified", ExpiresAt: now, Now: now}, "expired"},
	{"suspended", Status{State: "suspended", ExpiresAt: now.Add(24 * time.Hour), Now: now}, "suspended"},
	{"revoked", Status{State: "revoked", Checks: []string{"reviewed"}, Now: now}, "revoked"},
	{"in-review", Status{State: "in_review", Now: now}, "in review"},
	{"rejected", Status{State: "rejected", Now: now}, "not certified"},
	{"none", Status{State: "none", Now: now}, "not certified"},
	{"unknown", Status{State: "<b>certified</b>", Now: now}, "not certified"},
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := SVG(c.status)
			if msg, _ := Message(c.status); msg != c.message {
				t.Errorf("message %q; want %q", msg, c.message)
			}
			path := filepath.Join("testdata", c.name+".svg")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/badge -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("badge differs from %s:\n%s", path, got)
			}
			if again := SVG(c.status); !bytes.Equal(got, again) {
				t.Error("two renderings of one status differ")
			}
		})
	}
}

// svgDoc is the part of the badge a reader (and a screen reader) relies on.
type svgDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width   int      `xml:"width,attr"`
	Height  int      `xml:"height,attr"`
	Label   string   `xml:"aria-label,attr"`
	Title   string   `xml:"title"`
	Texts   []string `xml:"g>text"`
}

func parse(t *testing.T, b []byte) svgDoc {
	t.Helper()
	// Walk every token strictly first: the decoder refuses what no SVG
	// viewer would accept.
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("badge is not well-formed XML: %v\n%s", err, b)
		}
	}
	var d svgDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("badge does not decode as SVG: %v", err)
	}
	return d
}

func TestParsesAsSVG(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		d := parse(t, SVG(c.status))
		if d.Label != "gatehouse: "+c.message || !strings.HasPrefix(d.Title, d.Label) {
			t.Errorf("%s: label %q title %q", c.name, d.Label, d.Title)
		}
		if len(d.Texts) != 4 || d.Texts[1] != "gatehouse" || d.Texts[3] != c.message {
			t.Errorf("%s: texts %q", c.name, d.Texts)
		}
		if d.Height != 20 || d.Width < 60 || d.Width > 300 {
			t.Errorf("%s: size %dx%d", c.name, d.Width, d.Height)
		}
	}
}

func TestLongerMessageIsWider(t *testing.T) {
	t.Parallel()
	short := parse(t, SVG(Status{State: "revoked"}))
	long := parse(t, SVG(Status{State: "none"}))
	if long.Width <= short.Width {
		t.Errorf("'not certified' is %dpx wide, 'revoked' %dpx", long.Width, short.Width)
	}
}

func TestHostileChecksAreEscapedAndBounded(t *testing.T) {
	t.Parallel()
	var checks []string
	for i := range 200 {
		checks = append(checks, fmt.Sprintf(`</title><script>alert(%d)</script>&"'`, i)+strings.Repeat("x", 1000))
	}
	checks = append(checks, "\x00\x1b[31m")
	b := SVG(Status{State: "certified", Checks: checks, Now: now})
	d := parse(t, b)
	if bytes.Contains(b, []byte("<script")) {
		t.Fatalf("markup from a check name reached the badge:\n%s", b)
	}
	if !strings.Contains(d.Title, "<script>alert(") || !strings.Contains(d.Title, "more") {
		t.Errorf("title %q does not show the (escaped, bounded) checks", d.Title)
	}
	if len(b) > 8<<10 {
		t.Errorf("badge is %d bytes; hostile check names must not grow it without bound", len(b))
	}
}
