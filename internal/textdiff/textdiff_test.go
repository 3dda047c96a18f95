package textdiff

import (
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	t.Parallel()
	a := "package main\n\nfunc main() {}\n\nfunc greet() string {\n\treturn \"hi\"\n}\n"
	b := "package main\n\nfunc main() {}\n\nfunc greet() string {\n\treturn \"hello\"\n}\n"
	got := Unified("main.go", a, b, 1)
	want := "--- a/main.go\n+++ b/main.go\n@@ -5,3 +5,3 @@\n func greet() string {\n-\treturn \"hi\"\n+\treturn \"hello\"\n }\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if Unified("x", a, a, 3) != "" {
		t.Error("equal texts gave a diff")
	}
	if d := Unified("new.go", "", "one\ntwo\n", 3); !strings.Contains(d, "@@ -1,0 +1,2 @@\n+one\n+two\n") {
		t.Errorf("added file:\n%s", d)
	}
	if d := Unified("gone.go", "one\n", "", 3); !strings.Contains(d, "-one") {
		t.Errorf("removed file:\n%s", d)
	}
	big := strings.Repeat("x\n", MaxLines+1)
	if d := Unified("big", big, "y\n", 3); !strings.Contains(d, "too long") {
		t.Errorf("over the limit: %q", d)
	}
}

func FuzzUnified(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\nd\n")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4096 || len(b) > 4096 {
			return
		}
		d := Unified("f", a, b, 2)
		if (a == b) != (d == "") {
			t.Fatalf("equal %v but diff %q", a == b, d)
		}
	})
}
