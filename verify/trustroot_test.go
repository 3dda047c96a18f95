package verify

import (
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

func testTrustRoot(t testing.TB) *TrustRoot {
	market := mustKey(t, trust.Ed25519)
	keys, err := trust.NewKeyring(trust.Key{PublicKey: market.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	logKey := mustKey(t, trust.Ed25519)
	vkey, err := tlog.VerifierKey(origin, logKey.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return &TrustRoot{MarketplaceKeys: keys, LogOrigin: origin, LogKey: vkey, RevocationMaxAge: 48 * time.Hour}
}

func TestTrustRoot(t *testing.T) {
	t.Parallel()
	root := testTrustRoot(t)
	data, err := root.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseTrustRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.MarketplaceKeys.Len() != 1 || got.LogVerifier.Name() != origin || got.RevocationMaxAge != 48*time.Hour {
		t.Fatalf("round trip lost something: %+v", got)
	}

	if _, err := ParseTrustRoot([]byte(strings.Replace(string(data), "{", `{"futureField":1,`, 1))); err != nil {
		t.Errorf("a field added by a newer marketplace: %v", err)
	}
	// The key id scheme is stated for outside verifiers; a root from
	// before it was stated still parses.
	if !strings.Contains(string(data), `"keyIdScheme": "`+trust.KeyIDScheme+`"`) {
		t.Errorf("the trust root does not state its key id scheme:\n%s", data)
	}
	if _, err := ParseTrustRoot([]byte(strings.Replace(string(data), `"keyIdScheme"`, `"olderField"`, 1))); err != nil {
		t.Errorf("a trust root without keyIdScheme: %v", err)
	}
	for name, edit := range map[string]func(string) string{
		"another media type": func(s string) string { return strings.Replace(s, TrustRootMediaType, "application/json", 1) },
		"origin and key differ": func(s string) string {
			return strings.Replace(s, `"logOrigin": "`+origin, `"logOrigin": "other.example/log`, 1)
		},
		"no maximum age":       func(s string) string { return strings.Replace(s, "172800", "0", 1) },
		"a year's maximum age": func(s string) string { return strings.Replace(s, "172800", "31536000", 1) },
		"trailing data":        func(s string) string { return s + "{}" },
		"another key id scheme": func(s string) string {
			return strings.Replace(s, trust.KeyIDScheme, "sha256(securesystemslib-json)", 1)
		},
		"no marketplace keys": func(s string) string {
			return s[:strings.Index(s, `"marketplaceKeys"`)] + `"marketplaceKeys": null,` + s[strings.Index(s, `"logOrigin"`):]
		},
	} {
		if _, err := ParseTrustRoot([]byte(edit(string(data)))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseTrustRoot(f *testing.F) {
	data, err := testTrustRoot(f).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"mediaType":"application/vnd.gatehouse.trust-root.v1+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseTrustRoot(data)
		if err != nil {
			return
		}
		if r.MarketplaceKeys.Len() == 0 || r.LogVerifier == nil || r.RevocationMaxAge <= 0 {
			t.Fatalf("an incomplete trust root parsed: %+v", r)
		}
	})
}
