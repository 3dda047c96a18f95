package hunt

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Two keys that start alike: a redacted match must still tell them apart.
const (
	leakedKey = "AKIAZ7Q3KXW4LMN2PRTV"
	otherKey  = "AKIAZ7Q3KXW4LMN2PRTW"
)

func packageOf(t *testing.T, files map[string]string) *vet.Input {
	t.Helper()
	list := []pkgfile.File{{Path: "manifest.json", Data: []byte("{}")}}
	for p, d := range files {
		list = append(list, pkgfile.File{Path: p, Data: []byte(d)})
	}
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, list); err != nil {
		t.Fatal(err)
	}
	p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return &vet.Input{Package: p}
}

// TestContentMatchIsRedacted: a content rule that matches a secret
// reports it redacted, in text and binary files alike, from Find and from
// a backward Scan; the digest still tells two matches apart.
func TestContentMatchIsRedacted(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		files   map[string]string
	}{
		{"text file", `AKIA[A-Z2-7]{16}`, map[string]string{"src/config.js": "const key = \"" + leakedKey + "\";\nconst other = \"" + otherKey + "\";\n"}},
		{"binary file", `AKIA[A-Z2-7]{16}`, map[string]string{"plugin.wasm": "\x00asm\x01\x00\x00\x00" + leakedKey + "\x00" + otherKey + "\x00"}},
		{"literal pattern", leakedKey + "|" + otherKey, map[string]string{"README.md": "key: " + leakedKey + "\nkey: " + otherKey + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(domain.HuntRule{ID: "hr", Kind: domain.HuntContent, Pattern: tt.pattern})
			if err != nil {
				t.Fatal(err)
			}
			in := packageOf(t, tt.files)
			ms := Find([]*Rule{r}, in)
			if len(ms) != 2 {
				t.Fatalf("%d matches, want 2: %+v", len(ms), ms)
			}
			if ms[0].Subject != "AKIA…" || ms[0].Digest == "" || ms[0].Digest == ms[1].Digest {
				t.Errorf("matches %+v: want subjects redacted to AKIA… and distinct digests", ms)
			}
			rep, err := Scan(context.Background(), corpus{"v1": in}, []*Rule{r})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []any{ms, rep} {
				b, _ := json.Marshal(v)
				if bytes.Contains(b, []byte(leakedKey[4:])) || bytes.Contains(b, []byte(otherKey[4:])) {
					t.Errorf("the result shows a secret: %s", b)
				}
			}
		})
	}
}
