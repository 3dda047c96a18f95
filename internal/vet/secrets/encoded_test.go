package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
	"gatehouse.dev/gatehouse/manifest"
)

func b64(s string) string   { return base64.StdEncoding.EncodeToString([]byte(s)) }
func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

// percent percent-encodes every byte of s, as a URL encoder that escapes
// everything would.
func percent(s string) string {
	var sb strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&sb, "%%%02X", s[i])
	}
	return sb.String()
}

func b64Times(n int, s string) string {
	for range n {
		s = b64(s)
	}
	return s
}

// encodedCases are fakeToken as the tests write it, and whether the
// analyzer must find it: every encoding gitleaks decodes, nested up to its
// default depth of maxDecodeDepth rounds, and one round beyond it.
var encodedCases = []struct {
	name      string
	encoded   string
	encodings []string // as the finding's "encodings" property lists them
	found     bool
}{
	{"base64", b64(fakeToken), []string{"base64"}, true},
	{"hex", hexOf(fakeToken), []string{"hex"}, true},
	{"percent", percent(fakeToken), []string{"percent"}, true},
	{"base64 of hex", b64(hexOf(fakeToken)), []string{"hex", "base64"}, true},
	{"base64 at the default depth", b64Times(maxDecodeDepth, fakeToken), []string{"base64"}, true},
	{"base64 beyond the default depth", b64Times(maxDecodeDepth+1, fakeToken), nil, false},
}

// TestEncodedSecretsAreFound writes a GitHub token encoded in each way
// gitleaks decodes into text files (on the first line, a later line, an
// unterminated last line and deep in a file scanned in chunks) and into
// the module's data, and checks the rule, file and place of each finding:
// the line and column where the encoded text starts, or its offset and
// length in the module. The token encoded once more than gitleaks'
// default depth must not be found, so the test shows where the depth ends.
func TestEncodedSecretsAreFound(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	const prefix = `blob: "`
	var deep strings.Builder
	for i := range 2000 {
		deep.WriteString("// filler line of a long text file\n")
		if i%10 == 9 {
			deep.WriteString("\n")
		}
	}
	deepLines := strings.Count(deep.String(), "\n")
	for _, tt := range encodedCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := []byte("padding\x00\x01" + tt.encoded + "\x00more")
			mod := plugintest.Module(nil, []string{"run"}, 1, 1, data)
			files := map[string][]byte{
				"manifest.json":  []byte(man),
				"plugin.wasm":    mod,
				"conf/first.yml": []byte(prefix + tt.encoded + "\"\nregion: eu-west-1\n"),
				"conf/later.yml": []byte("# settings\nregion: eu-west-1\n" + prefix + tt.encoded + "\"\n"),
				"conf/last.yml":  []byte("# settings\nregion: eu-west-1\n" + prefix + tt.encoded + `"`),
				"src/deep.txt":   []byte(deep.String() + prefix + tt.encoded + "\"\n"),
			}
			type place struct{ line, column, offset, length int }
			want := map[string]place{
				"conf/first.yml": {line: 1, column: len(prefix) + 1},
				"conf/later.yml": {line: 3, column: len(prefix) + 1},
				"conf/last.yml":  {line: 3, column: len(prefix) + 1},
				"src/deep.txt":   {line: deepLines + 1, column: len(prefix) + 1},
				"plugin.wasm":    {offset: bytes.Index(mod, []byte(tt.encoded)), length: len(tt.encoded)},
			}
			m, err := manifest.Parse([]byte(man), manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := a.Analyze(context.Background(), &vet.Input{Package: plugintest.Package(t, files), Manifest: m, Module: mod})
			if err != nil {
				t.Fatal(err)
			}
			if d := rep.Detail.(*Detail); d.BytesDecoded == 0 || d.BytesDecoded >= d.BytesScanned {
				t.Errorf("%d of %d bytes went through the decoder; want the fragments with the encoded token only", d.BytesDecoded, d.BytesScanned)
			}
			got := map[string]vet.Finding{}
			for _, f := range rep.Findings {
				if f.RuleID == "secrets/github-pat" {
					got[f.Location.File] = f
				}
			}
			if !tt.found {
				if len(got) > 0 {
					t.Errorf("found beyond gitleaks' decoding depth: %+v", got)
				}
				return
			}
			for file, w := range want {
				f, ok := got[file]
				if !ok {
					t.Errorf("%s: not found; findings %+v", file, rep.Findings)
					continue
				}
				l := f.Location
				if p := (place{l.Line, l.Column, int(l.Offset), int(l.Length)}); p != w {
					t.Errorf("%s: found at %+v, want %+v", file, p, w)
				}
				if enc, _ := f.Properties["encodings"].([]string); !slices.Equal(enc, tt.encodings) {
					t.Errorf("%s: encodings %v, want %v", file, enc, tt.encodings)
				}
				if !strings.Contains(f.Message, "encoded as") {
					t.Errorf("%s: the message does not say the secret is encoded: %q", file, f.Message)
				}
			}
		})
	}
}

// TestEncodedSecretNeverLeaves: neither the token nor its encoded text
// appears in the results, their JSON or their SARIF, whichever encoding
// hid it.
func TestEncodedSecretNeverLeaves(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range encodedCases {
		if !tt.found {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := []byte("padding\x00\x01" + tt.encoded + "\x00more")
			mod := plugintest.Module(nil, []string{"run"}, 1, 1, data)
			files := map[string][]byte{
				"manifest.json": []byte(man),
				"plugin.wasm":   mod,
				"conf/app.yml":  []byte("# settings\nblob: " + tt.encoded + "\n"),
			}
			m, err := manifest.Parse([]byte(man), manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			in := &vet.Input{Package: plugintest.Package(t, files), Manifest: m, Module: mod}
			results := vet.Run(context.Background(), []vet.Analyzer{a}, in, vet.Config{}, nil)
			if results[0].Status != vet.Failed || len(results[0].Findings) != 2 {
				t.Fatalf("want the token found in the module and the file: %+v", results[0])
			}
			var out bytes.Buffer
			if err := json.NewEncoder(&out).Encode(results); err != nil {
				t.Fatal(err)
			}
			if err := sarif.Write(&out, results, map[string][]vet.Rule{Name: a.Rules()}, sarif.ToolInfo{Name: "gatehouse"}); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{fakeToken[4:], tt.encoded[4:]} {
				if bytes.Contains(out.Bytes(), []byte(s)) {
					t.Errorf("the output holds %s…", s[:2])
				}
			}
		})
	}
}

// TestRedactTextRedactsEncodedSecrets: a line another analyzer quotes
// shows neither a token nor its encoded text, and keeps what surrounds
// them.
func TestRedactTextRedactsEncodedSecrets(t *testing.T) {
	t.Parallel()
	for _, tt := range encodedCases {
		if !tt.found {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := `x := "` + tt.encoded + `"; y := "` + fakeToken + `" // keep`
			got := RedactText(text)
			for _, s := range []string{fakeToken[4:], tt.encoded[4:]} {
				if strings.Contains(got, s) {
					t.Errorf("RedactText left %s… in %q", s[:2], got)
				}
			}
			if !strings.HasPrefix(got, `x := "`) || !strings.Contains(got, `"; y := "`) || !strings.HasSuffix(got, `" // keep`) {
				t.Errorf("RedactText changed more than the secrets: %q", got)
			}
		})
	}
}
