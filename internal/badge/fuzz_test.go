package badge

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzSVG: whatever the state, checks and times, the badge is well-formed
// XML of bounded size whose label names one of the fixed messages.
func FuzzSVG(f *testing.F) {
	f.Add("certified", "reviewed,secrets", int64(3600), int64(1))
	f.Add("suspended", "<script>", int64(-1), int64(0))
	f.Add("\x00]]>&", "\xff\xfe,a", int64(1)<<60, int64(-1)<<60)
	f.Fuzz(func(t *testing.T, state, checks string, expiresIn, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		s := Status{State: state, Checks: strings.Split(checks, ","), Now: now, ExpiresAt: now.Add(time.Duration(expiresIn))}
		b := SVG(s)
		if len(b) > 8<<10 {
			t.Fatalf("badge is %d bytes", len(b))
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed: %v\n%s", err, b)
			}
		}
		msg, _ := Message(s)
		if !bytes.Contains(b, []byte(`aria-label="gatehouse: `+msg+`"`)) {
			t.Fatalf("label does not carry the message %q", msg)
		}
	})
}

func BenchmarkSVG(b *testing.B) {
	s := Status{State: "certified", ExpiresAt: now.Add(48 * time.Hour), Checks: []string{"capabilities", "licenses", "reviewed", "reproducible", "secrets"}, Now: now}
	for b.Loop() {
		SVG(s)
	}
}
