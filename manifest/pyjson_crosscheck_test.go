package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLegacyCanonicalAgainstPython compares LegacyCanonicalJSON with real
// CPython on generated documents full of the awkward cases (every kind of
// character, number spellings, nesting). It needs python3, so it runs only
// by hand:
//
//	GATEHOUSE_PYTHON_CROSSCHECK=1 go test ./manifest -run AgainstPython -v
func TestLegacyCanonicalAgainstPython(t *testing.T) {
	t.Parallel()
	if os.Getenv("GATEHOUSE_PYTHON_CROSSCHECK") == "" {
		t.Skip("set GATEHOUSE_PYTHON_CROSSCHECK=1 to compare with python3")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var docs []string
	for range 2000 {
		docs = append(docs, genObject(rng, 0))
	}
	const script = `
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    d.pop("signature", None)
    d.setdefault("compatibility", None)
    d.setdefault("dependencies", [])
    sys.stdout.write(json.dumps(d, sort_keys=True) + "\n")
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = strings.NewReader(strings.Join(docs, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(want) != len(docs) {
		t.Fatalf("python printed %d lines for %d documents", len(want), len(docs))
	}
	for i, doc := range docs {
		got, err := LegacyCanonicalJSON([]byte(doc))
		if err != nil {
			t.Errorf("doc %d: %v\n%s", i, err, doc)
			continue
		}
		if string(got) != want[i] {
			t.Errorf("doc %d differs\n  doc %s\n  go  %s\n  py  %s", i, doc, got, want[i])
		}
	}
}

func genObject(rng *rand.Rand, depth int) string {
	var parts []string
	seen := map[string]bool{}
	for range rng.IntN(6) + 1 {
		k := genString(rng)
		if seen[k] {
			continue
		}
		seen[k] = true
		parts = append(parts, k+": "+genValue(rng, depth+1))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func genValue(rng *rand.Rand, depth int) string {
	n := 6
	if depth < 4 {
		n = 8
	}
	switch rng.IntN(n) {
	case 0:
		return genString(rng)
	case 1:
		return genNumber(rng)
	case 2:
		return []string{"true", "false", "null"}[rng.IntN(3)]
	case 3, 4:
		return genString(rng)
	case 5:
		return genNumber(rng)
	case 6:
		var items []string
		for range rng.IntN(4) {
			items = append(items, genValue(rng, depth+1))
		}
		return "[" + strings.Join(items, ", ") + "]"
	default:
		return genObject(rng, depth)
	}
}

// genString returns a JSON string literal mixing raw and escaped
// characters from every range that encodes differently.
func genString(rng *rand.Rand) string {
	pools := [][2]rune{{0, 0x1f}, {' ', '~'}, {0x7f, 0xff}, {0x100, 0x7ff}, {0x800, 0xd7ff}, {0xe000, 0xffff}, {0x10000, 0x10ffff}}
	var sb strings.Builder
	sb.WriteByte('"')
	for range rng.IntN(12) {
		p := pools[rng.IntN(len(pools))]
		r := p[0] + rng.Int32N(p[1]-p[0]+1)
		switch {
		case r < 0x20 || r == '"' || r == '\\' || rng.IntN(4) == 0:
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(&sb, `\u%04X\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(&sb, `\u%04x`, r)
			}
		default:
			sb.WriteRune(r)
		}
	}
	if rng.IntN(5) == 0 {
		sb.WriteString(`\n\t\"\\\/\b\f\r`)
	}
	sb.WriteByte('"')
	return sb.String()
}

func genNumber(rng *rand.Rand) string {
	switch rng.IntN(7) {
	case 0:
		return fmt.Sprint(rng.Int64() >> rng.IntN(64))
	case 1:
		return "-" + fmt.Sprint(rng.Uint64()) + fmt.Sprint(rng.Uint64())
	case 2:
		return fmt.Sprintf("%d.%d", rng.IntN(100000), rng.IntN(1000000))
	case 3:
		return fmt.Sprintf("%d.%de%d", rng.IntN(10), rng.IntN(1000), rng.IntN(700)-350)
	case 4:
		return fmt.Sprintf("%dE+%d", rng.IntN(1000), rng.IntN(30))
	case 5:
		b, _ := json.Marshal(rng.NormFloat64() * float64(rng.IntN(1e9)))
		return string(b)
	default:
		return []string{"-0", "0", "-0.0", "0e0", "1e400", "-1e400", "5e-324", "1e-400", "9007199254740993", "1.0", "100.0e-2"}[rng.IntN(11)]
	}
}
