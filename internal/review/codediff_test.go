package review

import (
	"bytes"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/pkgfile"
)

func pkg(t *testing.T, files map[string]string) *pkgfile.Package {
	t.Helper()
	var fs []pkgfile.File
	if _, ok := files[pkgfile.ManifestPath]; !ok {
		fs = append(fs, pkgfile.File{Path: pkgfile.ManifestPath, Data: []byte(`{}`)})
	}
	for p, d := range files {
		fs = append(fs, pkgfile.File{Path: p, Data: []byte(d)})
	}
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, fs); err != nil {
		t.Fatal(err)
	}
	p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCodeDiff: a reviewer sees each added, changed and removed file once,
// text as a unified diff, binaries by size, and nothing past the limit.
func TestCodeDiff(t *testing.T) {
	prev := pkg(t, map[string]string{
		"main.go":    "package main\n\nfunc a() {}\n",
		"same.txt":   "unchanged\n",
		"logo.png":   "\x89PNG\x00\x01",
		"old.txt":    "going away\n",
		"z-gone.txt": "also going\n",
	})
	cur := pkg(t, map[string]string{
		"main.go":  "package main\n\nfunc a() { steal() }\n",
		"same.txt": "unchanged\n",
		"logo.png": "\x89PNG\x00\x02\x03",
		"new.go":   "package main\n",
	})
	got := map[string]FileChange{}
	var order []string
	for _, c := range CodeDiff(prev, cur, 1<<20) {
		got[c.Path] = c
		order = append(order, c.Path)
	}
	if len(got) != 5 {
		t.Fatalf("changes %v; want main.go, logo.png, new.go changed or added and old.txt, z-gone.txt removed", order)
	}
	if c := got["main.go"]; c.Status != "changed" || !strings.Contains(c.Diff, "+func a() { steal() }") || !strings.Contains(c.Diff, "-func a() {}") {
		t.Errorf("main.go: %+v", c)
	}
	if c := got["logo.png"]; c.Status != "changed" || !c.Binary || c.Diff != "" || c.OldSize != 6 || c.NewSize != 7 {
		t.Errorf("logo.png: %+v", c)
	}
	if c := got["new.go"]; c.Status != "added" || !strings.Contains(c.Diff, "+package main") {
		t.Errorf("new.go: %+v", c)
	}
	if got["old.txt"].Status != "removed" || got["z-gone.txt"].Status != "removed" {
		t.Errorf("removed files: %+v %+v", got["old.txt"], got["z-gone.txt"])
	}
	if order[len(order)-2] != "old.txt" || order[len(order)-1] != "z-gone.txt" {
		t.Errorf("removed files come last in the previous version's order; got %v", order)
	}

	// A limit smaller than the first diff omits it, and says so.
	for _, c := range CodeDiff(prev, cur, 10) {
		if c.Diff != "" {
			t.Errorf("%s carries a diff past the limit", c.Path)
		}
		if (c.Path == "main.go" || c.Path == "new.go") && !c.Omitted {
			t.Errorf("%s: the omitted diff is not marked: %+v", c.Path, c)
		}
	}
}
