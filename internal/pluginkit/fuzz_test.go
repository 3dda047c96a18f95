package pluginkit

import (
	"go/version"
	"strings"
	"testing"
)

func FuzzParseGoVersion(f *testing.F) {
	for _, seed := range []string{
		"module plugins.local/acme/hello\n\ngo 1.26\n",
		"module x\ngo 1.26.0 // comment\n",
		"module x\n",
		"go\n",
		"go 1.26 extra\n",
		"go 1.26rc1\n",
		"go banana\n",
		"\xff\xfe go 1.2",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, gomod []byte) {
		v, err := parseGoVersion(gomod)
		if err != nil {
			return
		}
		// Whatever is accepted must be a version the go.work line can
		// carry: valid, and without spaces or newlines.
		if !version.IsValid("go"+v) || strings.ContainsAny(v, " \t\r\n") {
			t.Fatalf("parseGoVersion accepted %q", v)
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, seed := range []string{"acme/hello", "a/b", "Acme/x", "acme/", "/x", "acme/x/y", "acme/../x", "ac me/x", "a-/b-", "acme/héllo"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		// An accepted id becomes a Go module path and file names: only
		// lower-case ASCII letters, digits, hyphens and one slash.
		if strings.Count(id, "/") != 1 || strings.Contains(id, "..") {
			t.Fatalf("ValidateID accepted %q", id)
		}
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '/') {
				t.Fatalf("ValidateID accepted %q with %q", id, r)
			}
		}
	})
}

func FuzzParseGoMod(f *testing.F) {
	for _, seed := range []string{
		"module plugins.local/acme/x\n\ngo 1.26\n\nrequire gatehouse.dev/gatehouse v0.0.0\n\nreplace gatehouse.dev/gatehouse => ./.gatehouse/kit\n",
		"module x\ngo 1.26\nrequire (\n\tgolang.org/x/text v0.39.0\n)\n",
		"module x\nreplace gatehouse.dev/gatehouse => /etc\n",
		"module x\nreplace gatehouse.dev/gatehouse v0.0.0 => ./.gatehouse/kit\n",
		"go 1.26\n",
		"\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, gomod []byte) {
		info, err := parseGoMod("go.mod", gomod)
		if err != nil {
			return
		}
		// A plugin builds with third-party modules only with the kit
		// carried, and then only from the kit's own folder.
		if len(info.thirdParty) > 0 && !info.carried {
			t.Fatalf("accepted third-party modules %v without the carried kit", info.thirdParty)
		}
		if !version.IsValid("go" + info.goVersion) {
			t.Fatalf("accepted go version %q", info.goVersion)
		}
	})
}
