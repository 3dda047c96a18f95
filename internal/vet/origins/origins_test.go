package origins

import (
	"os"
	"strings"
	"testing"
)

func origins(hits []Hit) string {
	var s []string
	for _, h := range hits {
		s = append(s, h.Origin)
	}
	return strings.Join(s, " ")
}

func TestScan(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`fetch("https://api.example.com/v1?q=1")`, "https://api.example.com"},
		{`HTTPS://API.Example.COM:443/x`, "https://api.example.com"},
		{`http://api.example.com:8080/x`, "http://api.example.com:8080"},
		{`http://127.0.0.1:9000/metrics`, "http://127.0.0.1:9000"},
		{`http://[::1]:8080/`, "http://[::1]:8080"},
		{`http://localhost/`, "http://localhost"},
		{`https://user:pw@secret.example.org/`, "https://secret.example.org"},
		{`wss://stream.example.net/feed`, "wss://stream.example.net"},
		// Packed Go strings: the next constant follows the host directly.
		{"https://hooks.example.comapplication/json", "https://hooks.example.com"},
		{"https://hooks.example.comContent-Type", "https://hooks.example.com"},
		{"https://shop.example.community", "https://shop.example.community"},
		{"http://upgradechunkedCreatedIM", ""},
		{`see https://go.dev/issue/1.`, "https://go.dev"},
		{`the end of https://x.org.`, "https://x.org"},
		{`src="//cdn.example.net/lib.js"`, "cdn.example.net"},
		{`git@github.com:acme/plugin.git`, "github.com"},
		{`mail dev@acme.example.com today`, ""},
		{`// comment with example.com in it`, ""},
		{`runtime.main file.go a.b x.invalidtld`, ""},
		{`xhttps://evil.example.com`, "https://evil.example.com"},
		{`file://etc/passwd`, ""},
		{`http://`, ""},
		{`https://-bad-.com`, ""},
	} {
		if got := origins(Scan([]byte(c.in))); got != c.want {
			t.Errorf("Scan(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestScanOffsets(t *testing.T) {
	t.Parallel()
	data := []byte("line one\nurl: https://api.example.com/x\n")
	hits := Scan(data)
	if len(hits) != 1 || hits[0].Offset != 14 || string(data[hits[0].Offset:hits[0].Offset+hits[0].Length]) != "https://api.example.com" {
		t.Fatalf("hits %+v", hits)
	}
}

func TestCovered(t *testing.T) {
	t.Parallel()
	granted := []string{"https://api.example.com", "http://local.example.com:8080"}
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"https://api.example.com/v1", true},
		{"http://api.example.com/v1", false},
		{"https://api.example.com:8443/", false},
		{"wss://api.example.com/", true},
		{"//api.example.com/x", true},
		{"http://local.example.com:8080/", true},
		{"http://local.example.com/", false},
		{"https://evil.example.com/", false},
	} {
		hits := Scan([]byte(c.in))
		if len(hits) != 1 {
			t.Fatalf("Scan(%q) = %v", c.in, hits)
		}
		if got := Covered(hits[0], granted); got != c.want {
			t.Errorf("Covered(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestScanBounded(t *testing.T) {
	t.Parallel()
	data := []byte(strings.Repeat("https://a.example.com ", MaxHits+5))
	if n := len(Scan(data)); n != MaxHits {
		t.Errorf("%d hits, want the cap %d", n, MaxHits)
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("https://api.example.com:8080/x //cdn.example.net git@github.com:x"))
	f.Add([]byte("http://[::1]:80/ https://u:p@h.example.org"))
	f.Add([]byte("https://hooks.example.comapplication/json"))
	if b, err := os.ReadFile("origins.go"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		prev := -1
		for _, h := range Scan(data) {
			if h.Offset <= prev || h.Offset+h.Length > len(data) || h.Length <= 0 {
				t.Fatalf("bad hit %+v in %d bytes", h, len(data))
			}
			prev = h.Offset
			if h.Host == "" || h.Origin == "" {
				t.Fatalf("empty hit %+v", h)
			}
		}
	})
}
