package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks reference libraries' published test vector.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesSpecVector(t *testing.T) {
	key, err := ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(key, vectorMsgID, time.Unix(vectorTimestamp, 0), []byte(vectorPayload)); got != vectorSignature {
		t.Fatalf("Sign = %s, want the specification's %s", got, vectorSignature)
	}
}

func vectorHeaders() http.Header {
	h := http.Header{}
	h.Set(HeaderID, vectorMsgID)
	h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp))
	h.Set(HeaderSignature, vectorSignature)
	return h
}

func TestVerify(t *testing.T) {
	sent := time.Unix(vectorTimestamp, 0)
	body := []byte(vectorPayload)
	cases := []struct {
		name   string
		secret string
		edit   func(h http.Header)
		body   []byte
		now    time.Time
		want   error
	}{
		{name: "the spec's vector", now: sent},
		{name: "without the whsec_ prefix", secret: strings.TrimPrefix(vectorSecret, "whsec_"), now: sent},
		{name: "several signatures, one valid (key rotation)", now: sent, edit: func(h http.Header) {
			h.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,AAAA "+vectorSignature)
		}},
		{name: "a little late, within tolerance", now: sent.Add(4 * time.Minute)},
		{name: "too old: a replay", now: sent.Add(DefaultTolerance + time.Second), want: ErrTimestamp},
		{name: "from the future", now: sent.Add(-DefaultTolerance - time.Second), want: ErrTimestamp},
		{name: "body changed", now: sent, body: []byte(`{"test": 2432232315}`), want: ErrSignature},
		{name: "id changed", now: sent, edit: func(h http.Header) { h.Set(HeaderID, "msg_other") }, want: ErrSignature},
		{name: "timestamp changed", now: sent, edit: func(h http.Header) { h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp+1)) }, want: ErrSignature},
		{name: "another secret", secret: "whsec_" + strings.Repeat("QUFB", 8), now: sent, want: ErrSignature},
		{name: "wrong version prefix", now: sent, edit: func(h http.Header) {
			h.Set(HeaderSignature, "v2,"+strings.TrimPrefix(vectorSignature, "v1,"))
		}, want: ErrSignature},
		{name: "missing id", now: sent, edit: func(h http.Header) { h.Del(HeaderID) }, want: ErrMissingHeaders},
		{name: "missing signature", now: sent, edit: func(h http.Header) { h.Del(HeaderSignature) }, want: ErrMissingHeaders},
		{name: "timestamp not a number", now: sent, edit: func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, want: ErrTimestamp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := vectorHeaders()
			if c.edit != nil {
				c.edit(h)
			}
			secret := vectorSecret
			if c.secret != "" {
				secret = c.secret
			}
			b := body
			if c.body != nil {
				b = c.body
			}
			err := Verify(secret, h, b, c.now, 0)
			if c.want == nil && err != nil {
				t.Fatalf("Verify: %v, want success", err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	s, err := NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, SecretPrefix) {
		t.Fatalf("secret %q lacks the whsec_ prefix", s)
	}
	key, err := ParseSecret(s)
	if err != nil || len(key) != SecretBytes {
		t.Fatalf("ParseSecret(NewSecret()) = %d bytes, %v", len(key), err)
	}
	s2, _ := NewSecret(nil)
	if s2 == s {
		t.Fatal("two secrets are equal")
	}
	for _, bad := range []string{"whsec_short", "whsec_!!!!", "whsec_" + strings.Repeat("QUFB", 30)} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted it", bad)
		}
	}
}

func TestSealer(t *testing.T) {
	s, err := NewSealer(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("the signing key of wh_a, 32 byte")
	sealed, err := s.Seal("wh_a", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed secret contains the secret")
	}
	got, err := s.Open("wh_a", sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open("wh_b", sealed); err == nil {
		t.Fatal("a secret sealed for wh_a opened as wh_b's")
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open("wh_a", sealed); err == nil {
		t.Fatal("a secret opened with another key")
	}
	if _, err := s.Open("wh_a", sealed[:5]); err == nil {
		t.Fatal("a truncated secret opened")
	}
}

func TestFilters(t *testing.T) {
	for _, c := range []struct {
		filter, event string
		want          bool
	}{
		{"*", "submission.create", true},
		{"submission.*", "submission.transition", true},
		{"submission.*", "submission", false},
		{"submission.*", "submissions.create", false},
		{"incident.*", "incident.opened", true},
		{"version.suspended", "version.suspended", true},
		{"version.suspended", "version.suspended.extra", false},
	} {
		if got := Matches(c.filter, c.event); got != c.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.filter, c.event, got, c.want)
		}
	}
	for _, bad := range []string{"", "a..b", "sub*", "a.*.b", "a b", ".*", strings.Repeat("a", 200)} {
		if err := CheckFilter(bad); err == nil {
			t.Errorf("CheckFilter(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"*", "a", "submission.*", "incident.rule_added"} {
		if err := CheckFilter(good); err != nil {
			t.Errorf("CheckFilter(%q): %v", good, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, raw := range []string{
		"http://127.0.0.1:8080/hook", "http://localhost/hook", "https://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest/meta-data",
		"http://100.64.0.1/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://api.localhost/",
		"ftp://example.com/", "https://user:pw@example.com/", "https:///nohost", "https://example.com/#frag",
	} {
		if _, err := CheckURL(raw, false); err == nil {
			t.Errorf("CheckURL(%q) accepted it", raw)
		}
	}
	for _, raw := range []string{"https://hooks.example.com/gatehouse?token=x", "http://203.0.113.1:8443/"} {
		if _, err := CheckURL(raw, false); err != nil {
			t.Errorf("CheckURL(%q): %v", raw, err)
		}
	}
	if _, err := CheckURL("http://127.0.0.1:8080/hook", true); err != nil {
		t.Errorf("with private targets allowed, loopback is refused: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	prev := time.Duration(0)
	for n := 1; n <= 6; n++ {
		lo, hi := b.Delay(n, 0), b.Delay(n, 0.999999)
		if lo <= prev/2 || hi < lo {
			t.Fatalf("attempt %d: delay range [%v, %v] does not grow from %v", n, lo, hi, prev)
		}
		if want := time.Second << (n - 1); hi > want || lo < want/2 {
			t.Fatalf("attempt %d: delay range [%v, %v], want within [%v, %v]", n, lo, hi, want/2, want)
		}
		prev = hi
	}
	if d := b.Delay(100, 0.999999); d > time.Minute {
		t.Fatalf("delay %v over the cap", d)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorMsgID, strconv.Itoa(vectorTimestamp), vectorSignature, []byte(vectorPayload))
	f.Add("msg_x", "-1", "v1,,, v1a v1,====", []byte{})
	f.Add("", "99999999999999999999", "v1,"+strings.Repeat("A", 5000), []byte("x"))
	key, _ := ParseSecret(vectorSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		err := verify(key, h, body, time.Unix(vectorTimestamp, 0), 0)
		if err != nil {
			return
		}
		// Whatever the headers say, success means one v1 signature is the
		// MAC of exactly these id, timestamp and body.
		want := mac(key, h.Get(HeaderID), h.Get(HeaderTimestamp), body)
		for _, s := range strings.Fields(h.Get(HeaderSignature)) {
			if v, b64, ok := strings.Cut(s, ","); ok && v == "v1" {
				if got, err := base64.StdEncoding.DecodeString(b64); err == nil && bytes.Equal(got, want) {
					return
				}
			}
		}
		t.Fatalf("Verify accepted headers %q %q %q without a valid signature", id, ts, sig)
	})
}

func FuzzSubscriptionInput(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x?y=1", "http://127.0.0.1:80/", "http://[::1]/", "https://a@b/", "submission.*", "*", "a..b", "incident.opened"} {
		f.Add(s, "submission.transition")
	}
	f.Fuzz(func(t *testing.T, in, event string) {
		if u, err := CheckURL(in, false); err == nil {
			if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Hostname() == "" {
				t.Fatalf("CheckURL accepted %q", in)
			}
			if a, perr := netip.ParseAddr(u.Hostname()); perr == nil && !PublicAddr(a) {
				t.Fatalf("CheckURL accepted the private address in %q", in)
			}
		}
		if CheckFilter(in) == nil && in != "*" && Matches(in, event) && !strings.HasPrefix(event, strings.TrimSuffix(in, "*")) {
			t.Fatalf("filter %q matched %q", in, event)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	key, _ := ParseSecret(vectorSecret)
	body := bytes.Repeat([]byte(`{"type":"submission.transition","data":{}}`), 25) // ~1 KiB
	ts := time.Unix(vectorTimestamp, 0)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Sign(key, vectorMsgID, ts, body)
	}
}

func BenchmarkVerify(b *testing.B) {
	key, _ := ParseSecret(vectorSecret)
	body := bytes.Repeat([]byte(`{"type":"submission.transition","data":{}}`), 25)
	ts := time.Unix(vectorTimestamp, 0)
	h := http.Header{}
	SetHeaders(h, key, vectorMsgID, ts, body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := Verify(vectorSecret, h, body, ts, 0); err != nil {
			b.Fatal(err)
		}
	}
}
